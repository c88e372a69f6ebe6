//! The encoder layer every strategy had: each fitted piece of the features knows its width and
//! names, and finds its input column(s) to write them at the next offset. A strategy keeps its
//! own encoder enum (its variants are its domain knowledge, and their JSON is its saved state),
//! implements [`ColumnEncoder`] on it (or [`Encode`] when a piece reads several columns), and
//! then [`feature_names`] names its features in `fit` and [`write_all`] is its `transform`.

use serde::{Deserialize, Serialize};

use crate::declare::{Declare, FeatureExpr};
use crate::error::Error;
use crate::matrix::FeatureMatrix;
use crate::prep::{CategoricalAs, NumericScaler, OneHot, Scale};
use crate::sdk::{Column, Fitted, Input, Options, Role, Values};

/// A fitted piece of a strategy's features: input column(s) in, [`width`](Self::width)
/// features out.
pub trait Encode {
    /// Features it writes.
    fn width(&self) -> usize;
    /// Their names, in order: exactly [`width`](Self::width) of them.
    fn feature_names(&self) -> Vec<String>;
    /// Writes its features for every row of `input` into `out`, starting at feature `offset`.
    fn write(&self, input: &Input<'_>, out: &mut FeatureMatrix, offset: usize)
    -> Result<(), Error>;
    /// The levels, when the piece writes one feature of categorical codes (ABI 1.4); `None`
    /// (the default) for anything else.
    fn coded_levels(&self) -> Option<&[String]> {
        None
    }
}

/// A fitted piece that reads one input column and writes one feature, or one per level of a
/// one-hot; every such piece is an [`Encode`].
pub trait ColumnEncoder {
    /// The input column it reads (its CSV header).
    fn column(&self) -> &str;
    /// The one-hot it writes, for an encoder of a categorical column; `None` (the default) for
    /// one that writes a single feature named after its column.
    fn onehot(&self) -> Option<&OneHot> {
        None
    }
    /// Features it writes: one, or one per one-hot level.
    fn width(&self) -> usize {
        self.onehot().map_or(1, OneHot::n_features)
    }
    /// Their names, in order: the column's, or `column=level` per one-hot level.
    fn feature_names(&self) -> Vec<String> {
        match self.onehot() {
            Some(onehot) => onehot.feature_names().collect(),
            None => vec![self.column().to_owned()],
        }
    }
    /// Writes its [`width`](Self::width) features for every row of `column` into `out`,
    /// starting at feature `offset`.
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error>;
    /// The levels, when it writes one feature of categorical codes (ABI 1.4).
    fn coded_levels(&self) -> Option<&[String]> {
        None
    }
}

impl<E: ColumnEncoder> Encode for E {
    fn width(&self) -> usize {
        ColumnEncoder::width(self)
    }
    fn feature_names(&self) -> Vec<String> {
        ColumnEncoder::feature_names(self)
    }
    fn write(
        &self,
        input: &Input<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        ColumnEncoder::write(self, input.require_column(self.column())?, out, offset)
    }
    fn coded_levels(&self) -> Option<&[String]> {
        ColumnEncoder::coded_levels(self)
    }
}

/// The saved state of a strategy that encodes each bound column by itself: the `--scale` it
/// was fit with and one encoder per column. Its JSON is `{"scale": ..., "encoders": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnState<E> {
    /// The scaling the numerics were fit with (`--scale`).
    pub scale: Scale,
    /// One encoder per bound column, in the order of the features they write.
    pub encoders: Vec<E>,
}

/// The fit of a strategy that takes no options of its own (beyond the host's `--scale` and
/// `--as-of`) and encodes each bound column by itself: checks the options and that one of
/// `roles` is bound, then fits `fit` on every column, the columns spread over threads
/// ([`crate::par::map`]); the encoders come back in input order, and an error is the first
/// column's in that order, as a sequential fit would give.
pub fn fit_columns<E: Encode + Send>(
    input: &Input<'_>,
    options: &Options,
    default_scale: Scale,
    roles: &[Role],
    fit: impl Fn(&Column<'_>, Scale) -> Result<E, Error> + Sync,
) -> Result<Fitted<ColumnState<E>>, Error> {
    options.check_known(&[])?;
    let scale = options.scale_or(default_scale)?;
    input.require_columns(roles)?;
    let encoders = crate::par::map(input.columns(), |c| fit(c, scale))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Fitted {
        features: feature_names(&encoders),
        state: ColumnState { scale, encoders },
    })
}

/// Every encoder's feature names, in order: the `features` of a [`crate::Fitted`].
pub fn feature_names<E: Encode>(encoders: &[E]) -> Vec<String> {
    encoders.iter().flat_map(Encode::feature_names).collect()
}

