//! The behavioral strategy: customers by what they did — recency, frequency, money, order
//! size, tenure, time between purchases, channel.
//!
//! Input is a per-customer table, or a transaction log given with `strata fit --transactions`,
//! which the host aggregates into the same columns first (see `strata-behavior`).
//! `strata fit --mode rfm` scores recency, frequency and monetary into quintiles and names the
//! standard RFM segments instead of clustering; the grid is in [`DOCS`].

#![deny(unsafe_code)]

use serde::{Deserialize, Serialize};
use strata_plugin_api::encode::{self, ColumnEncoder};
use strata_plugin_api::label;
use strata_plugin_api::prep::{NumericScaler, OneHot, Scale, signed_log};
use strata_plugin_api::{
    Column, ColumnKind, Error, FeatureMatrix, Fitted, Input, Options, Role, SegmentProfile,
    Strategy, StrategyInfo, Values,
};

/// The behavioral strategy; the plugin exports it with `declare_strategy!`.
pub struct Behavioral;

const ROLES: &[Role] = &[
    Role::numeric("recency", "Days since the last purchase"),
    Role::new(
        "last_purchase",
        ColumnKind::Date,
        "Date of the last purchase (instead of recency)",
    ),
    Role::numeric("frequency", "Number of purchases; log-scaled"),
    Role::numeric("monetary", "Money spent, net of returns; log-scaled").value(),
    Role::numeric("avg_order_value", "Money per purchase; log-scaled"),
    Role::numeric("tenure", "Days since the first purchase"),
    Role::numeric("interpurchase_days", "Mean days between purchases"),
    Role::categorical("channel", "Main sales channel"),
];

/// What the strategy says about itself when it loads.
const INFO: StrategyInfo = StrategyInfo::new("behavioral", env!("CARGO_PKG_VERSION"), ROLES)
    .description(
        "Segments customers by recency, frequency, money and tenure (table or transaction log)",
    );

/// Roles whose values are log-scaled (sign-preserving, since net money can be negative).
const LOGGED: [&str; 3] = ["frequency", "monetary", "avg_order_value"];

/// How one input column becomes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Encoder {
    /// A numeric role; `signed_log` first when `log` is set.
    Numeric {
        /// The role the column is bound to.
        role: String,
        /// Whether `signed_log` is applied before scaling: for frequency and the money roles.
        log: bool,
        /// Imputation, scaling and, unless `log` is set, `ln(1 + x)` when skewed; learned from
        /// the training values.
        scaler: NumericScaler,
    },
    /// A date turned into days before `as_of` (days since 1970-01-01).
    DaysBefore {
        /// The role the column is bound to.
        role: String,
        /// The day the dates are counted back from: `--as-of`, or the day after the latest training
        /// date.
        as_of: f64,
        /// Imputation, `ln(1 + x)` when skewed, and scaling of the day counts; learned from the
        /// training values.
        scaler: NumericScaler,
    },
    /// A categorical role: one weighted indicator per training category.
    Categorical {
        /// The role the column is bound to.
        role: String,
        /// The categories and imputed category learned from the training values.
        onehot: OneHot,
    },
}

/// What `fit` learned, stored in the saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// One encoder per bound column, in the order of the features they write.
    pub encoders: Vec<Encoder>,
}

impl ColumnEncoder for Encoder {
    fn column(&self) -> &str {
        match self {
            Encoder::Numeric { scaler, .. } | Encoder::DaysBefore { scaler, .. } => &scaler.column,
            Encoder::Categorical { onehot, .. } => &onehot.column,
        }
    }
    fn onehot(&self) -> Option<&OneHot> {
        match self {
            Encoder::Categorical { onehot, .. } => Some(onehot),
            Encoder::Numeric { .. } | Encoder::DaysBefore { .. } => None,
        }
    }
    fn write(
        &self,
        column: &Column<'_>,
        out: &mut FeatureMatrix,
        offset: usize,
    ) -> Result<(), Error> {
        match self {
            Encoder::Numeric { log, scaler, .. } => {
                let v = column.numeric()?;
                out.set_column(
                    offset,
                    v.iter().map(|&x| {
                        scaler.apply(if *log && !x.is_nan() {
                            signed_log(x)
                        } else {
                            x
                        })
                    }),
                );
            }
            Encoder::DaysBefore { as_of, scaler, .. } => {
                out.set_column(
                    offset,
                    column.numeric()?.iter().map(|&d| scaler.apply(as_of - d)),
                );
            }
            Encoder::Categorical { onehot, .. } => {
                onehot.write(column, out, offset)?;
            }
        }
        Ok(())
    }
}

fn as_of_option(options: &Options) -> Result<Option<f64>, Error> {
    match options.get_str("as_of_days") {
        None => Ok(None),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite())
            .map(Some)
            .ok_or_else(|| Error(format!("as_of_days must be a number of days, got '{s}'"))),
    }
}

