#!/usr/bin/env bash
# Runs the same fits with --backend gpu and --backend cpu on every data set in ../shared/data
# and the examples, and prints a table: customers in different segments, relative inertia
# difference, and wall time of each. Needs a Vulkan driver (lavapipe is enough: its figures
# show parity, not GPU speed). Usage: scripts/gpu-parity.sh [path/to/strata]
set -euo pipefail
cd "$(dirname "$0")/.."
strata="${1:-target/release/strata}"
data=../shared/data
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

run() { # name, then fit arguments
    local name="$1"; shift
    for backend in gpu cpu; do
        local start end
        start=$(date +%s%N)
        "$strata" -q fit "$@" --backend "$backend" --out "$out/$name-$backend" >/dev/null
        end=$(date +%s%N)
        echo $(( (end - start) / 1000000 )) > "$out/$name-$backend.ms"
    done
    python3 - "$out" "$name" <<'PY'
import csv, json, sys
out, name = sys.argv[1], sys.argv[2]
seg = {b: json.load(open(f"{out}/{name}-{b}/segments.json")) for b in ("gpu", "cpu")}
rows = {b: list(csv.reader(open(f"{out}/{name}-{b}/assignments.csv")))[1:] for b in ("gpu", "cpu")}
differ = sum(1 for g, c in zip(rows["gpu"], rows["cpu"]) if g[:3] != c[:3])
gi, ci = seg["gpu"]["inertia"], seg["cpu"]["inertia"]
secs = {b: int(open(f"{out}/{name}-{b}.ms").read()) / 1000 for b in ("gpu", "cpu")}
print(f"| {name} | {len(rows['cpu'])} | {seg['cpu']['k']} | {len(seg['cpu']['features'])} | {differ} | "
      f"{abs(gi - ci) / abs(ci):.1e} | {secs['gpu']:.2f} | {secs['cpu']:.2f} | {seg['gpu']['backend']['description']} |")
PY
}

echo "| data | customers | k | features | different segments | inertia rel. diff | gpu s | cpu s | gpu adapter |"
echo "|---|---|---|---|---|---|---|---|---|"
run mall --id-column CustomerID --map gender=Genre --map age=Age --map "income=Annual Income (k\$)" --k 5 \
    "$data/mall_customers/Mall_Customers.csv"
run wholesale -s firmographic --id-column "Customer ID" --map industry=Channel --map region=Region \
    --map "spend=Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen" --k 4 \
    "$data/wholesale_customers/Wholesale customers data.csv"
run young_people -s features --k 4 "$data/young_people_survey/responses.csv"
run retail_dec2010 -s behavioral --transactions "$data/online_retail_dec2010/Online Retail.csv" --k 5
run retail_2011 -s behavioral --transactions "$data/online_retail/online_retail.csv" --k 6
run example_customers --id-column customer_id --k 4 examples/customers.csv
run example_survey -s psychographic --id-column respondent_id \
    --map "likert=Music*,Outdoor*,Fashion*,Tech*,Home*" --k 4 examples/survey.csv
