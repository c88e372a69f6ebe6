//! The columnar table ingest produces.

use rayon::prelude::*;

/// Code of a missing categorical value (equal to the plugin ABI's `MISSING_CODE`).
pub const MISSING_CODE: u32 = u32::MAX;

/// Parsed values of one column.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Numbers or dates (days since 1970-01-01); NaN is missing.
    Numeric(Vec<f64>),
    /// Codes into `dict`, in order of first appearance; [`MISSING_CODE`] is missing.
    Categorical {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct texts (trimmed), indexed by code.
        dict: Vec<String>,
    },
    /// An [`ParseAs::AutoNumeric`](crate::ParseAs) column that held text.
    NotNumeric {
        /// The line of the first field that is neither missing nor a number.
        first_text_line: u64,
        /// Present fields that are numbers.
        numbers: u64,
        /// Present fields that are not.
        texts: u64,
    },
}

impl ColumnData {
    /// Number of missing entries.
    pub fn missing(&self) -> usize {
        match self {
            ColumnData::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
            ColumnData::Categorical { codes, .. } => {
                codes.iter().filter(|&&c| c == MISSING_CODE).count()
            }
            ColumnData::NotNumeric { .. } => 0,
        }
    }

    /// Whether row `i` is missing.
    #[inline]
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            ColumnData::Numeric(v) => v[i].is_nan(),
            ColumnData::Categorical { codes, .. } => codes[i] == MISSING_CODE,
            ColumnData::NotNumeric { .. } => false,
        }
    }

    /// The same column with only the rows where `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> ColumnData {
        let pick = |i: usize| keep[i];
        match self {
            ColumnData::Numeric(v) => ColumnData::Numeric(
                v.iter()
                    .enumerate()
                    .filter(|(i, _)| pick(*i))
                    .map(|(_, x)| *x)
                    .collect(),
            ),
            ColumnData::Categorical { codes, dict } => ColumnData::Categorical {
                codes: codes
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| pick(*i))
                    .map(|(_, c)| *c)
                    .collect(),
                dict: dict.clone(),
            },
            other => other.clone(),
        }
    }
}

/// One column read from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Position in the header (0-based).
    pub index: usize,
    /// The header text.
    pub name: String,
    /// The parsed values, one per row.
    pub data: ColumnData,
}

/// Customer ids: the id column's text, byte for byte, or 1-based row numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum IdColumn {
    /// No id column: the ids are the row numbers 1 to N, where N is the payload.
    RowNumbers(usize),
    /// The id column's text, every id's bytes end to end.
    Text {
        /// The id column's header text.
        name: String,
        /// Every id's bytes, concatenated.
        bytes: Vec<u8>,
        /// Where each id starts in `bytes`, plus a final end offset: one more entry than there are
        /// rows.
        offsets: Vec<usize>,
    },
}

