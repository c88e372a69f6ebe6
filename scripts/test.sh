#!/usr/bin/env bash
# Installs what Strata's tests need and runs them. Idempotent; safe on a fresh machine.
#
# Needs: a Rust toolchain (cargo). System packages are installed here with apt-get, never by
# hand: Mesa's software Vulkan driver (lavapipe), so the GPU backend's WGSL runs and is checked
# against the CPU on every run, with or without a GPU; Chromium, which opens report.html
# headless in the report test; and the PostgreSQL server, from which a throwaway cluster is
# started in a temp folder for the database tests and stopped at the end; OpenJDK 17 and a
# pinned pyspark (in .venv-spark) for the Spark integration's tests in local[2], and DuckDB
# (with Python's SQLite) to run the exported scoring queries.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo not found; install Rust with rustup first" >&2
    exit 1
fi

if command -v apt-get >/dev/null 2>&1; then
    missing=()
    for pkg in mesa-vulkan-drivers libvulkan1 chromium postgresql openjdk-17-jre-headless; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
    # The driver and the browser are there now, so a GPU test that cannot find an adapter, or
    # a report test that cannot find Chromium, must fail, not skip.
    export STRATA_REQUIRE_GPU=1
    export STRATA_REQUIRE_BROWSER=1
    export STRATA_REQUIRE_POSTGRES=1
else
    echo "scripts/test.sh: no apt-get; GPU tests run only if a Vulkan driver is already installed" >&2
fi
# wgpu's Vulkan loader complains on every start without it.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# The end-to-end tests run target/debug/strata, which loads the strategy plugins built beside
# it, so build every workspace member (plugins included) before testing.
cargo build --workspace --locked
echo "test.sh: built ($SECONDS s)" >&2

# A throwaway PostgreSQL cluster (socket only, password authentication) for the database
# tests; without the server installed they say they were skipped, unless required above.
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    eval "$(bash scripts/pg-cluster.sh start)"
    trap 'bash scripts/pg-cluster.sh stop "$STRATA_TEST_POSTGRES_DIR"' EXIT
fi
cargo test --workspace --locked
echo "test.sh: workspace tests passed ($SECONDS s)" >&2
# The plugin template is its own crate, built as a plugin author would build it.
cargo test --locked --manifest-path plugins/template/Cargo.toml --target-dir target/template
echo "test.sh: template tests passed ($SECONDS s)" >&2

# The Spark integration, installed as a user installs it (the strata binary and the bundled
# plugins carried in the package), against the single-machine strata in Spark local[2].
if [ ! -x .venv-spark/bin/python ]; then
    python3 -m venv .venv-spark
fi
.venv-spark/bin/pip install -q pyspark==4.3.0 py4j==0.10.9.9 pyarrow==26.0.1 pandas==3.1.1 numpy==2.4.6 duckdb==2.0.1
bash integrations/spark/scripts/bundle.sh target/debug
.venv-spark/bin/pip install -q --no-cache-dir --force-reinstall --no-deps ./integrations/spark
# setuptools leaves its build folder (copies of the bundled binaries) in the source tree.
rm -rf integrations/spark/build integrations/spark/*.egg-info
(cd integrations/spark/tests && STRATA_TEST_PLUGIN_DIR="$PWD/../../../target/debug" \
    ../../../.venv-spark/bin/python -m unittest -v test_spark)
