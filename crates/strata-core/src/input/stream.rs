//! Reading a customer file a batch at a time, for files too large to hold as a table and for
//! scoring, which never needs the whole file.
//!
//! [`RowStream`] is one pass over the file with the bookkeeping every pass makes (progress,
//! personal values withheld from errors, missing values counted, `--missing drop`). A streamed
//! fit ([`StreamedInput`]) makes three passes and keeps only the feature matrix (f32), the ids
//! and each row's line (the raw columns, in f64, never stay):
//!
//! 1. **ingest** reads a systematic sample, one chunk of about 4 MB in every m spread over the
//!    whole file (`--prep-sample` MB in all), and the strategy learns its preprocessing from
//!    it. A file no larger than the sample is read whole, so the strategy learns exactly what
//!    an in-memory fit would.
//! 2. **features** reads every row a batch at a time and appends its features to the matrix.
//! 3. **profiles** ([`Reread`]) reads every row again and adds it to its segment's profile,
//!    checking that each batch holds the lines the features pass read.
//!
//! Architecture invariant: with a file smaller than the preprocessing sample and no more rows
//! than the init sample, a streamed fit writes the same assignments and profiles as an
//! in-memory one (an end-to-end test holds them to it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_host::PluginInfo;
use strata_ingest::{ColumnData, Header, IdColumn, IngestError, ReadPlan, Table, TableStream};
use tracing::info;

use super::customers::{Customers, ReadAs, customer_plan, profiled_columns};
use super::rows::{
    all_dropped_error, check_categories, complete_rows, data_error, drop_incomplete, keep_rows,
    no_values_error, report_imputed, set_aside_text_columns,
};
use crate::error::gib;
use crate::features::{Features, parse_as};
use crate::output::StreamReport;
use crate::profile::{ProfileBuilder, Profiles};
use crate::progress::Progress;
use crate::settings::{Mode, Source, Streaming};
use crate::{Binding, CoreError, FitSettings, MissingPolicy};

/// The memory the system can give without swapping, in bytes (Linux; `None` elsewhere).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Whether this fit streams, and why (`None`: it reads the table whole).
///
/// `auto` streams a customer table clustered with k-means when the file is larger than a
/// quarter of the available memory: an in-memory fit holds about twice the file's size (the
/// f64 columns, the ids and the f32 matrix together).
pub(crate) fn streaming_reason(settings: &FitSettings) -> Option<String> {
    match settings.input().streaming {
        Streaming::Never => None,
        Streaming::Always => Some("--stream always".into()),
        Streaming::Auto => {
            // k-prototypes holds its table (its passes are online, row by row).
            if settings.input().source != Source::Customers
                || settings.cluster().mode != Mode::Kmeans
                || settings.cluster().algorithm != crate::Algorithm::KMeans
            {
                return None;
            }
            // A compressed columnar file holds the same table in a third of a CSV's bytes or
            // less: its values' decoded size is what a held fit would need.
            let file = strata_ingest::decoded_bytes(&settings.input().path);
            let available = available_memory()?;
            (file > available / 4).then(|| {
                format!(
                    "auto: the input ({} decoded) is more than a quarter of the memory available \
                     ({})",
                    gib(file as f64),
                    gib(available as f64)
                )
            })
        }
    }
}

/// One pass over a customer file, a batch of chunks at a time.
pub(crate) struct RowStream<'a> {
    stream: TableStream<'a>,
    info: &'a PluginInfo,
    bindings: &'a [Binding],
    progress: &'a dyn Progress,
    total: u64,
    drop_incomplete: bool,
    /// Rows read so far.
    pub rows: usize,
    /// Rows left out so far (`--missing drop`).
    pub dropped: usize,
    /// Missing values so far, per bound column.
    pub missing: Vec<usize>,
}

/// One batch of a [`RowStream`].
pub(crate) struct RowBatch {
    /// The batch's rows that are kept.
    pub table: Table,
    /// Which of the batch's rows were kept (`None`: all of them).
    pub keep: Option<Vec<bool>>,
    /// The 0-based number, in the file, of the batch's first row.
    pub first_row: usize,
}

