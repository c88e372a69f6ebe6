//! The firmographic strategy: business customers (organisations, not people) segmented by
//! industry, size, region, spend, purchase frequency, tenure and lifecycle stage; segments are
//! named like "Mid-market manufacturing, high spend, long tenure".
//!
//! Preprocessing (learned in `fit`, stored in the saved model so new data is scored the same):
//! - categoricals (`industry`, `region`, `lifecycle_stage`): missing values take the most
//!   frequent category; one indicator per category, weighted 1/√2 (two different categories
//!   are at squared distance 1). With `--option industry_level=N` an industry code made of
//!   digits (NAICS, SIC) keeps its first N digits, so "311812" and "312111" are both "31";
//! - `employees`, `revenue`: `ln(1 + x)` (a negative value is an error naming the column),
//!   then z-scored (default), robust-scaled or left as they are (`--scale`); missing values
//!   take the training median;
//! - `spend` (one column or several, e.g. spend per product category): each column's missing
//!   values take its training median, the columns are summed into a total (log-scaled when
//!   non-negative and right-skewed, then scaled), and with two or more columns each column's
//!   share of the total (0–1, 0 when the total is 0) is a feature too, scaled and weighted
//!   1/√m for m columns so the whole mix counts as much as one numeric;
//! - `purchase_frequency`, `tenure`: median imputation, then scaled.
//!
//! Labels: size band (from the segment's mean employees, else revenue) + dominant industry
//! (its name when `industry_names` maps it) + spend level + notable tenure / frequency +
//! the over-represented spend category when the mix is lopsided ("Fresh-heavy") + notable
//! lifecycle stage and region.

#![deny(unsafe_code)]

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_plugin_api::label;
use strata_plugin_api::prep::{NumericScaler, OneHot, Scale, mean_std, median};
use strata_plugin_api::{
    Column, Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo,
};

/// The firmographic strategy; the plugin exports it with `declare_strategy!`.
pub struct Firmographic;

const ROLES: &[Role] = &[
    Role::categorical(
        "industry",
        "Industry or sector; a NAICS/SIC code can be grouped by its leading digits (--option industry_level=N)",
    ),
    Role::numeric(
        "employees",
        "Number of employees; log-scaled, must be 0 or more",
    ),
    Role::numeric(
        "revenue",
        "Annual revenue (turnover) in currency units; log-scaled, must be 0 or more",
    ),
    Role::categorical("region", "Region, country or sales territory"),
    Role::numeric(
        "spend",
        "Spend with you: one column, or several (e.g. per product category) summed into a total and kept as a mix",
    )
    .multi()
    .value(),
    Role::numeric(
        "purchase_frequency",
        "Purchases (orders) per period",
    ),
    Role::numeric(
        "tenure",
        "How long the organisation has been a customer (e.g. years)",
    ),
    Role::categorical(
        "lifecycle_stage",
        "Account lifecycle stage (e.g. onboarding, active, at risk, churned)",
    ),
];

/// Roles that are log-scaled unconditionally and must not be negative.
const LOG_ROLES: &[&str] = &["employees", "revenue"];

/// Weight of one spend-share feature is `1/√m` (m spend columns): the mix as a whole then
/// carries the variance of one scaled numeric feature, so it cannot outweigh the total.
fn mix_weight(m: usize) -> f64 {
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
    fn width(&self) -> usize {
        1 + self.mix.len()
    }

    /// The total and (into `shares`) each column's share, after median imputation. Negative
    /// amounts (refunds) count in the total but as 0 in the mix.
    fn row(&self, values: impl Iterator<Item = f64>, shares: &mut [f64]) -> f64 {
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

    fn feature_names(&self) -> Vec<String> {
        if self.mix.is_empty() {
            return vec![self.columns[0].clone()];
        }
        let mut names = vec!["spend_total".to_owned()];
        names.extend(self.columns.iter().map(|c| format!("spend_share:{c}")));
        names
    }
}

impl Block {
    fn width(&self) -> usize {
        match self {
            Block::Categorical { onehot, .. } => onehot.n_features(),
            Block::LogSize { .. } | Block::Numeric { .. } => 1,
            Block::Spend(s) => s.width(),
        }
    }
}

/// What `fit` learned, stored in the saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The scaling the numerics were fit with (`--scale`, z-score by default).
    pub scale: Scale,
    /// Leading digits an all-digit industry code keeps (`--option industry_level`).
    pub industry_level: Option<u8>,
    /// Readable names of (grouped) industry codes, for labels.
    pub industry_names: BTreeMap<String, String>,
    /// Readable names of region codes, for labels.
    pub region_names: BTreeMap<String, String>,
    /// Currency units per unit of the revenue column (for the revenue size bands).
    pub revenue_unit: f64,
    /// One block per bound role (per column, except `spend`, which is one block), in the order of
    /// the features they write.
    pub blocks: Vec<Block>,
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

/// Parses `--option industry_level=N`.
pub fn parse_industry_level(text: &str) -> Result<u8, Error> {
    match text.trim().parse::<u8>() {
        Ok(n) if (1..=6).contains(&n) => Ok(n),
        _ => Err(Error(format!(
            "--option industry_level must be a whole number from 1 to 6 (the leading digits of \
             the industry code to keep, e.g. 2 for NAICS sectors), got '{text}'"
        ))),
    }
}

/// Parses `--option KEY=CODE:NAME,CODE:NAME`.
pub fn parse_names(key: &str, text: &str) -> Result<BTreeMap<String, String>, Error> {
    let bad = |what: String| {
        Error(format!(
            "--option {key}: {what}; expected CODE:NAME pairs separated by commas, \
             e.g. --option {key}=1:Horeca,2:Retail"
        ))
    };
    let mut map = BTreeMap::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(bad(format!("'{text}' has an empty entry")));
        }
        let Some((code, name)) = item.split_once(':') else {
            return Err(bad(format!("'{item}' has no ':'")));
        };
        let (code, name) = (code.trim(), name.trim());
        if code.is_empty() || name.is_empty() {
            return Err(bad(format!("'{item}' needs both a code and a name")));
        }
        if map.insert(code.to_owned(), name.to_owned()).is_some() {
            return Err(bad(format!("code '{code}' is named twice")));
        }
    }
    Ok(map)
}

