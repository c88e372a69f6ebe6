//! The `features` strategy: cluster these numeric columns.
//!
//! Every numeric column but the id by default, or the columns bound with
//! `--map "features=col_a,col_b"` or a glob (`--map "features=f*"`). Missing values take the
//! column's training median; columns are z-scored unless `--scale robust|none`. This is the
//! strategy tests, benchmarks and GPU parity checks use, so that Strata and its peers do the
//! same work on the same matrix.

#![deny(unsafe_code)]

use serde::{Deserialize, Serialize};
use strata_plugin_api::prep::{NumericScaler, Scale};
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Options, Role, SegmentProfile, Strategy, StrategyInfo,
};
use strata_plugin_api::{encode, label};

/// The `features` strategy; the plugin exports it with `declare_strategy!`.
pub struct Features;

const ROLES: &[Role] = &[Role::numeric(
    "features",
    "The numeric columns to cluster (default: every numeric column but the id)",
)
.all_numeric_by_default()
.required()];

/// What the strategy says about itself when it loads.
const INFO: StrategyInfo = StrategyInfo::new("features", env!("CARGO_PKG_VERSION"), ROLES)
    .description("Clusters numeric columns as they are (z-scored by default)")
    .default_k(4);

/// What `fit` learned, stored in the saved model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The scaling the columns were fit with (`--scale`, z-score by default).
    pub scale: Scale,
    /// One scaler per bound column, in feature order.
    pub scalers: Vec<NumericScaler>,
}

impl Strategy for Features {
    type State = State;

    fn info() -> StrategyInfo {
        INFO
    }

    fn fit(input: &Input, options: &Options) -> Result<Fitted<State>, Error> {
        options.check_known(&[])?;
        let scale = options.scale_or(Scale::Zscore)?;
        // One pass over every row per column: the columns are fitted side by side.
        let columns: Vec<_> = input.role("features").collect();
        let scalers = strata_plugin_api::par::map(&columns, |c| {
            NumericScaler::fit(c.name, c.numeric()?, scale, false)
        })
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
        if scalers.is_empty() {
            return Err(Error::new(
                "no numeric columns to cluster: bind some with --map \"features=col_a,col_b\"",
            ));
        }
        Ok(Fitted {
            features: encode::feature_names(&scalers),
            state: State { scale, scalers },
        })
    }

    fn transform(state: &State, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        let d = out.n_features();
        let columns = state
            .scalers
            .iter()
            .map(|s| {
                input
                    .column(&s.column)
                    .ok_or_else(|| Error(format!("the input has no column '{}'", s.column)))
                    .and_then(|c| c.numeric())
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Row by row: each output row is written once, contiguously.
        for (row, chunk) in out.as_mut_slice().chunks_exact_mut(d).enumerate() {
            for ((cell, s), col) in chunk.iter_mut().zip(&state.scalers).zip(&columns) {
                *cell = s.apply(col[row]);
            }
        }
        Ok(())
    }

    fn preprocessing(state: &State) -> Option<strata_plugin_api::declare::Preprocessing> {
        Some(strata_plugin_api::declare::Preprocessing::of(
            &state.scalers,
        ))
    }

    fn docs() -> &'static str {
        "\
Binding: every numeric column but the id (and columns named like identifiers, e.g.
CustomerID), or --map \"features=col_a,col_b\" / --map \"features=spend_*\".

Features: one per column; missing → training median; z-score unless --scale robust|none.

Labels: the two columns whose segment mean sits furthest from the overall mean (at least
half a standard deviation), e.g. \"High Fresh, low Milk\"; otherwise \"Close to average\".

Default k: 4. Options: none beyond --scale.
"
    }

    fn label(_state: &State, p: &SegmentProfile) -> String {
        let mut stats: Vec<_> = p.numeric.iter().filter(|s| s.z().abs() >= 0.5).collect();
        stats.sort_by(|a, b| b.z().abs().total_cmp(&a.z().abs()).then(a.name.cmp(b.name)));
        let parts: Vec<String> = stats
            .iter()
            .take(2)
            .map(|s| format!("{} {}", if s.z() > 0.0 { "high" } else { "low" }, s.name))
            .collect();
        label::compose("", parts, "Close to average")
    }
}

strata_plugin_api::declare_strategy!(Features);

#[cfg(test)]
mod tests {
    use super::*;
    use strata_plugin_api::{Column, ColumnKind, NumericStat, Values};

    #[test]
    fn zscores_each_column_and_imputes_median() {
        let a = [1.0, 2.0, 3.0];
        let b = [10.0, f64::NAN, 30.0];
        let inp = Input::new(
            3,
            vec![
                Column {
                    role: "features",
                    name: "a",
                    kind: ColumnKind::Numeric,
                    values: Values::Numeric(&a),
                },
                Column {
                    role: "features",
                    name: "b",
                    kind: ColumnKind::Numeric,
                    values: Values::Numeric(&b),
                },
            ],
        )
        .unwrap();
        let f = Features::fit(&inp, &Options::default()).unwrap();
        assert_eq!(f.features, vec!["a", "b"]);
        let mut buf = vec![0f32; 6];
        Features::transform(
            &f.state,
            &inp,
            &mut FeatureMatrix::new(&mut buf, 2).unwrap(),
        )
        .unwrap();
        let s = 1.5f32.sqrt(); // sqrt(3/2): population std of 1,2,3 is sqrt(2/3)
        assert!(
            (buf[0] + s).abs() < 1e-6 && buf[2] == 0.0 && (buf[4] - s).abs() < 1e-6,
            "{buf:?}"
        );
        assert_eq!(buf[3], 0.0); // b's missing value → median 20 → z 0
        let none = Options::from_json(r#"{"scale":"none"}"#).unwrap();
        let f = Features::fit(&inp, &none).unwrap();
        Features::transform(
            &f.state,
            &inp,
            &mut FeatureMatrix::new(&mut buf, 2).unwrap(),
        )
        .unwrap();
        assert_eq!(buf, vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);
    }

    #[test]
    fn labels_name_the_most_distinct_columns() {
        let state = State {
            scale: Scale::Zscore,
            scalers: vec![],
        };
        let stat = |name, mean| NumericStat {
            role: "features",
            name,
            mean,
            overall_mean: 0.0,
            overall_std: 1.0,
        };
        let p = |numeric| SegmentProfile {
            index: 0,
            k: 2,
            size: 1,
            share: 0.5,
            numeric,
            categorical: vec![],
        };
        assert_eq!(
            Features::label(
                &state,
                &p(vec![
                    stat("Milk", -0.8),
                    stat("Fresh", 2.0),
                    stat("Frozen", 0.6)
                ])
            ),
            "High Fresh, low Milk"
        );
        assert_eq!(
            Features::label(&state, &p(vec![stat("Milk", 0.1)])),
            "Close to average"
        );
    }
}