impl RowBatch {
    /// The kept rows' ids when the input has no id column: their 1-based row numbers in the
    /// file (the table's own row numbers start again at 1 in every batch).
    pub fn row_numbers(&self) -> IdColumn {
        let rows = self.keep.as_ref().map_or(self.table.n_rows, Vec::len);
        IdColumn::numbered(self.first_row, rows, self.keep.as_deref())
    }
}

impl<'a> RowStream<'a> {
    /// Starts a pass over the file `header` belongs to, reading the columns of `plan` (one per
    /// binding, in order).
    pub fn new(
        header: &'a Header,
        plan: &'a ReadPlan,
        info: &'a PluginInfo,
        bindings: &'a [Binding],
        drop_incomplete: bool,
        progress: &'a dyn Progress,
    ) -> Result<RowStream<'a>, CoreError> {
        Ok(RowStream {
            stream: TableStream::new(header, plan)?,
            info,
            bindings,
            progress,
            total: header.bytes,
            drop_incomplete,
            rows: 0,
            dropped: 0,
            missing: vec![0; bindings.len()],
        })
    }

    /// The next batch, `None` at the end of the file. `check` sees every row read, before any
    /// is left out.
    pub fn next(
        &mut self,
        check: impl FnOnce(&Table) -> Result<(), CoreError>,
    ) -> Result<Option<RowBatch>, CoreError> {
        let Some(table) = self
            .stream
            .next_table()
            .map_err(|e| crate::privacy::withhold(e, self.info, self.bindings))?
        else {
            return Ok(None);
        };
        self.progress.bytes(self.stream.bytes_read(), self.total);
        check(&table)?;
        for (m, c) in self.missing.iter_mut().zip(&table.columns) {
            *m += c.data.missing();
        }
        let first_row = self.rows;
        self.rows += table.n_rows;
        let keep = if self.drop_incomplete {
            complete_rows(&table)
        } else {
            None
        };
        let table = match &keep {
            Some(keep) => {
                let (kept, dropped) = keep_rows(&table, keep);
                self.dropped += dropped;
                kept
            }
            None => table,
        };
        Ok(Some(RowBatch {
            table,
            keep,
            first_row,
        }))
    }

    /// Bytes of the file read so far, and its size.
    pub fn bytes(&self) -> (u64, u64) {
        (self.stream.bytes_read(), self.total)
    }
}

/// Ids of the rows kept, gathered a batch at a time.
enum Ids {
    Text {
        name: String,
        bytes: Vec<u8>,
        offsets: Vec<usize>,
    },
    /// No id column: 1-based row numbers, listed once a row has been dropped.
    Rows {
        count: usize,
        listed: Option<Vec<u64>>,
    },
}

impl Ids {
    fn append(&mut self, batch: &RowBatch) {
        let table = &batch.table;
        match (self, &table.ids) {
            (
                Ids::Text { bytes, offsets, .. },
                IdColumn::Text {
                    bytes: b,
                    offsets: o,
                    ..
                },
            ) => {
                for i in 0..table.n_rows {
                    bytes.extend_from_slice(&b[o[i]..o[i + 1]]);
                    offsets.push(bytes.len());
                }
            }
            (Ids::Rows { count, listed }, _) => {
                if batch.keep.is_some() && listed.is_none() {
                    *listed = Some((1..=*count as u64).collect());
                }
                if let Some(list) = listed {
                    match &batch.keep {
                        Some(keep) => list.extend(
                            keep.iter()
                                .enumerate()
                                .filter(|(_, k)| **k)
                                .map(|(i, _)| (batch.first_row + i + 1) as u64),
                        ),
                        None => {
                            list.extend((0..table.n_rows).map(|i| (batch.first_row + i + 1) as u64))
                        }
                    }
                }
                *count += table.n_rows;
            }
            _ => unreachable!("every table of a stream has the same id column"),
        }
    }

    fn finish(self) -> IdColumn {
        match self {
            Ids::Text {
                name,
                bytes,
                offsets,
            } => IdColumn::Text {
                name,
                bytes,
                offsets,
            },
            Ids::Rows {
                count,
                listed: None,
            } => IdColumn::RowNumbers(count),
            Ids::Rows {
                listed: Some(list), ..
            } => {
                let mut bytes = Vec::new();
                let mut offsets = vec![0];
                for r in list {
                    bytes.extend_from_slice(r.to_string().as_bytes());
                    offsets.push(bytes.len());
                }
                IdColumn::Text {
                    name: "row".into(),
                    bytes,
                    offsets,
                }
            }
        }
    }
}

