"""Predicted value: `strata fit --value-model bgnbd` against lifetimes 0.11.3 on the same data.

Called by bench/run.sh with bench/.venv-lifetimes (lifetimes needs pandas < 3 and numpy < 2);
writes bench/RESULTS-value.md. For each transaction log (the real Online Retail log, 541,909
lines, and synthetic logs from `strata synth --kind transactions`; 100M lines with
BENCH_100M=1):
  1. From the log: `strata fit --strategy behavioral --transactions LOG --value-model bgnbd
     --period day --horizon 365 --k 4` (the whole fit: aggregation, segments and the value
     model) against a lifetimes script doing the value part alone with Strata's rules for the
     log (pandas.read_csv, returns and rows without a customer left out,
     summary_data_from_transaction_data by day, BetaGeoFitter, GammaGammaFitter on repeat
     buyers, P(alive), expected purchases over 365 days and CLV over 365 one-day steps).
  2. On the same summary: the value_summary.csv Strata wrote, fitted again by `strata fit
     --summary` and by the same lifetimes fits and predictions (its stages timed inside).
Wall time and peak RSS by /usr/bin/time; median of BENCH_REPS alternating runs (default 3;
one run at 100M). Both on 2 threads (Strata's rayon; lifetimes is single-threaded numpy).
lifetimes runs past BENCH_LIFETIMES_TIMEOUT seconds (default 1800) are stopped and reported.
"""
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
STRATA = ROOT / "target" / "release" / "strata"
REPS = int(os.environ.get("BENCH_REPS", "3"))
TIMEOUT = int(os.environ.get("BENCH_LIFETIMES_TIMEOUT", "1800"))
ENV = {**os.environ, "RAYON_NUM_THREADS": "2", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

LIFETIMES = r'''
import json, sys, time
t0 = time.perf_counter()
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data
stages = {}
def lap(name, start):
    stages[name] = time.perf_counter() - start
    return time.perf_counter()
kind, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if kind == "log":
    log = pd.read_csv(path, dtype={"InvoiceNo": str, "CustomerID": str})
    t = lap("read", t)
    log = log[log["CustomerID"].notna()]
    log["value"] = log["Quantity"] * log["UnitPrice"]
    log = log[~log["InvoiceNo"].str.upper().str.startswith("C") & (log["value"] >= 0)].copy()
    log["date"] = pd.to_datetime(log["InvoiceDate"]).dt.normalize()
    s = summary_data_from_transaction_data(log, "CustomerID", "date", monetary_value_col="value",
                                           observation_period_end=log["date"].max(), freq="D")
    del log
    t = lap("summary", t)
else:
    s = pd.read_csv(path, dtype={"id": str}).set_index("id")
    t = lap("read", t)
bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
t = lap("fit", t)
p_alive = bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
expected = bg.conditional_expected_number_of_purchases_up_to_time(365, s["frequency"], s["recency"], s["T"])
clv = gg.customer_lifetime_value(bg, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                 time=365, discount_rate=0.0, freq="M")
t = lap("predict", t)
print(json.dumps({"customers": len(s), "stages": stages, "r": bg.params_["r"], "alpha": bg.params_["alpha"],
                  "a": bg.params_["a"], "b": bg.params_["b"], "p": gg.params_["p"], "q": gg.params_["q"],
                  "gamma": gg.params_["v"], "clv_total": float(clv.sum())}))
'''


def timed(cmd, timeout=None):
    """Wall seconds, peak RSS (MiB) and stdout of a command, via /usr/bin/time; None on timeout."""
    t = time.perf_counter()
    try:
        p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, capture_output=True, text=True,
                           env=ENV, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    secs = time.perf_counter() - t
    return secs, int(p.stderr.strip().splitlines()[-1]) / 1024, p.stdout


def strata_fit(args, out):
    r = timed([str(STRATA), "-q", "fit", "--strategy", "behavioral", "--value-model", "bgnbd", "--horizon",
               "365", "--k", "4", "--out", str(out)] + args)
    seg = json.load(open(out / "segments.json"))
    return r, seg


def case(name, log):
    script = WORK / "lifetimes_value.py"
    script.write_text(LIFETIMES)
    out, again = WORK / "value_out", WORK / "value_again"
    runs = {"strata log": [], "lifetimes log": [], "strata summary": [], "lifetimes summary": []}
    seg = seg2 = lt_log = lt_sum = None
    reps = 1 if "100M" in name else REPS
    for _ in range(reps):
        r, seg = strata_fit(["--period", "day", "--transactions", str(log)], out)
        runs["strata log"].append(r)
        summary = out / "value_summary.csv"
        r, seg2 = strata_fit(["--summary", str(summary)], again)
        runs["strata summary"].append(r)
        r = timed([sys.executable, str(script), "summary", str(summary)], TIMEOUT)
        runs["lifetimes summary"].append(r)
        if r:
            lt_sum = json.loads(r[2].strip().splitlines()[-1])
        if "100M" not in name:
            r = timed([sys.executable, str(script), "log", str(log)], TIMEOUT)
            runs["lifetimes log"].append(r)
            if r:
                lt_log = json.loads(r[2].strip().splitlines()[-1])
    med = {k: (statistics.median(x[0] for x in v), max(x[1] for x in v)) if v and all(v) else None
           for k, v in runs.items()}
    return {"name": name, "log_mb": log.stat().st_size / 1e6, "seg": seg, "seg2": seg2, "med": med,
            "lt_log": lt_log, "lt_sum": lt_sum}


def row(c, kind):
    s, lt = c["med"][f"strata {kind}"], c["med"][f"lifetimes {kind}"]
    seg = c["seg"] if kind == "log" else c["seg2"]
    vm = seg["timings_s"].get("value model", float("nan"))
    lt_json = c["lt_log"] if kind == "log" else c["lt_sum"]
    lt_stages = ", ".join(f"{k} {v:.1f}" for k, v in lt_json["stages"].items()) if lt_json else "—"
    if lt is None:
        ratio = "—"
        if kind == "log" and "100M" in c["name"]:
            lt_cell = "not run: pandas would hold the log's text columns as Python strings, about 20 GB"
        else:
            lt_cell = f"stopped at {TIMEOUT} s"
    else:
        lt_cell, ratio = f"{lt[0]:.2f} ({lt_stages})", f"{lt[0] / s[0]:.1f}×"
    return (f"| {c['name']} | {kind} | {seg['value_model']['customers']:,} | {s[0]:.2f} | {vm:.2f} | "
            f"{s[1]:.0f} | {lt_cell} | {f'{lt[1]:.0f}' if lt else '—'} | {ratio} |")


def main():
    WORK.mkdir(parents=True, exist_ok=True)
    logs = []
    real = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.csv"
    if real.exists():
        logs.append(("Online Retail (541,909 lines)", real))
    sizes = [10_000_000] + ([100_000_000] if os.environ.get("BENCH_100M") else [])
    for n in sizes:
        path = WORK / f"tx_{n // 1_000_000}M.csv"
        if not path.exists():
            subprocess.run([str(STRATA), "-q", "synth", "--kind", "transactions", "--rows", str(n), "--seed", "3",
                            "--out", str(path)], check=True)
        logs.append((f"synthetic {n // 1_000_000}M lines", path))
    cases = []
    for name, log in logs:
        c = case(name, log)
        cases.append(c)
        print(row(c, "log"), row(c, "summary"), sep="\n", flush=True)
    lines = ["# Predicted value: Strata against lifetimes", "",
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Command: `bench/run.sh` (this part: "
             "`bench/.venv-lifetimes/bin/python bench/value.py`). Median of "
             f"{REPS} alternating runs (one at 100M), 2 threads for Strata, lifetimes 0.11.3 single-threaded. "
             "BG/NBD + Gamma-Gamma by day, predictions over 365 days, CLV in 365 one-day steps, undiscounted.", "",
             "`log`: Strata's whole fit from the transaction log (aggregation, 4 segments and the value model) "
             "against lifetimes' value part alone from the same log. `summary`: both on the value_summary.csv "
             "Strata wrote (Strata: `fit --summary`, segments included). `value model s`: Strata's own stage "
             "time (fits and predictions). lifetimes' stages in brackets.", "",
             "| log | from | customers | Strata s | value model s | Strata peak MiB | lifetimes s | "
             "lifetimes peak MiB | lifetimes / Strata |", "|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        lines += [row(c, "log"), row(c, "summary")]
    lines += ["", "Parameters (Strata's fit from the log; lifetimes' on the same summary, relative difference):", "",
              "| log | r | alpha | a | b | p | q | gamma | largest rel. diff |", "|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        p = c["seg"]["value_model"]["params"]
        lt = c["lt_sum"]
        diff = max(abs(p[k] - lt[k]) / abs(lt[k]) for k in p) if lt else float("nan")
        lines.append(f"| {c['name']} | " + " | ".join(f"{p[k]:.6g}" for k in
                                                        ["r", "alpha", "a", "b", "p", "q", "gamma"]) +
                     f" | {diff:.1e} |")
    (ROOT / "bench" / "RESULTS-value.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
