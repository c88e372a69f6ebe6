//! `choose-k`: input → features → every k of the range fitted and scored. Writes nothing.

use strata_host::Registry;
use tracing::info;

use crate::cluster::{check_k, kmeans_params};
use crate::features::Features;
use crate::input::Held;
use crate::progress::{Progress, Stages};
use crate::select::KSelection;
use crate::settings::Mode;
use crate::{CoreError, FitSettings};

/// `strata choose-k`: reads the data as `fit --k auto` does (in memory), fits every k of
/// `settings.k_range` and returns the table with its recommendation.
pub fn choose_k(
    settings: &FitSettings,
    registry: &Registry,
    progress: &dyn Progress,
) -> Result<KSelection, CoreError> {
    let Some(range) = settings.cluster().k_range.clone() else {
        return Err(CoreError::ChooseKWithoutRange);
    };
    if settings.cluster().mode != Mode::Kmeans {
        return Err(CoreError::ChooseKWithRfm);
    }
    if let Some(reason) = crate::input::stream::streaming_reason(settings) {
        return Err(CoreError::ChooseKOnStreamedInput {
            path: settings.input().path.clone(),
            reason,
        });
    }
    let plugin = registry.find(&settings.strategy().name)?;
    let info = plugin.info().clone();
    let mut clock = Stages::new(progress);
    clock.begin("ingest");
    let held = Held::load(settings, &info, progress)?;
    clock.lap("ingest");
    clock.begin("features");
    let features = Features::learn(
        &plugin,
        &held.bindings,
        &held.table,
        &super::fit::fit_options(settings, &plugin),
    )?;
    let (prototypes, why) = super::fit::choose_algorithm(settings, &plugin, &features)?;
    let params = kmeans_params(settings, &info, features.names())?;
    check_k(settings, params.k(), held.table.n_rows)?;
    let matrix = features.transform(&held.bindings, &held.table)?;
    clock.lap("features");
    if prototypes {
        info!("choosing k with k-prototypes: {why}");
        clock.begin("k-prototypes");
        let mixed = crate::mixed::Mixed::new(
            features.d(),
            features.categorical(),
            settings.cluster().gamma,
            &matrix,
        );
        let (selection, _) =
            crate::select_mixed::select_k(settings, &mixed, &matrix, features.d(), range)?;
        clock.lap("k-prototypes");
        return Ok(selection);
    }
    clock.begin("k-means");
    let selection =
        crate::cluster::choose_k(settings, &params, range, &matrix, features.d(), progress)?;
    clock.lap("k-means");
    Ok(selection)
}