/// A column the sample took for numeric that holds text further on.
fn text_beyond_sample(path: &Path, table: &Table, bindings: &[Binding]) -> Result<(), CoreError> {
    for (b, c) in bindings.iter().zip(&table.columns) {
        if let ColumnData::NotNumeric {
            first_text_line, ..
        } = c.data
        {
            return Err(data_error(
                path,
                format!(
                    "line {first_text_line}: column '{}' holds text, though the rows sampled to \
                     choose the columns held only numbers; name the columns to cluster with --map",
                    b.column
                ),
            ));
        }
    }
    Ok(())
}

/// What identifies the input a streamed fit reads in several passes: if any of it differs
/// between passes, the passes read different data (`cat other.csv > input.csv` keeps the size
/// and the inode but not the modification time). A folder of Parquet parts is identified by
/// every part file, so a part rewritten or added between passes is caught too.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    files: Vec<OneFile>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OneFile {
    path: PathBuf,
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileIdentity {
    fn of(path: &Path) -> Result<FileIdentity, CoreError> {
        let files = strata_ingest::input_files(path)?
            .into_iter()
            .map(|path| {
                let m = std::fs::metadata(&path).map_err(|e| IngestError::Io {
                    path: path.clone(),
                    error: e,
                })?;
                Ok(OneFile {
                    len: m.len(),
                    modified: m.modified().ok(),
                    #[cfg(unix)]
                    inode: {
                        use std::os::unix::fs::MetadataExt;
                        (m.dev(), m.ino())
                    },
                    path,
                })
            })
            .collect::<Result<Vec<_>, CoreError>>()?;
        Ok(FileIdentity { files })
    }

    /// An error when `path` is no longer the input first read (`pass` names the pass).
    fn check(&self, path: &Path, pass: &str) -> Result<(), CoreError> {
        let now = FileIdentity::of(path)?;
        if now == *self {
            return Ok(());
        }
        let changed = now.files.iter().zip(&self.files).find(|(a, b)| a != b);
        let what = match changed {
            Some((now, was)) if now.path != was.path => {
                format!(
                    "the part files changed: {} is now {}",
                    was.path.display(),
                    now.path.display()
                )
            }
            Some((now, was)) if now.len != was.len => {
                format!(
                    "the size of {} went from {} to {} bytes",
                    now.path.display(),
                    was.len,
                    now.len
                )
            }
            Some((now, _)) => format!(
                "{} was rewritten (its modification time changed)",
                now.path.display()
            ),
            None => format!(
                "the folder held {} part files and now holds {}",
                self.files.len(),
                now.files.len()
            ),
        };
        Err(data_error(
            path,
            format!(
                "the input changed between the passes of this streamed fit ({what}, {pass}): \
                 the passes would segment different data; segment a copy that stays put"
            ),
        ))
    }
}

/// A customer file to be fitted without holding it: bound, with the sample the strategy
/// learns from read (pass 1).
pub(crate) struct StreamedInput {
    identity: FileIdentity,
    header: Header,
    /// Every pass after the sample reads these columns (the bound ones, text columns set
    /// aside), ids unchecked for repeats until all are in.
    plan: ReadPlan,
    bindings: Vec<Binding>,
    sample: Table,
    skipped_columns: Vec<String>,
    report: StreamReport,
}