/// Parses `--option revenue_unit=X`.
pub fn parse_revenue_unit(text: &str) -> Result<f64, Error> {
    match text.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(Error(format!(
            "--option revenue_unit must be a positive number (currency units per unit of the \
             revenue column, e.g. 1000 when revenue is in thousands), got '{text}'"
        ))),
    }
}

/// An option's text: strings as they are, anything else as its JSON.
fn option_text(options: &Options, key: &str) -> Option<String> {
    options
        .get(key)
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
}

/// Errors for negative values in a log-scaled column (the logarithm needs 0 or more).
fn check_non_negative(col: &Column, values: &[f64]) -> Result<(), Error> {
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

impl Strategy for Firmographic {
    type State = State;

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "firmographic",
            version: env!("CARGO_PKG_VERSION"),
            description: "Segments business customers (B2B) by industry, size, region, spend and mix, purchase frequency, tenure and lifecycle stage",
            roles: ROLES,
            metric: Metric::Euclidean,
            default_k: 5,
        }
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        options.check_known(&[
            "industry_level",
            "industry_names",
            "region_names",
            "revenue_unit",
        ])?;
        let scale = options.scale_or(Scale::Zscore)?;
        input.require_columns(ROLES)?;
        let bound = |role: &str| input.role(role).next().is_some();
        let needs = |key: &str, role: &str| {
            Error(format!(
                "--option {key} needs the {role} role bound (--map {role}=COLUMN)"
            ))
        };
        let industry_level = option_text(options, "industry_level")
            .map(|t| parse_industry_level(&t))
            .transpose()?;
        let industry_names = option_text(options, "industry_names")
            .map(|t| parse_names("industry_names", &t))
            .transpose()?;
        let region_names = option_text(options, "region_names")
            .map(|t| parse_names("region_names", &t))
            .transpose()?;
        let revenue_unit = option_text(options, "revenue_unit")
            .map(|t| parse_revenue_unit(&t))
            .transpose()?;
        if !bound("industry") {
            if industry_level.is_some() {
                return Err(needs("industry_level", "industry"));
            }
            if industry_names.is_some() {
                return Err(needs("industry_names", "industry"));
            }
        }
        if region_names.is_some() && !bound("region") {
            return Err(needs("region_names", "region"));
        }
        if revenue_unit.is_some() && !bound("revenue") {
            return Err(needs("revenue_unit", "revenue"));
        }
        let industry_names = industry_names.unwrap_or_default();
        if let Some(n) = industry_level {
            let too_fine = industry_names
                .keys()
                .find(|k| k.bytes().all(|b| b.is_ascii_digit()) && k.len() > usize::from(n));
            if let Some(code) = too_fine {
                return Err(Error(format!(
                    "--option industry_names names code '{code}', which has more digits than \
                     industry_level={n} keeps; name the {n}-digit codes"
                )));
            }
        }

        let mut blocks = Vec::new();
        let mut features = Vec::new();
        for role in ROLES {
            let cols: Vec<&Column> = input.role(role.name).collect();
            if cols.is_empty() {
                continue;
            }
            if role.name == "spend" {
                let spend = fit_spend(&cols, scale)?;
                features.extend(spend.feature_names());
                blocks.push(Block::Spend(spend));
                continue;
            }
            for c in cols {
                let block = match role.name {
                    "industry" | "region" | "lifecycle_stage" => {
                        let (codes, dict) = c.categorical()?;
                        let onehot = if role.name == "industry" {
                            let (codes, groups) = grouped_codes(codes, dict, industry_level);
                            let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
                            OneHot::fit(c.name, &codes, &refs)?
                        } else {
                            OneHot::fit(c.name, codes, dict)?
                        };
                        features.extend(onehot.feature_names());
                        Block::Categorical {
                            role: role.name.to_owned(),
                            onehot,
                        }
                    }
                    name if LOG_ROLES.contains(&name) => {
                        let v = c.numeric()?;
                        check_non_negative(c, v)?;
                        let logged: Vec<f64> = v.iter().map(|x| x.ln_1p()).collect();
                        let scaler = NumericScaler::fit(c.name, &logged, scale, false)?;
                        features.push(c.name.to_owned());
                        Block::LogSize {
                            role: role.name.to_owned(),
                            scaler,
                        }
                    }
                    _ => {
                        let scaler = NumericScaler::fit(c.name, c.numeric()?, scale, false)?;
                        features.push(c.name.to_owned());
                        Block::Numeric {
                            role: role.name.to_owned(),
                            scaler,
                        }
                    }
                };
                blocks.push(block);
            }
        }
        Ok(Fitted {
            features,
            state: State {
                scale,
                industry_level,
                industry_names,
                region_names: region_names.unwrap_or_default(),
                revenue_unit: revenue_unit.unwrap_or(1.0),
                blocks,
            },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        let mut offset = 0;
        for block in &state.blocks {
            match block {
                Block::Categorical { role, onehot } => {
                    let (codes, dict) = input.require_column(&onehot.column)?.categorical()?;
                    let map = if role == "industry" {
                        let grouped: Vec<&str> = dict
                            .iter()
                            .map(|v| group_industry(v, state.industry_level))
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
                        for ((cell, scaler), &s) in
                            cells[1..].iter_mut().zip(&spend.mix).zip(&shares)
                        {
                            *cell = scaler.apply(s);
                        }
                    }
                }
            }
            offset += block.width();
        }
        Ok(())
    }

    fn label(state: &State, p: &SegmentProfile) -> String {
        let band = size_band(state, p);
        let industry = dominant_industry(state, p);
        let head = match (band, industry) {
            (Some(b), Some(i)) => format!("{b} {i}"),
            (Some(b), None) => format!("{b} firms"),
            (None, Some(i)) => i,
            (None, None) => String::new(),
        };
        let mut qualifiers: Vec<String> = Vec::new();
        if let Some(level) = spend_level(state, p) {
            qualifiers.push(format!("{level} spend"));
        }
        for (role, high, low) in [
            ("tenure", "long tenure", "new customers"),
            ("purchase_frequency", "frequent buyers", "infrequent buyers"),
        ] {
            if let Some(s) = p.numeric_role(role) {
                if s.z() >= NOTABLE_Z {
                    qualifiers.push(high.to_owned());
                } else if s.z() <= -NOTABLE_Z {
                    qualifiers.push(low.to_owned());
                }
            }
        }
        if let Some(column) = heavy_spend_category(state, p) {
            qualifiers.push(format!("{}-heavy", column.replace('_', " ")));
        }
        if let Some(stage) = notable_level(p, "lifecycle_stage") {
            qualifiers.push(format!("mostly {}", soft_lowercase(&stage)));
        }
        if let Some(region) = notable_level(p, "region") {
            qualifiers.push(format!("{} region", readable(&state.region_names, &region)));
        }
        label::compose(&head, qualifiers, "Typical firms")
    }

    fn docs() -> &'static str {
        DOCS
    }
}

