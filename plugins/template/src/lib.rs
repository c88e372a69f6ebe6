//! A minimal Strata strategy: customers by how often they come and how much they spend.
//!
//! Copy this crate to write your own (see docs/writing-a-plugin.md). Everything a strategy
//! needs is the [`Strategy`] trait and the [`declare_strategy!`] macro; there is no `unsafe`.

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use strata_plugin_api::encode;
use strata_plugin_api::prep::{NumericScaler, Scale};
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo, declare_strategy,
};

pub struct Template;

/// The columns this strategy understands. `strata fit --map visits=COLUMN` binds one; an
/// unbound role takes a header with its name.
const ROLES: &[Role] = &[
    Role::numeric("visits", "Visits or orders per year").required(),
    Role::numeric(
        "spend",
        "Money spent per year, any currency; log-scaled when skewed",
    ),
];

/// What `fit` learns and `transform` and `label` need. Saved in model.json, so it must
/// round-trip through JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    scalers: Vec<NumericScaler>,
}

impl Strategy for Template {
    type State = State;

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "template",
            version: env!("CARGO_PKG_VERSION"),
            description: "Customers by visit frequency and spend (a template to copy)",
            roles: ROLES,
            metric: Metric::Euclidean,
            default_k: 3,
        }
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        // Refuse options this strategy does not take, so a typo is not silently ignored.
        options.check_known(&[])?;
        let scale = options.scale_or(Scale::Zscore)?;
        let mut scalers = Vec::new();
        for column in input.columns() {
            let log_if_skewed = column.role == "spend";
            scalers.push(NumericScaler::fit(
                column.name,
                column.numeric()?,
                scale,
                log_if_skewed,
            )?);
        }
        let features = scalers.iter().map(|s| s.column.clone()).collect();
        Ok(Fitted {
            features,
            state: State { scalers },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        // Each scaler finds its column and writes one feature, side by side in fit's order.
        encode::write_all(&state.scalers, input, out)
    }

    fn label(_state: &State, profile: &SegmentProfile) -> String {
        let level =
            |role: &str, high: &'static str, low: &'static str, mid: &'static str| match profile
                .numeric_role(role)
                .map(|s| s.z())
            {
                Some(z) if z > 0.5 => high,
                Some(z) if z < -0.5 => low,
                _ => mid,
            };
        let visits = level("visits", "Frequent", "Occasional", "Regular");
        let spend = if profile.numeric_role("spend").is_some() {
            level("spend", " big spenders", " small spenders", " mid spenders")
        } else {
            " visitors"
        };
        format!("{visits}{spend}")
    }

    fn docs() -> &'static str {
        "Features: visits and spend, median-imputed, spend log-scaled when skewed, z-scored.\n\
         Labels: Frequent/Regular/Occasional × big/mid/small spenders (±0.5 standard deviations).\n"
    }
}

declare_strategy!(Template);

#[cfg(test)]
mod tests {
    use super::*;
    use strata_plugin_api::{Column, ColumnKind, NumericStat, Values};

    fn input<'a>(visits: &'a [f64], spend: &'a [f64]) -> Input<'a> {
        let column = |role, name, v| Column {
            role,
            name,
            kind: ColumnKind::Numeric,
            values: Values::Numeric(v),
        };
        Input::new(
            visits.len(),
            vec![
                column("visits", "Visits", visits),
                column("spend", "Spend", spend),
            ],
        )
        .unwrap()
    }

    #[test]
    fn fit_then_transform_gives_one_scaled_row_per_customer() {
        let (visits, spend) = ([1.0, 2.0, 3.0], [10.0, f64::NAN, 30.0]);
        let input = input(&visits, &spend);
        let fitted = Template::fit(&input, &Options::default()).unwrap();
        assert_eq!(fitted.features, vec!["Visits", "Spend"]);
        let mut buf = vec![0f32; 6];
        Template::transform(
            &fitted.state,
            &input,
            &mut FeatureMatrix::new(&mut buf, 2).unwrap(),
        )
        .unwrap();
        assert!(buf.iter().all(|v| v.is_finite()));
        assert_eq!(buf[2], 0.0, "the middle visit count is the mean");
        assert_eq!(
            buf[3], 0.0,
            "missing spend takes the median, which is the mean here"
        );
        // The state survives the trip through model.json.
        let json = serde_json::to_string(&fitted.state).unwrap();
        assert_eq!(serde_json::from_str::<State>(&json).unwrap(), fitted.state);
    }

    #[test]
    fn labels_follow_the_profile() {
        let stat = |role, mean| NumericStat {
            role,
            name: role,
            mean,
            overall_mean: 0.0,
            overall_std: 1.0,
        };
        let profile = |numeric| SegmentProfile {
            index: 0,
            k: 3,
            size: 5,
            share: 0.5,
            numeric,
            categorical: vec![],
        };
        let state = State { scalers: vec![] };
        assert_eq!(
            Template::label(
                &state,
                &profile(vec![stat("visits", 2.0), stat("spend", -1.0)])
            ),
            "Frequent small spenders"
        );
        assert_eq!(
            Template::label(&state, &profile(vec![stat("visits", 0.0)])),
            "Regular visitors"
        );
    }
}
