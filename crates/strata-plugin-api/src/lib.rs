//! Strata's plugin API: the C ABI (v1) a segmentation-strategy plugin exports, and the safe SDK
//! a plugin author writes instead of touching it.
//!
//! An author implements [`Strategy`] on a type and calls [`declare_strategy!`] once; the macro
//! exports the entry symbol, catches every panic before it reaches the boundary, and converts
//! between the raw ABI structs ([`abi`]) and the safe views below. No `unsafe` in plugin code.
//!
//! ```text
//! struct Mine;
//! impl strata_plugin_api::Strategy for Mine { /* info, fit, transform, label */ }
//! strata_plugin_api::declare_strategy!(Mine);
//! ```
//!
//! [`geo`] turns latitude and longitude into features that follow great-circle distance.
//! [`prep`] has the scaling, imputation and encoding helpers the bundled strategies share,
//! [`encode`] the encoder layer (per-column fit, feature names, the transform loop), [`declare`]
//! the encoders' features stated as data (what `strata export-sql` renders as SQL), [`label`]
//! labels that fit the host's limit, and [`testing`] builders for a strategy's unit tests.

/// The C ABI (v1), from `strata-abi`.
pub use strata_abi as abi;
pub mod declare;
pub mod encode;
mod error;
pub mod geo;
pub mod label;
mod matrix;
pub mod par;
pub mod prep;
mod sdk;
pub mod testing;

#[doc(hidden)]
pub mod __private;

pub use abi::{ABI_MAJOR, ABI_MINOR, ColumnKind, MISSING_CODE, Metric};
pub use error::Error;
pub use sdk::{
    CategoricalStat, Column, FeatureMatrix, Fitted, HOST_OPTION_KEYS, Input, LevelShare,
    NumericStat, Options, Role, SegmentProfile, Strategy, StrategyInfo, Values,
};

/// Exports a [`Strategy`] implementation as a Strata plugin (ABI v1).
///
/// Use it once per plugin crate (crate type `cdylib`), at the top level:
/// `strata_plugin_api::declare_strategy!(MyStrategy);`
#[macro_export]
macro_rules! declare_strategy {
    ($strategy:ty) => {
        /// The plugin's entry point, read by the Strata host.
        #[unsafe(no_mangle)]
        pub extern "C" fn strata_plugin_entry() -> *const $crate::abi::PluginHeader {
            static HEADER: ::std::sync::OnceLock<
                ::std::option::Option<$crate::abi::Exported<$crate::abi::PluginHeader>>,
            > = ::std::sync::OnceLock::new();
            $crate::__private::entry::<$strategy>(&HEADER)
        }
    };
}
