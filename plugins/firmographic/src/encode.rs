//! How the firmographic strategy turns columns into features: categoricals one-hot (industry
//! codes grouped first), employees and revenue logged, spend as a total and a mix.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_plugin_api::prep::{NumericScaler, OneHot, Scale, mean_std, median};
use strata_plugin_api::{Column, Error, FeatureMatrix, Input};

use crate::ROLES;
use crate::options::Settings;

/// Roles that are log-scaled unconditionally and must not be negative.
pub(crate) const LOG_ROLES: &[&str] = &["employees", "revenue"];

/// Weight of one spend-share feature is `1/√m` (m spend columns): the mix as a whole then
/// carries the variance of one scaled numeric feature, so it cannot outweigh the total.
pub(crate) fn mix_weight(m: usize) -> f64 {
    1.0 / (m as f64).sqrt()
}

/// How one bound role becomes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Block {
    /// `industry` (grouped by `State::industry_level` first), `region`, `lifecycle_stage`.
    Categorical {
        /// The role the column is bound to.
        role: String,
        /// The (grouped) categories and imputed category learned from the training values.
        onehot: OneHot,
    },
    /// `employees`, `revenue`: `ln(1 + x)`, then `scaler` (fit on the logged values, so its
    /// `impute` is in log units).
    LogSize {
        /// The role the column is bound to.
        role: String,
        /// Imputation and scaling of the logged values.
        scaler: NumericScaler,
    },
    /// `purchase_frequency`, `tenure`.
    Numeric {
        /// The role the column is bound to.
        role: String,
        /// Imputation and scaling learned from the training values.
        scaler: NumericScaler,
    },
    /// The `spend` columns: total and mix.
    Spend(Spend),
}

/// The fitted `spend` role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// The spend columns, in binding order.
    pub columns: Vec<String>,
    /// Each column's training median, used for its missing values before summing.
    pub impute: Vec<f64>,
    /// Scales the total (log-scaled when skewed).
    pub total: NumericScaler,
    /// Mean of the training total, in the data's units (for labels).
    pub total_mean: f64,
    /// Population standard deviation of the training total, in the data's units (for labels);
    /// 0 when the total is constant.
    pub total_std: f64,
    /// One scaler per column for its share of the total (empty with one column); each
    /// carries the weight `mix_weight`.
    pub mix: Vec<NumericScaler>,
}

impl Spend {
    pub(crate) fn width(&self) -> usize {
        1 + self.mix.len()
    }

    /// The total and (into `shares`) each column's share, after median imputation. Negative
    /// amounts (refunds) count in the total but as 0 in the mix.
    pub(crate) fn row(&self, values: impl Iterator<Item = f64>, shares: &mut [f64]) -> f64 {
        let mut total = 0.0;
        let mut positive = 0.0;
        for ((x, imp), s) in values.zip(&self.impute).zip(shares.iter_mut()) {
            let x = if x.is_nan() { *imp } else { x };
            total += x;
            *s = x.max(0.0);
            positive += *s;
        }
        for s in shares.iter_mut() {
            *s = if positive > 0.0 { *s / positive } else { 0.0 };
        }
        total
    }

    pub(crate) fn feature_names(&self) -> Vec<String> {
        if self.mix.is_empty() {
            return vec![self.columns[0].clone()];
        }
        let mut names = vec!["spend_total".to_owned()];
        names.extend(self.columns.iter().map(|c| format!("spend_share:{c}")));
        names
    }
}

impl Block {
    /// Features it writes.
    pub fn width(&self) -> usize {
        match self {
            Block::Categorical { onehot, .. } => onehot.n_features(),
            Block::LogSize { .. } | Block::Numeric { .. } => 1,
            Block::Spend(s) => s.width(),
        }
    }

    /// Their names, in order.
    pub fn feature_names(&self) -> Vec<String> {
        match self {
            Block::Categorical { onehot, .. } => onehot.feature_names().collect(),
            Block::LogSize { scaler, .. } | Block::Numeric { scaler, .. } => {
                vec![scaler.column.clone()]
            }
            Block::Spend(s) => s.feature_names(),
        }
    }

    /// Writes its features for every row of `input` from feature `offset`; industry codes are
    /// grouped to `industry_level` digits first, as in training.
    pub fn write(
        &self,
        input: &Input<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
        industry_level: Option<u8>,
    ) -> Result<(), Error> {
        match self {
            Block::Categorical { role, onehot } => {
                let (codes, dict) = input.require_column(&onehot.column)?.categorical()?;
                let map = if role == "industry" {
                    let grouped: Vec<&str> = dict
                        .iter()
                        .map(|v| group_industry(v, industry_level))
                        .collect();
                    onehot.code_map(&grouped)
                } else {
                    onehot.code_map(dict)
                };
                onehot.write_column(codes, &map, out, offset);
            }
            Block::LogSize { scaler, .. } => {
                let col = input.require_column(&scaler.column)?;
                let v = col.numeric()?;
                check_non_negative(col, v)?;
                out.set_column(offset, v.iter().map(|x| scaler.apply(x.ln_1p())));
            }
            Block::Numeric { scaler, .. } => {
                let v = input.require_column(&scaler.column)?.numeric()?;
                out.set_column(offset, v.iter().map(|&x| scaler.apply(x)));
            }
            Block::Spend(spend) => {
                let cols = spend
                    .columns
                    .iter()
                    .map(|c| input.require_column(c).and_then(|c| c.numeric()))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut shares = vec![0.0; cols.len()];
                for row in 0..input.n_rows() {
                    let total = spend.row(cols.iter().map(|c| c[row]), &mut shares);
                    let cells = &mut out.row_mut(row)[offset..offset + spend.width()];
                    cells[0] = spend.total.apply(total);
                    for ((cell, scaler), &s) in cells[1..].iter_mut().zip(&spend.mix).zip(&shares) {
                        *cell = scaler.apply(s);
                    }
                }
            }
        }
        Ok(())
    }
}

