#!/usr/bin/env bash
# The benchmark: builds Strata (release), installs the pinned peers (scikit-learn, faiss-cpu,
# pandas, numpy) into bench/.venv, runs every case side by side and writes bench/RESULTS.md.
# BENCH_QUICK=1 runs only the smallest cases; BENCH_REPS and BENCH_ITERS override 5 and 20;
# BENCH_100M=1 adds a streamed fit of 100M rows (an 11 GB CSV written to bench/work, ~10 min);
# bench/value.py (BG/NBD + Gamma-Gamma against lifetimes) writes bench/RESULTS-value.md;
# BENCH_VALUE_ONLY=1 runs only it. BENCH_GPU=1 adds ms per Lloyd pass on the GPU against the CPU (on a machine with a GPU;
# BENCH_GPU_BW gives the device's bandwidth in GB/s for the floor, default 4800).
# bench/kprototypes.py (k-prototypes against kmodes 0.12.2, 100k and 1M mixed rows) writes
# bench/RESULTS-kprototypes.md; BENCH_KPROTO_ONLY=1 runs only it.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --workspace --locked
cargo build --release --locked -p strata-kmeans --example lloyd_fixed
cargo build --release --locked -p strata-ingest --example ingest_rate
cargo build --release --locked -p strata-postgres --example spool_rate
cargo build --release --locked -p strata-kprototypes --example kprototypes_csv
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/pip install -q -r bench/requirements.txt
if [ -n "${BENCH_KPROTO_ONLY:-}" ]; then
  bench/.venv/bin/python bench/kprototypes.py
  exit 0
fi
[ -n "${BENCH_VALUE_ONLY:-}" ] || bench/.venv/bin/python bench/peers.py
[ -n "${BENCH_VALUE_ONLY:-}" ] || bench/.venv/bin/python bench/kprototypes.py
# The value-model peer needs pandas < 3 and numpy < 2: a venv of its own.
[ -x bench/.venv-lifetimes/bin/python ] || python3 -m venv bench/.venv-lifetimes
bench/.venv-lifetimes/bin/pip install -q -r bench/requirements-lifetimes.txt
bench/.venv-lifetimes/bin/python bench/value.py