impl StreamedInput {
    /// Binds the roles and reads the preprocessing sample.
    pub fn open(
        settings: &FitSettings,
        info: &PluginInfo,
        reason: String,
        progress: &dyn Progress,
    ) -> Result<StreamedInput, CoreError> {
        let path = settings.input().path.as_path();
        info!("streaming {} ({reason})", settings.input().name());
        let identity = FileIdentity::of(path)?;
        let header = strata_ingest::read_header(path, settings.input().delimiter)?;
        let (mut bindings, plan) = customer_plan(settings, info, &header)?;
        let total = header.bytes;
        let sample_bytes = settings.input().prep_sample_mb.saturating_mul(1 << 20);
        let one_in = total.div_ceil(sample_bytes).max(1) as usize;
        let sample_plan = ReadPlan {
            allow_duplicate_ids: true,
            ..plan.clone()
        };
        let mut sample =
            strata_ingest::read_table_sampled(&header, &sample_plan, one_in, &mut |done| {
                progress.bytes(done, total)
            })
            .map_err(|e| crate::privacy::withhold(e, info, &bindings))?;
        let skipped_columns = set_aside_text_columns(path, &mut sample, &mut bindings)?;
        check_categories(path, &sample, &bindings, settings.input().max_categories)?;
        for (b, c) in bindings.iter().zip(&sample.columns) {
            if c.data.missing() == sample.n_rows {
                return Err(data_error(
                    path,
                    format!(
                        "column '{}' (role {}) has no value in the {} rows sampled to learn the \
                         preprocessing; give a larger --prep-sample",
                        b.column, b.role, sample.n_rows
                    ),
                ));
            }
        }
        if settings.input().missing == MissingPolicy::Drop {
            (sample, _) = drop_incomplete(sample);
            if sample.n_rows == 0 {
                return Err(all_dropped_error(path));
            }
        }
        if one_in > 1 {
            info!(
                "learning the preprocessing from {} rows (one chunk in {one_in})",
                sample.n_rows
            );
        }
        let plan = ReadPlan {
            id_column: plan.id_column,
            allow_duplicate_ids: true,
            columns: bindings.iter().map(|b| (b.index, parse_as(b))).collect(),
        };
        identity.check(path, "after the sample")?;
        Ok(StreamedInput {
            identity,
            header,
            plan,
            bindings,
            report: StreamReport {
                prep_sample_rows: sample.n_rows,
                prep_sample_one_chunk_in: one_in,
                reason,
            },
            sample,
            skipped_columns,
        })
    }

    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The rows the strategy learns its preprocessing from.
    pub fn sample(&self) -> &Table {
        &self.sample
    }

    /// Pass 2: every row's features, appended to one matrix, with the customers' ids and
    /// lines; then the file can be read again for the profiles.
    pub fn features(
        self,
        settings: &FitSettings,
        info: &PluginInfo,
        features: &Features<'_>,
        progress: &dyn Progress,
    ) -> Result<(Vec<f32>, Customers, Reread), CoreError> {
        let StreamedInput {
            identity,
            header,
            plan,
            bindings,
            sample,
            skipped_columns,
            report,
        } = self;
        identity.check(settings.input().path.as_path(), "before the features pass")?;
        let path = settings.input().path.as_path();
        let d = features.d();
        // Rows to expect, from the sample's rows per chunk.
        let expected_rows = (report.prep_sample_rows as f64
            * report.prep_sample_one_chunk_in as f64
            * 1.02) as usize
            + 1024;
        drop(sample);
        if let Some(available) = available_memory() {
            let need = expected_rows as f64 * d as f64 * 4.0;
            if need > 0.8 * available as f64 {
                return Err(CoreError::MatrixTooLarge {
                    rows: expected_rows,
                    features: d,
                    need_bytes: need,
                    available_bytes: available as f64,
                });
            }
        }
        let drop_rows = settings.input().missing == MissingPolicy::Drop;
        let mut matrix: Vec<f32> = Vec::with_capacity(expected_rows * d);
        let mut ids = match plan.id_column {
            Some(c) => Ids::Text {
                name: header.names[c].clone(),
                bytes: Vec::new(),
                offsets: vec![0],
            },
            None => Ids::Rows {
                count: 0,
                listed: None,
            },
        };
        let mut lines: Vec<u64> = Vec::with_capacity(expected_rows);
        let mut stream = RowStream::new(&header, &plan, info, &bindings, drop_rows, progress)?;
        while let Some(batch) = stream.next(|t| text_beyond_sample(path, t, &bindings))? {
            ids.append(&batch);
            lines.extend_from_slice(&batch.table.lines);
            if batch.table.n_rows == 0 {
                continue;
            }
            matrix.extend_from_slice(&features.transform(&bindings, &batch.table)?);
        }
        let (rows, rows_dropped, missing) = (stream.rows, stream.dropped, stream.missing);
        identity.check(path, "during the features pass")?;
        if rows == 0 {
            return Err(IngestError::NoRows {
                path: path.to_owned(),
            }
            .into());
        }
        let mut missing_by_column = BTreeMap::new();
        for (b, &m) in bindings.iter().zip(&missing) {
            if m == rows {
                return Err(no_values_error(path, b));
            }
            if !drop_rows {
                report_imputed(&b.column, m, rows);
            }
            missing_by_column.insert(b.column.clone(), m);
        }
        let n = lines.len();
        if drop_rows && rows_dropped > 0 {
            info!("dropped {rows_dropped} rows with a missing value (--missing drop)");
        }
        if n == 0 {
            return Err(all_dropped_error(path));
        }
        let ids = ids.finish();
        if !settings.input().allow_duplicate_ids
            && let (Some((a, b)), IdColumn::Text { name, .. }) = (ids.first_duplicate(), &ids)
        {
            return Err(IngestError::DuplicateId {
                path: path.to_owned(),
                name: name.clone(),
                word: header.format.position_word(),
                first_line: lines[a],
                line: lines[b],
            }
            .into());
        }
        info!("read {rows} rows from {}", settings.input().name());
        let customers = Customers {
            ids,
            lines,
            bindings: bindings.clone(),
            format: header.format,
            ids_integer: header.integer_ids(plan.id_column),
            rows,
            rows_dropped,
            missing: missing_by_column,
            skipped_columns,
            read_as: ReadAs::Stream(report),
            value: None,
        };
        let reread = Reread {
            identity,
            path: path.to_owned(),
            header,
            plan,
            bindings,
            drop_rows,
        };
        Ok((matrix, customers, reread))
    }
}

