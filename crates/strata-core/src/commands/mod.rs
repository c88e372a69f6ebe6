//! The commands, each a short composition of the stages: [`fit`] (input → features →
//! clustering → segments → profiles → description → outputs), [`choose_k`], [`assign`] (the
//! same stages against a saved model). Comparing runs is `strata-compare`'s.

pub(crate) mod assign;
pub(crate) mod choose_k;
pub(crate) mod fit;
mod outputs;
