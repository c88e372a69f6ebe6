//! Table names as SQL reads them: `name` or `schema.name`, each part a plain identifier
//! (folded to lower case, as PostgreSQL folds it) or a double-quoted one (kept as written),
//! and always written back quoted, so no name given on the command line is spliced into SQL
//! as it came.

use crate::PgError;

/// A table, possibly in a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    schema: Option<String>,
    name: String,
}

/// PostgreSQL's identifier limit (`NAMEDATALEN - 1` bytes).
const MAX_IDENTIFIER: usize = 63;

impl TableName {
    /// Parses `text` (`segments`, `crm.segments`, `"Segments 2026"`).
    pub fn parse(text: &str) -> Result<TableName, PgError> {
        let bad = |why: &str| PgError::TableName {
            name: text.to_owned(),
            message: why.to_owned(),
        };
        let mut parts = Vec::new();
        let mut rest = text.trim();
        loop {
            let (part, after) = if let Some(quoted) = rest.strip_prefix('"') {
                let mut part = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next() {
                        None => return Err(bad("a quoted name is not closed")),
                        Some((i, '"')) => {
                            if quoted[i + 1..].starts_with('"') {
                                part.push('"');
                                chars.next();
                            } else {
                                break i + 1;
                            }
                        }
                        Some((_, c)) => part.push(c),
                    }
                };
                (part, &quoted[end..])
            } else {
                let end = rest.find('.').unwrap_or(rest.len());
                let plain = &rest[..end];
                let ok = plain
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_')
                    && plain
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
                if !ok {
                    return Err(bad(
                        "expected a name of letters, digits and _ (starting with a letter or _), \
                         or a double-quoted name, optionally after a schema and a dot",
                    ));
                }
                (plain.to_lowercase(), &rest[end..])
            };
            if part.is_empty() {
                return Err(bad("a name part is empty"));
            }
            if part.len() > MAX_IDENTIFIER {
                return Err(bad("PostgreSQL names are at most 63 bytes"));
            }
            parts.push(part);
            match after.strip_prefix('.') {
                Some(next) => rest = next,
                None if after.is_empty() => break,
                None => return Err(bad("unexpected text after the name")),
            }
        }
        let mut parts = parts.into_iter();
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), None, None) => Ok(TableName { schema: None, name }),
            (Some(schema), Some(name), None) => Ok(TableName {
                schema: Some(schema),
                name,
            }),
            _ => Err(bad("expected name or schema.name")),
        }
    }

    /// The table's own name, unquoted.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The schema, if one was given.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// A table beside this one (same schema) named `name`, cut to PostgreSQL's limit.
    pub(crate) fn sibling(&self, name: &str) -> TableName {
        let mut name = name.to_owned();
        while name.len() > MAX_IDENTIFIER {
            name.pop();
        }
        TableName {
            schema: self.schema.clone(),
            name,
        }
    }

    /// The name as SQL, every part quoted.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote(s), quote(&self.name)),
            None => quote(&self.name),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql())
    }
}

/// `text` as a quoted identifier.
pub(crate) fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `text` as a string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_and_quote_as_postgresql_does() {
        let t = TableName::parse("Segments").unwrap();
        assert_eq!(t.sql(), "\"segments\"");
        let t = TableName::parse("crm.\"Segments \"\"A\"\"\"").unwrap();
        assert_eq!(t.schema(), Some("crm"));
        assert_eq!(t.name(), "Segments \"A\"");
        assert_eq!(t.sql(), "\"crm\".\"Segments \"\"A\"\"\"");
        assert_eq!(
            t.sibling(&format!("{}_changes", "x".repeat(70)))
                .name()
                .len(),
            63
        );
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "a;drop table b",
            "a.b.c",
            "\"open",
            "1abc",
            "a.",
            "a b",
            "\"\"",
        ] {
            assert!(TableName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(literal("it's"), "'it''s'");
    }
}
