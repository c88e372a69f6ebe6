#!/usr/bin/env bash
# Installs what Strata's tests need and runs them. Idempotent; safe on a fresh machine.
#
# Needs: a Rust toolchain (cargo). System packages: none yet; when a test needs one it is
# installed here with apt-get, never by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo not found; install Rust with rustup first" >&2
    exit 1
fi

# The end-to-end tests run target/debug/strata, which loads the strategy plugins built beside
# it, so build every workspace member (plugins included) before testing.
cargo build --workspace --locked
cargo test --workspace --locked
# The plugin template is its own crate, built as a plugin author would build it.
cargo test --locked --manifest-path plugins/template/Cargo.toml --target-dir target/template
