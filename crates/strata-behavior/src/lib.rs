//! Behavioural data: what customers did rather than who they are.
//!
//! - [`transactions`] streams a transaction log (one row per purchase line) into one row per
//!   customer: recency, frequency, monetary, average order value, tenure and mean time between
//!   purchases, with returns and cancellations netted out and counted.
//! - [`summary`] reads a per-customer summary table (lifetimes' frequency, recency, T and
//!   monetary_value) into the value models' summaries and the same behavioural measures.
//! - [`rfm`] scores recency, frequency and monetary into quintiles and maps the scores to the
//!   standard named RFM segments. It does no I/O.

pub mod rfm;
pub mod summary;
pub mod transactions;

pub use rfm::{RfmCuts, RfmScores, RfmSegment};
pub use summary::{SummaryColumns, SummaryTable};
pub use transactions::{Behaviour, TxColumns, TxError, TxOptions, TxReport, TxValue};
