//! Builders for a strategy's unit tests: input columns and segment profiles without the host,
//! so `fit`, `transform` and `label` can be tested as plain functions.

use crate::abi::ColumnKind;
use crate::sdk::{CategoricalStat, Column, LevelShare, NumericStat, SegmentProfile, Values};

/// A numeric input column bound to `role`.
pub fn numeric<'a>(role: &'a str, name: &'a str, values: &'a [f64]) -> Column<'a> {
    Column {
        role,
        name,
        kind: ColumnKind::Numeric,
        values: Values::Numeric(values),
    }
}

/// A categorical input column bound to `role`: `codes` index `dict`
/// ([`crate::MISSING_CODE`] is missing).
pub fn categorical<'a>(
    role: &'a str,
    name: &'a str,
    codes: &'a [u32],
    dict: Vec<&'a str>,
) -> Column<'a> {
    Column {
        role,
        name,
        kind: ColumnKind::Categorical,
        values: Values::Categorical { codes, dict },
    }
}

/// One category's share of a segment and of all customers.
pub fn level(value: &str, share: f64, overall_share: f64) -> LevelShare<'_> {
    LevelShare {
        value,
        share,
        overall_share,
    }
}

/// A segment's profile with these statistics: the first of four segments, 100 customers, a
/// quarter of all (labels read the statistics, not these).
pub fn profile<'a>(
    numeric: Vec<NumericStat<'a>>,
    categorical: Vec<CategoricalStat<'a>>,
) -> SegmentProfile<'a> {
    SegmentProfile {
        index: 0,
        k: 4,
        size: 100,
        share: 0.25,
        numeric,
        categorical,
    }
}

/// A numeric column's statistics: its mean in the segment, and its mean and standard deviation
/// over all customers.
pub fn stat<'a>(
    role: &'a str,
    name: &'a str,
    mean: f64,
    overall_mean: f64,
    overall_std: f64,
) -> NumericStat<'a> {
    NumericStat {
        role,
        name,
        mean,
        overall_mean,
        overall_std,
    }
}

/// A categorical column's statistics: its categories' shares, most common first.
pub fn categories<'a>(
    role: &'a str,
    name: &'a str,
    levels: Vec<LevelShare<'a>>,
) -> CategoricalStat<'a> {
    CategoricalStat { role, name, levels }
}
