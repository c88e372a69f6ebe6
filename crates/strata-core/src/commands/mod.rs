//! The commands, each a short composition of the stages: [`fit`] (input → features →
//! clustering → segments → profiles → description → outputs), [`choose_k`], [`assign`] (the
//! same stages against a saved model), [`merge`] (the tallies of many `assign` parts into one
//! run), and [`parts`]' building blocks for engines that split the customers (`transform`,
//! `step`, `recenter`) and [`export_sql`] (a model as one SQL query). Comparing runs is `strata-compare`'s.

pub(crate) mod assign;
pub(crate) mod choose_k;
pub(crate) mod export_sql;
pub(crate) mod fit;
pub(crate) mod merge;
mod outputs;
pub(crate) mod parts;
