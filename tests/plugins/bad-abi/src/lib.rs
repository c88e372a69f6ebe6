//! A plugin that claims ABI major version 99: the host must refuse it before reading anything
//! past the header, naming the file and both versions.

use strata_plugin_api::abi::{Exported, MAGIC, PluginHeader};

static HEADER: Exported<PluginHeader> = Exported::new(PluginHeader {
    magic: MAGIC,
    abi_major: 99,
    abi_minor: 3,
    table: std::ptr::null(),
});

/// Entry point with a version this host does not speak.
#[unsafe(no_mangle)]
pub extern "C" fn strata_plugin_entry() -> *const PluginHeader {
    &HEADER.0
}