/// One block per bound role, in role order (one per column, except `spend`: one block for all
/// its columns).
pub fn fit_blocks(input: &Input<'_>, settings: &Settings) -> Result<Vec<Block>, Error> {
    let mut blocks = Vec::new();
    for role in ROLES {
        let cols: Vec<&Column> = input.role(role.name).collect();
        if cols.is_empty() {
            continue;
        }
        if role.name == "spend" {
            let spend = fit_spend(&cols, settings.scale)?;
            blocks.push(Block::Spend(spend));
            continue;
        }
        for c in cols {
            let block = match role.name {
                "industry" | "region" | "lifecycle_stage" => {
                    let (codes, dict) = c.categorical()?;
                    let onehot = if role.name == "industry" {
                        let (codes, groups) = grouped_codes(codes, dict, settings.industry_level);
                        let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
                        OneHot::fit(c.name, &codes, &refs)?
                    } else {
                        OneHot::fit(c.name, codes, dict)?
                    };
                    Block::Categorical {
                        role: role.name.to_owned(),
                        onehot,
                    }
                }
                name if LOG_ROLES.contains(&name) => {
                    let v = c.numeric()?;
                    check_non_negative(c, v)?;
                    let logged: Vec<f64> = v.iter().map(|x| x.ln_1p()).collect();
                    let scaler = NumericScaler::fit(c.name, &logged, settings.scale, false)?;
                    Block::LogSize {
                        role: role.name.to_owned(),
                        scaler,
                    }
                }
                _ => {
                    let scaler = NumericScaler::fit(c.name, c.numeric()?, settings.scale, false)?;
                    Block::Numeric {
                        role: role.name.to_owned(),
                        scaler,
                    }
                }
            };
            blocks.push(block);
        }
    }
    Ok(blocks)
}

/// An industry value as clustered: an all-digit code keeps its first `level` digits; any other
/// value is unchanged.
pub fn group_industry(value: &str, level: Option<u8>) -> &str {
    match level {
        Some(n) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
            &value[..value.len().min(n as usize)]
        }
        _ => value,
    }
}

/// Errors for negative values in a log-scaled column (the logarithm needs 0 or more).
pub(crate) fn check_non_negative(col: &Column, values: &[f64]) -> Result<(), Error> {
    let negative = values.iter().filter(|&&x| x < 0.0).count();
    if negative > 0 {
        return Err(Error(format!(
            "column '{}' (role {}) has {negative} negative value{}: {} is log-scaled and must be 0 or more",
            col.name,
            col.role,
            if negative == 1 { "" } else { "s" },
            col.role
        )));
    }
    Ok(())
}

/// `(codes, dictionary)` of an industry column with its values grouped: a smaller dictionary
/// of distinct grouped values and the codes remapped into it.
fn grouped_codes(codes: &[u32], dict: &[&str], level: Option<u8>) -> (Vec<u32>, Vec<String>) {
    let mut groups: Vec<String> = Vec::new();
    let mut index: BTreeMap<&str, u32> = BTreeMap::new();
    let remap: Vec<u32> = dict
        .iter()
        .map(|v| {
            let g = group_industry(v, level);
            *index.entry(g).or_insert_with(|| {
                groups.push(g.to_owned());
                (groups.len() - 1) as u32
            })
        })
        .collect();
    let codes = codes
        .iter()
        .map(|&c| {
            if c == strata_plugin_api::MISSING_CODE {
                c
            } else {
                remap[c as usize]
            }
        })
        .collect();
    (codes, groups)
}

/// Fits the `spend` block on its columns: each column's median for its missing values, the
/// total's scaler, and with two or more columns a weighted scaler per share.
pub(crate) fn fit_spend(cols: &[&Column], scale: Scale) -> Result<Spend, Error> {
    let values = cols
        .iter()
        .map(|c| c.numeric())
        .collect::<Result<Vec<_>, _>>()?;
    let impute = cols
        .iter()
        .zip(&values)
        .map(|(c, v)| {
            median(v).ok_or_else(|| {
                Error(format!(
                    "column '{}' (role spend) has no values: every row is missing",
                    c.name
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut spend = Spend {
        columns: cols.iter().map(|c| c.name.to_owned()).collect(),
        impute,
        total: NumericScaler {
            column: String::new(),
            impute: 0.0,
            log: false,
            center: 0.0,
            scale: 1.0,
            weight: 1.0,
        },
        total_mean: 0.0,
        total_std: 0.0,
        mix: Vec::new(),
    };
    let n = values.first().map_or(0, |v| v.len());
    let m = cols.len();
    let mut totals = Vec::with_capacity(n);
    let mut shares: Vec<Vec<f64>> = vec![Vec::with_capacity(n); m];
    let mut row_shares = vec![0.0; m];
    for row in 0..n {
        totals.push(spend.row(values.iter().map(|v| v[row]), &mut row_shares));
        for (s, &x) in shares.iter_mut().zip(&row_shares) {
            s.push(x);
        }
    }
    let total_name = if m == 1 {
        cols[0].name.to_owned()
    } else {
        "spend_total".to_owned()
    };
    spend.total = NumericScaler::fit(&total_name, &totals, scale, true)?;
    (spend.total_mean, spend.total_std) = mean_std(&totals).unwrap_or((0.0, 0.0));
    if m > 1 {
        for (c, s) in cols.iter().zip(&shares) {
            let mut scaler = NumericScaler::fit(c.name, s, scale, false)?;
            scaler.weight = mix_weight(m);
            spend.mix.push(scaler);
        }
    }
    Ok(spend)
}
