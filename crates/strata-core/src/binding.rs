//! Binding a strategy's roles to the columns of a file.
//!
//! In order: explicit `--map ROLE=SPEC` bindings; then each unbound single-column role takes a
//! header equal to its name, ignoring case, spaces and punctuation (`household_size` matches
//! "Household Size"); then a role declared "all numeric by default" takes every column not
//! otherwise bound and not the id (non-numeric ones are set aside after reading). A multi-column
//! SPEC is an exact header first (headers may contain commas), else a comma-separated list whose
//! items are headers or globs (`*`, `?`).

use std::path::Path;

use strata_host::PluginInfo;
use strata_ingest::Header;
use wildmatch::WildMatch;

use crate::{CoreError, RoleMap};
pub use strata_format::Binding;

/// Whether the strategy marks `role` as personal data (kept out of profiles, labels, outputs
/// and logs).
pub(crate) fn is_personal(info: &PluginInfo, role: &str) -> bool {
    info.roles.iter().any(|r| r.name == role && r.personal)
}

fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a header names an identifier: `id`, `..._id`, `... id`, `...-id` (any case), or
/// camel case `CustomerID` / `customerId`. Such columns are never swept into "every numeric
/// column": clustering on an id is meaningless and ids are personal.
pub fn looks_like_id(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "id"
        || [" id", "_id", "-id", ".id"]
            .iter()
            .any(|s| lower.ends_with(s))
    {
        return true;
    }
    let t = name.trim();
    (t.ends_with("ID") || t.ends_with("Id"))
        && t[..t.len() - 2]
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_lowercase())
}

/// Longest column name a message quotes whole.
const SHOWN_CHARS: usize = 80;
/// Most header names a message lists.
const LISTED_HEADERS: usize = 30;

/// A column name as a message quotes it: cut past [`SHOWN_CHARS`] characters (a header cell
/// can be megabytes long), saying how long it was.
pub(crate) fn shown(name: &str) -> String {
    let n = name.chars().count();
    if n <= SHOWN_CHARS {
        return name.to_owned();
    }
    let head: String = name.chars().take(SHOWN_CHARS - 1).collect();
    format!("{head}… ({n} characters)")
}

/// The header's names, quoted, for messages that say what the header has: the first
/// [`LISTED_HEADERS`], each [`shown`].
pub(crate) fn list_headers(h: &Header) -> String {
    let mut listed: Vec<String> = h
        .names
        .iter()
        .take(LISTED_HEADERS)
        .map(|n| format!("'{}'", shown(n)))
        .collect();
    if h.names.len() > LISTED_HEADERS {
        listed.push(format!("and {} more", h.names.len() - LISTED_HEADERS));
    }
    listed.join(", ")
}

/// Columns no role may take, each with what it is: the id column, and the outcome and
/// treatment columns (evaluated, never clustered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reserved(Vec<(usize, &'static str)>);

impl Reserved {
    /// The id column's position, if there is one.
    pub fn id(index: Option<usize>) -> Reserved {
        Reserved(index.map(|i| (i, "the id column")).into_iter().collect())
    }
    /// Also reserves column `index` as `what` ("an outcome column", ...).
    pub fn with(mut self, index: usize, what: &'static str) -> Reserved {
        self.0.push((index, what));
        self
    }
    /// What column `index` is reserved as, if it is.
    pub fn get(&self, index: usize) -> Option<&'static str> {
        self.0.iter().find(|r| r.0 == index).map(|r| r.1)
    }
}

