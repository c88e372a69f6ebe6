#!/usr/bin/env bash
# Checksums of every output of a fixed set of runs, so that a refactoring can show it changed no
# byte: run it with the binary before and after, then diff the two lists.
#
#   scripts/same-outputs.sh BEFORE/strata WORK_A > a.sha; scripts/same-outputs.sh AFTER/strata WORK_B > b.sha
#   diff a.sha b.sha
#
# The runs: a 1M-row demographic fit; the same customers streamed (--stream always, several
# batches); a streamed 10M-row fit (features; SAME_OUTPUTS_LARGE sets the rows); --k auto; a
# transaction log in --mode rfm and clustered; --min-segment-size with pseudonyms; a cosine
# (psychographic) fit; an assign of the 1M file with the 1M model; a compare of the fit and the
# assign. segments.json is hashed without its "timings_s" block (wall seconds, different every
# run); manifest.json (which lists segments.json's hash) and the folder lock are left out; every
# other file whole. The inputs are generated (strata synth) or come from examples/
# and ../shared/data; nothing is downloaded.
set -euo pipefail
strata="$(realpath "$1")"
work="$2"
large="${SAME_OUTPUTS_LARGE:-10000000}"
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="$here/../shared/data"
mkdir -p "$work"
cd "$work"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
# Summaries go to stdout.txt beside the runs (they hold wall times, so they are not hashed).
s() { "$strata" -q --no-progress "$@" >> "$work/stdout.txt"; }

[ -f d1m.csv ] || s synth --rows 1000000 --kind demographic --out d1m.csv
[ -f f10m.csv ] || s synth --rows "$large" --kind features --out f10m.csv
[ -f tx.csv ] || s synth --rows 200000 --kind transactions --out tx.csv
[ -f d200k.csv ] || head -200001 d1m.csv > d200k.csv

rm -rf runs stdout.txt && mkdir runs
s fit --id-column customer_id --k 6 --backend cpu --out runs/fit1m d1m.csv
s fit --id-column customer_id --k 6 --backend cpu --stream always --init-sample 300000 \
    --out runs/fit1m-stream d1m.csv
s fit -s features --id-column id --k 16 --backend cpu --stream always --out runs/fit10m-stream f10m.csv
s fit --id-column customer_id --k auto --k-range 2..6 --backend cpu --out runs/kauto d200k.csv
s fit -s behavioral --transactions tx.csv --mode rfm --out runs/rfm-synth
s fit -s behavioral --transactions tx.csv --k 5 --out runs/tx-kmeans
if [ -f "$shared/online_retail_dec2010/Online Retail.csv" ]; then
    s fit -s behavioral --transactions "$shared/online_retail_dec2010/Online Retail.csv" --mode rfm \
        --out runs/rfm-retail
fi
STRATA_ID_SALT=0123456789abcdef0123 s fit --id-column customer_id --k 12 --min-segment-size 20000 \
    --pseudonymize-ids --out runs/privacy d200k.csv
s fit -s psychographic --id-column respondent_id --k 5 --out runs/survey "$here/examples/survey.csv"
if [ -f "$shared/wholesale_customers/Wholesale customers data.csv" ]; then
    s fit -s firmographic --id-column "Customer ID" --map industry=Channel --map region=Region \
        --map spend=Fresh,Milk,Grocery,Frozen,Detergents_Paper,Delicassen \
        --option industry_names=1:Horeca,2:Retail --option region_names=1:Lisbon,2:Oporto,3:Other \
        --k auto --out runs/wholesale "$shared/wholesale_customers/Wholesale customers data.csv"
fi
s assign --model runs/fit1m/model.json --backend cpu --out runs/assign1m d1m.csv
s compare runs/fit1m runs/assign1m --out runs/compare

cd runs
for f in $(find . -type f | LC_ALL=C sort); do
    case "$f" in
        # The folder's lock is empty; the manifest holds segments.json's hash, timings and all.
        */.strata.lock | */manifest.json) continue ;;
        */segments.json) sum=$(sed '/"timings_s": {/,/}/d' "$f" | sha256sum) ;;
        *) sum=$(sha256sum < "$f") ;;
    esac
    echo "${sum%% *}  $f"
done
