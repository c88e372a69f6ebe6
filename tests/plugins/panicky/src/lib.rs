//! A plugin whose `fit` panics: the SDK must catch it, the host must report it and refuse
//! further calls, and no output may be written.

use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo,
};

pub struct Panicky;

const ROLES: &[Role] = &[Role::numeric("features", "anything").all_numeric_by_default()];

impl Strategy for Panicky {
    type State = ();

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "panicky",
            version: "0.0.1",
            description: "Panics in fit (test plugin)",
            roles: ROLES,
            metric: Metric::Euclidean,
            default_k: 2,
        }
    }

    fn fit(_input: &Input, _options: &Options) -> Result<Fitted<()>, Error> {
        panic!("deliberate panic in fit")
    }

    fn transform(_: &(), _: &Input, _: &mut FeatureMatrix) -> Result<(), Error> {
        Ok(())
    }

    fn label(_: &(), _: &SegmentProfile) -> String {
        String::new()
    }
}

strata_plugin_api::declare_strategy!(Panicky);