/// Resolves the bindings for `plugin` over `header`. A `reserved` column is never bound to a
/// role: asked for by `--map`, it is an error; the automatic bindings pass it by.
pub fn resolve_bindings(
    path: &Path,
    plugin: &PluginInfo,
    header: &Header,
    maps: &[RoleMap],
    reserved: &Reserved,
) -> Result<Vec<Binding>, CoreError> {
    let err = |message: String| CoreError::Binding {
        path: path.to_owned(),
        message,
    };
    let role_names = || {
        plugin
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut bound: Vec<Binding> = Vec::new();
    // Which columns are bound already, so a header of many columns binds in linear time.
    let taken: Vec<std::cell::Cell<bool>> = vec![std::cell::Cell::new(false); header.names.len()];
    let push =
        |bound: &mut Vec<Binding>, role: &strata_host::RoleInfo, index: usize, auto: bool| {
            if let Some(what) = reserved.get(index) {
                return Err(err(format!(
                    "column '{}' is {what} and cannot also be used as role '{}'",
                    shown(&header.names[index]),
                    role.name
                )));
            }
            if taken[index].get() {
                let other = bound
                    .iter()
                    .find(|b| b.index == index)
                    .map_or("", |b| b.role.as_str());
                return Err(err(format!(
                    "column '{}' is bound to both '{other}' and '{}'",
                    shown(&header.names[index]),
                    role.name
                )));
            }
            taken[index].set(true);
            bound.push(Binding {
                role: role.name.clone(),
                column: header.names[index].clone(),
                index,
                kind: role.kind,
                auto,
            });
            Ok(())
        };
    let find_exact = |name: &str| -> Result<usize, CoreError> {
        header.position(name).ok_or_else(|| {
            let hint = header
                .names
                .iter()
                .find(|h| normalise(h) == normalise(name))
                .map(|h| format!(" (did you mean '{}'?)", shown(h)))
                .unwrap_or_default();
            err(format!(
                "no column named '{}'{hint}; the header has {}",
                shown(name),
                list_headers(header)
            ))
        })
    };

    for m in maps {
        let role = plugin
            .roles
            .iter()
            .find(|r| r.name == m.role)
            .ok_or_else(|| {
                err(format!(
                    "strategy '{}' has no role '{}'; its roles are {}",
                    plugin.name,
                    m.role,
                    role_names()
                ))
            })?;
        if !role.multi {
            push(&mut bound, role, find_exact(&m.spec)?, false)?;
            continue;
        }
        if let Some(i) = header.position(&m.spec) {
            push(&mut bound, role, i, false)?;
            continue;
        }
        for item in m.spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.contains(['*', '?']) {
                let pattern = WildMatch::new(item);
                let hits: Vec<usize> = (0..header.names.len())
                    .filter(|&i| pattern.matches(&header.names[i]) && reserved.get(i).is_none())
                    .collect();
                if hits.is_empty() {
                    return Err(err(format!(
                        "the pattern '{}' for role '{}' matches no column; the header has {}",
                        shown(item),
                        role.name,
                        list_headers(header)
                    )));
                }
                for i in hits {
                    if !bound.iter().any(|b| b.index == i) {
                        push(&mut bound, role, i, false)?;
                    }
                }
            } else {
                push(&mut bound, role, find_exact(item)?, false)?;
            }
        }
    }

    for role in &plugin.roles {
        if role.default_all_numeric || bound.iter().any(|b| b.role == role.name) {
            continue;
        }
        let want = normalise(&role.name);
        if let Some(i) = (0..header.names.len()).find(|&i| normalise(&header.names[i]) == want)
            && reserved.get(i).is_none()
            && !taken[i].get()
        {
            push(&mut bound, role, i, false)?;
        }
    }

    for role in plugin.roles.iter().filter(|r| r.default_all_numeric) {
        if bound.iter().any(|b| b.role == role.name) {
            continue;
        }
        for (i, name) in header.names.iter().enumerate() {
            if reserved.get(i).is_some() || taken[i].get() {
                continue;
            }
            if name.is_empty() {
                // An index column as pandas writes it, or a header cell left blank.
                tracing::info!("left out column {}: it has no name in the header", i + 1);
                continue;
            }
            if looks_like_id(name) {
                tracing::info!(
                    "left out '{}': it looks like an identifier (carry it with --id-column, or bind it with --map to cluster it)",
                    shown(name)
                );
                continue;
            }
            push(&mut bound, role, i, true)?;
        }
    }

    if let Some(r) = plugin
        .roles
        .iter()
        .find(|r| r.required && !bound.iter().any(|b| b.role == r.name))
    {
        return Err(err(format!(
            "role '{}' is required; bind it with --map {}=COLUMN",
            r.name, r.name
        )));
    }
    if bound.is_empty() {
        return Err(err(format!(
            "no role of strategy '{}' is bound to a column: none of its roles ({}) matches a header \
             ({}); bind them with --map ROLE=COLUMN",
            plugin.name,
            role_names(),
            list_headers(header)
        )));
    }
    Ok(bound)
}