/// The features of `encoders` (in order, side by side) that hold categorical codes: what a
/// strategy built from the SDK's encoders returns from [`crate::Strategy::categorical`].
pub fn coded_features<E: Encode>(encoders: &[E]) -> Vec<crate::declare::CodedFeature> {
    let mut offset = 0;
    let mut out = Vec::new();
    for e in encoders {
        if let Some(levels) = e.coded_levels() {
            out.push(crate::declare::CodedFeature {
                index: offset,
                levels: levels.to_vec(),
            });
        }
        offset += e.width();
    }
    out
}

/// Every encoder's features side by side, in order, for every row of `input`; an error when
/// they do not fill `out`'s width exactly (a saved state that does not match the model).
pub fn write_all<E: Encode>(
    encoders: &[E],
    input: &Input<'_>,
    out: &mut FeatureMatrix,
) -> Result<(), Error> {
    let width: usize = encoders.iter().map(Encode::width).sum();
    let d = out.n_features();
    if width != d {
        return Err(Error(format!(
            "the model has {width} features but the output has room for {d}"
        )));
    }
    let mut offset = 0;
    for enc in encoders {
        enc.write(input, out, offset)?;
        offset += enc.width();
    }
    Ok(())
}

/// A numeric column through its scaler, as an encoder of its own: one feature.
impl ColumnEncoder for NumericScaler {
    fn column(&self) -> &str {
        &self.column
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
    fn onehot(&self) -> Option<&OneHot> {
        Some(self)
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

/// The plainest encoding of a bound column, by its kind: a numeric through a
/// [`NumericScaler`], a categorical through a [`OneHot`]. Its JSON (`{"kind": "numeric", "role",
/// "scaler"}` or `{"kind": "categorical", "role", "onehot"}`) is part of a strategy's saved state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ByKind {
    /// A numeric column: one scaled feature.
    Numeric {
        /// The role the column is bound to.
        role: String,
        /// Imputation, optional log and scaling learned from the training values.
        scaler: NumericScaler,
    },
    /// A categorical column: one weighted indicator per training category.
    Categorical {
        /// The role the column is bound to.
        role: String,
        /// The categories and imputed category learned from the training values.
        onehot: OneHot,
    },
    /// A categorical column as one feature of codes, for k-prototypes (ABI 1.4): the index of
    /// the category in `onehot`'s sorted levels (the imputed one's when missing).
    Code {
        /// The role the column is bound to.
        role: String,
        /// The categories and imputed category learned from the training values; its weight
        /// is unused.
        onehot: OneHot,
    },
}

impl ByKind {
    /// Fits a column by its kind; a numeric is log-scaled when skewed if `log_if_skewed` (see
    /// [`NumericScaler::fit`]).
    pub fn fit(column: &Column<'_>, scale: Scale, log_if_skewed: bool) -> Result<ByKind, Error> {
        ByKind::fit_as(column, scale, log_if_skewed, CategoricalAs::OneHot)
    }

    /// [`ByKind::fit`], a categorical column encoded as `categorical` says
    /// ([`crate::Options::categorical_as`]).
    pub fn fit_as(
        column: &Column<'_>,
        scale: Scale,
        log_if_skewed: bool,
        categorical: CategoricalAs,
    ) -> Result<ByKind, Error> {
        let role = column.role.to_owned();
        Ok(match &column.values {
            Values::Numeric(v) => ByKind::Numeric {
                role,
                scaler: NumericScaler::fit(column.name, v, scale, log_if_skewed)?,
            },
            Values::Categorical { codes, dict } => {
                let onehot = OneHot::fit(column.name, codes, dict)?;
                match categorical {
                    CategoricalAs::OneHot => ByKind::Categorical { role, onehot },
                    CategoricalAs::Codes => ByKind::Code { role, onehot },
                }
            }
        })
    }

    /// The role the column is bound to.
    pub fn role(&self) -> &str {
        match self {
            ByKind::Numeric { role, .. }
            | ByKind::Categorical { role, .. }
            | ByKind::Code { role, .. } => role,
        }
    }
}

impl ColumnEncoder for ByKind {
    fn column(&self) -> &str {
        match self {
            ByKind::Numeric { scaler, .. } => &scaler.column,
            ByKind::Categorical { onehot, .. } | ByKind::Code { onehot, .. } => &onehot.column,
        }
    }
    fn onehot(&self) -> Option<&OneHot> {
        match self {
            ByKind::Numeric { .. } | ByKind::Code { .. } => None,
            ByKind::Categorical { onehot, .. } => Some(onehot),
        }
    }
    fn coded_levels(&self) -> Option<&[String]> {
        match self {
            ByKind::Code { onehot, .. } => Some(&onehot.levels),
            ByKind::Numeric { .. } | ByKind::Categorical { .. } => None,
        }
    }
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        match self {
            ByKind::Numeric { scaler, .. } => ColumnEncoder::write(scaler, column, out, offset),
            ByKind::Categorical { onehot, .. } => ColumnEncoder::write(onehot, column, out, offset),
            ByKind::Code { onehot, .. } => {
                let (codes, dict) = column.categorical()?;
                onehot.write_codes(codes, &onehot.code_map(dict), out, offset);
                Ok(())
            }
        }
    }
}

// Every encoder states its features for `strata export-sql` (ABI 1.3).
impl Declare for NumericScaler {
    fn declare(&self) -> Vec<FeatureExpr> {
        vec![FeatureExpr::Scaled {
            column: self.column.clone(),
            impute: self.impute,
            transform: if self.log { "log1p" } else { "none" }.into(),
            center: self.center,
            scale: self.scale,
            weight: self.weight,
        }]
    }
}

impl Declare for OneHot {
    fn declare(&self) -> Vec<FeatureExpr> {
        self.levels
            .iter()
            .enumerate()
            .map(|(i, level)| FeatureExpr::Indicator {
                column: self.column.clone(),
                level: level.clone(),
                on_missing: i == self.impute,
                weight: self.weight,
            })
            .collect()
    }
}

impl Declare for ByKind {
    fn declare(&self) -> Vec<FeatureExpr> {
        match self {
            ByKind::Numeric { scaler, .. } => scaler.declare(),
            ByKind::Categorical { onehot, .. } => onehot.declare(),
            // A code has no form in the declared preprocessing: a strategy with codes returns
            // none (`has_codes`), and export-sql scores k-means models only.
            ByKind::Code { .. } => Vec::new(),
        }
    }
}

/// Whether any of `encoders` writes categorical codes: such a state has no declared
/// preprocessing.
pub fn has_codes<E: Encode>(encoders: &[E]) -> bool {
    encoders.iter().any(|e| e.coded_levels().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{categorical, numeric};

    #[test]
    fn categorical_columns_become_codes_when_the_host_asks() {
        // Training dictionary in file order; the levels are sorted, so "a" is 0, "c" is 1.
        let codes = [0u32, 1, 0, crate::MISSING_CODE, 0];
        let train = categorical("gender", "g", &codes, vec!["c", "a"]);
        let ages = [30.0, 40.0, 50.0, 60.0, 70.0];
        let age = numeric("age", "age", &ages);
        let encoders: Vec<ByKind> = [&age, &train]
            .iter()
            .map(|c| ByKind::fit_as(c, Scale::None, false, CategoricalAs::Codes))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(feature_names(&encoders), vec!["age", "g"]);
        assert!(has_codes(&encoders));
        let coded = coded_features(&encoders);
        assert_eq!(coded.len(), 1);
        assert_eq!(coded[0].index, 1);
        assert_eq!(coded[0].levels, vec!["a".to_owned(), "c".to_owned()]);
        // Missing takes the most frequent ("c"); a category unseen in training is
        // levels.len(), which matches no mode.
        let later = [1u32, 0, crate::MISSING_CODE, 2];
        let scored = categorical("gender", "g", &later, vec!["a", "c", "new"]);
        let later_ages = [1.0, 2.0, 3.0, 4.0];
        let a = numeric("age", "age", &later_ages);
        let input = Input::new(4, vec![a, scored]).unwrap();
        let mut buf = vec![0f32; 8];
        let mut out = FeatureMatrix::new(&mut buf, 2).unwrap();
        write_all(&encoders, &input, &mut out).unwrap();
        assert_eq!(buf, vec![1.0, 1.0, 2.0, 0.0, 3.0, 1.0, 4.0, 2.0]);
        // Without the request, the same column is one-hot as before.
        let onehot = ByKind::fit(&train, Scale::None, false).unwrap();
        assert_eq!(Encode::width(&onehot), 2);
        assert!(Encode::coded_levels(&onehot).is_none());
    }

    #[test]
    fn the_host_option_is_read_and_checked() {
        let o = Options::from_json(r#"{"categorical": "codes"}"#).unwrap();
        assert_eq!(o.categorical_as().unwrap(), CategoricalAs::Codes);
        assert!(o.check_known(&[]).is_ok(), "a host key is always accepted");
        let o = Options::from_json("").unwrap();
        assert_eq!(o.categorical_as().unwrap(), CategoricalAs::OneHot);
        let o = Options::from_json(r#"{"categorical": "dummies"}"#).unwrap();
        assert!(
            o.categorical_as()
                .unwrap_err()
                .0
                .contains("\"codes\" or nothing")
        );
    }
}
