//! Strata's output formats: the assignments' forms and file names ([`assignments`]),
//! `segments.json` ([`segments::SegmentsFile`]) with the types it
//! shares with the rest of Strata, the k-selection table ([`select`]), segment value and
//! attractiveness ([`value`]), the one commit per run that every command writes its folder
//! with ([`commit`]: a lock, staged files, `manifest.json`, roll-back), and single-file atomic
//! writes ([`write`](mod@write)).
//!
//! API boundary: this is the contract `fit` and `assign` write and `compare` and outside tools
//! read. It depends on no ingest, plugin host, k-means or GPU code (only the plugin ABI's
//! column kinds and the quality scores' type), so a reader of runs links none of them; a
//! field's meaning changes only with the format.

pub mod assignments;
pub mod commit;
pub mod geo;
pub mod rules;
pub mod segments;
pub mod select;
pub mod staged;
mod types;
pub mod value;
pub mod write;

pub use types::{Binding, MergedSegment, MissingPolicy, Mode, StrategyRef, TxReport};
