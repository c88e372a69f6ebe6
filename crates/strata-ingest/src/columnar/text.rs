//! A columnar input (a Parquet file or folder of parts, an Arrow IPC file or stream) read as
//! CSV text ([`strata_arrow_text`]), a record batch at a time: how a transaction log kept as
//! Parquet is read record by record as its CSV twin is ([`crate::Records`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_arrow_text::{Batches, CsvText, SourceError};

use super::{io_error, ipc_batches, parquet_files, sniff, unreadable};
use crate::{Format, IngestError};

/// `path` as CSV text, or `None` when it is not a columnar file (a CSV file is read as it
/// is). A decoder's error comes out of the text's `read` as the I/O error's inner
/// [`IngestError`], naming the file.
pub fn columnar_as_csv(path: &Path) -> Result<Option<CsvText>, IngestError> {
    let Some(format) = sniff(path)? else {
        return Ok(None);
    };
    let boxed = |e: IngestError| Box::new(e) as SourceError;
    let (names, batches): (Vec<String>, Batches) = match format {
        Format::Parquet => {
            let files = parquet_files(path)?;
            let names = super::field_names(files[0].meta.schema());
            let batches = files.into_iter().flat_map(move |f| {
                let reader = File::open(&f.path)
                    .map_err(|e| io_error(&f.path, e))
                    .and_then(|file| {
                        ParquetRecordBatchReaderBuilder::new_with_metadata(file, f.meta.clone())
                            .build()
                            .map_err(|e| unreadable(&f.path, Format::Parquet, e))
                    });
                let path = f.path.clone();
                let batches: Batches =
                    match reader {
                        Ok(r) => Box::new(r.map(move |b| {
                            b.map_err(|e| boxed(unreadable(&path, Format::Parquet, e)))
                        })),
                        Err(e) => Box::new(std::iter::once(Err(boxed(e)))),
                    };
                batches
            });
            (names, Box::new(batches))
        }
        _ => {
            let (ipc, _) = ipc_batches(path, format, None)?;
            let names = super::field_names(&ipc.schema);
            let owned: PathBuf = path.to_owned();
            let batches = ipc
                .batches
                .map(move |b| b.map_err(|e| boxed(unreadable(&owned, format, e))));
            (names, Box::new(batches))
        }
    };
    Ok(Some(CsvText::new(&names, batches)))
}

/// Reads `path` (columnar) whole as CSV text; for tests.
#[cfg(test)]
pub(crate) fn read_to_string(path: &Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    std::io::BufReader::new(columnar_as_csv(path).unwrap().unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}
