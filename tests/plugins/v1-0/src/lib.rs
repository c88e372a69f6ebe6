//! A plugin built against ABI 1.0: its function table ends before the 1.1 `docs` field. A 1.1
//! host must load and use it, and must not read past the table's declared size.

use std::ffi::c_void;
use std::sync::OnceLock;

use strata_plugin_api::abi::{
    Exported, FitFnV1, LabelFnV1, MAGIC, PluginHeader, RoleSpecV1, StrRef, StrategyTableV1,
    TransformFnV1,
};
use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo,
};

/// The strategy behind the plugin; its entry hands the host a table cut to the ABI 1.0 size.
pub struct OldMinor;

const ROLES: &[Role] = &[Role::numeric("features", "anything numeric").all_numeric_by_default()];

impl Strategy for OldMinor {
    type State = ();

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "oldminor",
            version: "1.0.0",
            description: "Built against ABI 1.0 (test plugin)",
            roles: ROLES,
            metric: Metric::Euclidean,
            default_k: 2,
        }
    }

    fn fit(input: &Input, _: &Options) -> Result<Fitted<()>, Error> {
        let features = input.columns().iter().map(|c| c.name.to_owned()).collect();
        Ok(Fitted {
            features,
            state: (),
        })
    }

    fn transform(_: &(), input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        for (f, c) in input.columns().iter().enumerate() {
            out.set_column(f, c.numeric()?.iter().map(|&x| x as f32));
        }
        Ok(())
    }

    fn label(_: &(), p: &SegmentProfile) -> String {
        format!("Old group {}", p.index)
    }

    fn docs() -> &'static str {
        "THESE DOCS MUST NOT BE READ: a 1.0 table has no docs field"
    }
}

/// The ABI 1.0 table: the 1.1 table without its last field.
#[repr(C)]
struct TableV1_0 {
    size: usize,
    name: StrRef,
    version: StrRef,
    description: StrRef,
    roles: *const RoleSpecV1,
    n_roles: usize,
    metric: u32,
    default_k: u32,
    fit: FitFnV1,
    transform: TransformFnV1,
    label: LabelFnV1,
}

// The 1.0 table must be exactly the prefix the host accepts as 1.0.
const _: () = assert!(std::mem::size_of::<TableV1_0>() == strata_plugin_api::abi::TABLE_V1_0_SIZE);

/// Entry point presenting ABI 1.0.
#[unsafe(no_mangle)]
pub extern "C" fn strata_plugin_entry() -> *const PluginHeader {
    static SDK: OnceLock<Option<Exported<PluginHeader>>> = OnceLock::new();
    static OURS: OnceLock<Exported<PluginHeader>> = OnceLock::new();
    let sdk = strata_plugin_api::__private::entry::<OldMinor>(&SDK);
    &OURS
        .get_or_init(|| {
            // SAFETY: the SDK's header and table are leaked, valid for the library's life.
            let t = unsafe { &*((*sdk).table as *const StrategyTableV1) };
            // A 1.0 plugin must not use a flag defined in 1.2: the host has to refuse it.
            let roles = if std::env::var_os("STRATA_TEST_V1_0_VALUE_FLAG").is_some() {
                // SAFETY: the SDK's role array is leaked and holds `n_roles` entries.
                let mut r = unsafe { std::slice::from_raw_parts(t.roles, t.n_roles) }.to_vec();
                r[0].flags |= strata_plugin_api::abi::ROLE_VALUE;
                Vec::leak(r).as_ptr()
            } else {
                t.roles
            };
            let table = Box::leak(Box::new(TableV1_0 {
                size: std::mem::size_of::<TableV1_0>(),
                name: t.name,
                version: t.version,
                description: t.description,
                roles,
                n_roles: t.n_roles,
                metric: t.metric,
                default_k: t.default_k,
                fit: t.fit,
                transform: t.transform,
                label: t.label,
            }));
            Exported::new(PluginHeader {
                magic: MAGIC,
                abi_major: 1,
                abi_minor: 0,
                table: (table as *const TableV1_0).cast::<c_void>(),
            })
        })
        .0
}