/// A streamed file, read again for the profiles (pass 3).
pub(crate) struct Reread {
    identity: FileIdentity,
    path: PathBuf,
    header: Header,
    plan: ReadPlan,
    bindings: Vec<Binding>,
    drop_rows: bool,
}

impl Reread {
    /// The profiles of the `k` segments from every row read again, gathering `rules`' sample
    /// on the way; an error if the rows are not the ones `lines` lists (the file changed
    /// between passes).
    pub fn profiles(
        &self,
        info: &PluginInfo,
        lines: &[u64],
        labels: &[u32],
        k: usize,
        progress: &dyn Progress,
        rules: &mut crate::rules::Sample,
    ) -> Result<Profiles, CoreError> {
        let n = lines.len();
        self.identity
            .check(&self.path, "before the profiles pass")?;
        let mut profiles = ProfileBuilder::new(k);
        let mut stream = RowStream::new(
            &self.header,
            &self.plan,
            info,
            &self.bindings,
            self.drop_rows,
            progress,
        )?;
        let mut at = 0usize;
        let changed = || {
            data_error(
                &self.path,
                "the file changed while it was being read; segment a copy that stays put".into(),
            )
        };
        while let Some(batch) = stream.next(|_| Ok(()))? {
            let table = &batch.table;
            let end = at + table.n_rows;
            if end > n || table.lines != lines[at..end] {
                return Err(changed());
            }
            let columns = profiled_columns(info, &self.bindings, &table.columns);
            profiles.add(&columns, &labels[at..end]);
            rules.add(&columns, &labels[at..end], at);
            at = end;
        }
        if at != n {
            return Err(changed());
        }
        self.identity
            .check(&self.path, "during the profiles pass")?;
        Ok(profiles.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A later batch's ids without an id column are its rows' numbers in the whole file,
    /// the dropped rows' numbers skipped.
    #[test]
    fn row_numbers_count_from_the_file_s_start() {
        let batch = |keep: Option<Vec<bool>>, kept: usize| RowBatch {
            table: Table {
                n_rows: kept,
                ids: IdColumn::RowNumbers(kept),
                columns: Vec::new(),
                lines: vec![0; kept],
            },
            keep,
            first_row: 1000,
        };
        let texts = |ids: IdColumn| -> Vec<String> {
            let mut s = String::new();
            (0..ids.len())
                .map(|i| String::from_utf8(ids.get(i, &mut s).to_vec()).unwrap())
                .collect()
        };
        assert_eq!(
            texts(batch(None, 3).row_numbers()),
            ["1001", "1002", "1003"]
        );
        assert_eq!(
            texts(batch(Some(vec![true, false, false, true]), 2).row_numbers()),
            ["1001", "1004"]
        );
    }
}