/// The header position of each of `roles` (name, normalised headers it is found under):
/// `--map ROLE=COLUMN` first, then the first unclaimed header among its names. `flag` and
/// `what` name the input in errors (`--transactions`, "log").
fn find_fields(
    path: &Path,
    header: &Header,
    maps: &[RoleMap],
    roles: &[(&str, &[&str])],
    flag: &str,
    what: &str,
) -> Result<Vec<Option<usize>>, CoreError> {
    let err = |message: String| CoreError::Binding {
        path: path.to_owned(),
        message,
    };
    let names = || roles.iter().map(|r| r.0).collect::<Vec<_>>().join(", ");
    let mut found: Vec<Option<usize>> = vec![None; roles.len()];
    for m in maps {
        let slot = roles.iter().position(|r| r.0 == m.role).ok_or_else(|| {
            err(format!(
                "with {flag}, --map binds the {what}'s columns: {}; '{}' is not one of them",
                names(),
                m.role
            ))
        })?;
        let i = header.position(&m.spec).ok_or_else(|| {
            err(format!(
                "no column named '{}'; the header has {}",
                shown(&m.spec),
                list_headers(header)
            ))
        })?;
        found[slot] = Some(i);
    }
    for (slot, (_, aliases)) in roles.iter().enumerate() {
        if found[slot].is_none() {
            found[slot] = aliases.iter().find_map(|a| {
                (0..header.names.len())
                    .find(|&i| normalise(&header.names[i]) == *a && !found.contains(&Some(i)))
            });
        }
    }
    Ok(found)
}

/// A value summary's fields (lifetimes' names, the CDNOW file's, and the usual id headers).
const SUMMARY_ROLES: [(&str, &[&str]); 5] = [
    (
        "customer_id",
        &["id", "customerid", "customer", "clientid", "userid"],
    ),
    ("frequency", &["frequency", "x"]),
    ("recency", &["recency", "tx"]),
    ("t", &["t"]),
    ("monetary_value", &["monetaryvalue", "zbar", "monetary"]),
];

/// Finds a value summary's fields in `header` (`--summary`): `--map ROLE=COLUMN` first, then
/// lifetimes' headers (`frequency`, `recency`, `T`, `monetary_value`; also `x`, `t_x`,
/// `zbar`). The monetary value is optional.
pub fn resolve_summary_columns(
    path: &Path,
    header: &Header,
    maps: &[RoleMap],
) -> Result<strata_behavior::SummaryColumns, CoreError> {
    let found = find_fields(path, header, maps, &SUMMARY_ROLES, "--summary", "summary")?;
    let need = |slot: usize| {
        found[slot].ok_or_else(|| CoreError::Binding {
            path: path.to_owned(),
            message: format!(
                "the summary needs a '{}' column; bind it with --map {}=COLUMN (the header has {})",
                SUMMARY_ROLES[slot].0,
                SUMMARY_ROLES[slot].0,
                list_headers(header)
            ),
        })
    };
    Ok(strata_behavior::SummaryColumns {
        customer_id: need(0)?,
        frequency: need(1)?,
        recency: need(2)?,
        t: need(3)?,
        monetary_value: found[4],
    })
}

/// Transaction-log fields and the headers each is found under without `--map`.
const TX_ROLES: [(&str, &[&str]); 6] = [
    (
        "customer_id",
        &["customerid", "customer", "clientid", "userid"],
    ),
    (
        "timestamp",
        &[
            "timestamp",
            "invoicedate",
            "orderdate",
            "transactiondate",
            "date",
            "datetime",
        ],
    ),
    (
        "amount",
        &["amount", "totalprice", "total", "revenue", "value", "sales"],
    ),
    ("quantity", &["quantity", "qty", "units"]),
    ("unit_price", &["unitprice", "price"]),
    (
        "invoice",
        &[
            "invoice",
            "invoiceno",
            "invoiceid",
            "orderid",
            "orderno",
            "transactionid",
        ],
    ),
];

