//! The end-to-end suite of the real `strata` binary: one test binary with a module per area,
//! in the manner of ripgrep's `tests/tests.rs` (one link, one run, shared helpers).
//!
//! Plugins are found beside the binary, so run `cargo build --workspace` before `cargo test`
//! (`scripts/test.sh` does). Tests on real data read `../shared/data` (present in CI).

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test, with its place"
)]

// Run the binary, read and check its outputs, fixtures, blessed golden files.
mod util;

// `strata fit` with the bundled strategies on the demo and real data, errors, exit codes and
// closed pipes, plugin discovery and the plugin boundary, synth, --help.
mod fit;
// Streamed fits (`--stream`) against in-memory ones.
mod stream;
// Parquet and Arrow IPC inputs against the same data as CSV.
mod columnar;
// PostgreSQL as input and as the destination of assignments, against a real server.
mod postgres;
// Choosing k (`choose-k`, `--k auto`) and comparing runs (`compare`).
mod decisions;
// Scoring new customers with a saved model (`assign`).
mod assign;
// Partition-sized building blocks: assign's partial tallies and `merge`.
mod parts;
// A run's outputs as one commit: roll-back, concurrent writers, mixed folders, signals.
mod commit;
// One module per strategy that needs more than `fit`'s cases.
mod behavioral;
mod firmographic;
mod psychographic;
// Predicted value and churn (`--value-model`) against lifetimes.
mod value;
// KPIs and campaign tests by segment (`--outcome`, `--treatment`).
mod outcomes;
// Segment rules a CRM can apply (`--rules`) against scikit-learn.
mod rules;
// Geographic segments: latitude and longitude on the globe, the map.
mod geographic;
// k-prototypes (`--algorithm`) on mixed numeric and categorical customers.
mod kprototypes;
// Personal columns, pseudonyms, --min-segment-size.
mod privacy;
// report.html in headless Chromium.
mod report;
// GPU against CPU through the binary (lavapipe in CI).
mod gpu;
// Property-based fuzzing of the readers: CSV ingest, model.json, compare's runs.
mod fuzz;
// The house rules over the whole tree: module docs, no skipped tests, lints, no module cycles.
mod tidy;
