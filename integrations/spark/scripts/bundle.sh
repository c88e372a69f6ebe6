#!/usr/bin/env bash
# Copies a built strata binary and its strategy plugins into strata_spark/bin, so that
# `pip install ./integrations/spark` (or a wheel built from it) carries them to every executor.
# Usage: integrations/spark/scripts/bundle.sh [TARGET_DIR]   (default: target/release)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:-$here/../../target/release}"
bin="$here/strata_spark/bin"
if [ ! -x "$target/strata" ]; then
    echo "bundle.sh: $target/strata not found; build it first (cargo build --release --workspace)" >&2
    exit 1
fi
rm -rf "$bin"
mkdir -p "$bin"
cp "$target/strata" "$bin/"
# The plugins strata loads from beside its binary (the bundled strategies only).
cp "$target"/libstrata_strategy_*.so "$bin/" 2>/dev/null || true
chmod 755 "$bin"/*
# Without debug sections: they are most of a debug build's size, and the wheel carries the
# files to every executor (pip copies them four times on the way). Symbols stay, so a
# backtrace still names its functions.
if command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$bin"/*
fi
echo "bundled $(ls "$bin" | wc -l) files from $target into $bin"