const DOCS: &str = "\
Business customers (B2B): organisations, not people. No role is required, but at least one
must be bound (--map ROLE=COLUMN; an unbound role takes a header of the same name).

OPTIONS (--option KEY=VALUE)
  industry_level=N      group all-digit industry codes (NAICS, SIC) by their first N digits,
                        N from 1 to 6 (e.g. 2: NAICS sectors); other values are unchanged.
                        Default: values as they are.
  industry_names=C:N,.. readable names of (grouped) industry codes, used in labels,
                        e.g. industry_names=1:Horeca,2:Retail or 31:Manufacturing,44:Retail
  region_names=C:N,..   readable names of region codes, used in labels,
                        e.g. region_names=1:Lisbon,2:Oporto,3:Other
  revenue_unit=X        currency units per unit of the revenue column, for the revenue bands
                        (1000 when revenue is in thousands). Default 1.
  --scale zscore|robust|none   how numerics are scaled after the steps below (default zscore)

FEATURES
  industry, region, lifecycle_stage: one indicator per category (industry grouped first),
    weighted 1/sqrt(2) so two different categories are at squared distance 1, like one
    standard deviation on a numeric; missing values take the most frequent category.
  employees, revenue: ln(1 + x), then scaled; missing values take the median; a negative
    value is an error.
  spend: each column's missing values take its median; the columns are summed into a total,
    log-scaled (ln(1 + x)) when non-negative and right-skewed (skewness > 1), then scaled.
    With two or more spend columns, each column's share of the total (0 to 1; 0 when the
    total is 0; negative amounts count as 0 in the mix) is also a feature, scaled and weighted
    1/sqrt(m) for m columns: the whole mix weighs as much as one numeric feature.
  purchase_frequency, tenure: median imputation, then scaled.

SIZE BANDS (segment mean of employees; of revenue when employees is not bound)
  employees  1-9 micro, 10-49 small, 50-249 mid-market, 250-999 large, 1000+ enterprise
  revenue    under 2M micro, 2M-10M small, 10M-50M mid-market, 50M-1B large, 1B+ enterprise
             (currency units, after revenue_unit)

LABELS, e.g. \"Mid-market Manufacturing, high spend, long tenure, Fresh-heavy\"
  size band + dominant industry (at least half the segment, its name when mapped, else
  \"industry CODE\" for codes) + spend level (segment mean total vs overall: high at +0.5
  standard deviations or more, low at -0.3 or less, else average) + long tenure / new
  customers and frequent / infrequent buyers at +/-0.5 standard deviations + the spend
  category most over-represented in the segment's mix (at least 30% of its spend and 1.3x its
  overall share: \"Grocery-heavy\") + the lifecycle stage and region when at least half the
  segment and 1.2x their overall share. Labels are at most 120 characters: the last
  qualifiers are dropped when they do not fit.
";

/// Standard deviations from the overall mean at which tenure and frequency are notable.
const NOTABLE_Z: f64 = 0.5;
/// Spend total z at or above which a segment is "high spend".
const HIGH_SPEND_Z: f64 = 0.5;
/// Spend total z at or below which a segment is "low spend": spend is right-skewed, so a
/// low-spending segment sits closer to the (tail-inflated) mean than a high-spending one.
const LOW_SPEND_Z: f64 = -0.3;