/// One column's encoder: a date as days before `as_of` (`--option as_of_days`, or the day after
/// the latest training date), a money or frequency column signed-log-scaled, any other numeric
/// log-scaled when skewed, a categorical one-hot.
fn fit_column(c: &Column<'_>, scale: Scale, options: &Options) -> Result<Encoder, Error> {
    Ok(match (&c.values, c.kind) {
        (Values::Numeric(v), ColumnKind::Date) => {
            let as_of = match as_of_option(options)? {
                Some(d) => d,
                None => {
                    let last = v
                        .iter()
                        .copied()
                        .filter(|x| !x.is_nan())
                        .fold(f64::NEG_INFINITY, f64::max);
                    last.floor() + 1.0
                }
            };
            let days: Vec<f64> = v.iter().map(|&d| as_of - d).collect();
            let scaler = NumericScaler::fit(c.name, &days, scale, true)?;
            Encoder::DaysBefore {
                role: c.role.to_owned(),
                as_of,
                scaler,
            }
        }
        (Values::Numeric(v), _) => {
            let log = LOGGED.contains(&c.role);
            let values: Vec<f64> = v
                .iter()
                .map(|&x| if log { signed_log(x) } else { x })
                .collect();
            let scaler = NumericScaler::fit(c.name, &values, scale, !log)?;
            Encoder::Numeric {
                role: c.role.to_owned(),
                log,
                scaler,
            }
        }
        (Values::Categorical { codes, dict }, _) => {
            let onehot = OneHot::fit(c.name, codes, dict)?;
            Encoder::Categorical {
                role: c.role.to_owned(),
                onehot,
            }
        }
    })
}

impl Strategy for Behavioral {
    type State = State;

    fn info() -> StrategyInfo {
        INFO
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        let fit = encode::fit_columns(input, options, Scale::Zscore, ROLES, |c, scale| {
            fit_column(c, scale, options)
        })?;
        Ok(Fitted {
            features: fit.features,
            state: State {
                encoders: fit.state.encoders,
            },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        encode::write_all(&state.encoders, input, out)
    }

    fn label(_state: &State, p: &SegmentProfile) -> String {
        // Ratios to the overall mean rather than z-scores: these measures are heavy-tailed, so
        // a few big customers inflate the standard deviation and hide real differences.
        let ratio = |role: &str| {
            p.numeric_role(role)
                .filter(|s| s.overall_mean.abs() > f64::EPSILON)
                .map(|s| s.mean / s.overall_mean)
        };
        // Returns larger than purchases: a different conversation from "low value".
        let net = p
            .numeric_role("monetary")
            .or_else(|| p.numeric_role("avg_order_value"));
        if net.is_some_and(|s| s.mean < 0.0) {
            return "Net returners (returns exceed purchases)".to_owned();
        }
        let mut words = Vec::new();
        match ratio("recency") {
            Some(r) if r <= 0.67 => words.push("Recent"),
            Some(r) if r >= 1.5 => words.push("Lapsed"),
            Some(_) => words.push("Steady"),
            None => {}
        }
        match ratio("frequency") {
            Some(r) if r >= 1.5 => words.push("frequent"),
            Some(r) if r <= 0.67 => words.push("occasional"),
            _ => {}
        }
        let value = ratio("monetary").or_else(|| ratio("avg_order_value"));
        match value {
            Some(r) if r >= 1.5 => words.push("high-value"),
            Some(r) if r <= 0.67 => words.push("low-value"),
            Some(_) => words.push("mid-value"),
            None => {}
        }
        if ratio("tenure").is_some_and(|r| r <= 0.5) {
            words.push("new");
        }
        words.push("buyers");
        let mut qualifiers = Vec::new();
        if let Some(l) = p
            .categorical_role("channel")
            .and_then(|c| c.dominant().cloned())
            && l.share >= 0.6
            && l.share >= 1.2 * l.overall_share
        {
            qualifiers.push(format!("mostly {}", l.value));
        }
        label::compose(&words.join(" "), qualifiers, "Buyers")
    }

    fn docs() -> &'static str {
        DOCS
    }
}

/// What `strata plugins --strategy behavioral` prints.
pub const DOCS: &str = "\
Inputs: a per-customer table (bind the roles with --map), or a transaction log with
`strata fit --strategy behavioral --transactions LOG.csv`, whose columns bind with --map to
customer_id, timestamp, amount (or quantity and unit_price) and invoice (optional); headers
such as CustomerID, InvoiceDate, Quantity, UnitPrice, InvoiceNo are found without --map.
The log is aggregated per customer as of --as-of DATE (default: the day after the last
purchase): recency, frequency (distinct invoices, or rows without an invoice column),
monetary (net of returns: negative amounts and invoices starting with C), avg_order_value,
tenure and interpurchase_days. Rows without a customer id are skipped; everything skipped
or netted is counted. Dates: ISO 8601, M/D/YYYY H:MM, M/D/YY H:MM, D/M/YYYY, YYYYMMDD;
--date-format iso|mdy|dmy|ymd forces one, and is required when slash dates could be either.

Features: frequency, monetary and avg_order_value through sign(x)·ln(1+|x|); recency,
tenure and interpurchase_days log-scaled when skewed; then z-score (--scale robust|none);
last_purchase (a date) becomes days before the as-of day; channel one-hot (weight 1/√2).
Missing values take the training median.

Labels (k-means): Recent / Steady / Lapsed (segment mean recency ≤ 0.67× or ≥ 1.5× the
overall mean), frequent / occasional, high- / mid- / low-value, new (tenure ≤ 0.5×),
e.g. \"Recent frequent high-value buyers\"; a segment whose mean net money is negative is
\"Net returners (returns exceed purchases)\".

--mode rfm: no clustering. Recency, frequency and monetary get quintile scores 1–5 (cut at
the 20/40/60/80th percentiles; R is 5 for the most recent; equal values score the same).
With FM = round-half-up((F + M) / 2), the segment is:

