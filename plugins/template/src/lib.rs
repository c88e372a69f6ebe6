//! A minimal Strata strategy: customers by how often they come and how much they spend.
//!
//! Copy this crate to write your own (see docs/writing-a-plugin.md). Everything a strategy
//! needs is the [`Strategy`] trait and the [`declare_strategy!`] macro; there is no `unsafe`.

#![forbid(unsafe_code)]

use strata_plugin_api::encode::{self, ColumnState};
use strata_plugin_api::prep::{NumericScaler, Scale};
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Options, Role, SegmentProfile, Strategy, StrategyInfo,
    declare_strategy,
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

/// What the strategy says about itself when it loads.
const INFO: StrategyInfo = StrategyInfo::new("template", env!("CARGO_PKG_VERSION"), ROLES)
    .description("Customers by visit frequency and spend (a template to copy)")
    .default_k(3);

/// What `fit` learns and `transform` and `label` need: the `--scale` and one scaler per bound
/// column. Saved in model.json, so it must round-trip through JSON (a strategy with more to
/// remember defines a struct of its own).
pub type State = ColumnState<NumericScaler>;

impl Strategy for Template {
    type State = State;

    fn info() -> StrategyInfo {
        INFO
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        // Refuses options this strategy does not take (so a typo is not silently ignored),
        // then fits one scaler per bound column; spend is log-scaled when skewed.
        encode::fit_columns(input, options, Scale::Zscore, ROLES, |column, scale| {
            NumericScaler::fit(
                column.name,
                column.numeric()?,
                scale,
                column.role == "spend",
            )
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        // Each scaler finds its column and writes one feature, side by side in fit's order.
        encode::write_all(&state.encoders, input, out)
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
    use strata_plugin_api::testing::{numeric, profile, stat};

    fn input<'a>(visits: &'a [f64], spend: &'a [f64]) -> Input<'a> {
        Input::new(
            visits.len(),
            vec![
                numeric("visits", "Visits", visits),
                numeric("spend", "Spend", spend),
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
        let stat = |role, mean| stat(role, role, mean, 0.0, 1.0);
        let profile = |numeric| profile(numeric, vec![]);
        let state = State {
            scale: Scale::Zscore,
            encoders: vec![],
        };
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
