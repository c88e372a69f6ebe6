//! The streamed fit, for a customer file too large to hold as a table: the file is read three
//! times instead of once, and only the feature matrix (f32), the ids and each row's line stay
//! in memory (the raw columns, in f64, never do).
//!
//! 1. **ingest** reads a systematic sample, one chunk of about 4 MB in every m spread over the
//!    whole file (`--prep-sample` MB in all), and the strategy learns its preprocessing from
//!    it. A file no larger than the sample is read whole, so the strategy learns exactly what
//!    an in-memory fit would.
//! 2. **features** reads every row a batch at a time and appends its features to the matrix.
//! 3. **k-means** chooses starting centroids on every ⌈n / `--init-sample`⌉-th row (the
//!    k-means++ restarts), then runs Lloyd on every row from the best of them; the inertia
//!    gap between the two is reported.
//! 4. **profiles** reads every row again and adds it to its segment's profile.
//!
//! Architecture invariant: with a file smaller than the preprocessing sample and no more rows
//! than the init sample, a streamed fit writes the same assignments and profiles as an
//! in-memory one (an end-to-end test holds them to it).

use std::collections::BTreeMap;

use strata_host::{Metric, Plugin, PluginInfo};
use strata_ingest::{ColumnData, IdColumn, IngestError, ReadPlan, Table, TableStream};
use tracing::info;

use crate::pipeline::{
    Loaded, Segmentation, Stages, all_dropped_error, batch, check_k, cluster, complete_rows,
    customer_plan, data_error, drop_incomplete, keep_rows, kmeans_params, no_values_error,
    normalise_rows, set_aside_text_columns, transform_all,
};
use crate::profile::ProfileBuilder;
use crate::settings::{Mode, Source, Streaming};
use crate::{CoreError, FitSettings, MissingPolicy};

/// What a streamed fit did differently, for `segments.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StreamReport {
    /// Rows the strategy learned its preprocessing from, and the share of the file's chunks
    /// they came from (one in `prep_sample_one_chunk_in`).
    pub prep_sample_rows: usize,
    pub prep_sample_one_chunk_in: usize,
    /// Why the fit streamed.
    pub reason: String,
}

/// The memory the system can give without swapping, in bytes (Linux; `None` elsewhere).
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn gib(bytes: f64) -> String {
    format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
}

/// Whether this fit streams, and why (`None`: it reads the table whole).
///
/// `auto` streams a customer table clustered with k-means when the file is larger than a
/// quarter of the available memory: an in-memory fit holds about twice the file's size (the
/// f64 columns, the ids and the f32 matrix together).
pub(crate) fn streaming_reason(settings: &FitSettings) -> Option<String> {
    match settings.streaming {
        Streaming::Never => None,
        Streaming::Always => Some("--stream always".into()),
        Streaming::Auto => {
            if settings.source != Source::Customers || settings.mode != Mode::Kmeans {
                return None;
            }
            let file = std::fs::metadata(&settings.input).ok()?.len();
            let available = available_memory()?;
            (file > available / 4).then(|| {
                format!(
                    "auto: the file ({}) is more than a quarter of the memory available ({})",
                    gib(file as f64),
                    gib(available as f64)
                )
            })
        }
    }
}

/// A streamed fit's results, shaped as an in-memory fit's: `loaded.table` has the ids and
/// lines but no columns, and the profiles are already made.
pub(crate) struct Streamed {
    pub loaded: Loaded,
    pub seg: Segmentation,
    pub profiles: crate::profile::Profiles,
    pub report: StreamReport,
}

