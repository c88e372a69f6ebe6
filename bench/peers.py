"""Strata against its peers on the same data, same starting centroids, same machine, one run.

Called by bench/run.sh (which builds Strata and installs the pinned peers). Writes
bench/RESULTS.md. Cases:
  1. Lloyd iterations on data in memory: Strata (lloyd_fixed example) vs scikit-learn
     KMeans(algorithm="lloyd") and KMeans(algorithm="elkan") vs faiss.Kmeans, 2 threads each,
     same init, tol 0; per iteration as (t(ITERS + 1) - t(1)) / ITERS, alternating runs.
  2. End to end from a CSV: `strata fit` vs a pandas read_csv + StandardScaler + KMeans +
     to_csv script, same starting centroids; wall time and peak memory.
  3. Ingest alone: MB/s of CSV parsed into columns (ingest_rate example) on 1 and 2 threads,
     next to pandas.read_csv on the same file: the synthetic CSVs and the real Online Retail log.
  4. The floor: measured copy bandwidth and f32 matmul throughput; each Lloyd case's time per
     iteration over max(bytes / bandwidth, 3·n·k·d / flops).
  5. PostgreSQL (when the server is installed): the synthetic table loaded into a throwaway
     cluster (scripts/pg-cluster.sh); rows/s of Strata's read (spool_rate example: binary COPY
     into an Arrow spool) beside psql's \\copy of the same query to /dev/null, text and binary,
     and `strata fit --from` against the same fit from the CSV.
  6. With BENCH_GPU=1 (on a machine with a GPU): ms per Lloyd pass on the GPU and the CPU at
     four shapes, against the device floor.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "work"
STRATA = ROOT / "target" / "release" / "strata"
LLOYD = ROOT / "target" / "release" / "examples" / "lloyd_fixed"
INGEST = ROOT / "target" / "release" / "examples" / "ingest_rate"
SPOOL = ROOT / "target" / "release" / "examples" / "spool_rate"
REPS = int(os.environ.get("BENCH_REPS", "5"))
ITERS = int(os.environ.get("BENCH_ITERS", "20"))
THREADS = 2


def median(xs):
    return statistics.median(xs)


def floor_rates():
    """Copy bandwidth (GB/s, read + write) and f32 matmul throughput (GFLOP/s), 2 threads."""
    a = np.ones(64 * 2**20 // 4 * 8, dtype=np.float32)  # 512 MiB
    b = np.empty_like(a)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        times.append(time.perf_counter() - t)
    bw = 2 * a.nbytes / min(times) / 1e9
    m = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    with threadpool_limits(THREADS):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            m @ m
            times.append(time.perf_counter() - t)
    flops = 2 * 2048**3 / min(times) / 1e9
    return bw, flops


def lloyd_case(n, d, k, bw, gflops):
    """ms per Lloyd iteration of each tool on the same data and starting centroids, measured as
    (time of ITERS + 1 iterations - time of 1) / ITERS, so that setup, the first pass and the
    final labelling cancel. The tools run alternately (A B C D, A B C D, ...) REPS times."""
    rng = np.random.default_rng(n + d + k)
    x = rng.standard_normal((n, d), dtype=np.float32)
    init = x[rng.choice(n, k, replace=False)].copy()
    WORK.mkdir(parents=True, exist_ok=True)
    xf, cf = WORK / f"x_{n}_{d}.f32", WORK / f"c_{n}_{d}_{k}.f32"
    x.astype("<f4").tofile(xf)
    init.astype("<f4").tofile(cf)

    def strata(iters, bounds="auto"):
        out = subprocess.run([str(LLOYD), str(xf), str(n), str(d), str(cf), str(k), str(iters), "cpu", bounds],
                             check=True, capture_output=True, text=True,
                             env={**os.environ, "RAYON_NUM_THREADS": str(THREADS)}).stdout
        r = json.loads(out)
        return r["seconds"], r["inertia"], r

    def sklearn(algorithm):
        def run(iters):
            from sklearn.cluster import KMeans
            with threadpool_limits(THREADS):
                km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=iters, tol=0.0, algorithm=algorithm)
                t = time.perf_counter()
                km.fit(x)
                secs = time.perf_counter() - t
            return secs, float(km.inertia_), None
        return run

    def faiss_(iters):
        import faiss
        faiss.omp_set_num_threads(THREADS)
        km = faiss.Kmeans(d, k, niter=iters, verbose=False, max_points_per_centroid=10**9, seed=1)
        t = time.perf_counter()
        km.train(x, init_centroids=init)
        secs = time.perf_counter() - t
        dist, _ = km.index.search(x, 1)
        return secs, float(dist.astype(np.float64).sum()), None

    tools = [("strata", strata), ("strata yinyang", lambda iters: strata(iters, "yinyang")),
             ("scikit-learn lloyd", sklearn("lloyd")),
             ("scikit-learn elkan", sklearn("elkan")), ("faiss", faiss_)]
    per = {name: [] for name, _ in tools}
    last = {}
    # One untimed run of each first: a tool's first fit at a shape pays for first-touch pages
    # and pools that later ones reuse, which inflated t(1) and so shrank (t(21) - t(1)).
    for _, fn in tools:
        fn(1)
    for _ in range(REPS):
        for name, fn in tools:
            # t(1) measured before and after t(ITERS + 1), the smaller kept: the run that
            # follows another tool's can pay for that tool's memory being handed back, which
            # made scikit-learn's t(1) at 10M rows seconds long and its difference implausible
            # (17 ms an iteration: 37 GB/s from a 28 GB/s machine).
            one, _, _ = fn(1)
            many, inertia, extra = fn(ITERS + 1)
            one = min(one, fn(1)[0])
            per[name].append((many - one) * 1e3 / ITERS)
            last[name] = (inertia, extra)
    floor_ms = max(x.nbytes / (bw * 1e9 / 2), 3 * n * k * d / (gflops * 1e9)) * 1e3
    results = {name: (median(v), min(v), max(v), last[name][0]) for name, v in per.items()}
    return results, floor_ms, last["strata"][1], last["strata yinyang"][1]


PANDAS_SCRIPT = r'''
import json, sys, time, numpy as np, pandas as pd
from sklearn.preprocessing import StandardScaler
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits
src, init_path, out, k, iters = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t = [time.perf_counter()]
parquet = src.endswith(".parquet")
df = pd.read_parquet(src) if parquet else pd.read_csv(src)
t.append(time.perf_counter())
X = StandardScaler().fit_transform(df.drop(columns=["id"]).to_numpy(dtype=np.float64)).astype(np.float32)
init = pd.read_csv(init_path).to_numpy(dtype=np.float32)
t.append(time.perf_counter())
with threadpool_limits(2):
    km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=iters, tol=0.0, algorithm="lloyd").fit(X)
t.append(time.perf_counter())
result = pd.DataFrame({"id": df["id"], "segment": km.labels_})
if parquet:
    result.to_parquet(out, index=False)
else:
    result.to_csv(out, index=False)
t.append(time.perf_counter())
names = ["read_parquet", "scale", "k-means", "to_parquet"] if parquet else ["read_csv", "scale", "k-means", "to_csv"]
stages = dict(zip(names, np.diff(t).tolist()))
print(json.dumps({"inertia": float(km.inertia_), "stages": stages}))
'''


def timed(cmd, env=None):
    """Wall seconds and peak RSS (MiB) of a command, via /usr/bin/time."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, check=True, capture_output=True, text=True, env=env)
    secs = time.perf_counter() - t
    peak_kib = int(p.stderr.strip().splitlines()[-1])
    return secs, peak_kib / 1024, p.stdout


