//! `--from` and `--to`: PostgreSQL at the edges of a run. A table or query is read into a
//! temporary Arrow file before the run (which then reads it as any Arrow input), and the
//! run's assignments are written back after its files are committed. Both sides are checked
//! before any work starts, so a bad URL or table name fails in a second, not after a fit.

use std::path::Path;

use anyhow::Context;
use strata_postgres::{Database, Selection, TableName};

use crate::args::{FromArgs, ToArgs};

/// A database input read into a temporary file (removed when dropped, or on a signal).
pub struct Spool {
    file: tempfile::NamedTempFile,
    _registered: strata_core::Registered,
    /// What the file stands for in the outputs and messages.
    pub origin: strata_core::Origin,
}

impl Spool {
    /// The temporary file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// `e` with the temporary file's name replaced by what it stands for: the run's errors
    /// name the file they read, which the user never gave.
    pub fn rename_in(&self, e: anyhow::Error) -> anyhow::Error {
        let text = crate::error_text(&e);
        let path = self.path().display().to_string();
        if text.contains(&path) {
            anyhow::anyhow!("{}", text.replace(&path, &self.origin.name))
        } else {
            e
        }
    }
}

/// What `--from` asks for, checked, before anything is read.
pub struct Source {
    database: Database,
    selection: Selection,
}

impl Source {
    /// `None` without `--from`.
    pub fn from_args(args: &FromArgs) -> anyhow::Result<Option<Source>> {
        let Some(url) = &args.from else {
            return Ok(None);
        };
        let database = Database::parse(url).context("--from")?;
        let selection = match (&args.table, &args.query) {
            (_, Some(q)) => Selection::Query(q.clone()),
            (Some(t), None) => Selection::Table(TableName::parse(t).context("--table")?),
            (None, None) => {
                anyhow::bail!("--from needs --table NAME or --query \"SELECT …\"")
            }
        };
        Ok(Some(Source {
            database,
            selection,
        }))
    }

    /// Reads the rows into a temporary Arrow file.
    pub fn spool(&self, progress: &dyn strata_core::Progress) -> anyhow::Result<Spool> {
        let name = format!("{} ({})", self.database.shown(), self.selection.describe());
        let (file, registered) = strata_core::temp_in(&std::env::temp_dir(), "strata-input.arrow")
            .context("cannot create a temporary file to read the database rows into")?;
        progress.stage("reading the database");
        let spooled = {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file.as_file());
            let s = strata_postgres::spool(&self.database, &self.selection, &mut w, |_| {})?;
            std::io::Write::flush(&mut w)
                .context("cannot write the database rows to a temporary file")?;
            s
        };
        tracing::info!(
            "read {} rows and {} columns from {name}",
            spooled.rows,
            spooled.columns.len()
        );
        Ok(Spool {
            file,
            _registered: registered,
            origin: strata_core::Origin {
                name,
                format: Some("postgresql".into()),
            },
        })
    }
}

/// Where `--to` writes, checked before the run.
pub struct Destination {
    database: Database,
    table: TableName,
}

impl Destination {
    /// `None` without `--to`. `--table` names the destination when it is not the `--from`
    /// table.
    pub fn from_args(to: &ToArgs, from: &FromArgs) -> anyhow::Result<Option<Destination>> {
        let table_is_input = from.from.is_some() && from.query.is_none();
        // --to-table alone writes to the --from database: the usual case, without the URL
        // (and its password) given twice.
        let url = match (&to.to, &to.to_table, &from.from) {
            (Some(url), _, _) => Some(url),
            (None, Some(_), Some(url)) => Some(url),
            (None, Some(_), None) => anyhow::bail!(
                "--to-table needs a database: --to URL, or --from URL to write where the input is"
            ),
            (None, None, _) => None,
        };
        let Some(url) = url else {
            if from.table.is_some() && from.from.is_none() {
                anyhow::bail!(
                    "--table names a --from table (or the --to table): give --from URL or --to URL"
                );
            }
            if from.table.is_some() && !table_is_input {
                anyhow::bail!(
                    "--table with --query names the --to table, and there is no --to URL"
                );
            }
            return Ok(None);
        };
        let database =
            Database::parse(url).context(if to.to.is_some() { "--to" } else { "--from" })?;
        let name = match (&to.to_table, &from.table) {
            (Some(t), _) => t,
            (None, Some(t)) if !table_is_input => t,
            (None, Some(_)) => anyhow::bail!(
                "--table is the --from table here; name the --to table with --to-table NAME"
            ),
            (None, None) => anyhow::bail!("--to needs a table: --to-table NAME (or --table NAME)"),
        };
        let table = TableName::parse(name).context("the --to table")?;
        Ok(Some(Destination { database, table }))
    }

    /// Writes the run in `out` (its committed assignments file, in whichever format) to the
    /// table, and says so on `stdout`.
    pub fn write(&self, out: &Path, stdout: &mut dyn std::io::Write) -> anyhow::Result<()> {
        let run_id = run_id(out)?;
        let (assignments, _) = strata_core::AssignmentsFormat::of_run(out)
            .with_context(|| format!("cannot read the run in {}", out.display()))?;
        let written =
            strata_postgres::write_assignments(&self.database, &self.table, &assignments, &run_id)
                .with_context(|| {
                    format!(
                        "the run's files are in {}, but the database was not updated",
                        out.display()
                    )
                })?;
        writeln!(
            stdout,
            "wrote {} rows to {} in {} (run {run_id}); {}: {} entered a segment, {} left one",
            written.rows,
            self.table,
            self.database.shown(),
            written.changes_table,
            written.entered,
            written.exited
        )?;
        Ok(())
    }
}

/// The run's id in the database: when it was written (UTC) and the start of its
/// `segments.json`'s SHA-256 from the run's manifest, which ties each row to its run folder.
fn run_id(out: &Path) -> anyhow::Result<String> {
    let manifest = out.join("manifest.json");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("cannot parse {}", manifest.display()))?;
    let hash = json["files"]["segments.json"]["sha256"]
        .as_str()
        .with_context(|| format!("{} lists no segments.json", manifest.display()))?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(format!(
        "{}-{}",
        utc_stamp(secs),
        &hash[..hash.len().min(12)]
    ))
}

/// `secs` since 1970 as `YYYYMMDDTHHMMSSZ`.
fn utc_stamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(super::utc_stamp(0), "19700101T000000Z");
        // 2024-02-29 13:45:07 UTC.
        assert_eq!(super::utc_stamp(1_709_214_307), "20240229T134507Z");
    }
}