impl IdColumn {
    /// Number of rows with an id.
    pub fn len(&self) -> usize {
        match self {
            IdColumn::RowNumbers(n) => *n,
            IdColumn::Text { offsets, .. } => offsets.len() - 1,
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of row `i` as bytes (row numbers are formatted into `scratch`).
    pub fn get<'a>(&'a self, i: usize, scratch: &'a mut String) -> &'a [u8] {
        match self {
            IdColumn::RowNumbers(_) => {
                scratch.clear();
                use std::fmt::Write;
                let _ = write!(scratch, "{}", i + 1);
                scratch.as_bytes()
            }
            IdColumn::Text { bytes, offsets, .. } => &bytes[offsets[i]..offsets[i + 1]],
        }
    }

    /// The first pair of rows (in file order of the later one) with equal ids.
    pub fn first_duplicate(&self) -> Option<(usize, usize)> {
        let IdColumn::Text { bytes, offsets, .. } = self else {
            return None;
        };
        let id = |i: usize| &bytes[offsets[i]..offsets[i + 1]];
        let n = offsets.len() - 1;
        // Ids that strictly increase in a total order are all different. Exports are often in
        // id order, and for integers written plainly, (length, bytes) is numeric order: one
        // pass instead of a sort of every row's id (a twentieth of reading such a file).
        let by_length = |i: usize| (id(i).len(), id(i));
        if (1..n)
            .into_par_iter()
            .with_min_len(1 << 16)
            .all(|i| by_length(i - 1) < by_length(i))
        {
            return None;
        }
        let mut order: Vec<usize> = (0..n).collect();
        // Stable on ties, so equal ids stay in file order next to each other.
        order.par_sort_by(|&a, &b| id(a).cmp(id(b)));
        order
            .windows(2)
            .filter(|w| id(w[0]) == id(w[1]))
            .map(|w| (w[0], w[1]))
            .min_by_key(|&(_, later)| later)
    }

    /// Row numbers as text ids: `first + i + 1` for each of `rows` rows `i` that `keep` keeps
    /// (every row when `None`), so a batch or a filtered table keeps its rows' numbers in
    /// the whole input.
    pub fn numbered(first: usize, rows: usize, keep: Option<&[bool]>) -> IdColumn {
        let mut bytes = Vec::new();
        let mut offsets = vec![0];
        let mut number = itoa::Buffer::new();
        for i in (0..rows).filter(|&i| keep.is_none_or(|k| k[i])) {
            bytes.extend_from_slice(number.format(first + i + 1).as_bytes());
            offsets.push(bytes.len());
        }
        IdColumn::Text {
            name: "row".into(),
            bytes,
            offsets,
        }
    }

    /// The ids of the rows where `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> IdColumn {
        match self {
            // Row numbers must stay the original ones: materialise them as text.
            IdColumn::RowNumbers(_) => IdColumn::numbered(0, keep.len(), Some(keep)),
            IdColumn::Text {
                name,
                bytes,
                offsets,
            } => {
                let mut nb = Vec::new();
                let mut no = vec![0];
                for i in (0..offsets.len() - 1).filter(|&i| keep[i]) {
                    nb.extend_from_slice(&bytes[offsets[i]..offsets[i + 1]]);
                    no.push(nb.len());
                }
                IdColumn::Text {
                    name: name.clone(),
                    bytes: nb,
                    offsets: no,
                }
            }
        }
    }
}

/// The rows of a file, column by column.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Number of rows: the length of `ids`, of `lines` and of every column.
    pub n_rows: usize,
    /// The customer id of each row.
    pub ids: IdColumn,
    /// The columns of the read plan, in its order.
    pub columns: Vec<Column>,
    /// The file line each row starts on.
    pub lines: Vec<u64>,
}

impl Table {
    /// The column whose header is exactly `name`, if it was read.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::IdColumn;

    fn ids(values: &[String]) -> IdColumn {
        let mut bytes = Vec::new();
        let mut offsets = vec![0];
        for v in values {
            bytes.extend_from_slice(v.as_bytes());
            offsets.push(bytes.len());
        }
        IdColumn::Text {
            name: "id".into(),
            bytes,
            offsets,
        }
    }

    /// The first duplicate by brute force: the smallest later row equal to an earlier one.
    fn oracle(values: &[String]) -> Option<(usize, usize)> {
        (0..values.len()).find_map(|b| (0..b).find(|&a| values[a] == values[b]).map(|a| (a, b)))
    }

    /// Ids in order take the one-pass way out and others the sort; both find what a brute
    /// force finds, including a repeat right after itself, which is not strictly increasing.
    #[test]
    fn duplicates_are_found_in_ordered_and_unordered_ids() {
        let ordered: Vec<String> = (1..3000).map(|i| i.to_string()).collect();
        let mut repeat = ordered.clone();
        repeat.insert(1500, repeat[1499].clone());
        let mut shuffled = ordered.clone();
        shuffled.swap(10, 2000);
        let mut shuffled_repeat = shuffled.clone();
        shuffled_repeat.push("777".into());
        let mixed: Vec<String> = ["b", "a", "c", "a", "b"].map(String::from).to_vec();
        for values in [ordered, repeat, shuffled, shuffled_repeat, mixed] {
            assert_eq!(ids(&values).first_duplicate(), oracle(&values));
        }
    }
}
