"""k-prototypes: Strata's port against kmodes 0.12.2 on the same mixed data and start.

    bench/.venv/bin/python bench/kprototypes.py [ROWS ...]       (bench/run.sh calls it)

For each size, `strata synth --kind demographic` writes the customers; the rows with every used
column present are clustered on age, income and household size (numeric) and gender,
education, marital status and region (categorical), k = 8, starting from the first 8 rows, so
both tools do the same work and must agree (the labels' hash and the cost are compared).
kmodes runs single-threaded (a single run is always serial in kmodes); Strata's labelling
passes use every core. Timings exclude reading the file. Above 200,000 rows both stop after
10 passes (kmodes needs about 45 s a pass at a million rows). Median of 3 alternating runs up
to 200,000 rows, one run above.

Beside them, the whole command a user runs, timed from start to exit on the same file:
`strata fit -s demographic --algorithm kprototypes --k 8 --n-init 1 --missing drop` (the same
rows; reading, z-scoring, Cao's start, the fit, the silhouette, 20 resampling refits,
profiles, rules, report and outputs), with its own passes (its start differs, so its labels
are not compared). BENCH_KPROTO_SKIP_KMODES=1 leaves kmodes out (its column is then empty).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from kmodes.kprototypes import KPrototypes

ROOT = Path(__file__).resolve().parent.parent
STRATA = ROOT / "target/release/strata"
PORT = ROOT / "target/release/examples/kprototypes_csv"
WORK = ROOT / "bench/work"
NUM = ["age", "income", "household_size"]
CAT = ["gender", "education", "marital_status", "region"]
K = 8


def kmodes_run(frame, max_iter):
    num = frame[NUM].astype(float).values
    cat = frame[CAT].values
    levels = [sorted(set(cat[:, j])) for j in range(cat.shape[1])]
    codes = np.array([[levels[j].index(v) for j, v in enumerate(r)] for r in cat[:K]])
    X = np.empty((len(frame), len(NUM) + len(CAT)), dtype=object)
    X[:, : len(NUM)] = num
    X[:, len(NUM):] = cat
    t = time.perf_counter()
    kp = KPrototypes(n_clusters=K, init=[num[:K].copy(), codes], n_init=1, max_iter=max_iter)
    kp.fit(X, categorical=list(range(len(NUM), len(NUM) + len(CAT))))
    seconds = time.perf_counter() - t
    h = 0xCBF29CE484222325
    for l in kp.labels_:
        h = ((h ^ int(l)) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return {"seconds": seconds, "cost": float(kp.cost_), "iterations": int(kp.n_iter_),
            "labels_fnv": f"{h:016x}"}


def port_run(csv, max_iter):
    out = subprocess.run(
        [str(PORT), str(csv), str(K), ",".join(NUM), ",".join(CAT),
         ",".join(str(i) for i in range(K)), str(max_iter)],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def cli_run(csv, max_iter):
    out = WORK / "kproto_cli_out"
    args = [str(STRATA), "fit", "-s", "demographic", "--algorithm", "kprototypes", "--k", str(K),
            "--n-init", "1", "--max-iter", str(max_iter), "--missing", "drop",
            "--id-column", "customer_id", "--out", str(out), str(csv)]
    for role in NUM + CAT:
        args[2:2] = ["--map", f"{role}={role}"]
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    seconds = time.perf_counter() - t
    seg = json.loads((out / "segments.json").read_text())
    return {"seconds": seconds, "iterations": int(seg["iterations"]),
            "stage_s": float(seg["timings_s"].get("k-prototypes", 0.0)),
            "rows": int(seg["input"]["rows_used"])}


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 1_000_000]
    WORK.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in sizes:
        csv = WORK / f"kproto_{n}.csv"
        if not csv.exists():
            subprocess.run([str(STRATA), "synth", "--kind", "demographic", "--rows", str(n),
                            "--seed", "11", "--out", str(csv)], check=True, capture_output=True)
        frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
        frame = frame[(frame[NUM + CAT] != "").all(axis=1)].reset_index(drop=True)
        max_iter = 100 if n <= 200_000 else 10
        runs = 3 if n <= 200_000 else 1
        skip_kmodes = bool(os.environ.get("BENCH_KPROTO_SKIP_KMODES"))
        ours, theirs, whole = [], [], []
        for _ in range(runs):
            ours.append(port_run(csv, max_iter))
            whole.append(cli_run(csv, max_iter))
            if not skip_kmodes:
                theirs.append(kmodes_run(frame, max_iter))
            print(json.dumps({"rows": len(frame), "strata": ours[-1], "cli": whole[-1],
                              "kmodes": theirs[-1] if theirs else None}),
                  file=sys.stderr, flush=True)
        assert whole[-1]["rows"] == len(frame), (whole[-1], len(frame))
        a = ours[-1]
        b = theirs[-1] if theirs else None
        agree = b is not None and a["labels_fnv"] == b["labels_fnv"] and a["cost"] == b["cost"]
        row = {
            "rows": len(frame), "max_iter": max_iter,
            "iterations": (a["iterations"], b["iterations"] if b else None),
            "strata_s": statistics.median(r["seconds"] for r in ours),
            "kmodes_s": statistics.median(r["seconds"] for r in theirs) if theirs else None,
            "cli_s": statistics.median(r["seconds"] for r in whole),
            "cli_stage_s": statistics.median(r["stage_s"] for r in whole),
            "cli_iterations": whole[-1]["iterations"],
            "identical": agree, "cost": a["cost"],
        }
        row["ratio"] = row["kmodes_s"] / row["strata_s"] if theirs else None
        print(json.dumps(row), flush=True)
        rows.append(row)
    lines = [
        "# k-prototypes: Strata's port against kmodes 0.12.2",
        "",
        "Written by `bench/kprototypes.py` (see its docstring for the method). Same data, same",
        "start (the first 8 complete rows), k = 8; identical = the same labels (hash) and cost.",
        "",
        "`strata fit` = the whole command (see the docstring), with its own passes.",
        "",
        "| rows | passes (cap) | Strata s | kmodes s | kmodes / Strata | identical "
        "| `strata fit` s (its passes; k-prototypes stage s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        kmodes = f"{r['kmodes_s']:.1f}" if r["kmodes_s"] is not None else "not run"
        ratio = f"{r['ratio']:.0f}×" if r["ratio"] is not None else "–"
        same = "yes" if r["identical"] else ("–" if r["kmodes_s"] is None else "NO")
        lines.append(
            f"| {r['rows']:,} | {r['iterations'][0]} ({r['max_iter']}) | {r['strata_s']:.2f} | "
            f"{kmodes} | {ratio} | {same} | {r['cli_s']:.2f} ({r['cli_iterations']}; "
            f"{r['cli_stage_s']:.2f}) |")
    (ROOT / "bench/RESULTS-kprototypes.md").write_text("\n".join(lines) + "\n")
    return rows


if __name__ == "__main__":
    main()
