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

mod encode;
mod label;
mod options;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_plugin_api::prep::Scale;
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Options, Role, SegmentProfile, Strategy, StrategyInfo,
};

pub use encode::{Block, Spend, fit_blocks, group_industry};
pub use label::{employee_band, revenue_band, segment_label};
pub use options::{Settings, parse_industry_level, parse_names, parse_revenue_unit};

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

/// What the strategy says about itself when it loads.
const INFO: StrategyInfo = StrategyInfo::new("firmographic", env!("CARGO_PKG_VERSION"), ROLES)
    .description("Segments business customers (B2B) by industry, size, region, spend and mix, purchase frequency, tenure and lifecycle stage");

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

impl Strategy for Firmographic {
    type State = State;

    fn info() -> StrategyInfo {
        INFO
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        let settings = Settings::parse(options, input)?;
        let blocks = fit_blocks(input, &settings)?;
        Ok(Fitted {
            features: blocks.iter().flat_map(Block::feature_names).collect(),
            state: State {
                scale: settings.scale,
                industry_level: settings.industry_level,
                industry_names: settings.industry_names,
                region_names: settings.region_names,
                revenue_unit: settings.revenue_unit,
                blocks,
            },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        let mut offset = 0;
        for block in &state.blocks {
            block.write(input, out, offset, state.industry_level)?;
            offset += block.width();
        }
        Ok(())
    }

    fn label(state: &State, p: &SegmentProfile) -> String {
        segment_label(state, p)
    }

    fn docs() -> &'static str {
        DOCS
    }
}

strata_plugin_api::declare_strategy!(Firmographic);
