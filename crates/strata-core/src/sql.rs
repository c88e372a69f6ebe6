//! Scoring as SQL: a model's declared preprocessing and its centroids as one query that
//! returns every row's segment in the warehouse itself (`strata export-sql`).
//!
//! The query has the join form: the features of each row (the strategy's preprocessing as
//! SQL expressions, rounded to f32 where the dialect has a 4-byte float, as Strata rounds
//! them), the centroids as a small table of `UNION ALL` rows, every row's squared distance to
//! every centroid in double precision, and `ROW_NUMBER() OVER (PARTITION BY id ORDER BY
//! distance, centroid)` to keep the nearest (ties to the lowest centroid, as Strata breaks
//! them). Its text grows as k·d, where one `CASE` over centroids would grow as k²·d. It uses
//! nothing beyond SQL:2003 window functions, `LN`, `SQRT`, `ABS`, `SIGN` and
//! `GREATEST`/`MAX`, so the same shape runs on Spark SQL, PostgreSQL, SQLite (3.35 or later,
//! with its math functions) and DuckDB.

use std::fmt::Write as _;

use strata_host::declared::{FeatureExpr, Transform};

/// The SQL dialects `export-sql` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Spark SQL (and Databricks).
    Spark,
    /// PostgreSQL.
    Postgresql,
    /// SQLite 3.35 or later.
    Sqlite,
    /// DuckDB.
    Duckdb,
}

impl Dialect {
    /// The dialect's name, as `--dialect` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Spark => "spark",
            Dialect::Postgresql => "postgresql",
            Dialect::Sqlite => "sqlite",
            Dialect::Duckdb => "duckdb",
        }
    }

    /// An identifier, quoted.
    fn ident(self, name: &str) -> String {
        match self {
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    /// A table name: dotted parts (schema.table) quoted one by one.
    fn table(self, name: &str) -> String {
        name.split('.')
            .map(|p| self.ident(p))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A string literal.
    fn text(self, value: &str) -> String {
        match self {
            // Spark reads backslash escapes in literals.
            Dialect::Spark => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'")),
            _ => format!("'{}'", value.replace('\'', "''")),
        }
    }

    fn double_type(self) -> &'static str {
        match self {
            Dialect::Spark => "DOUBLE",
            Dialect::Postgresql | Dialect::Duckdb => "DOUBLE PRECISION",
            Dialect::Sqlite => "REAL",
        }
    }

    fn text_type(self) -> &'static str {
        match self {
            Dialect::Spark => "STRING",
            Dialect::Duckdb => "VARCHAR",
            Dialect::Postgresql | Dialect::Sqlite => "TEXT",
        }
    }

    /// A double literal (the shortest text that reads back as `v`, cast so that no engine
    /// takes it for an exact decimal).
    fn number(self, v: f64) -> String {
        format!("CAST({v:e} AS {})", self.double_type())
    }

    /// `expr` rounded to a 4-byte float, as Strata's features are; SQLite has none, so its
    /// features stay doubles (a row near a tie may then differ: counted by the tests).
    fn f32(self, expr: &str) -> String {
        match self {
            Dialect::Postgresql => format!("CAST({expr} AS REAL)"),
            Dialect::Spark | Dialect::Duckdb => format!("CAST({expr} AS FLOAT)"),
            Dialect::Sqlite => expr.to_owned(),
        }
    }

    fn greatest(self, a: &str, b: &str) -> String {
        match self {
            Dialect::Sqlite => format!("MAX({a}, {b})"),
            _ => format!("GREATEST({a}, {b})"),
        }
    }
}

/// What the query is made from.
pub struct ScoringQuery<'a> {
    /// `--table`: the table (or `schema.table`) to score.
    pub table: &'a str,
    /// The model's id column: returned under its own name, and the window's partition.
    pub id_column: &'a str,
    /// Every feature, in order.
    pub features: &'a [FeatureExpr],
    /// The centroids (k' × d).
    pub centroids: &'a [Vec<f32>],
    /// Per centroid, its segment.
    pub segments: &'a [u32],
    /// Per segment, its label.
    pub labels: &'a [String],
    /// Rows with a missing value in one of these columns are left out (`--missing drop`).
    pub required: &'a [String],
    /// The rows are made unit length (a cosine model).
    pub unit_length: bool,
    /// A comment for the query's first lines (what it is, from which model).
    pub header: &'a str,
}

