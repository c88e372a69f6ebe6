//! A plugin that misbehaves in the way `STRATA_TEST_FAULT` names, read when the host loads it:
//!
//! - `panic`: `fit` panics (the SDK catches it; the host must report it and disable the plugin);
//! - `panic_transform`: `transform` panics (scoring, as on a Spark executor);
//! - `nan` / `inf`: `transform` writes a NaN / infinite feature (the host must refuse it);
//! - `features`: `fit` reports zero features (a raw function: the SDK would refuse first);
//! - `label_utf8`: `label` returns bytes that are not UTF-8 (raw, for the same reason);
//! - `codes`: says (ABI 1.4) that its first feature holds codes of two categories, then writes
//!   the column's numbers there (the host must refuse a value that is no code);
//! - anything else: behaves.
//!
//! Raw functions exist to test the host's own validation, which the SDK's checks would hide.

use std::ffi::c_void;
use std::sync::OnceLock;

use strata_plugin_api::abi::{
    BatchV1, Exported, MAGIC, PluginHeader, SegmentProfileV1, Sink, StrRef, StrategyTableV1,
};
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo,
};

fn fault() -> String {
    std::env::var("STRATA_TEST_FAULT").unwrap_or_default()
}

/// The strategy behind the plugin: behaves unless `STRATA_TEST_FAULT` names a fault it injects.
pub struct Faulty;

const ROLES: &[Role] = &[Role::numeric("features", "anything numeric").all_numeric_by_default()];

impl Strategy for Faulty {
    type State = usize;

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "faulty",
            version: "0.0.1",
            description: "Misbehaves on purpose (test plugin)",
            roles: ROLES,
            metric: Metric::Euclidean,
            default_k: 2,
        }
    }

    fn fit(input: &Input, _options: &Options) -> Result<Fitted<usize>, Error> {
        if fault() == "panic" {
            panic!("deliberate panic in fit");
        }
        let features: Vec<String> = input.columns().iter().map(|c| c.name.to_owned()).collect();
        Ok(Fitted {
            state: features.len(),
            features,
        })
    }

    fn transform(_: &usize, input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        for (f, c) in input.columns().iter().enumerate() {
            out.set_column(f, c.numeric()?.iter().map(|&x| x as f32));
        }
        match fault().as_str() {
            "nan" => out.row_mut(1)[0] = f32::NAN,
            "inf" => out.row_mut(0)[0] = f32::INFINITY,
            "panic_transform" => panic!("deliberate panic in transform"),
            _ => {}
        }
        Ok(())
    }

    fn label(_: &usize, p: &SegmentProfile) -> String {
        format!("Group {}", p.index)
    }
}

/// `fit` that succeeds with a state but no features.
unsafe extern "C" fn fit_without_features(
    _: *const BatchV1,
    _: StrRef,
    _features: *mut Sink,
    state: *mut Sink,
    _: *mut Sink,
) -> i32 {
    let json = b"{}";
    // SAFETY: the host passes a live sink for the duration of the call.
    unsafe { ((*state).write)((*state).ctx, json.as_ptr(), json.len()) };
    0
}

/// `categorical` that says feature 0 holds the codes of two categories, whatever it holds.
unsafe extern "C" fn categorical_claims_codes(_: StrRef, out: *mut Sink, _: *mut Sink) -> i32 {
    let json = br#"{"version": 1, "features": [{"index": 0, "levels": ["a", "b"]}]}"#;
    // SAFETY: the host passes a live sink for the duration of the call.
    unsafe { ((*out).write)((*out).ctx, json.as_ptr(), json.len()) };
    0
}

/// `label` that writes invalid UTF-8.
unsafe extern "C" fn label_not_utf8(
    _: StrRef,
    _: *const SegmentProfileV1,
    label: *mut Sink,
    _: *mut Sink,
) -> i32 {
    let bytes = [0x47u8, 0xff, 0xfe];
    // SAFETY: the host passes a live sink for the duration of the call.
    unsafe { ((*label).write)((*label).ctx, bytes.as_ptr(), bytes.len()) };
    0
}

/// Entry point: the SDK's table, with functions swapped as the fault asks.
#[unsafe(no_mangle)]
pub extern "C" fn strata_plugin_entry() -> *const PluginHeader {
    static SDK: OnceLock<Option<Exported<PluginHeader>>> = OnceLock::new();
    static OURS: OnceLock<Exported<PluginHeader>> = OnceLock::new();
    let sdk = strata_plugin_api::__private::entry::<Faulty>(&SDK);
    &OURS
        .get_or_init(|| {
            // SAFETY: the SDK's header and table are built once and leaked: valid for the
            // library's life, and this plugin was compiled against the same table layout.
            let t = unsafe { &*((*sdk).table as *const StrategyTableV1) };
            let fault = fault();
            let table = Box::leak(Box::new(StrategyTableV1 {
                size: t.size,
                name: t.name,
                version: t.version,
                description: t.description,
                roles: t.roles,
                n_roles: t.n_roles,
                metric: t.metric,
                default_k: t.default_k,
                fit: if fault == "features" {
                    fit_without_features
                } else {
                    t.fit
                },
                transform: t.transform,
                label: if fault == "label_utf8" {
                    label_not_utf8
                } else {
                    t.label
                },
                docs: t.docs,
                preprocessing: t.preprocessing,
                categorical: if fault == "codes" {
                    Some(categorical_claims_codes)
                } else {
                    t.categorical
                },
            }));
            Exported::new(PluginHeader {
                magic: MAGIC,
                abi_major: 1,
                abi_minor: strata_plugin_api::ABI_MINOR,
                table: (table as *const StrategyTableV1).cast::<c_void>(),
            })
        })
        .0
}
