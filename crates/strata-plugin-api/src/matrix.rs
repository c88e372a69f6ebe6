//! [`FeatureMatrix`], the host's buffer a strategy writes its features into: a module of its
//! own so that the SDK and the [`prep`](crate::prep) helpers both write to it without
//! depending on each other.

use crate::error::Error;

/// The host-allocated output of `transform`: `n_rows × n_features` f32, row-major.
pub struct FeatureMatrix<'a> {
    pub(crate) data: &'a mut [f32],
    pub(crate) n_features: usize,
}

impl<'a> FeatureMatrix<'a> {
    /// Wraps a buffer; `data.len()` must be a multiple of `n_features`. Plugin tests use it.
    pub fn new(data: &'a mut [f32], n_features: usize) -> Result<FeatureMatrix<'a>, Error> {
        if n_features == 0 || !data.len().is_multiple_of(n_features) {
            return Err(Error(format!(
                "a buffer of {} values is not rows of {n_features} features",
                data.len()
            )));
        }
        Ok(FeatureMatrix { data, n_features })
    }

    /// Number of rows: the buffer's length over `n_features`.
    pub fn n_rows(&self) -> usize {
        self.data.len() / self.n_features
    }

    /// Number of features per row, as returned by `fit`; never 0.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The features of row `row`, to fill in. Panics if `row` is not below
    /// [`n_rows`](Self::n_rows).
    pub fn row_mut(&mut self, row: usize) -> &mut [f32] {
        let d = self.n_features;
        &mut self.data[row * d..(row + 1) * d]
    }

    /// Sets feature `feature` of every row from `values` (one per row).
    pub fn set_column(&mut self, feature: usize, values: impl IntoIterator<Item = f32>) {
        let d = self.n_features;
        for (row, v) in values.into_iter().enumerate().take(self.n_rows()) {
            self.data[row * d + feature] = v;
        }
    }

    /// The whole buffer, row-major, for strategies that fill it in one pass.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        self.data
    }
}
