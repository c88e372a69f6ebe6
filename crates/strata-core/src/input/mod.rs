//! The input stage: from a file to the customer rows a run segments, bound to the strategy's
//! roles.
//!
//! A fit's input is either held whole ([`Held`]: a customer table, or a transaction log
//! aggregated per customer) or streamed ([`StreamedInput`]: a file too large to hold, read a
//! batch at a time, more than once). The fit composes the same stages over both: the
//! strategy learns from [`FitInput::prep`] (the table, or a sample of the file), every row's
//! features come from [`FitInput::features`] (one batch holding everything, or batch after
//! batch), and the profiles from [`Rows::profiles`] (the held columns, or the file read again).
//! What differs is a property of the input, not a second copy of the fit.
//!
//! Personal roles are left out of profiles by [`profiled_columns`], once: every profile of
//! every command is built from its columns.

mod customers;
mod held;
pub(crate) mod rows;
pub(crate) mod stream;

use strata_host::PluginInfo;
use strata_ingest::{Column, Table};

use crate::features::Features;
use crate::profile::{Profiles, compute_profiles};
use crate::progress::Progress;
use crate::{Binding, CoreError, FitSettings};
pub(crate) use customers::{Customers, profiled_columns};
pub(crate) use held::Held;
use stream::{Reread, StreamedInput, streaming_reason};

/// Where a fit's rows come from (see the module docs).
pub(crate) enum FitInput {
    Held(Held),
    Streamed(StreamedInput),
}

impl FitInput {
    /// Binds the roles and reads what the strategy learns from: the whole input, or, when the
    /// fit streams, a sample of the file.
    pub fn open(
        settings: &FitSettings,
        info: &PluginInfo,
        progress: &dyn Progress,
    ) -> Result<FitInput, CoreError> {
        Ok(match streaming_reason(settings) {
            Some(reason) => {
                FitInput::Streamed(StreamedInput::open(settings, info, reason, progress)?)
            }
            None => FitInput::Held(Held::load(settings, info, progress)?),
        })
    }

    pub fn bindings(&self) -> &[Binding] {
        match self {
            FitInput::Held(h) => &h.bindings,
            FitInput::Streamed(s) => s.bindings(),
        }
    }

    /// The rows the strategy learns its preprocessing from.
    pub fn prep(&self) -> &Table {
        match self {
            FitInput::Held(h) => &h.table,
            FitInput::Streamed(s) => s.sample(),
        }
    }

    /// The number of customers, when known before their features are computed.
    pub fn rows_known(&self) -> Option<usize> {
        match self {
            FitInput::Held(h) => Some(h.table.n_rows),
            FitInput::Streamed(_) => None,
        }
    }

    /// Rows the k-means++ restarts run on: every row of a held table, a sample of a streamed
    /// file's (`--init-sample`).
    pub fn init_sample(&self, settings: &FitSettings) -> Option<usize> {
        match self {
            FitInput::Held(_) => None,
            FitInput::Streamed(_) => Some(settings.cluster().init_sample),
        }
    }

    /// Every customer's features (row-major, `features.d()` wide), the customers, and what
    /// their profiles will be read from.
    pub fn features(
        self,
        settings: &FitSettings,
        info: &PluginInfo,
        features: &Features<'_>,
        progress: &dyn Progress,
    ) -> Result<(Vec<f32>, Customers, Rows), CoreError> {
        match self {
            FitInput::Held(held) => {
                let matrix = features.transform(&held.bindings, &held.table)?;
                let (customers, columns) = held.into_customers();
                Ok((matrix, customers, Rows::Held(columns)))
            }
            FitInput::Streamed(s) => {
                let (matrix, customers, reread) = s.features(settings, info, features, progress)?;
                Ok((matrix, customers, Rows::Reread(reread)))
            }
        }
    }
}

/// Where the profiles' raw values come from once the features are computed.
pub(crate) enum Rows {
    /// The bound columns, held (one per binding).
    Held(Vec<Column>),
    /// A streamed file, read again.
    Reread(Reread),
}

/// What one read of the rows gives after clustering.
pub(crate) struct RowFacts {
    pub profiles: Profiles,
    /// Each segment's rule ([`crate::rules`]); `None` without a column a rule can use.
    pub rules: Option<crate::rules::Rules>,
    /// Where the segments are ([`crate::geo`]); `None` without coordinate roles.
    pub places: Option<crate::geo::Places>,
}

impl Rows {
    /// The profiles of the `k` segments, `labels` giving each customer's, each segment's rule
    /// and its place, from one read of the rows (a streamed fit's rules and places from the
    /// seeded sample that read gathers).
    pub fn facts(
        &self,
        settings: &FitSettings,
        info: &PluginInfo,
        customers: &Customers,
        labels: &[u32],
        k: usize,
        progress: &dyn Progress,
    ) -> Result<RowFacts, CoreError> {
        match self {
            Rows::Held(columns) => {
                let profiled = profiled_columns(info, &customers.bindings, columns);
                Ok(RowFacts {
                    profiles: compute_profiles(&profiled, labels, k),
                    rules: crate::rules::find(settings, &profiled, labels, k, labels.len()),
                    places: crate::geo::find(&profiled, labels, k, settings.cluster().seed),
                })
            }
            Rows::Reread(r) => {
                let mut sample = crate::rules::Sample::new(settings, labels.len());
                let profiles =
                    r.profiles(info, &customers.lines, labels, k, progress, &mut sample)?;
                let (rules, places) = sample.finish(settings, k);
                Ok(RowFacts {
                    profiles,
                    rules,
                    places,
                })
            }
        }
    }
}
