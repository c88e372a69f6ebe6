//! The transform loop every strategy had: each fitted column encoder finds its column in the
//! input and writes its features at the next offset. A strategy keeps its own encoder enum
//! (its variants are its domain knowledge, and their JSON is its saved state) and implements
//! [`ColumnEncoder`] on it; [`write_all`] is then its `transform`.

use crate::error::Error;
use crate::matrix::FeatureMatrix;
use crate::prep::{NumericScaler, OneHot};
use crate::sdk::{Column, Input};

/// How one fitted input column becomes features.
pub trait ColumnEncoder {
    /// The input column it reads (its CSV header).
    fn column(&self) -> &str;
    /// Features it writes.
    fn width(&self) -> usize;
    /// Writes its [`width`](Self::width) features for every row of `column` into `out`,
    /// starting at feature `offset`.
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error>;
}

/// Every encoder's features side by side, in order, for every row of `input`.
pub fn write_all<E: ColumnEncoder>(
    encoders: &[E],
    input: &Input<'_>,
    out: &mut FeatureMatrix,
) -> Result<(), Error> {
    let mut offset = 0;
    for enc in encoders {
        enc.write(input.require_column(enc.column())?, out, offset)?;
        offset += enc.width();
    }
    Ok(())
}

/// A numeric column through its scaler, as an encoder of its own: one feature.
impl ColumnEncoder for NumericScaler {
    fn column(&self) -> &str {
        &self.column
    }
    fn width(&self) -> usize {
        1
    }
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        let v = column.numeric()?;
        out.set_column(offset, v.iter().map(|&x| self.apply(x)));
        Ok(())
    }
}

/// A categorical column through its one-hot encoding, as an encoder of its own.
impl ColumnEncoder for OneHot {
    fn column(&self) -> &str {
        &self.column
    }
    fn width(&self) -> usize {
        self.n_features()
    }
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        let (codes, dict) = column.categorical()?;
        self.write_column(codes, &self.code_map(dict), out, offset);
        Ok(())
    }
}