/// Size band for a head count.
pub fn employee_band(employees: f64) -> &'static str {
    if employees < 10.0 {
        "micro"
    } else if employees < 50.0 {
        "small"
    } else if employees < 250.0 {
        "mid-market"
    } else if employees < 1000.0 {
        "large"
    } else {
        "enterprise"
    }
}

/// Size band for an annual revenue in currency units.
pub fn revenue_band(revenue: f64) -> &'static str {
    if revenue < 2e6 {
        "micro"
    } else if revenue < 10e6 {
        "small"
    } else if revenue < 50e6 {
        "mid-market"
    } else if revenue < 1e9 {
        "large"
    } else {
        "enterprise"
    }
}

fn size_band(state: &State, p: &SegmentProfile) -> Option<&'static str> {
    if let Some(e) = p.numeric_role("employees") {
        return e.mean.is_finite().then(|| employee_band(e.mean));
    }
    p.numeric_role("revenue")
        .filter(|r| r.mean.is_finite())
        .map(|r| revenue_band(r.mean * state.revenue_unit))
}

/// A category's readable name: its mapped name, else "industry 31" style for bare codes.
fn readable(names: &BTreeMap<String, String>, value: &str) -> String {
    names
        .get(value)
        .cloned()
        .unwrap_or_else(|| value.to_owned())
}

fn dominant_industry(state: &State, p: &SegmentProfile) -> Option<String> {
    let stat = p.categorical_role("industry")?;
    let mut groups: BTreeMap<&str, f64> = BTreeMap::new();
    for l in &stat.levels {
        *groups
            .entry(group_industry(l.value, state.industry_level))
            .or_default() += l.share;
    }
    let (code, share) = groups
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)))?;
    if share < 0.5 {
        return None;
    }
    Some(match state.industry_names.get(code) {
        Some(name) => name.clone(),
        None if code.bytes().all(|b| b.is_ascii_digit()) => format!("industry {code}"),
        None => code.to_owned(),
    })
}

/// The segment's most common category when it is at least half the segment and 1.2× its
/// overall share.
fn notable_level(p: &SegmentProfile, role: &str) -> Option<String> {
    let l = p.categorical_role(role)?.dominant()?;
    (l.share >= 0.5 && l.share >= 1.2 * l.overall_share).then(|| l.value.to_owned())
}

fn spend_block(state: &State) -> Option<&Spend> {
    state.blocks.iter().find_map(|b| match b {
        Block::Spend(s) => Some(s),
        _ => None,
    })
}

/// Segment and overall mean spend per spend column (a column absent from the segment's
/// profile counts at its training median).
fn spend_means(spend: &Spend, p: &SegmentProfile) -> Vec<(f64, f64)> {
    spend
        .columns
        .iter()
        .zip(&spend.impute)
        .map(|(c, &imp)| {
            p.numeric
                .iter()
                .find(|s| s.role == "spend" && s.name == c)
                .map_or((imp, imp), |s| (s.mean, s.overall_mean))
        })
        .collect()
}

fn spend_level(state: &State, p: &SegmentProfile) -> Option<&'static str> {
    let spend = spend_block(state)?;
    if !p.numeric.iter().any(|s| s.role == "spend") {
        return None;
    }
    let total: f64 = spend_means(spend, p).iter().map(|m| m.0).sum();
    let z = if spend.total_std > 0.0 {
        (total - spend.total_mean) / spend.total_std
    } else {
        0.0
    };
    Some(if z >= HIGH_SPEND_Z {
        "high"
    } else if z <= LOW_SPEND_Z {
        "low"
    } else {
        "average"
    })
}

/// The spend column most over-represented in the segment's mix, when it is at least 30% of
/// the segment's spend and 1.3× its overall share.
fn heavy_spend_category<'s>(state: &'s State, p: &SegmentProfile) -> Option<&'s str> {
    let spend = spend_block(state)?;
    if spend.columns.len() < 2 {
        return None;
    }
    let means = spend_means(spend, p);
    let seg_total: f64 = means.iter().map(|m| m.0.max(0.0)).sum();
    let all_total: f64 = means.iter().map(|m| m.1.max(0.0)).sum();
    if seg_total <= 0.0 || all_total <= 0.0 {
        return None;
    }
    spend
        .columns
        .iter()
        .zip(&means)
        .filter_map(|(c, &(seg, all))| {
            let (s, o) = (seg.max(0.0) / seg_total, all.max(0.0) / all_total);
            (o > 0.0 && s >= 0.3 && s >= 1.3 * o).then_some((c.as_str(), s / o))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(c, _)| c)
}

/// "Churned" → "churned", "At risk" → "at risk"; codes and acronyms ("SMB") stay.
fn soft_lowercase(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(f) if f.is_uppercase() && chars.clone().all(|c| !c.is_uppercase()) => {
            f.to_lowercase().chain(chars).collect()
        }
        _ => s.to_owned(),
    }
}