def end_to_end(rows, d=16, k=8):
    WORK.mkdir(parents=True, exist_ok=True)
    csv = WORK / f"synth_{rows}.csv"
    if not csv.exists():
        subprocess.run([str(STRATA), "-q", "synth", "--rows", str(rows), "--dims", str(d), "--clusters", str(k),
                        "--seed", "11", "--out", str(csv)], check=True)
    # Same starting centroids for both, in the z-scored space: k rows of the data, scaled.
    import pandas as pd
    head = pd.read_csv(csv, nrows=200_000)
    cols = [c for c in head.columns if c != "id"]
    full = pd.read_csv(csv, usecols=cols).to_numpy(dtype=np.float64)
    mean, std = full.mean(axis=0), full.std(axis=0)
    idx = np.random.default_rng(5).choice(len(full), k, replace=False)
    init = ((full[idx] - mean) / std).astype(np.float32)
    del full
    init_csv = WORK / f"init_{rows}.csv"
    pd.DataFrame(init, columns=cols).to_csv(init_csv, index=False, float_format="%.9g")
    script = WORK / "pandas_kmeans.py"
    script.write_text(PANDAS_SCRIPT)
    env = {**os.environ, "RAYON_NUM_THREADS": str(THREADS)}
    s_runs, p_runs, st_runs = [], [], []
    fit = [str(STRATA), "-q", "fit", "-s", "features", "--id-column", "id", "--init", str(init_csv),
           "--max-iter", str(ITERS), "--tol", "0"]
    for _ in range(REPS):
        out_dir = WORK / "strata_out"
        s_runs.append(timed(fit + ["--stream", "never", "--out", str(out_dir), str(csv)], env))
        st_runs.append(timed(fit + ["--stream", "always", "--out", str(WORK / "strata_stream_out"), str(csv)], env))
        p_runs.append(timed([sys.executable, str(script), str(csv), str(init_csv), str(WORK / "pandas_out.csv"),
                             str(k), str(ITERS)], env))
    s_seg = json.load(open(WORK / "strata_out" / "segments.json"))
    s_inertia = s_seg["inertia"]
    st_inertia = json.load(open(WORK / "strata_stream_out" / "segments.json"))["inertia"]
    p_out = [json.loads(r[2].strip().splitlines()[-1]) for r in p_runs]
    p_inertia = p_out[0]["inertia"]
    return {
        "rows": rows, "mb": csv.stat().st_size / 1e6, "matrix_mib": rows * d * 4 / 2**20,
        "stream_s": median([r[0] for r in st_runs]), "stream_mib": max(r[1] for r in st_runs),
        "stream_inertia": st_inertia,
        "strata_s": median([r[0] for r in s_runs]), "strata_mib": max(r[1] for r in s_runs),
        "pandas_s": median([r[0] for r in p_runs]), "pandas_mib": max(r[1] for r in p_runs),
        "strata_inertia": s_inertia, "pandas_inertia": p_inertia,
        # Stage seconds of the last run of each (Strata's from its segments.json).
        "strata_stages": s_seg.get("timings_s", {}), "pandas_stages": p_out[-1]["stages"],
    }