/// Finds the transaction-log fields in `header`: `--map ROLE=COLUMN` first, then the usual
/// header names (`CustomerID`, `InvoiceDate`, `Quantity`, `UnitPrice`, `InvoiceNo`, ...).
/// The value is `amount` when bound, otherwise `quantity × unit_price`.
pub fn resolve_transaction_columns(
    path: &Path,
    header: &Header,
    maps: &[RoleMap],
) -> Result<strata_behavior::TxColumns, CoreError> {
    let err = |message: String| CoreError::Binding {
        path: path.to_owned(),
        message,
    };
    let found = find_fields(path, header, maps, &TX_ROLES, "--transactions", "log")?;
    let need = |slot: usize| {
        found[slot].ok_or_else(|| {
            err(format!(
                "the transaction log needs a '{}' column; bind it with --map {}=COLUMN (the header has {})",
                TX_ROLES[slot].0,
                TX_ROLES[slot].0,
                list_headers(header)
            ))
        })
    };
    let (customer_id, timestamp) = (need(0)?, need(1)?);
    let value = match (found[2], found[3], found[4]) {
        (Some(a), _, _) => strata_behavior::TxValue::Amount(a),
        (None, Some(q), Some(p)) => strata_behavior::TxValue::QuantityTimesPrice {
            quantity: q,
            unit_price: p,
        },
        _ => {
            return Err(err(format!(
                "the transaction log needs an 'amount' column, or 'quantity' and 'unit_price'; bind them with --map (the header has {})",
                list_headers(header)
            )));
        }
    };
    Ok(strata_behavior::TxColumns {
        customer_id,
        timestamp,
        value,
        invoice: found[5],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use strata_host::ColumnKind;
    use strata_host::{Metric, RoleInfo};

    fn role(name: &str, kind: ColumnKind, multi: bool, all: bool) -> RoleInfo {
        RoleInfo {
            name: name.into(),
            kind,
            required: false,
            multi,
            default_all_numeric: all,
            value: false,
            personal: false,
            description: String::new(),
        }
    }

    fn plugin(roles: Vec<RoleInfo>) -> PluginInfo {
        PluginInfo {
            name: "t".into(),
            version: "1".into(),
            description: String::new(),
            abi: (1, 0),
            roles,
            metric: Metric::Euclidean,
            default_k: 2,
            docs: String::new(),
            path: PathBuf::new(),
        }
    }

    fn header(names: &[&str]) -> Header {
        Header {
            path: "f.csv".into(),
            format: strata_ingest::Format::Csv { delimiter: b',' },
            bytes: 0,
            names: names.iter().map(|s| s.to_string()).collect(),
            types: vec![strata_ingest::SchemaType::Untyped; names.len()],
        }
    }

    fn maps(m: &[&str]) -> Vec<RoleMap> {
        m.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn cols(b: &[Binding]) -> Vec<(&str, &str)> {
        b.iter()
            .map(|b| (b.role.as_str(), b.column.as_str()))
            .collect()
    }

    #[test]
    fn explicit_then_by_name_ignoring_case_and_punctuation() {
        let p = plugin(vec![
            role("age", ColumnKind::Numeric, false, false),
            role("gender", ColumnKind::Categorical, false, false),
            role("household_size", ColumnKind::Numeric, false, false),
        ]);
        let h = header(&["CustomerID", "Genre", "AGE", "Household Size"]);
        let b = resolve_bindings(
            Path::new("f.csv"),
            &p,
            &h,
            &maps(&["gender=Genre"]),
            &Reserved::id(Some(0)),
        )
        .unwrap();
        assert_eq!(
            cols(&b),
            vec![
                ("gender", "Genre"),
                ("age", "AGE"),
                ("household_size", "Household Size")
            ]
        );
    }

    #[test]
    fn multi_roles_take_lists_globs_exact_names_with_commas_and_default_to_all() {
        let p = plugin(vec![role("features", ColumnKind::Numeric, true, true)]);
        let h = header(&["id", "f1", "f2", "g", "Hiphop, Rap"]);
        let path = Path::new("f.csv");
        let b = resolve_bindings(
            path,
            &p,
            &h,
            &maps(&["features=f*"]),
            &Reserved::id(Some(0)),
        )
        .unwrap();
        assert_eq!(cols(&b), vec![("features", "f1"), ("features", "f2")]);
        let b = resolve_bindings(
            path,
            &p,
            &h,
            &maps(&["features=g, f2"]),
            &Reserved::id(Some(0)),
        )
        .unwrap();
        assert_eq!(cols(&b), vec![("features", "g"), ("features", "f2")]);
        let b = resolve_bindings(
            path,
            &p,
            &h,
            &maps(&["features=Hiphop, Rap"]),
            &Reserved::id(Some(0)),
        )
        .unwrap();
        assert_eq!(cols(&b), vec![("features", "Hiphop, Rap")]);
        let b = resolve_bindings(path, &p, &h, &[], &Reserved::id(Some(0))).unwrap();
        assert_eq!(b.len(), 4);
        assert!(b.iter().all(|b| b.auto && b.column != "id"));
        // Without --id-column, identifier-looking columns are still left out of the default.
        let h = header(&["CustomerID", "spend", "Customer ID", "paid", "row_id"]);
        let b = resolve_bindings(path, &p, &h, &[], &Reserved::default()).unwrap();
        assert_eq!(cols(&b), vec![("features", "spend"), ("features", "paid")]);
    }

    #[test]
    fn transaction_columns_by_usual_names_or_map() {
        let path = Path::new("log.csv");
        let h = header(&[
            "InvoiceNo",
            "StockCode",
            "Quantity",
            "InvoiceDate",
            "UnitPrice",
            "CustomerID",
        ]);
        let c = resolve_transaction_columns(path, &h, &[]).unwrap();
        assert_eq!((c.customer_id, c.timestamp, c.invoice), (5, 3, Some(0)));
        assert_eq!(
            c.value,
            strata_behavior::TxValue::QuantityTimesPrice {
                quantity: 2,
                unit_price: 4
            }
        );
        let h = header(&["who", "when", "paid"]);
        let e = resolve_transaction_columns(path, &h, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a 'customer_id' column"), "{e}");
        let c = resolve_transaction_columns(
            path,
            &h,
            &maps(&["customer_id=who", "timestamp=when", "amount=paid"]),
        )
        .unwrap();
        assert_eq!(c.value, strata_behavior::TxValue::Amount(2));
        let e = resolve_transaction_columns(path, &h, &maps(&["age=who"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'age' is not one of them"), "{e}");
    }

    #[test]
    fn identifier_names() {
        for id in [
            "id",
            "ID",
            "CustomerID",
            "customerId",
            "customer_id",
            "Customer ID",
            "client-id",
        ] {
            assert!(looks_like_id(id), "{id}");
        }
        for not in ["paid", "Idle", "valid", "IDEA", "Grid", "width"] {
            assert!(!looks_like_id(not), "{not}");
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        let p = plugin(vec![role("age", ColumnKind::Numeric, false, false)]);
        let h = header(&["id", "Age ", "x"]);
        let path = Path::new("f.csv");
        let e = resolve_bindings(path, &p, &h, &maps(&["age=Agee"]), &Reserved::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("f.csv: no column named 'Agee'") && e.contains("'x'"),
            "{e}"
        );
        let e = resolve_bindings(path, &p, &h, &maps(&["income=x"]), &Reserved::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no role 'income'; its roles are age"), "{e}");
        let e = resolve_bindings(path, &p, &header(&["id", "x"]), &[], &Reserved::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no role of strategy 't' is bound"), "{e}");
        let e = resolve_bindings(path, &p, &h, &maps(&["age=id"]), &Reserved::id(Some(0)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is the id column"), "{e}");
        let multi = plugin(vec![role("features", ColumnKind::Numeric, true, false)]);
        let e = resolve_bindings(
            path,
            &multi,
            &h,
            &maps(&["features=zz*"]),
            &Reserved::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("matches no column"), "{e}");
    }
}