/// Ids of the rows kept, gathered a table at a time.
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
    /// Appends the ids of `table`'s rows kept by `keep` (all when `None`); `first_row` is the
    /// 0-based number of the table's first row in the file.
    fn append(&mut self, table: &Table, keep: Option<&[bool]>, first_row: usize) {
        let kept = |i: usize| keep.is_none_or(|k| k[i]);
        match (self, &table.ids) {
            (
                Ids::Text { bytes, offsets, .. },
                IdColumn::Text {
                    bytes: b,
                    offsets: o,
                    ..
                },
            ) => {
                for i in (0..table.n_rows).filter(|&i| kept(i)) {
                    bytes.extend_from_slice(&b[o[i]..o[i + 1]]);
                    offsets.push(bytes.len());
                }
            }
            (Ids::Rows { count, listed }, _) => {
                if keep.is_some() && listed.is_none() {
                    *listed = Some((1..=*count as u64).collect());
                }
                if let Some(list) = listed {
                    list.extend(
                        (0..table.n_rows)
                            .filter(|&i| kept(i))
                            .map(|i| (first_row + i + 1) as u64),
                    );
                }
                *count += (0..table.n_rows).filter(|&i| kept(i)).count();
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
fn text_beyond_sample(
    settings: &FitSettings,
    table: &Table,
    bindings: &[crate::Binding],
) -> Result<(), CoreError> {
    for (b, c) in bindings.iter().zip(&table.columns) {
        if let ColumnData::NotNumeric { first_text_line } = c.data {
            return Err(data_error(
                settings,
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

/// Runs the streamed fit (see the module docs) up to the profiles.
pub(crate) fn fit_streamed(
    settings: &FitSettings,
    plugin: &Plugin,
    info: &PluginInfo,
    reason: String,
    clock: &mut Stages<'_>,
) -> Result<Streamed, CoreError> {
    let path = settings.input.as_path();
    let progress = clock.progress;
    info!("streaming {} ({reason})", path.display());

    // 1. The sample the strategy learns from.
    clock.begin("ingest");
    let header = strata_ingest::read_header(path, settings.delimiter)?;
    let (mut bindings, plan) = customer_plan(settings, info, &header)?;
    let total = std::fs::metadata(path).map_or(0, |m| m.len());
    let sample_bytes = settings.prep_sample_mb.saturating_mul(1 << 20);
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
    let skipped_columns = set_aside_text_columns(settings, &mut sample, &mut bindings)?;
    for (b, c) in bindings.iter().zip(&sample.columns) {
        if c.data.missing() == sample.n_rows {
            return Err(data_error(
                settings,
                format!(
                    "column '{}' (role {}) has no value in the {} rows sampled to learn the \
                     preprocessing; give a larger --prep-sample",
                    b.column, b.role, sample.n_rows
                ),
            ));
        }
    }
    if settings.missing == MissingPolicy::Drop {
        (sample, _) = drop_incomplete(sample);
        if sample.n_rows == 0 {
            return Err(all_dropped_error(settings));
        }
    }
    let prep_sample_rows = sample.n_rows;
    if one_in > 1 {
        info!("learning the preprocessing from {prep_sample_rows} rows (one chunk in {one_in})");
    }
    let options = settings.plugin_options();
    let fitted = plugin.fit(&batch(&bindings, &sample), &options.to_string())?;
    let params = kmeans_params(settings, info, &fitted.features)?;
    let d = fitted.features.len();
    info!("{d} features: {}", fitted.features.join(", "));
    // Rows to expect, from the sample's rows per chunk.
    let expected_rows = (prep_sample_rows as f64 * one_in as f64 * 1.02) as usize + 1024;
    drop(sample);
    if let Some(available) = available_memory() {
        let need = expected_rows as f64 * d as f64 * 4.0;
        if need > 0.8 * available as f64 {
            return Err(CoreError::Settings(format!(
                "the feature matrix of about {expected_rows} rows × {d} features needs {} and {} \
                 of memory is available; Strata does not cluster out of core yet: fit a sample \
                 of the file",
                gib(need),
                gib(available as f64)
            )));
        }
    }
    clock.lap("ingest");

    // 2. Every row's features.
    clock.begin("features");
    let plan = ReadPlan {
        id_column: plan.id_column,
        allow_duplicate_ids: true,
        columns: bindings
            .iter()
            .map(|b| (b.index, crate::pipeline::parse_as(b)))
            .collect(),
    };
    let drop_rows = settings.missing == MissingPolicy::Drop;
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
    let mut missing = vec![0usize; bindings.len()];
    let (mut rows, mut rows_dropped) = (0usize, 0usize);
    let mut stream = TableStream::new(&header, &plan)?;
    while let Some(mut table) = stream
        .next_table()
        .map_err(|e| crate::privacy::withhold(e, info, &bindings))?
    {
        progress.bytes(stream.bytes_read(), total);
        text_beyond_sample(settings, &table, &bindings)?;
        for (m, c) in missing.iter_mut().zip(&table.columns) {
            *m += c.data.missing();
        }
        let keep = if drop_rows {
            complete_rows(&table)
        } else {
            None
        };
        ids.append(&table, keep.as_deref(), rows);
        rows += table.n_rows;
        if let Some(keep) = &keep {
            let dropped;
            (table, dropped) = keep_rows(&table, keep);
            rows_dropped += dropped;
        }
        lines.extend_from_slice(&table.lines);
        if table.n_rows == 0 {
            continue;
        }
        let mut features = transform_all(plugin, &fitted.state, &batch(&bindings, &table), d)?;
        if info.metric == Metric::Cosine {
            normalise_rows(&mut features, d);
        }
        matrix.extend_from_slice(&features);
    }
    if rows == 0 {
        return Err(IngestError::NoRows {
            path: path.to_owned(),
        }
        .into());
    }
    let mut missing_by_column = BTreeMap::new();
    for (b, &m) in bindings.iter().zip(&missing) {
        if m == rows {
            return Err(no_values_error(settings, b));
        }
        if m > 0 && !drop_rows {
            info!("imputed {m} missing values in '{}'", b.column);
        }
        missing_by_column.insert(b.column.clone(), m);
    }
    let n = lines.len();
    if drop_rows && rows_dropped > 0 {
        info!("dropped {rows_dropped} rows with a missing value (--missing drop)");
    }
    if n == 0 {
        return Err(all_dropped_error(settings));
    }
    let ids = ids.finish();
    if !settings.allow_duplicate_ids {
        if let (Some((a, b)), IdColumn::Text { name, .. }) = (ids.first_duplicate(), &ids) {
            return Err(IngestError::DuplicateId {
                path: path.to_owned(),
                name: name.clone(),
                first_line: lines[a],
                line: lines[b],
            }
            .into());
        }
    }
    info!("read {rows} rows from {}", path.display());
    clock.lap("features");

    // 3. k-means.
    clock.begin("k-means");
    check_k(settings, params.k(), n)?;
    let mut clustered = cluster(
        settings,
        params,
        &matrix,
        d,
        progress,
        Some(settings.init_sample),
    )?;
    drop(matrix);
    let labels = std::mem::take(&mut clustered.fit.labels);
    let distances = std::mem::take(&mut clustered.fit.nearest);
    let second = std::mem::take(&mut clustered.fit.second);
    clock.lap("k-means");

    // 4. Profiles, from the raw values read again.
    clock.begin("profiles");
    let k = clustered.k;
    let mut profiles = ProfileBuilder::new(k);
    let mut stream = TableStream::new(&header, &plan)?;
    let mut at = 0usize;
    let changed = || {
        data_error(
            settings,
            "the file changed while it was being read; segment a copy that stays put".into(),
        )
    };
    while let Some(mut table) = stream
        .next_table()
        .map_err(|e| crate::privacy::withhold(e, info, &bindings))?
    {
        progress.bytes(stream.bytes_read(), total);
        if drop_rows {
            (table, _) = drop_incomplete(table);
        }
        let end = at + table.n_rows;
        if end > n || table.lines != lines[at..end] {
            return Err(changed());
        }
        let columns: Vec<_> = bindings
            .iter()
            .zip(table.columns.iter().map(|c| &c.data))
            .filter(|(b, _)| !crate::binding::is_personal(info, &b.role))
            .collect();
        profiles.add(&columns, &labels[at..end]);
        at = end;
    }
    if at != n {
        return Err(changed());
    }
    Ok(Streamed {
        loaded: Loaded {
            table: Table {
                n_rows: n,
                ids,
                columns: Vec::new(),
                lines,
            },
            bindings,
            delimiter: header.delimiter,
            rows,
            rows_dropped,
            missing: missing_by_column,
            skipped_columns,
            transactions: None,
        },
        seg: Segmentation {
            k,
            labels,
            distances: Some(distances),
            second: Some(second),
            names: None,
            features: fitted.features,
            state: Some(fitted.state),
            kmeans: Some(clustered),
        },
        profiles: profiles.finish(),
        report: StreamReport {
            prep_sample_rows,
            prep_sample_one_chunk_in: one_in,
            reason,
        },
    })
}
