//! The small types `segments.json` and `model.json` share with the rest of Strata: how a run
//! segmented (k-means or RFM), what it did with missing values, the strategy it used, each role's
//! column, a merged segment, and what aggregating a transaction log did.

use serde::{Deserialize, Serialize};
use strata_abi::ColumnKind;

/// What to do with rows that miss a value in a bound column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingPolicy {
    /// Fill with the training median (numeric) or most frequent category; counts are reported.
    Impute,
    /// Leave the row out of the segmentation; the count is reported.
    Drop,
}

/// How customers are put into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// k-means on the strategy's features.
    Kmeans,
    /// RFM quintile scores mapped to the named RFM segments (behavioral data).
    Rfm,
}

/// The strategy plugin a run used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyRef {
    /// Its name (`demographic`).
    pub name: String,
    /// Its version.
    pub version: String,
    /// The plugin ABI version it was built for.
    pub abi_major: u16,
    /// See [`abi_major`](Self::abi_major).
    pub abi_minor: u16,
}

/// One column bound to one role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binding {
    /// The strategy role's name.
    pub role: String,
    /// The column's header, as written in the file.
    pub column: String,
    /// The column's 0-based position in the header of the file being read; not saved, since
    /// a model binds a new file's columns by name.
    #[serde(skip)]
    pub index: usize,
    /// How the role reads the column, from the strategy's role declaration.
    #[serde(with = "kind_name")]
    pub kind: ColumnKind,
    /// Bound by the "every numeric column" default: dropped if it turns out to hold text.
    #[serde(skip)]
    pub auto: bool,
}

mod kind_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use strata_abi::ColumnKind;

    pub fn serialize<S: Serializer>(k: &ColumnKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.name())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ColumnKind, D::Error> {
        let s = String::deserialize(d)?;
        [
            ColumnKind::Numeric,
            ColumnKind::Categorical,
            ColumnKind::Date,
            ColumnKind::Id,
        ]
        .into_iter()
        .find(|k| k.name() == s)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown column kind '{s}'")))
    }
}

/// A small segment folded into a larger one, as reported in `segments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedSegment {
    /// The k-means segment (numbered by size before merging).
    pub segment: usize,
    /// The customers it carried into the merge: its own and those of any segments merged
    /// into it before.
    pub size: u64,
    /// The k-means segment it joined (the one whose centroid is nearest among the larger).
    pub into: usize,
    /// The exported segment its customers are in.
    pub exported: usize,
}

/// What the aggregation did, for the user and for `segments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows skipped for a missing customer id.
    pub rows_without_customer: u64,
    /// Rows counted as returns: a negative value or a cancelled invoice.
    pub return_rows: u64,
    /// Rows left out for being on or after the as-of day.
    pub rows_after_as_of: u64,
    /// Customers in the table: those with at least one purchase.
    pub customers: usize,
    /// Customers left out for having returns but no purchase.
    pub customers_without_purchases: usize,
    /// The date layout used, e.g. `"iso"`.
    pub date_format: String,
    /// Days since 1970-01-01.
    pub as_of: f64,
}