fn fit_spend(cols: &[&Column], scale: Scale) -> Result<Spend, Error> {
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

strata_plugin_api::declare_strategy!(Firmographic);

#[cfg(test)]
mod tests {
    use super::*;
    use strata_plugin_api::{
        CategoricalStat, ColumnKind, LevelShare, MISSING_CODE, NumericStat, Values,
    };

    fn num<'a>(role: &'a str, name: &'a str, v: &'a [f64]) -> Column<'a> {
        Column {
            role,
            name,
            kind: ColumnKind::Numeric,
            values: Values::Numeric(v),
        }
    }

    fn cat<'a>(role: &'a str, name: &'a str, codes: &'a [u32], dict: Vec<&'a str>) -> Column<'a> {
        Column {
            role,
            name,
            kind: ColumnKind::Categorical,
            values: Values::Categorical { codes, dict },
        }
    }

    fn opts(pairs: &[(&str, &str)]) -> Options {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        Options::from_json(&serde_json::Value::Object(map).to_string()).unwrap()
    }

    fn run(state: &State, input: &Input, d: usize) -> Vec<f32> {
        let mut buf = vec![f32::NAN; input.n_rows() * d];
        Firmographic::transform(state, input, &mut FeatureMatrix::new(&mut buf, d).unwrap())
            .unwrap();
        assert!(buf.iter().all(|x| x.is_finite()), "{buf:?}");
        buf
    }

    #[test]
    fn industry_level_groups_digit_codes_only() {
        assert_eq!(group_industry("311812", Some(2)), "31");
        assert_eq!(group_industry("311812", Some(3)), "311");
        assert_eq!(group_industry("54", Some(4)), "54"); // shorter codes stay whole
        assert_eq!(group_industry("Retail", Some(2)), "Retail");
        assert_eq!(group_industry("31-33", Some(2)), "31-33");
        assert_eq!(group_industry("311812", None), "311812");
        assert_eq!(parse_industry_level("2").unwrap(), 2);
        assert_eq!(parse_industry_level(" 6 ").unwrap(), 6);
        for bad in ["0", "7", "-1", "two", "2.5", ""] {
            let e = parse_industry_level(bad).unwrap_err();
            assert!(
                e.0.contains("industry_level") && e.0.contains("1 to 6"),
                "{e}"
            );
        }
    }

    #[test]
    fn grouped_industry_one_hot_in_fit_and_transform() {
        let dict = vec!["311812", "312111", "541110", "Other"];
        let codes = [0, 1, 2, 3, MISSING_CODE, 0];
        let inp = Input::new(6, vec![cat("industry", "NAICS", &codes, dict)]).unwrap();
        let f = Firmographic::fit(&inp, &opts(&[("industry_level", "2")])).unwrap();
        assert_eq!(f.features, vec!["NAICS=31", "NAICS=54", "NAICS=Other"]);
        let buf = run(&f.state, &inp, 3);
        let w = strata_plugin_api::prep::ONE_HOT_WEIGHT as f32;
        assert_eq!(&buf[0..3], &[w, 0.0, 0.0]);
        assert_eq!(&buf[3..6], &[w, 0.0, 0.0]); // 312111 → 31 too
        assert_eq!(&buf[6..9], &[0.0, w, 0.0]);
        assert_eq!(&buf[9..12], &[0.0, 0.0, w]);
        assert_eq!(&buf[12..15], &[w, 0.0, 0.0]); // missing → most frequent group, 31
        // A new batch with its own dictionary and an unseen sector.
        let dict2 = vec!["999999", "549999"];
        let inp2 = Input::new(2, vec![cat("industry", "NAICS", &[0, 1], dict2)]).unwrap();
        let buf = run(&f.state, &inp2, 3);
        assert_eq!(buf, vec![0.0, 0.0, 0.0, 0.0, w, 0.0]);
        // Without the option every code is its own category.
        let f = Firmographic::fit(&inp, &Options::default()).unwrap();
        assert_eq!(f.features.len(), 4);
    }

    #[test]
    fn name_maps_parse_and_refuse_malformed_lists() {
        let m = parse_names("industry_names", "1:Horeca, 2 : Retail,3:A: B").unwrap();
        assert_eq!(m["1"], "Horeca");
        assert_eq!(m["2"], "Retail");
        assert_eq!(m["3"], "A: B");
        for bad in [
            "Horeca",
            "1:Horeca,,2:Retail",
            "1:",
            ":Retail",
            "1:A,1:B",
            "",
        ] {
            let e = parse_names("region_names", bad).unwrap_err();
            assert!(
                e.0.contains("--option region_names")
                    && e.0.contains("CODE:NAME pairs")
                    && e.0.contains("region_names=1:Horeca,2:Retail"),
                "{e}"
            );
        }
        // Options that need a role refuse to work without it; codes finer than the level too.
        let v = [1.0, 2.0];
        let inp = Input::new(2, vec![num("tenure", "Years", &v)]).unwrap();
        let e = Firmographic::fit(&inp, &opts(&[("region_names", "1:North")])).unwrap_err();
        assert!(e.0.contains("region_names needs the region role"), "{e}");
        let e = Firmographic::fit(&inp, &opts(&[("industry_level", "2")])).unwrap_err();
        assert!(
            e.0.contains("industry_level needs the industry role"),
            "{e}"
        );
        let codes = [0, 1];
        let inp = Input::new(2, vec![cat("industry", "NAICS", &codes, vec!["31", "54"])]).unwrap();
        let e = Firmographic::fit(
            &inp,
            &opts(&[("industry_level", "2"), ("industry_names", "311:Food")]),
        )
        .unwrap_err();
        assert!(
            e.0.contains("'311'") && e.0.contains("industry_level=2"),
            "{e}"
        );
        let e = Firmographic::fit(&inp, &opts(&[("industry_names", "31")])).unwrap_err();
        assert!(e.0.contains("CODE:NAME"), "{e}");
    }

    #[test]
    fn employees_and_revenue_are_logged_and_negatives_refused() {
        let emp = [0.0, 9.0, 99.0, f64::NAN];
        let inp = Input::new(4, vec![num("employees", "Staff", &emp)]).unwrap();
        let none = opts(&[("scale", "none")]);
        let f = Firmographic::fit(&inp, &none).unwrap();
        assert_eq!(f.features, vec!["Staff"]);
        let buf = run(&f.state, &inp, 1);
        assert_eq!(buf[0], 0.0);
        assert!((buf[1] - 10f32.ln()).abs() < 1e-6);
        assert!((buf[2] - 100f32.ln()).abs() < 1e-5);
        assert!(
            (buf[3] - 10f32.ln()).abs() < 1e-6,
            "missing → median, ln 10"
        );
        // z-scored by default: centred on the mean of the logs.
        let f = Firmographic::fit(&inp, &Options::default()).unwrap();
        let buf = run(&f.state, &inp, 1);
        let sum: f32 = buf.iter().sum();
        assert!(sum.abs() < 1e-5, "{buf:?}");

        let bad = [5.0, -3.0, -1.0];
        let inp = Input::new(3, vec![num("revenue", "Turnover", &bad)]).unwrap();
        let e = Firmographic::fit(&inp, &Options::default()).unwrap_err();
        assert!(
            e.0.contains("'Turnover'") && e.0.contains("2 negative values"),
            "{e}"
        );
        // New data with a negative value is refused when scored too.
        let good = [5.0, 3.0];
        let inp = Input::new(2, vec![num("revenue", "Turnover", &good)]).unwrap();
        let f = Firmographic::fit(&inp, &Options::default()).unwrap();
        let neg = [-1.0];
        let inp = Input::new(1, vec![num("revenue", "Turnover", &neg)]).unwrap();
        let mut buf = vec![0f32; 1];
        let e = Firmographic::transform(
            &f.state,
            &inp,
            &mut FeatureMatrix::new(&mut buf, 1).unwrap(),
        )
        .unwrap_err();
        assert!(
            e.0.contains("'Turnover'") && e.0.contains("1 negative value:"),
            "{e}"
        );
    }

    #[test]
    fn spend_total_and_mix_features() {
        let a = [10.0, 0.0, 30.0, f64::NAN];
        let b = [30.0, 0.0, 10.0, 20.0];
        let inp = Input::new(4, vec![num("spend", "A", &a), num("spend", "B", &b)]).unwrap();
        let f = Firmographic::fit(&inp, &opts(&[("scale", "none")])).unwrap();
        assert_eq!(
            f.features,
            vec!["spend_total", "spend_share:A", "spend_share:B"]
        );
        let Block::Spend(s) = &f.state.blocks[0] else {
            panic!("spend block expected")
        };
        assert_eq!(s.impute, vec![10.0, 15.0]); // A's median of 10, 0, 30
        assert!(!s.total.log); // totals 40, 0, 40, 30: not right-skewed
        let w = mix_weight(2) as f32;
        let buf = run(&f.state, &inp, 3);
        assert_eq!(&buf[0..3], &[40.0, 0.25 * w, 0.75 * w]);
        assert_eq!(&buf[3..6], &[0.0, 0.0, 0.0], "zero total: shares 0");
        assert_eq!(&buf[6..9], &[40.0, 0.75 * w, 0.25 * w]);
        assert_eq!(
            &buf[9..12],
            &[30.0, w / 3.0, 2.0 * w / 3.0],
            "A imputed to 10"
        );
        // z-scored: each share has unit variance before the weight, so the mix's variance
        // sums to that of one feature.
        let f = Firmographic::fit(&inp, &Options::default()).unwrap();
        let buf = run(&f.state, &inp, 3);
        let var = |j: usize| {
            (0..4)
                .map(|r| f64::from(buf[r * 3 + j]).powi(2))
                .sum::<f64>()
                / 4.0
        };
        assert!((var(0) - 1.0).abs() < 1e-5);
        assert!(
            (var(1) + var(2) - 1.0).abs() < 1e-5,
            "{} {}",
            var(1),
            var(2)
        );

        // One spend column: the total under the column's name, no mix; skewed → logged.
        let x: Vec<f64> = (0..50)
            .map(|i| if i < 45 { 100.0 } else { 100_000.0 })
            .collect();
        let inp = Input::new(50, vec![num("spend", "Revenue2024", &x)]).unwrap();
        let f = Firmographic::fit(&inp, &Options::default()).unwrap();
        assert_eq!(f.features, vec!["Revenue2024"]);
        let Block::Spend(s) = &f.state.blocks[0] else {
            panic!("spend block expected")
        };
        assert!(s.total.log && s.mix.is_empty());
    }

    #[test]
    fn state_round_trips_and_scores_new_data() {
        let codes = [0, 1, 0, 1];
        let emp = [5.0, 60.0, 300.0, 2000.0];
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [4.0, 3.0, 2.0, f64::NAN];
        let t = [1.0, 5.0, f64::NAN, 9.0];
        let cols = || {
            vec![
                cat("industry", "SIC", &codes, vec!["2011", "5812"]),
                num("employees", "Employees", &emp),
                num("spend", "A", &a),
                num("spend", "B", &b),
                num("tenure", "Years", &t),
            ]
        };
        let inp = Input::new(4, cols()).unwrap();
        let o = opts(&[
            ("industry_level", "1"),
            ("industry_names", "2:Manufacturing,5:Retail"),
            ("scale", "robust"),
        ]);
        let f = Firmographic::fit(&inp, &o).unwrap();
        assert_eq!(f.features.len(), 2 + 1 + 3 + 1);
        let json = serde_json::to_string(&f.state).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, f.state);
        assert_eq!(back.industry_names["5"], "Retail");
        assert_eq!(back.scale, Scale::Robust);
        // The reloaded state transforms exactly as the original.
        assert_eq!(run(&back, &inp, 7), run(&f.state, &inp, 7));
        // Columns may come in any order in a new batch.
        let mut reordered = cols();
        reordered.reverse();
        let inp2 = Input::new(4, reordered).unwrap();
        assert_eq!(run(&back, &inp2, 7), run(&f.state, &inp, 7));
    }

    #[test]
    fn no_columns_names_the_roles() {
        let inp = Input::new(3, vec![]).unwrap();
        let e = Firmographic::fit(&inp, &Options::default()).unwrap_err();
        assert!(
            e.0.contains("industry, employees, revenue, region, spend, purchase_frequency, tenure, lifecycle_stage"),
            "{e}"
        );
        let v = [1.0];
        let inp = Input::new(1, vec![num("tenure", "T", &v)]).unwrap();
        for (k, v) in [
            ("revenue_unit", "0"),
            ("revenue_unit", "k"),
            ("scale", "minmax"),
        ] {
            assert!(
                Firmographic::fit(&inp, &opts(&[(k, v)])).is_err(),
                "{k}={v}"
            );
        }
        assert_eq!(parse_revenue_unit("1000").unwrap(), 1000.0);
    }

    #[test]
    fn bands() {
        let cases = [
            (1.0, "micro"),
            (9.0, "micro"),
            (9.99, "micro"),
            (10.0, "small"),
            (49.0, "small"),
            (50.0, "mid-market"),
            (249.0, "mid-market"),
            (250.0, "large"),
            (999.0, "large"),
            (1000.0, "enterprise"),
            (1e6, "enterprise"),
        ];
        for (n, band) in cases {
            assert_eq!(employee_band(n), band, "{n}");
        }
        assert_eq!(revenue_band(500_000.0), "micro");
        assert_eq!(revenue_band(5e6), "small");
        assert_eq!(revenue_band(20e6), "mid-market");
        assert_eq!(revenue_band(200e6), "large");
        assert_eq!(revenue_band(3e9), "enterprise");
    }

    fn state(industry_names: &[(&str, &str)], level: Option<u8>) -> State {
        State {
            scale: Scale::Zscore,
            industry_level: level,
            industry_names: industry_names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            region_names: [("1", "Lisbon")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            revenue_unit: 1.0,
            blocks: vec![Block::Spend(Spend {
                columns: vec!["Fresh".into(), "Grocery".into()],
                impute: vec![100.0, 100.0],
                total: NumericScaler::fit("spend_total", &[0.0, 1.0], Scale::Zscore, false)
                    .unwrap(),
                total_mean: 200.0,
                total_std: 100.0,
                mix: vec![],
            })],
        }
    }

    fn stat<'a>(
        role: &'a str,
        name: &'a str,
        mean: f64,
        overall: f64,
        std: f64,
    ) -> NumericStat<'a> {
        NumericStat {
            role,
            name,
            mean,
            overall_mean: overall,
            overall_std: std,
        }
    }

    fn level(value: &str, share: f64, overall_share: f64) -> LevelShare<'_> {
        LevelShare {
            value,
            share,
            overall_share,
        }
    }

    fn profile<'a>(
        numeric: Vec<NumericStat<'a>>,
        categorical: Vec<CategoricalStat<'a>>,
    ) -> SegmentProfile<'a> {
        SegmentProfile {
            index: 0,
            k: 4,
            size: 10,
            share: 0.25,
            numeric,
            categorical,
        }
    }

    #[test]
    fn labels_read_like_the_issue() {
        let s = state(&[("31", "manufacturing")], Some(2));
        let industry = CategoricalStat {
            role: "industry",
            name: "NAICS",
            // 311812 and 312111 group into 31: 0.4 + 0.3 = 70% of the segment.
            levels: vec![
                level("311812", 0.4, 0.2),
                level("541110", 0.3, 0.5),
                level("312111", 0.3, 0.3),
            ],
        };
        let p = profile(
            vec![
                stat("employees", "Employees", 120.0, 80.0, 50.0),
                stat("spend", "Fresh", 200.0, 100.0, 50.0),
                stat("spend", "Grocery", 150.0, 100.0, 50.0),
                stat("tenure", "Years", 12.0, 6.0, 3.0),
                stat("purchase_frequency", "Orders", 10.0, 10.0, 3.0),
            ],
            vec![industry],
        );
        assert_eq!(
            Firmographic::label(&s, &p),
            "Mid-market manufacturing, high spend, long tenure"
        );
        // Unnamed codes read as "industry 54"; a lopsided mix is named; low values too.
        let s = state(&[], Some(2));
        let p = profile(
            vec![
                stat("employees", "Employees", 3.0, 80.0, 50.0),
                stat("spend", "Fresh", 20.0, 100.0, 50.0),
                stat("spend", "Grocery", 100.0, 100.0, 50.0),
                stat("tenure", "Years", 1.0, 6.0, 3.0),
                stat("purchase_frequency", "Orders", 2.0, 10.0, 3.0),
            ],
            vec![CategoricalStat {
                role: "industry",
                name: "NAICS",
                levels: vec![level("541110", 0.9, 0.5), level("311812", 0.1, 0.5)],
            }],
        );
        assert_eq!(
            Firmographic::label(&s, &p),
            "Micro industry 54, low spend, new customers, infrequent buyers, Grocery-heavy"
        );
    }

    #[test]
    fn a_mix_is_lopsided_only_when_one_category_is_large_and_over_represented() {
        let mut s = state(&[], None);
        if let Block::Spend(sp) = &mut s.blocks[0] {
            sp.columns = vec!["Fresh".into(), "Milk".into(), "Grocery".into()];
            sp.impute = vec![1.0; 3];
        }
        let p = |fresh, milk, grocery| {
            profile(
                vec![
                    stat("spend", "Fresh", fresh, 50.0, 10.0),
                    stat("spend", "Milk", milk, 20.0, 10.0),
                    stat("spend", "Grocery", grocery, 30.0, 10.0),
                ],
                vec![],
            )
        };
        // Milk doubles its share but is only 25% of the spend: balanced.
        assert_eq!(heavy_spend_category(&s, &p(40.0, 25.0, 35.0)), None);
        // Milk at 40% (2x its overall 20%): lopsided.
        assert_eq!(heavy_spend_category(&s, &p(30.0, 40.0, 30.0)), Some("Milk"));
        // Fresh at 60% is only 1.2x its overall 50%: not lopsided.
        assert_eq!(heavy_spend_category(&s, &p(60.0, 15.0, 25.0)), None);
        // Fresh at 70% is 1.4x: lopsided.
        assert_eq!(
            heavy_spend_category(&s, &p(70.0, 10.0, 20.0)),
            Some("Fresh")
        );
    }

    #[test]
    fn labels_without_size_or_industry_and_with_regions() {
        let s = state(&[("1", "Horeca")], None);
        let region = CategoricalStat {
            role: "region",
            name: "Region",
            levels: vec![level("1", 0.8, 0.2), level("3", 0.2, 0.8)],
        };
        let channel = CategoricalStat {
            role: "industry",
            name: "Channel",
            levels: vec![level("1", 0.95, 0.7), level("2", 0.05, 0.3)],
        };
        let spend = vec![
            stat("spend", "Fresh", 120.0, 100.0, 50.0),
            stat("spend", "Grocery", 100.0, 100.0, 50.0),
        ];
        let p = profile(spend.clone(), vec![channel.clone(), region]);
        assert_eq!(
            Firmographic::label(&s, &p),
            "Horeca, average spend, Lisbon region"
        );
        // An unnamed code; then a mixed industry, left out.
        let two = CategoricalStat {
            role: "industry",
            name: "Channel",
            levels: vec![level("2", 0.55, 0.3), level("1", 0.45, 0.7)],
        };
        let p = profile(spend.clone(), vec![two]);
        assert_eq!(Firmographic::label(&s, &p), "Industry 2, average spend");
        let mixed = CategoricalStat {
            role: "industry",
            name: "Channel",
            levels: vec![
                level("2", 0.45, 0.3),
                level("1", 0.4, 0.5),
                level("3", 0.15, 0.2),
            ],
        };
        let p = profile(spend, vec![mixed]);
        assert_eq!(Firmographic::label(&s, &p), "Average spend");
        let p = profile(vec![stat("revenue", "Turnover", 5e9, 1e8, 1e8)], vec![]);
        assert_eq!(Firmographic::label(&s, &p), "Enterprise firms");
        let mut s2 = s.clone();
        s2.revenue_unit = 1000.0; // revenue in thousands: 5,000 → 5M
        let p = profile(
            vec![stat("revenue", "Turnover", 5000.0, 100.0, 1.0)],
            vec![],
        );
        assert_eq!(Firmographic::label(&s2, &p), "Small firms");
        let p = profile(vec![], vec![]);
        assert_eq!(Firmographic::label(&s, &p), "Typical firms");
        let p = profile(
            vec![],
            vec![CategoricalStat {
                role: "lifecycle_stage",
                name: "Stage",
                levels: vec![level("At risk", 0.7, 0.2)],
            }],
        );
        assert_eq!(Firmographic::label(&s, &p), "Mostly at risk");
    }

    #[test]
    fn labels_never_exceed_the_host_limit() {
        let long = "x".repeat(200);
        let s = state(&[("1", long.as_str())], None);
        let p = profile(
            vec![
                stat("spend", "Fresh", 300.0, 100.0, 50.0),
                stat("spend", "Grocery", 100.0, 100.0, 50.0),
            ],
            vec![CategoricalStat {
                role: "industry",
                name: "Channel",
                levels: vec![level("1", 1.0, 0.5)],
            }],
        );
        let l = Firmographic::label(&s, &p);
        assert_eq!(l.chars().count(), label::MAX_LABEL_CHARS);
        assert!(l.ends_with('…'));
        let s = state(&[("1", &long[..110])], None);
        let l = Firmographic::label(&s, &p);
        assert!(
            l.chars().count() <= label::MAX_LABEL_CHARS && !l.contains("spend"),
            "{l}"
        );
    }

    #[test]
    fn docs_cover_options_and_bands() {
        let d = Firmographic::docs();
        for needle in [
            "industry_level",
            "industry_names",
            "region_names",
            "revenue_unit",
            "1-9 micro",
            "1000+ enterprise",
            "1/sqrt(m)",
        ] {
            assert!(d.contains(needle), "{needle}");
        }
    }
}
