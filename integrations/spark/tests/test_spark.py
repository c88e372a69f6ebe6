"""strata_spark against the single-machine strata on the same data, in Spark local[2].

Run by scripts/test.sh with the pinned pyspark and Debian's OpenJDK 17, strata_spark installed
with the binary bundled; by hand, from the repository:
    STRATA_BIN=target/debug/strata PYTHONPATH=integrations/spark \
        .venv-spark/bin/python -m unittest discover -s integrations/spark/tests

STRATA_SPARK_ROWS sets the synthetic table's rows (default 1,000,000).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import pyarrow.parquet as pq

import strata_spark

REPO = Path(__file__).resolve().parents[3]
ROWS = int(os.environ.get("STRATA_SPARK_ROWS", "1000000"))
STRATA = strata_spark.strata_binary()
ID = "customer_id"


def strata(*args):
    proc = subprocess.run([STRATA, "-q", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"strata {args} failed: {proc.stderr}")
    return proc.stdout


def comparable(path):
    """segments.json without what is about the run rather than the customers."""
    seg = json.loads(Path(path).read_text())
    for key in ("timings_s", "scored_with"):
        seg.pop(key, None)
    seg["input"].pop("file")
    seg["input"].pop("format")
    seg["backend"].pop("reason")
    return seg


def assignments(path):
    """id → (segment, label, distance, boundary_ratio, ambiguous) of a run's Parquet rows."""
    t = pq.read_table(path).to_pydict()
    return {
        i: (s, str(l), d, b, a)
        for i, s, l, d, b, a in zip(
            t["id"], t["segment"], t["label"], t["distance"], t["boundary_ratio"], t["ambiguous"]
        )
    }


class SparkParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from pyspark.sql import SparkSession

        # The executors' Python is this one (with pyarrow and strata_spark), not the PATH's.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        cls.tmp = Path(tempfile.mkdtemp(prefix="strata-spark-test."))
        cls.csv = cls.tmp / "customers.csv"
        strata("synth", "--kind", "demographic", "--rows", str(ROWS), "--seed", "21",
               "--out", str(cls.csv))
        cls.spark = (
            SparkSession.builder.master("local[2]")
            .appName("strata-spark-test")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "3g")
            # Several partitions from one file, in the file's order.
            .config("spark.sql.files.maxPartitionBytes", str(4 << 20))
            .getOrCreate()
        )
        cls.spark.sparkContext.setLogLevel("ERROR")
        cls.df = cls.spark.read.csv(str(cls.csv), header=True, inferSchema=True)
        # Rows shuffled across partitions: the merged tallies must not depend on the split.
        cls.shuffled = cls.df.repartition(5)
        # The single-machine runs the Spark ones are held to.
        cls.single = cls.tmp / "single"
        strata("fit", "--strategy", "demographic", "--id-column", ID, "--k", "4", "--seed", "7",
               "--format", "parquet", "-o", str(cls.single), str(cls.csv))
        cls.single_scored = cls.tmp / "single-scored"
        strata("assign", "--model", str(cls.single / "model.json"), str(cls.csv),
               "--format", "parquet", "-o", str(cls.single_scored))

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def spark_rows(self, scored):
        rows = scored.collect()
        return {
            r[ID]: (r["segment"], r["label"], r["distance"], r["boundary_ratio"], r["ambiguous"])
            for r in rows
        }

    def test_assign_equals_the_single_machine_assign(self):
        out = self.tmp / "spark-scored"
        scored = strata_spark.assign(self.shuffled, str(self.single / "model.json"), out=str(out))
        self.assertEqual(scored.columns,
                         [ID, "segment", "label", "distance", "boundary_ratio", "ambiguous"])
        got = self.spark_rows(scored)
        want = assignments(self.single_scored / "assignments.parquet")
        self.assertEqual(len(got), ROWS)
        self.assertEqual(got, want)
        self.assertEqual(comparable(out / "segments.json"),
                         comparable(self.single_scored / "segments.json"))
        self.assertTrue((out / "report.html").is_file())

    def test_fit_on_every_row_gives_the_single_machine_segments(self):
        out = self.tmp / "spark-fit"
        model = strata_spark.fit(self.df, strategy="demographic", k=4, id_column=ID,
                                 sample_fraction=1.0, seed=7, out=str(out))
        self.assertEqual(strata_spark.Model.load(str(out)).json, model.json)
        self.assertIn("strata fit on the sample", model.timings)
        scored = strata_spark.assign(self.df, model, out=str(self.tmp / "spark-fit-scored"))
        got = self.spark_rows(scored)
        want = assignments(self.single_scored / "assignments.parquet")
        differ = [i for i in want if got[i][0] != want[i][0]]
        # A row may change segment only where its two nearest centroids tie within float
        # tolerance (the Lloyd pass's exact means against the fit's fixed-point ones).
        ties = [i for i in differ if want[i][3] > 1 - 1e-5]
        print(f"\nfit on every row: {len(differ)} of {ROWS} labels differ, all ties: "
              f"{len(ties) == len(differ)}")
        self.assertEqual(differ, ties)
        a = json.loads((out / "segments.json").read_text())["inertia"]
        b = json.loads((self.single_scored / "segments.json").read_text())["inertia"]
        print(f"inertia {a!r} vs {b!r}: relative {abs(a - b) / b:.2e}")
        self.assertLessEqual(abs(a - b), 1e-9 * b)

    def no_worse_than_the_full_fit(self, out, what):
        """Inertia within 1e-4 of the single-machine fit on every row, or below it: from a
        sample, k-means++ may land in another local optimum, and a better one is no fault
        (on the 1M-row table both Lloyd routes find one 0.14% below the full fit's)."""
        a = json.loads((out / "segments.json").read_text())["inertia"]
        b = json.loads((self.single_scored / "segments.json").read_text())["inertia"]
        print(f"\n{what}: inertia {a!r} vs the full fit's {b!r}: relative {(a - b) / b:+.2e}")
        self.assertLessEqual(a, b * (1 + 1e-4))

    def test_fit_on_a_sample_comes_close_to_the_full_fit(self):
        out = self.tmp / "spark-sample"
        strata_spark.fit(self.df, strategy="demographic", k=4, id_column=ID,
                         sample_fraction=0.1, seed=7, out=str(out))
        self.no_worse_than_the_full_fit(out, "10% sample, Lloyd by strata step")

    def test_mllib_lloyd_continues_from_strata_s_centroids(self):
        out = self.tmp / "spark-mllib"
        model = strata_spark.fit(self.df, strategy="demographic", k=4, id_column=ID,
                                 sample_fraction=0.1, seed=7, out=str(out), lloyd="mllib")
        self.assertEqual(model.k, 4)
        self.no_worse_than_the_full_fit(out, "10% sample, Lloyd by MLlib")

    def sql_parity(self, dialect, run):
        """`strata export-sql` run by an engine: every customer's segment and label as the
        single-machine assign gives them, but for rows whose two nearest centroids tie within
        float rounding (counted, and required to be such ties)."""
        query = strata("export-sql", "--model", str(self.single / "model.json"),
                       "--dialect", dialect, "--table", "customers")
        got = {r[0]: (r[1], r[2]) for r in run(query)}
        want = assignments(self.single_scored / "assignments.parquet")
        self.assertEqual(len(got), len(want))
        differ = [i for i in want if got[i][0] != want[i][0]]
        print(f"\nexport-sql {dialect}: {len(differ)} of {len(want)} segments differ")
        for i in differ:
            self.assertGreater(want[i][3], 1 - 1e-5, f"{i} is no tie")
        for i in want:
            if i not in differ:
                self.assertEqual(got[i][1], want[i][1])
        return len(differ)

    def test_export_sql_scores_in_spark_sql(self):
        self.df.createOrReplaceTempView("customers")
        self.sql_parity("spark", lambda q: [tuple(r) for r in self.spark.sql(q).collect()])

    def test_export_sql_scores_in_sqlite(self):
        import sqlite3

        db = sqlite3.connect(":memory:")
        columns = "customer_id TEXT, age REAL, gender TEXT, income REAL, education TEXT, " \
                  "marital_status TEXT, region TEXT, household_size REAL"
        db.execute(f"CREATE TABLE customers ({columns})")
        import csv

        with open(self.csv, newline="") as f:
            rows = csv.reader(f)
            next(rows)
            numeric = {1, 3, 7}
            db.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ([None if v == "" else (float(v) if i in numeric else v)
                  for i, v in enumerate(r)] for r in rows),
            )
        self.sql_parity("sqlite", lambda q: db.execute(q).fetchall())

    def test_export_sql_scores_in_duckdb(self):
        import duckdb

        db = duckdb.connect()
        db.execute(f"CREATE TABLE customers AS SELECT * FROM read_csv('{self.csv}', header = true)")
        self.sql_parity("duckdb", lambda q: db.execute(q).fetchall())

    def test_a_bad_value_fails_the_job_with_strata_s_message(self):
        from pyspark.sql import functions as F

        bad = self.df.withColumn(
            "age",
            F.when(F.col(ID) == "C00000017", F.lit("old")).otherwise(F.col("age").cast("string")),
        )
        with self.assertRaises(Exception) as caught:
            strata_spark.assign(bad, str(self.single / "model.json")).count()
        message = str(caught.exception)
        self.assertIn("strata assign failed on partition", message)
        self.assertIn("the partition's rows, record batch 1, row 17", message)
        self.assertIn("('age'): expected a number, found 'old'", message)

    def test_a_plugin_panic_fails_the_job_with_strata_s_message(self):
        plugins = self.tmp / "plugins"
        plugins.mkdir(exist_ok=True)
        # The test plugins are built beside the workspace's binary, not bundled.
        built = Path(os.environ.get("STRATA_TEST_PLUGIN_DIR", REPO / "target/debug"))
        built = built / "libstrata_testplugin_faulty.so"
        shutil.copy(built, plugins / "libstrata_strategy_faulty.so")
        os.chmod(plugins / "libstrata_strategy_faulty.so", 0o755)
        small = self.df.select(ID, "age", "household_size").dropna().limit(2000)
        model = strata_spark.fit(small, strategy="faulty", k=2, id_column=ID,
                                 sample_fraction=1.0, out=str(self.tmp / "faulty"),
                                 global_args=["--plugin-dir", str(plugins)])
        with self.assertRaises(Exception) as caught:
            strata_spark.assign(small, model, global_args=["--plugin-dir", str(plugins)],
                                env={"STRATA_TEST_FAULT": "panic_transform"}).count()
        message = str(caught.exception)
        self.assertIn("strata assign failed on partition", message)
        self.assertIn("strategy 'faulty' panicked", message)


if __name__ == "__main__":
    unittest.main()
