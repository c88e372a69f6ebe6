//! Choosing k: the table and the rule, from `strata-format` (`segments.json` carries them).

pub use strata_format::select::*;