  R \\ FM   1               2                    3                    4                5
  5        New Customers   Potential Loyalists  Potential Loyalists  Champions        Champions
  4        Promising       Potential Loyalists  Potential Loyalists  Loyal Customers  Loyal Customers
  3        About To Sleep  About To Sleep       Need Attention       Loyal Customers  Loyal Customers
  2        Hibernating     Hibernating          At Risk              At Risk          Can't Lose Them
  1        Lost            Lost                 At Risk              At Risk          Can't Lose Them

assignments.csv then also has recency, frequency, monetary, r_score, f_score and m_score (in
both modes). Default k: 5.
";

strata_plugin_api::declare_strategy!(Behavioral);

#[cfg(test)]
mod tests {
    use super::*;
    use strata_plugin_api::Column;
    use strata_plugin_api::testing::{profile, stat};

    #[test]
    fn money_is_log_scaled_keeping_refunds_negative_and_dates_become_days() {
        let money = [100.0, -20.0, 1000.0, f64::NAN];
        let last = [10.0, 12.0, 20.0, 15.0];
        let inp = Input::new(
            4,
            vec![
                Column {
                    role: "monetary",
                    name: "monetary",
                    kind: ColumnKind::Numeric,
                    values: Values::Numeric(&money),
                },
                Column {
                    role: "last_purchase",
                    name: "Last",
                    kind: ColumnKind::Date,
                    values: Values::Numeric(&last),
                },
            ],
        )
        .unwrap();
        let f = Behavioral::fit(&inp, &Options::default()).unwrap();
        assert_eq!(f.features, vec!["monetary", "Last"]);
        match &f.state.encoders[1] {
            Encoder::DaysBefore { as_of, .. } => assert_eq!(*as_of, 21.0),
            other => panic!("{other:?}"),
        }
        let mut buf = vec![0f32; 8];
        Behavioral::transform(
            &f.state,
            &inp,
            &mut FeatureMatrix::new(&mut buf, 2).unwrap(),
        )
        .unwrap();
        assert!(buf.iter().all(|x| x.is_finite()));
        assert!(
            buf[2] < buf[0] && buf[0] < buf[4],
            "order kept through the signed log: {buf:?}"
        );
        let with = Options::from_json(r#"{"as_of_days":"30"}"#).unwrap();
        match &Behavioral::fit(&inp, &with).unwrap().state.encoders[1] {
            Encoder::DaysBefore { as_of, .. } => assert_eq!(*as_of, 30.0),
            other => panic!("{other:?}"),
        }
        let json = serde_json::to_string(&f.state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), f.state);
    }

    #[test]
    fn labels_use_ratios_to_the_overall_mean() {
        let stat = |role, mean, overall| stat(role, role, mean, overall, 1000.0);
        let state = State { encoders: vec![] };
        for (numeric, want) in [
            (
                vec![
                    stat("recency", 10.0, 90.0),
                    stat("frequency", 12.0, 4.0),
                    stat("monetary", 5000.0, 1500.0),
                ],
                "Recent frequent high-value buyers",
            ),
            (
                vec![
                    stat("recency", 250.0, 90.0),
                    stat("frequency", 1.0, 4.0),
                    stat("monetary", 200.0, 1500.0),
                ],
                "Lapsed occasional low-value buyers",
            ),
            (
                vec![
                    stat("recency", 90.0, 90.0),
                    stat("monetary", -195.0, 1500.0),
                ],
                "Net returners (returns exceed purchases)",
            ),
        ] {
            assert_eq!(Behavioral::label(&state, &profile(numeric, vec![])), want);
        }
    }
}
