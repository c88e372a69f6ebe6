//! A shared library named like a plugin but without the `strata_plugin_entry` symbol: the host
//! must refuse it and say why.

/// Some other symbol, so the library is not empty.
#[unsafe(no_mangle)]
pub extern "C" fn not_a_strata_entry() -> i32 {
    7
}