impl ScoringQuery<'_> {
    /// The query, in `dialect`.
    pub fn render(&self, dialect: Dialect) -> String {
        let d = self.features.len();
        let double = dialect.double_type();
        let mut sql = String::new();
        for line in self.header.lines() {
            let _ = writeln!(sql, "-- {line}");
        }
        // 1. Each row's features.
        let _ = writeln!(sql, "WITH strata_input AS (");
        let _ = write!(
            sql,
            "  SELECT {} AS strata_id",
            dialect.ident(self.id_column)
        );
        for (i, f) in self.features.iter().enumerate() {
            let _ = write!(sql, ",\n    {} AS f{}", feature(dialect, f), i + 1);
        }
        let _ = write!(sql, "\n  FROM {}", dialect.table(self.table));
        if !self.required.is_empty() {
            let conditions: Vec<String> = self
                .required
                .iter()
                .map(|c| format!("{} IS NOT NULL", dialect.ident(c)))
                .collect();
            let _ = write!(sql, "\n  WHERE {}", conditions.join(" AND "));
        }
        let _ = writeln!(sql, "\n),");
        let mut input = "strata_input";
        if self.unit_length {
            // Strata divides each f32 feature by the row's length in f64, rounding to f32.
            let squares: Vec<String> = (1..=d)
                .map(|i| format!("CAST(f{i} AS {double}) * CAST(f{i} AS {double})"))
                .collect();
            let _ = writeln!(
                sql,
                "strata_length AS (\n  SELECT strata_input.*, SQRT({}) AS strata_norm FROM strata_input\n),",
                squares.join(" + ")
            );
            let _ = write!(sql, "strata_unit AS (\n  SELECT strata_id");
            for i in 1..=d {
                let unit = dialect.f32(&format!(
                    "CASE WHEN strata_norm > 0 THEN CAST(f{i} AS {double}) / strata_norm ELSE 0 END"
                ));
                let _ = write!(sql, ",\n    {unit} AS f{i}");
            }
            let _ = writeln!(sql, "\n  FROM strata_length\n),");
            input = "strata_unit";
        }
        // 2. The centroids, a row each.
        let _ = writeln!(sql, "strata_centroids AS (");
        for (j, c) in self.centroids.iter().enumerate() {
            let segment = self.segments[j];
            let _ = write!(
                sql,
                "  {}SELECT {j} AS strata_cid, {segment} AS strata_segment, {} AS strata_label",
                if j == 0 { "" } else { "UNION ALL " },
                dialect.text(&self.labels[segment as usize])
            );
            for (i, v) in c.iter().enumerate() {
                let _ = write!(sql, ", {} AS c{}", dialect.number(f64::from(*v)), i + 1);
            }
            sql.push('\n');
        }
        let _ = writeln!(sql, "),");
        // 3. Every row's squared distance to every centroid, in double precision.
        let terms: Vec<String> = (1..=d)
            .map(|i| {
                let diff = format!("(CAST(i.f{i} AS {double}) - c.c{i})");
                format!("{diff} * {diff}")
            })
            .collect();
        let _ = writeln!(
            sql,
            "strata_distances AS (\n  SELECT i.strata_id, c.strata_cid, c.strata_segment, c.strata_label,\n    {} AS strata_distance\n  FROM {input} i CROSS JOIN strata_centroids c\n),",
            terms.join("\n    + ")
        );
        // 4. The nearest, ties to the lowest centroid.
        let _ = writeln!(
            sql,
            "strata_ranked AS (\n  SELECT strata_id, strata_segment, strata_label,\n    ROW_NUMBER() OVER (PARTITION BY strata_id ORDER BY strata_distance, strata_cid) AS strata_rank\n  FROM strata_distances\n)"
        );
        let _ = writeln!(
            sql,
            "SELECT strata_id AS {}, strata_segment AS segment, strata_label AS label\nFROM strata_ranked\nWHERE strata_rank = 1",
            dialect.ident(self.id_column)
        );
        sql
    }
}

