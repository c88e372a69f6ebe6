//! `compare --out`: writes a comparison's `compare.json` and `report.html`.

use std::path::{Path, PathBuf};

use crate::CoreError;
use crate::compare::Comparison;

/// Writes `compare.json` and `report.html` into `dir` (created if missing), both or neither.
pub fn write_comparison(dir: &Path, c: &Comparison) -> Result<Vec<PathBuf>, CoreError> {
    let report = strata_report::render_compare(&crate::report::compare_report(c));
    crate::output::write_atomically(
        dir,
        vec![
            (
                "compare.json",
                Box::new(|w: &mut dyn std::io::Write| crate::output::write_json(c, w)),
            ),
            (
                "report.html",
                Box::new(|w: &mut dyn std::io::Write| w.write_all(report.as_bytes())),
            ),
        ],
    )
}
