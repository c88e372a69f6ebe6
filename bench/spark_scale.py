"""Strata through Spark (local mode) beside the single-machine strata on the same data, with the
time per stage: the scale measurement of the Spark issue.

    .venv-spark/bin/python bench/spark_scale.py [ROWS] [--master local[2]]

Makes ROWS synthetic demographic customers (Parquet, in bench/work/spark), then times
- single machine: `strata fit` on every row (k = 4, seed 7) and `strata assign` (Parquet out);
- Spark: the session's start, `strata_spark.fit` with a 10% sample (its stages: the sample to
  the driver, strata fit on it, Lloyd passes of strata step on every partition, the final
  model, assign and merge), and `strata_spark.assign` with the scored rows written as Parquet.
Prints a table and writes bench/work/spark/scale.json. Needs `scripts/test.sh`'s .venv-spark
and a release build (`cargo build --release --workspace`; STRATA_BIN overrides).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench/work/spark"


def timed(f):
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000_000
    master = sys.argv[sys.argv.index("--master") + 1] if "--master" in sys.argv else "local[2]"
    strata = os.environ.get("STRATA_BIN", str(REPO / "target/release/strata"))
    os.environ["STRATA_BIN"] = strata
    os.environ["PYSPARK_PYTHON"] = sys.executable
    # The tree's strata_spark on the driver and on the executors (not an installed copy).
    tree = str(REPO / "integrations/spark")
    sys.path.insert(0, tree)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [tree, os.environ.get("PYTHONPATH")] if p)
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import strata_spark

    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / f"demographic-{rows}.parquet"
    if not data.exists():
        csv = WORK / "demographic.csv"
        subprocess.run([strata, "-q", "synth", "--kind", "demographic", "--rows", str(rows),
                        "--seed", "21", "--out", str(csv)], check=True)
        pq.write_table(pacsv.read_csv(csv), data, row_group_size=1 << 20)
        csv.unlink()

    def run(*args):
        subprocess.run([strata, "-q", *args], check=True, stdout=subprocess.DEVNULL)

    table = []
    _, t = timed(lambda: run("fit", "--strategy", "demographic", "--id-column", "customer_id",
                             "--k", "4", "--seed", "7", "--format", "parquet",
                             "-o", str(WORK / "single-fit"), str(data)))
    table.append(("single machine", "strata fit, every row", t))
    _, t = timed(lambda: run("assign", "--model", str(WORK / "single-fit/model.json"),
                             str(data), "--format", "parquet", "-o", str(WORK / "single-assign")))
    table.append(("single machine", "strata assign, every row", t))

    from pyspark.sql import SparkSession

    spark, t = timed(lambda: SparkSession.builder.master(master)
                     .config("spark.ui.showConsoleProgress", "false")
                     .config("spark.driver.memory", "6g").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    table.append((f"spark {master}", "session start", t))
    df = spark.read.parquet(str(data))
    model, t = timed(lambda: strata_spark.fit(df, strategy="demographic", k=4,
                                              id_column="customer_id", sample_fraction=0.1,
                                              seed=7, out=str(WORK / "spark-fit")))
    for stage, seconds in model.timings.items():
        table.append((f"spark {master}", f"fit: {stage}", seconds))
    table.append((f"spark {master}", "strata_spark.fit, total", t))

    def assign_and_write():
        scored = strata_spark.assign(df, model, out=str(WORK / "spark-assign"))
        scored.write.mode("overwrite").parquet(str(WORK / "spark-scored.parquet"))
        scored.unpersist()

    _, t = timed(assign_and_write)
    table.append((f"spark {master}", "strata_spark.assign + write Parquet", t))
    spark.stop()

    inertia = {
        name: json.loads((WORK / name / "segments.json").read_text())["inertia"]
        for name in ("single-assign", "spark-fit")
    }
    print(f"\n{rows:,} rows ({data.stat().st_size / 1e6:.0f} MB Parquet), strata {strata}\n")
    print(f"{'where':<18} {'stage':<58} {'seconds':>8}")
    for where, stage, seconds in table:
        print(f"{where:<18} {stage:<58} {seconds:8.1f}")
    print(f"\ninertia: single-machine fit {inertia['single-assign']:.6e}, "
          f"Spark fit from a 10% sample {inertia['spark-fit']:.6e}")
    (WORK / "scale.json").write_text(json.dumps(
        {"rows": rows, "master": master, "stages": table, "inertia": inertia}, indent=2))


if __name__ == "__main__":
    main()