/// One feature as an SQL expression.
fn feature(dialect: Dialect, f: &FeatureExpr) -> String {
    let double = dialect.double_type();
    match f {
        FeatureExpr::Scaled {
            column,
            impute,
            transform,
            center,
            scale,
            weight,
        } => {
            let x = format!(
                "COALESCE(CAST({} AS {double}), {})",
                dialect.ident(column),
                dialect.number(*impute)
            );
            let x = match transform {
                Transform::None => x,
                Transform::Log1p => {
                    format!("LN(1 + {})", dialect.greatest(&x, &dialect.number(0.0)))
                }
                Transform::SignedLog1p => format!("SIGN({x}) * LN(1 + ABS({x}))"),
            };
            dialect.f32(&format!(
                "({x} - {}) / {} * {}",
                dialect.number(*center),
                dialect.number(*scale),
                dialect.number(*weight)
            ))
        }
        FeatureExpr::Indicator {
            column,
            level,
            on_missing,
            weight,
        } => {
            let w = dialect.f32(&dialect.number(*weight));
            let zero = dialect.f32(&dialect.number(0.0));
            format!(
                "CASE WHEN {col} IS NULL THEN {missing} WHEN CAST({col} AS {text}) = {level} THEN {w} ELSE {zero} END",
                col = dialect.ident(column),
                missing = if *on_missing { &w } else { &zero },
                text = dialect.text_type(),
                level = dialect.text(level),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(dialect: Dialect) -> String {
        let features = [
            FeatureExpr::Scaled {
                column: "Age".into(),
                impute: 40.0,
                transform: Transform::Log1p,
                center: 1.5,
                scale: 0.25,
                weight: 1.0,
            },
            FeatureExpr::Indicator {
                column: "it's".into(),
                level: "O'Brien \\ co".into(),
                on_missing: true,
                weight: 0.5,
            },
        ];
        ScoringQuery {
            table: "crm.customers",
            id_column: "id",
            features: &features,
            centroids: &[vec![0.1, 0.0], vec![-1.0, 0.5]],
            segments: &[0, 1],
            labels: &["A".into(), "B's".into()],
            required: &[],
            unit_length: false,
            header: "test",
        }
        .render(dialect)
    }

    #[test]
    fn identifiers_and_literals_are_quoted_per_dialect() {
        let pg = query(Dialect::Postgresql);
        assert!(pg.contains(r#"FROM "crm"."customers""#), "{pg}");
        assert!(
            pg.contains(r#"CAST("it's" AS TEXT) = 'O''Brien \ co'"#),
            "{pg}"
        );
        assert!(pg.contains("'B''s' AS strata_label"), "{pg}");
        assert!(pg.contains("CAST(1e-1 AS DOUBLE PRECISION)") || pg.contains("AS c1"));
        assert!(pg.contains("GREATEST(") && pg.contains("AS REAL)"));
        let spark = query(Dialect::Spark);
        assert!(spark.contains("FROM `crm`.`customers`"), "{spark}");
        assert!(spark.contains(r"= 'O\'Brien \\ co'"), "{spark}");
        assert!(spark.contains("AS FLOAT)") && spark.contains("AS DOUBLE)"));
        let sqlite = query(Dialect::Sqlite);
        assert!(sqlite.contains("LN(1 + MAX(") && !sqlite.contains("AS FLOAT"));
        assert!(sqlite.starts_with("-- test\nWITH strata_input AS ("));
        assert!(sqlite.contains("ORDER BY strata_distance, strata_cid"));
    }

    #[test]
    fn numbers_read_back_exactly() {
        for v in [0.1f64, -1.0 / 3.0, 1e300, 5e-324, f64::from(0.7f32)] {
            let text = Dialect::Spark.number(v);
            let inner = &text["CAST(".len()..text.len() - " AS DOUBLE)".len()];
            assert_eq!(inner.parse::<f64>().unwrap(), v, "{text}");
        }
    }
}