def hundred_million(rows=100_000_000, k=16):
    """A streamed fit of a file that an in-memory fit could not hold: default settings (k-means++
    restarts on a 1M-row sample, then Lloyd on every row to convergence)."""
    csv = WORK / f"synth_{rows}.csv"
    if not csv.exists():
        subprocess.run([str(STRATA), "-q", "synth", "--rows", str(rows), "--kind", "features", "--out", str(csv)],
                       check=True)
    out = WORK / "strata_100m_out"
    env = {**os.environ, "RAYON_NUM_THREADS": str(THREADS)}
    secs, mib, _ = timed([str(STRATA), "-q", "fit", "-s", "features", "--id-column", "id", "--k", str(k),
                          "--out", str(out), str(csv)], env)
    seg = json.load(open(out / "segments.json"))
    return {"rows": rows, "mb": csv.stat().st_size / 1e6, "s": secs, "mib": mib,
            "matrix_mib": rows * len(seg["features"]) * 4 / 2**20, "seg": seg}


def parquet_case(rows, k=8):
    """The synthetic table of `end_to_end` as Parquet (pyarrow, snappy, its default row groups):
    Strata reading it against reading the CSV, pandas.read_parquet, and the whole fit from it
    against the script on the same file (read_parquet, scaling, KMeans, to_parquet), Strata
    writing its assignments as Parquet too (`--format parquet`; and, for the record, as CSV);
    alternating."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    csv = WORK / f"synth_{rows}.csv"
    path = WORK / f"synth_{rows}.parquet"
    if not path.exists():
        pq.write_table(pacsv.read_csv(csv), path)
    init_csv = WORK / f"init_{rows}.csv"
    script = WORK / "pandas_kmeans.py"
    script.write_text(PANDAS_SCRIPT)
    env = {**os.environ, "RAYON_NUM_THREADS": str(THREADS)}
    read = {"csv": [], "parquet": []}
    pandas_read, s_runs, p_runs, c_runs = [], [], [], []
    code = ("import sys, time, pandas; t = time.perf_counter(); pandas.read_parquet(sys.argv[1]); "
            "print(time.perf_counter() - t)")
    fit = [str(STRATA), "-q", "fit", "-s", "features", "--id-column", "id", "--init", str(init_csv),
           "--max-iter", str(ITERS), "--tol", "0", "--stream", "never"]
    for _ in range(REPS):
        for kind, f in (("csv", csv), ("parquet", path)):
            p = subprocess.run([str(INGEST), str(f), "id", "1"], env=env, check=True, capture_output=True, text=True)
            read[kind].append(float(p.stdout.split("median ")[1].split(" s")[0]))
        pandas_read.append(float(subprocess.run([sys.executable, "-c", code, str(path)], check=True,
                                                capture_output=True, text=True).stdout))
        s_runs.append(timed(fit + ["--format", "parquet", "--out", str(WORK / "strata_parquet_out"),
                                   str(path)], env))
        c_runs.append(timed(fit + ["--out", str(WORK / "strata_parquet_csv_out"), str(path)], env))
        p_runs.append(timed([sys.executable, str(script), str(path), str(init_csv),
                             str(WORK / "pandas_out.parquet"), str(k), str(ITERS)], env))
    s_seg = json.load(open(WORK / "strata_parquet_out" / "segments.json"))
    p_out = [json.loads(r[2].strip().splitlines()[-1]) for r in p_runs]
    return {
        "rows": rows, "mb": path.stat().st_size / 1e6, "csv_read_s": median(read["csv"]),
        "parquet_read_s": median(read["parquet"]), "pandas_read_s": median(pandas_read),
        "strata_s": median([r[0] for r in s_runs]), "strata_mib": max(r[1] for r in s_runs),
        "strata_csv_out_s": median([r[0] for r in c_runs]),
        "pandas_s": median([r[0] for r in p_runs]), "pandas_mib": max(r[1] for r in p_runs),
        "strata_inertia": s_seg["inertia"], "pandas_inertia": p_out[0]["inertia"],
        "strata_stages": s_seg.get("timings_s", {}), "pandas_stages": p_out[-1]["stages"],
    }


def postgres_case(rows, k=8):
    """The synthetic table of `end_to_end` in a throwaway PostgreSQL cluster: Strata's read
    (spool_rate) against psql's \\copy of the same query to /dev/null (text and binary, the
    client's own fastest paths), and `strata fit --from` against the fit from the CSV;
    alternating. Returns None when the server is not installed."""
    import glob
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    if not bins:
        return None
    psql = bins[-1]
    started = subprocess.run(["bash", str(ROOT / "scripts" / "pg-cluster.sh"), "start"], check=True,
                             capture_output=True, text=True).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in started.splitlines())
    env = {k: v.strip("'") for k, v in env.items()}
    url, folder = env["STRATA_TEST_POSTGRES"], env["STRATA_TEST_POSTGRES_DIR"]
    try:
        csv = WORK / f"synth_{rows}.csv"
        header = csv.open().readline().strip().split(",")
        columns = ", ".join(f'"{c}" {"bigint" if c == "id" else "double precision"}' for c in header)
        sql = lambda command: subprocess.run([psql, url, "-q", "-v", "ON_ERROR_STOP=1", "-c", command],  # noqa: E731
                                             check=True, capture_output=True, text=True)
        sql(f"CREATE TABLE synth ({columns})")
        sql(f"\\copy synth FROM '{csv}' CSV HEADER")
        sql("VACUUM ANALYZE synth")
        query = "SELECT * FROM synth"
        env_run = {**os.environ, "RAYON_NUM_THREADS": str(THREADS)}
        init_csv = WORK / f"init_{rows}.csv"
        fit = [str(STRATA), "-q", "fit", "-s", "features", "--id-column", "id", "--init", str(init_csv),
               "--max-iter", str(ITERS), "--tol", "0", "--stream", "never"]
        runs = {"strata": [], "psql text": [], "psql binary": [], "fit pg": [], "fit csv": []}
        for _ in range(REPS):
            p = subprocess.run([str(SPOOL), url, query, "1"], env=env_run, check=True, capture_output=True, text=True)
            runs["strata"].append(float(p.stdout.split("median ")[1].split(" s")[0]))
            for kind, opts in (("psql text", ""), ("psql binary", " (FORMAT binary)")):
                t0 = time.perf_counter()
                sql(f"\\copy ({query}) TO '/dev/null'{opts}")
                runs[kind].append(time.perf_counter() - t0)
            runs["fit pg"].append(timed(fit + ["--out", str(WORK / "strata_pg_out"), "--from", url,
                                               "--table", "synth"], env_run))
            runs["fit csv"].append(timed(fit + ["--out", str(WORK / "strata_pg_csv_out"), str(csv)], env_run))
        same = (WORK / "strata_pg_out" / "assignments.csv").read_bytes() == \
            (WORK / "strata_pg_csv_out" / "assignments.csv").read_bytes()
        return {"rows": rows, **{k: median([r if isinstance(r, float) else r[0] for r in v]) for k, v in runs.items()},
                "fit_pg_mib": max(r[1] for r in runs["fit pg"]), "same": same}
    finally:
        subprocess.run(["bash", str(ROOT / "scripts" / "pg-cluster.sh"), "stop", folder], check=False)


def ingest_case(csv, id_column="id"):
    """MB/s of a CSV parsed into columns (numbers, else text, as pandas types them): Strata on 1
    and 2 threads, pandas.read_csv, alternating."""
    mb = csv.stat().st_size / 1e6
    strata = {1: [], 2: []}
    pandas_s = []
    code = ("import sys, time, pandas; t = time.perf_counter(); pandas.read_csv(sys.argv[1]); "
            "print(time.perf_counter() - t)")
    for _ in range(REPS):
        for threads in (1, 2):
            env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
            p = subprocess.run([str(INGEST), str(csv), id_column, "1"], env=env, check=True,
                               capture_output=True, text=True)
            strata[threads].append(float(p.stdout.split("median ")[1].split(" s")[0]))
        pandas_s.append(float(subprocess.run([sys.executable, "-c", code, str(csv)], check=True,
                                             capture_output=True, text=True).stdout))
    return {"file": csv.name, "mb": mb, "one": mb / median(strata[1]), "two": mb / median(strata[2]),
            "pandas": mb / median(pandas_s)}


def gpu_case(n, d, k):
    """ms per Lloyd pass on the GPU and on the CPU with every host core (lloyd_fixed, same data
    and starting centroids), as (t(ITERS + 1) - t(1)) / ITERS, alternating; and the device
    floor: the rows read once at BENCH_GPU_BW GB/s (default 4800, an H200's HBM3e)."""
    rng = np.random.default_rng(n + d + k)
    WORK.mkdir(parents=True, exist_ok=True)
    xf, cf = WORK / f"x_{n}_{d}.f32", WORK / f"c_{n}_{d}_{k}.f32"
    if not xf.exists():
        rng.standard_normal((n, d), dtype=np.float32).astype("<f4").tofile(xf)
    x = np.memmap(xf, dtype="<f4", mode="r", shape=(n, d))
    x[rng.choice(n, k, replace=False)].astype("<f4").tofile(cf)

    def run(backend, iters):
        env = {k: v for k, v in os.environ.items() if k != "RAYON_NUM_THREADS"}
        out = subprocess.run([str(LLOYD), str(xf), str(n), str(d), str(cf), str(k), str(iters), backend],
                             check=True, capture_output=True, text=True, env=env).stdout
        return json.loads(out.strip().splitlines()[-1])

    per = {"gpu": [], "cpu": []}
    last = {}
    for _ in range(REPS):
        for backend in ("gpu", "cpu"):
            one, many = run(backend, 1), run(backend, ITERS + 1)
            per[backend].append((many["seconds"] - one["seconds"]) * 1e3 / ITERS)
            last[backend] = many
    bw = float(os.environ.get("BENCH_GPU_BW", "4800"))
    floor_ms = n * d * 4 / (bw * 1e9) * 1e3
    return {b: (median(v), min(v), max(v)) for b, v in per.items()}, floor_ms, last


def main():
    cases = [(1_000_000, 16, 8), (1_000_000, 64, 64), (10_000_000, 16, 16), (1_000_000, 32, 256)]
    csv_rows = [1_000_000, 10_000_000]
    if os.environ.get("BENCH_QUICK"):
        cases, csv_rows = cases[:1], csv_rows[:1]
    bw, gflops = floor_rates()
    lines = ["# Benchmark results", "",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Command: `bench/run.sh`. "
             f"{REPS} runs each (median), {THREADS} threads for every tool, {ITERS} Lloyd iterations from the "
             "same starting centroids, tol 0.", "",
             f"Measured floor: copy bandwidth {bw:.1f} GB/s (read + write), f32 matmul {gflops:.0f} GFLOP/s.", "",
             "## Lloyd iterations, data in memory", "",
             f"ms per iteration as (time of {ITERS + 1} iterations - time of 1) / {ITERS} (time of 1: the smaller of a run before and one after), median (min-max) of "
             f"{REPS} alternating runs. `fastest peer / Strata` is the speed-up over the fastest of the three "
             "peers at that shape. Strata's rows searched: the share of rows a pass searched among all k "
             "centroids, averaged over the passes after the first (the rest were settled by bounds). "
             "Strata chooses its bounds itself (the kind is shown); `Strata, Yinyang forced` is the same "
             "run with Yinyang's group bounds forced, and the share of the n·k distances its passes after "
             "the first computed, against the chosen bounds' share.", "",
             "| n | d | k | Strata | scikit-learn lloyd | scikit-learn elkan | faiss | fastest peer / Strata | "
             "floor ms | Strata / floor | Strata kernel, bounds, rows searched | Strata, Yinyang forced: ms, "
             "distances (chosen's) | inertia rel. diff (lloyd, elkan, faiss) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda t: f"{t[0]:.2f} ({t[1]:.2f}-{t[2]:.2f})"  # noqa: E731
    for n, d, k in cases:
        r, floor_ms, info, yy = lloyd_case(n, d, k, bw, gflops)
        s, y = r["strata"], r["strata yinyang"]
        peers = [r["scikit-learn lloyd"], r["scikit-learn elkan"], r["faiss"]]
        fastest = min(p[0] for p in peers)
        rel = lambda a: abs(a - s[3]) / abs(s[3])  # noqa: E731
        searched = info.get("searched_share", float("nan"))
        lines.append(f"| {n:,} | {d} | {k} | {fmt(s)} | {fmt(peers[0])} | {fmt(peers[1])} | {fmt(peers[2])} | "
                     f"{fastest / s[0]:.2f} | {floor_ms:.2f} | {s[0] / floor_ms:.1f} | "
                     f"{info.get('kernel', '?')}, {info.get('bounds', '?')}, {100 * searched:.0f}% | "
                     f"{fmt(y)}, {100 * yy.get('distance_share', float('nan')):.0f}% "
                     f"({100 * info.get('distance_share', float('nan')):.0f}%) | "
                     f"{rel(peers[0][3]):.1e}, {rel(peers[1][3]):.1e}, {rel(peers[2][3]):.1e} |")
        print(lines[-1], flush=True)
    lines += ["", "## End to end from a CSV (16 numeric columns, k = 8)", "",
              "| rows | CSV MB | Strata s | pandas + sklearn s | speed-up | Strata peak MiB | pandas peak MiB | "
              "memory ratio | inertia rel. diff |", "|---|---|---|---|---|---|---|---|---|"]
    e2e = []
    for rows in csv_rows:
        e = end_to_end(rows)
        e2e.append(e)
        lines.append(f"| {rows:,} | {e['mb']:.0f} | {e['strata_s']:.2f} | {e['pandas_s']:.2f} | "
                     f"{e['pandas_s'] / e['strata_s']:.1f}× | {e['strata_mib']:.0f} | {e['pandas_mib']:.0f} | "
                     f"{e['strata_mib'] / e['pandas_mib']:.2f} | "
                     f"{abs(e['strata_inertia'] - e['pandas_inertia']) / abs(e['pandas_inertia']):.1e} |")
        print(lines[-1], flush=True)
    lines += ["", "Stage seconds of the last run of each (Strata: segments.json's `timings_s`; the script: "
              "its own clock around read_csv, scaling, KMeans and to_csv):", "",
              "| rows | Strata stages | pandas + sklearn stages |", "|---|---|---|"]
    for e in e2e:
        fmt_st = lambda st: ", ".join(f"{k} {v:.2f}" for k, v in st.items())  # noqa: E731
        lines.append(f"| {e['rows']:,} | {fmt_st(e['strata_stages'])} | {fmt_st(e['pandas_stages'])} |")
        print(lines[-1], flush=True)
    lines += ["", "## Streamed fits (`--stream always`, same data and starting centroids as above)", "",
              "Only the f32 matrix, ids and lines are held; the target is a peak under 3× the f32 matrix. The "
              "strategy's scaling is learned from a 256 MB sample of chunks, so the inertia differs slightly "
              "from the in-memory fit's above 256 MB of CSV.", "",
              "| rows | Strata streamed s | peak MiB | f32 matrix MiB | peak / matrix | in-memory peak MiB | "
              "inertia rel. diff to in-memory |", "|---|---|---|---|---|---|---|"]
    for e in e2e:
        lines.append(f"| {e['rows']:,} | {e['stream_s']:.2f} | {e['stream_mib']:.0f} | {e['matrix_mib']:.0f} | "
                     f"{e['stream_mib'] / e['matrix_mib']:.2f} | {e['strata_mib']:.0f} | "
                     f"{abs(e['stream_inertia'] - e['strata_inertia']) / abs(e['strata_inertia']):.1e} |")
        print(lines[-1], flush=True)
    lines += ["", "## From Parquet (the same synthetic tables, written by pyarrow: snappy, default row groups)", "",
              f"Reading: `ingest_rate` (the table read whole, {THREADS} threads) on the CSV and on the Parquet "
              "file, and pandas.read_parquet (pyarrow, its own threads). Fit: `strata fit` from the Parquet "
              "file writing its assignments as Parquet (`--format parquet`; same starting centroids and "
              "iterations as above) against the script reading and writing Parquet; the same fit writing "
              "assignments.csv beside it. Median of alternating runs.", "",
              "| rows | Parquet MB | Strata CSV read s | Strata Parquet read s | CSV / Parquet | "
              "pandas.read_parquet s | Strata fit s | (CSV out s) | pandas + sklearn s | speed-up | "
              "Strata peak MiB | pandas peak MiB | inertia rel. diff |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    pq_cases = []
    for rows in csv_rows:
        q = parquet_case(rows)
        pq_cases.append(q)
        lines.append(f"| {rows:,} | {q['mb']:.0f} | {q['csv_read_s']:.2f} | {q['parquet_read_s']:.2f} | "
                     f"{q['csv_read_s'] / q['parquet_read_s']:.1f}× | {q['pandas_read_s']:.2f} | "
                     f"{q['strata_s']:.2f} | {q['strata_csv_out_s']:.2f} | {q['pandas_s']:.2f} | "
                     f"{q['pandas_s'] / q['strata_s']:.1f}× | "
                     f"{q['strata_mib']:.0f} | {q['pandas_mib']:.0f} | "
                     f"{abs(q['strata_inertia'] - q['pandas_inertia']) / abs(q['pandas_inertia']):.1e} |")
        print(lines[-1], flush=True)
    lines += ["", "| rows | Strata stages (from Parquet) | pandas + sklearn stages (from Parquet) |", "|---|---|---|"]
    for q in pq_cases:
        fmt_st = lambda st: ", ".join(f"{k} {v:.2f}" for k, v in st.items())  # noqa: E731
        lines.append(f"| {q['rows']:,} | {fmt_st(q['strata_stages'])} | {fmt_st(q['pandas_stages'])} |")
    lines += ["", "## From PostgreSQL (the same synthetic tables in a throwaway local cluster, Unix socket)", "",
              "Read: Strata's spool (`spool_rate`: one binary COPY decoded into Arrow record batches written "
              "to a temp file, what `--from` does before the fit) beside `psql \\copy (SELECT * FROM synth) TO "
              "'/dev/null'` in text and in binary format (the client only moves the bytes). Fit: `strata fit "
              "--from URL --table synth` against the same fit from the CSV (same starting centroids). Median "
              "of alternating runs.", "",
              "| rows | Strata read s | rows/s | psql text s | rows/s | psql binary s | rows/s | Strata / psql binary | "
              "fit from PostgreSQL s | fit from CSV s | peak MiB (PostgreSQL) | same assignments.csv |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for rows in csv_rows:
        g = postgres_case(rows)
        if g is None:
            lines.append("| (no PostgreSQL server installed: apt-get install postgresql) |||||||||||")
            break
        rate = lambda s: f"{g['rows'] / s:,.0f}"  # noqa: E731
        lines.append(f"| {rows:,} | {g['strata']:.2f} | {rate(g['strata'])} | {g['psql text']:.2f} | "
                     f"{rate(g['psql text'])} | {g['psql binary']:.2f} | {rate(g['psql binary'])} | "
                     f"{g['strata'] / g['psql binary']:.2f} | {g['fit pg']:.2f} | {g['fit csv']:.2f} | "
                     f"{g['fit_pg_mib']:.0f} | {'yes' if g['same'] else 'NO'} |")
        print(lines[-1], flush=True)
    if os.environ.get("BENCH_100M"):
        h = hundred_million()
        seg, init = h["seg"], h["seg"]["init_sample"]
        t = seg["timings_s"]
        lines += ["", "## 100M rows streamed (`BENCH_100M=1`; `strata fit --k 16`, defaults)", "",
                  "| rows | CSV MB | wall s | peak MiB | f32 matrix MiB | peak / matrix | iterations | "
                  "k-means++ sample rows | inertia at sample centroids | final inertia | gap |",
                  "|---|---|---|---|---|---|---|---|---|---|---|",
                  f"| {h['rows']:,} | {h['mb']:.0f} | {h['s']:.0f} | {h['mib']:.0f} | {h['matrix_mib']:.0f} | "
                  f"{h['mib'] / h['matrix_mib']:.2f} | {seg['iterations']} | {init['rows']:,} | "
                  f"{init['inertia_at_sample_centroids']:.6e} | {init['inertia']:.6e} | {100 * init['gap']:.3f}% |",
                  "", "Stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()) + "."]
        print("\n".join(lines[-5:]), flush=True)
    lines += ["", "## Ingest alone (CSV parsed into typed columns)", "",
              f"Median of {REPS} alternating runs, each in a fresh process. Columns are read as numbers where "
              "every value is one, else as text, as pandas.read_csv types them; the log has no id column "
              "read. pandas.read_csv is single-threaded, so `per core` compares like with like.", "",
              "| file | CSV MB | Strata 1 thread MB/s | Strata 2 threads MB/s | per core (2 threads) | "
              "pandas.read_csv MB/s | per core / pandas |", "|---|---|---|---|---|---|---|"]
    files = [(WORK / f"synth_{rows}.csv", "id") for rows in csv_rows]
    log = ROOT.parent / "shared" / "data" / "online_retail" / "online_retail.csv"
    if log.exists():
        files.append((log, "-"))
    for csv, id_column in files:
        g = ingest_case(csv, id_column)
        lines.append(f"| {g['file']} | {g['mb']:.0f} | {g['one']:.0f} | {g['two']:.0f} | {g['two'] / 2:.0f} | "
                     f"{g['pandas']:.0f} | {g['two'] / 2 / g['pandas']:.2f} |")
        print(lines[-1], flush=True)
    if os.environ.get("BENCH_GPU"):
        lines += ["", "## GPU (wgpu, `BENCH_GPU=1`): ms per Lloyd pass", "",
                  f"lloyd_fixed on the GPU and on the CPU with every host core ({os.cpu_count()}), same data and "
                  f"starting centroids, (t({ITERS + 1}) - t(1)) / {ITERS}, median (min-max) of {REPS} alternating "
                  "runs. Device floor: the rows read once at BENCH_GPU_BW GB/s. `device passes`: of the GPU "
                  "run's passes, summed on the device / tallied on the host.", "",
                  "| n | d | k | GPU ms | CPU ms | GPU / CPU | device floor ms | GPU / floor | device passes | "
                  "inertia rel. diff |", "|---|---|---|---|---|---|---|---|---|---|"]
        for n, d, k in [(1_000_000, 16, 8), (1_000_000, 64, 64), (10_000_000, 16, 16), (10_000_000, 32, 256)]:
            r, floor_ms, last = gpu_case(n, d, k)
            g, c = r["gpu"], r["cpu"]
            p = last["gpu"]["gpu_passes"]
            rel = abs(last["gpu"]["inertia"] - last["cpu"]["inertia"]) / abs(last["cpu"]["inertia"])
            lines.append(f"| {n:,} | {d} | {k} | {fmt(g)} | {fmt(c)} | {g[0] / c[0]:.2f} | {floor_ms:.3f} | "
                         f"{g[0] / floor_ms:.1f} | {p['device']} / {p['host']} | {rel:.1e} |")
            print(lines[-1], flush=True)
        lines.append(f"\nAdapter: {last['gpu']['backend']}.")
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
