#!/usr/bin/env bash
# GPU against CPU on a machine with a real GPU, at sizes lavapipe cannot reach: synthetic customers
# (16 numeric features, 16 planted segments) fitted at k = 16, k = 256 and with --k auto, a large file scored
# with the saved model, a compare of the two runs, and the wholesale walk-through when its CSV is
# given. For each case: wall seconds per backend, Strata's own stage times, customers whose segment
# differs between backends, and the relative inertia difference.
#
# Usage: scripts/gpu-check.sh [path/to/strata] [work dir] [wholesale.csv]
#   ROWS_SMALL (default 1000000) and ROWS_LARGE (default 10000000) set the file sizes.
set -uo pipefail
strata="$(realpath "${1:-target/release/strata}")"
work="${2:-$(mktemp -d)}"
wholesale="${3:+$(realpath "$3")}"
small="${ROWS_SMALL:-1000000}"
large="${ROWS_LARGE:-10000000}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
mkdir -p "$work"
cd "$work" || exit 1

"$strata" devices
"$strata" -q synth --rows "$small" --kind features --out small.csv
# Same seed: the large file starts with the small file's customers, so scoring it with the small
# fit's model must put those in the same segments (compare shows 0 moved).
"$strata" -q synth --rows "$large" --kind features --out large.csv

# Runs one strata command per backend (the word BACKEND in the arguments is replaced), keeping
# stdout in NAME-BACKEND.out, stderr in NAME-BACKEND.log and the wall time in NAME-BACKEND.s.
both() {
    local name="$1"; shift
    for backend in gpu cpu; do
        local args=() start end
        for a in "$@"; do args+=("${a//BACKEND/$backend}"); done
        start=$(date +%s%N)
        "$strata" "${args[@]}" --backend "$backend" 2>"$name-$backend.log" >"$name-$backend.out"
        echo "rc=$?" >>"$name-$backend.log"
        end=$(date +%s%N)
        echo "$(( (end - start) / 1000000 ))" >"$name-$backend.ms"
    done
    python3 - "$name" <<'PY'
import csv, json, os, sys
name = sys.argv[1]
def rows(b):
    with open(f"{name}-{b}/assignments.csv") as f:
        return [r[:2] for r in csv.reader(f)][1:]
def seg(b):
    with open(f"{name}-{b}/segments.json") as f:
        return json.load(f)
secs = {b: int(open(f"{name}-{b}.ms").read()) / 1000 for b in ("gpu", "cpu")}
try:
    g, c = rows("gpu"), rows("cpu")
    differ = sum(1 for a, b in zip(g, c) if a != b) + abs(len(g) - len(c))
    sg, sc = seg("gpu"), seg("cpu")
    gi, ci = sg.get("inertia"), sc.get("inertia")
    rel = f"{abs(gi - ci) / abs(ci):.1e}" if gi is not None and ci else "-"
    dev = sg.get("backend", {}).get("description", "?")
    print(f"| {name} | {len(c)} | {sc.get('k')} | {differ} | {rel} | {secs['gpu']:.2f} | {secs['cpu']:.2f} | {dev} |")
except Exception as e:  # a failed run: show its log
    print(f"| {name} | failed: {e} | | | | {secs['gpu']:.2f} | {secs['cpu']:.2f} | |")
for b in ("gpu", "cpu"):
    for line in open(f"{name}-{b}.out").readlines() + open(f"{name}-{b}.log").readlines():
        if line.startswith(("Time:", "rc=", "Error", "error")) or "segment map" in line:
            print(f"    {b}: {line.rstrip()}")
PY
}

echo "| case | customers | k | different segments | inertia rel. diff | gpu s | cpu s | gpu adapter |"
echo "|---|---|---|---|---|---|---|---|"
both fit-small fit -s features --id-column id --k 16 --out fit-small-BACKEND small.csv
both fit-large fit -s features --id-column id --k 16 --out fit-large-BACKEND large.csv
both k256-small fit -s features --id-column id --k 256 --out k256-small-BACKEND small.csv
both auto-small fit -s features --id-column id --k auto --out auto-small-BACKEND small.csv
both assign-large assign --model fit-small-cpu/model.json --out assign-large-BACKEND large.csv
cmp -s assign-large-gpu/assignments.csv assign-large-cpu/assignments.csv \
    && echo "assign-large: gpu and cpu assignments.csv byte-identical"
start=$(date +%s%N)
"$strata" compare fit-small-cpu assign-large-cpu --out compare-large 2>compare.log | head -20
echo "compare: $(( ($(date +%s%N) - start) / 1000000 )) ms"
if [ -n "$wholesale" ]; then
    both wholesale fit -s firmographic --id-column "Customer ID" --map industry=Channel \
        --map region=Region --map spend=Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen \
        --k auto --out wholesale-BACKEND "$wholesale"
    cmp -s wholesale-gpu/assignments.csv wholesale-cpu/assignments.csv \
        && echo "wholesale: gpu and cpu assignments.csv byte-identical"
fi
