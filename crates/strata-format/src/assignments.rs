//! The forms a run's assignments are written in (`--format`), which file of a run folder
//! holds them, and the reading of any of them as CSV text ([`read_as_csv`]) for the readers
//! of runs (compare, the database write-back). The columns are the same in each: [`COLUMNS`],
//! then [`RFM_COLUMNS`] for an RFM run; CSV prints them as text, Parquet and the Arrow stream
//! keep their types (segment an integer, label a dictionary, id as the input held it).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::commit::{Manifest, ManifestError};

/// The columns of every assignments file, in order.
pub const COLUMNS: [&str; 6] = [
    "id",
    "segment",
    "label",
    "distance",
    "boundary_ratio",
    "ambiguous",
];

/// The columns an RFM run adds after [`COLUMNS`].
pub const RFM_COLUMNS: [&str; 6] = [
    "recency",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
];

/// The columns a run with a value model adds after the others: P(alive), expected
/// purchases over the horizon, expected value per purchase and CLV over the horizon (the
/// last two absent without purchase values).
pub const VALUE_COLUMNS: [&str; 4] = ["p_alive", "expected_purchases", "expected_value", "clv"];

/// How a run's assignments are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssignmentsFormat {
    /// `assignments.csv`: text, one record per customer.
    #[default]
    Csv,
    /// `assignments.parquet`: typed columns, Snappy-compressed row groups.
    Parquet,
    /// `assignments.arrows`: an Arrow IPC stream (what `pyarrow.ipc.open_stream` reads).
    Arrow,
}

impl AssignmentsFormat {
    /// Every format, CSV first.
    pub const ALL: [AssignmentsFormat; 3] = [Self::Csv, Self::Parquet, Self::Arrow];

    /// The file the assignments have in a run's folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Csv => "assignments.csv",
            Self::Parquet => "assignments.parquet",
            Self::Arrow => "assignments.arrows",
        }
    }

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Arrow => "arrow",
        }
    }

    /// The assignments file of the run in `dir` and its format: the one the folder's manifest
    /// lists (a folder keeps another format's file from an earlier run until it is removed,
    /// and the manifest says which is current); without a manifest, the first that exists,
    /// or `assignments.csv` when none does.
    pub fn of_run(dir: &Path) -> Result<(PathBuf, AssignmentsFormat), ManifestError> {
        let listed = Manifest::read(dir)?;
        let pick = Self::ALL.into_iter().find(|f| match &listed {
            Some(m) => m.files.contains_key(f.file_name()),
            None => dir.join(f.file_name()).is_file(),
        });
        let format = pick.unwrap_or_default();
        Ok((dir.join(format.file_name()), format))
    }

    /// The other formats' file names: what a run writing this format supersedes
    /// ([`crate::commit::RunDir::supersede`]).
    pub fn others(self) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|&f| f != self)
            .map(Self::file_name)
            .collect()
    }
}

/// An assignments file of any format as CSV text: a CSV file's own bytes, a Parquet file's
/// or an Arrow IPC file's or stream's records as [`strata_arrow_text`] renders them (the
/// typed columns in their full precision: a ratio the CSV prints to 4 decimals comes out
/// unrounded). The format is known from the file's first bytes, not its name, and returned
/// with the text. A damaged file fails here or, part way, in `read`, with the decoder's
/// message.
pub fn read_as_csv(path: &Path) -> std::io::Result<(AssignmentsFormat, Box<dyn Read + Send>)> {
    use strata_arrow_text::{Batches, CsvText, SourceError};
    let mut file = std::fs::File::open(path)?;
    let mut magic = [0u8; 6];
    let n = read_up_to(&mut file, &mut magic)?;
    let magic = &magic[..n];
    let damaged = |what: &str, e: &dyn std::fmt::Display| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("cannot read as {what}: {e}"),
        )
    };
    std::io::Seek::rewind(&mut file)?;
    let (format, schema, batches): (_, arrow_schema::SchemaRef, Batches) = if magic
        .starts_with(b"PAR1")
    {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| damaged("Parquet", &e))?;
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        (
            AssignmentsFormat::Parquet,
            schema,
            Box::new(reader.map(|b| b.map_err(|e| Box::new(e) as SourceError))),
        )
    } else if magic.starts_with(b"ARROW1") {
        let reader = arrow_ipc::reader::FileReader::try_new_buffered(file, None)
            .map_err(|e| damaged("an Arrow IPC file", &e))?;
        (
            AssignmentsFormat::Arrow,
            reader.schema(),
            Box::new(reader.map(|b| b.map_err(|e| Box::new(e) as SourceError))),
        )
    } else if magic.starts_with(&[0xFF; 4]) {
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(file), None)
            .map_err(|e| damaged("an Arrow IPC stream", &e))?;
        (
            AssignmentsFormat::Arrow,
            reader.schema(),
            Box::new(reader.map(|b| b.map_err(|e| Box::new(e) as SourceError))),
        )
    } else {
        return Ok((AssignmentsFormat::Csv, Box::new(file)));
    };
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    Ok((format, Box::new(CsvText::new(&names, batches))))
}

/// Reads into `buf` until it is full or the file ends; the bytes read.
fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl std::fmt::Display for AssignmentsFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest decides between two formats' files; without one, the first present.
    #[test]
    fn the_run_s_assignments_are_the_file_its_manifest_lists() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(
            AssignmentsFormat::of_run(d).unwrap(),
            (d.join("assignments.csv"), AssignmentsFormat::Csv)
        );
        std::fs::write(d.join("assignments.parquet"), "p").unwrap();
        assert_eq!(
            AssignmentsFormat::of_run(d).unwrap().1,
            AssignmentsFormat::Parquet
        );
        std::fs::write(d.join("assignments.csv"), "c").unwrap();
        assert_eq!(
            AssignmentsFormat::of_run(d).unwrap().1,
            AssignmentsFormat::Csv
        );
        std::fs::write(
            d.join("manifest.json"),
            r#"{"manifest_version":1,"command":"fit","files":{"assignments.parquet":{"bytes":1,"sha256":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(
            AssignmentsFormat::of_run(d).unwrap(),
            (d.join("assignments.parquet"), AssignmentsFormat::Parquet)
        );
        assert_eq!(
            AssignmentsFormat::Parquet.others(),
            ["assignments.csv", "assignments.arrows"]
        );
    }
}
