"""Strata on Spark DataFrames.

``fit`` segments a DataFrame the way ``strata fit`` segments a file, with Spark doing the
distribution and Strata everything else::

    import strata_spark
    model = strata_spark.fit(df, strategy="demographic", roles={"age": "age"}, k=4,
                             id_column="customer_id", sample_fraction=0.1, seed=7, out="run/")
    scored = strata_spark.assign(df, model)   # customer_id, segment, label, distance, ...

How the work splits:

* fit: a seeded sample comes to the driver and ``strata fit`` runs on it (the strategy's
  preprocessing, k-means++ restarts, the choice of k when asked). Lloyd then runs on every row:
  each partition goes through ``strata step`` on the executors (``mapInArrow``), which returns
  exact per-centroid sums, a few KB; the driver adds them with ``strata recenter`` (the sums
  are exact, so the centroids do not depend on the partitioning) until k-means' stopping rule
  holds. With ``lloyd="mllib"`` Spark MLlib's RDD-based KMeans continues from Strata's
  centroids instead (classic clusters only: it needs the RDD API).
* assign: every partition goes through ``strata assign`` on the executors; the rows come back
  as a DataFrame and each partition's exact tally (``partial.json``) to the driver, where
  ``strata merge`` makes segments.json and report.html, identical to one ``strata assign``
  over all the rows.

The driver holds centroids and tallies, never rows (the fit's sample aside). Errors on an
executor fail the job with Strata's own message, naming the partition.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional

__all__ = ["Model", "StrataError", "fit", "assign", "strata_binary"]

# The column a partition's tally travels in, beside the scored rows.
_PARTIAL = "_strata_partial"


class StrataError(RuntimeError):
    """A strata command failed; the message is Strata's own."""


def strata_binary(strata: Optional[str] = None) -> str:
    """The strata executable: ``strata`` if given, else ``$STRATA_BIN``, else the one this
    package carries (see ``scripts/bundle.sh``), else ``strata`` on the PATH."""
    if strata:
        return strata
    if os.environ.get("STRATA_BIN"):
        return os.environ["STRATA_BIN"]
    bundled = Path(__file__).parent / "bin" / "strata"
    if bundled.is_file():
        return str(bundled)
    found = shutil.which("strata")
    if found:
        return found
    raise StrataError(
        "no strata binary: install strata_spark with the binary bundled "
        "(integrations/spark/scripts/bundle.sh), set STRATA_BIN, or put strata on the PATH"
    )


def _run(args: List[str], what: str, env: Optional[Dict[str, str]] = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=_env(env))
    if proc.returncode != 0:
        raise StrataError(f"{what}: {proc.stderr.strip() or 'exit code %d' % proc.returncode}")
    return proc.stdout


@dataclass
class _Strata:
    """How to run strata: the command (binary and global flags) and extra environment."""

    cmd: List[str]
    env: Optional[Dict[str, str]] = None

    def on_driver(self, args: List[str], what: str) -> str:
        return _run(args, what, self.env)

    def on_executor(self, args: List[str], what: str,
                    tmp: Optional[str] = None) -> subprocess.CompletedProcess:
        return _executor_run(args, what, self.env, tmp)


def _strata(strata: Optional[str], global_args: Iterable[str],
            env: Optional[Dict[str, str]]) -> _Strata:
    return _Strata([strata_binary(strata), *global_args], dict(env) if env else None)


@dataclass
class Model:
    """A Strata model: ``path`` is its model.json; ``json`` its content."""

    path: str
    json: dict
    #: Seconds per stage of the fit that made it (``fit`` only; also in out/spark/timings.json).
    timings: Dict[str, float] = field(default_factory=dict, compare=False)

    @classmethod
    def load(cls, path: str) -> "Model":
        p = Path(path)
        if p.is_dir():
            p = p / "model.json"
        return cls(str(p), json.loads(p.read_text()))

    @property
    def k(self) -> int:
        return int(self.json["k"])

    @property
    def id_column(self) -> Optional[str]:
        return self.json["input"]["id_column"]

    @property
    def columns(self) -> List[str]:
        """The input columns the model reads: its id column and every bound column."""
        cols = [b["column"] for b in self.json["input"]["bindings"]]
        if self.id_column:
            cols = [self.id_column] + [c for c in cols if c != self.id_column]
        return list(dict.fromkeys(cols))

    @property
    def centroids(self) -> List[List[float]]:
        return self.json["centroids"]


def _partition_id() -> int:
    from pyspark import TaskContext

    ctx = TaskContext.get()
    return ctx.partitionId() if ctx is not None else 0


def _partition_to_stream(batches: Iterable, path: str) -> int:
    """Writes a partition's Arrow batches to an Arrow IPC stream file; returns its rows."""
    import pyarrow as pa

    rows = 0
    writer = None
    for batch in batches:
        if writer is None:
            writer = pa.ipc.new_stream(path, batch.schema)
        writer.write_batch(batch)
        rows += batch.num_rows
    if writer is not None:
        writer.close()
    return rows


@contextlib.contextmanager
def _partition_run(batches: Iterable, model_text: str, strata: "_Strata", command: str,
                   out_name: str, args: List[str]):
    """On an executor: spools the partition's rows and the model into a temporary folder, runs
    `strata COMMAND --model M ROWS -o FOLDER/OUT_NAME ARGS…` there, and yields the folder
    (None for an empty partition, where nothing ran); the folder goes when the block ends."""
    with tempfile.TemporaryDirectory(prefix=f"strata-{command}.") as tmp:
        part = os.path.join(tmp, "part.arrows")
        if _partition_to_stream(batches, part) == 0:
            yield None
            return
        model_path = os.path.join(tmp, "model.json")
        with open(model_path, "w") as f:
            f.write(model_text)
        strata.on_executor(
            [*strata.cmd, "-q", command, "--model", model_path, part,
             "-o", os.path.join(tmp, out_name), *args],
            command, tmp,
        )
        yield tmp


def _env(extra: Optional[Dict[str, str]]) -> Optional[Dict[str, str]]:
    if not extra:
        return None
    env = dict(os.environ)
    env.update(extra)
    return env


def _executor_run(args: List[str], what: str, env: Optional[Dict[str, str]] = None,
                  tmp: Optional[str] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, env=_env(env))
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        if tmp:
            # The partition's rows were spooled to a temporary file: say so, not its path.
            message = message.replace(os.path.join(tmp, "part.arrows"), "the partition's rows")
            message = message.replace(tmp, "<partition temp>")
        raise StrataError(f"strata {what} failed on partition {_partition_id()}: {message}")
    return proc


def _select_model_columns(df, model: Model):
    missing = [c for c in model.columns if c not in df.columns]
    if missing:
        raise StrataError(
            f"the DataFrame has no column {', '.join(repr(c) for c in missing)}, which the model "
            f"reads (it has {', '.join(df.columns)})"
        )
    return df.select(*model.columns)


def _steps(df, model: Model, strata: _Strata) -> List[str]:
    """One Lloyd pass over every partition: each partition's step.json text, in partition order."""
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    model_text = json.dumps(model.json)

    def step(batches: Iterator) -> Iterator:
        import pyarrow as pa

        # The model as the driver holds it (a recenter of this iteration's).
        with _partition_run(batches, model_text, strata, "step", "step.json",
                            ["--backend", "cpu"]) as tmp:
            if tmp is None:
                return
            with open(os.path.join(tmp, "step.json")) as f:
                text = f.read()
        yield pa.RecordBatch.from_pydict(
            {"partition": [_partition_id()], "step": [text]},
            schema=pa.schema([("partition", pa.int64()), ("step", pa.string())]),
        )

    schema = StructType([StructField("partition", LongType()), StructField("step", StringType())])
    rows = _select_model_columns(df, model).mapInArrow(step, schema).collect()
    return [r["step"] for r in sorted(rows, key=lambda r: r["partition"])]


def _lloyd_dataframe(df, model: Model, work: Path, strata: _Strata, max_iter: int) -> Model:
    """Lloyd passes over every partition until k-means' stopping rule holds. The centroids
    kept are those a pass found settled (its shift within the threshold), not the pass's
    move from them, so a model already converged on every row is kept as it is."""
    current = model
    for iteration in range(1, max_iter + 1):
        steps = _steps(df, current, strata)
        paths = []
        for i, text in enumerate(steps):
            p = work / f"step-{iteration}-{i}.json"
            p.write_text(text)
            paths.append(str(p))
        out = work / f"iteration-{iteration}"
        strata.on_driver([*strata.cmd, "-q", "recenter", "--model", current.path, "--steps",
                          *paths, "-o", str(out)], "strata recenter")
        summary = json.loads((out / "recenter.json").read_text())
        if summary["converged"]:
            break
        current = Model.load(str(out))
    return current


def _lloyd_mllib(df, model: Model, work: Path, strata: _Strata, max_iter: int, seed: int) -> Model:
    """Spark MLlib's RDD-based KMeans from the model's centroids, on Strata's feature rows."""
    from pyspark.mllib.clustering import KMeans, KMeansModel
    from pyspark.mllib.linalg import DenseVector
    from pyspark.sql.types import FloatType, StructField, StructType

    features = model.json["features"]
    model_text = json.dumps(model.json)

    def transform(batches: Iterator) -> Iterator:
        import pyarrow as pa

        with _partition_run(batches, model_text, strata, "transform", "features.arrows",
                            ["--format", "arrow"]) as tmp:
            if tmp is None:
                return
            with pa.ipc.open_stream(os.path.join(tmp, "features.arrows")) as reader:
                for batch in reader:
                    # The features only, under plain names.
                    yield pa.RecordBatch.from_arrays(
                        batch.columns[1:], names=[f"f{i}" for i in range(len(features))]
                    )

    schema = StructType([StructField(f"f{i}", FloatType(), False) for i in range(len(features))])
    rows = _select_model_columns(df, model).mapInArrow(transform, schema)
    vectors = rows.rdd.map(lambda r: DenseVector([float(v) for v in r])).cache()
    start = KMeansModel([DenseVector(c) for c in model.centroids])
    trained = KMeans.train(vectors, model.k, maxIterations=max_iter, initialModel=start,
                           seed=seed, epsilon=1e-4)
    vectors.unpersist()
    csv = _centroid_csv(features, trained.clusterCenters, work / "mllib-centroids.csv")
    out = work / "mllib"
    strata.on_driver([*strata.cmd, "-q", "recenter", "--model", model.path, "--centroids", str(csv),
          "-o", str(out)], "strata recenter")
    return Model.load(str(out))


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def fit(
    df,
    strategy: str,
    roles: Optional[Dict[str, str]] = None,
    k=None,
    id_column: Optional[str] = None,
    sample_fraction: float = 0.1,
    seed: int = 42,
    out: str = "strata-run",
    lloyd: str = "dataframe",
    max_iter: int = 300,
    options: Optional[Dict[str, str]] = None,
    fit_args: Iterable[str] = (),
    strata: Optional[str] = None,
    global_args: Iterable[str] = (),
    env: Optional[Dict[str, str]] = None,
) -> Model:
    """Segments ``df``: ``strata fit`` on a seeded sample, Lloyd on every row, the final model
    in ``out/model.json`` with the merged segments.json and report.html of every row.

    ``roles`` binds strategy roles to columns (``--map``), ``k`` is a number or ``"auto"``,
    ``sample_fraction`` of 1 fits on every row. ``lloyd`` is ``"dataframe"`` (Strata's pass on
    each partition through ``mapInArrow``; works on Spark Connect and shared clusters) or
    ``"mllib"`` (``pyspark.mllib`` KMeans from Strata's centroids; needs the RDD API).
    With ``sample_fraction=1`` the fit sees every row in the DataFrame's order and the result
    is exactly ``strata fit`` on a file of those rows in that order (k-means++ draws by row
    position, so another order may settle in another local optimum). Lloyd keeps the
    centroids a pass finds settled (k-means' stopping rule), so a model already converged on
    every row is not moved. ``fit_args`` are more ``strata fit`` flags, as a list; ``global_args`` flags for every
    strata command (``["--plugin-dir", DIR]``), ``env`` more environment for them
    (``STRATA_ID_SALT``, say). ``strata`` is the binary (default: :func:`strata_binary`).
    """
    import pyarrow.parquet as pq

    if id_column is None:
        raise StrataError("give id_column: on Spark, rows have no order to number them by")
    if lloyd not in ("dataframe", "mllib"):
        raise StrataError(f"lloyd must be 'dataframe' or 'mllib', not {lloyd!r}")
    if not 0 < sample_fraction <= 1:
        raise StrataError(f"sample_fraction must be in (0, 1], not {sample_fraction}")
    strata = _strata(strata, global_args, env)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / "spark"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()

    timings: Dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0], 3)
        clock[0] = now

    sample = df if sample_fraction >= 1 else df.sample(fraction=sample_fraction, seed=seed)
    sample_file = work / "sample.parquet"
    pq.write_table(sample.toArrow(), sample_file)
    lap("sample to the driver")
    args = [*strata.cmd, "-q", "fit", "--strategy", strategy, "--id-column", id_column,
            "--seed", str(seed), "--format", "parquet", "-o", str(work / "sample-fit")]
    for role, column in (roles or {}).items():
        args += ["--map", f"{role}={column}"]
    for key, value in (options or {}).items():
        args += ["--option", f"{key}={value}"]
    if k is not None:
        args += ["--k", str(k)]
    args += list(fit_args)
    args.append(str(sample_file))
    strata.on_driver(args, "strata fit on the sample")
    sample_file.unlink()
    model = Model.load(str(work / "sample-fit"))
    lap("strata fit on the sample")

    if lloyd == "dataframe":
        final = _lloyd_dataframe(df, model, work, strata, max_iter)
        passes = len(list(work.glob("iteration-*")))
        lap(f"Lloyd on every row ({passes} passes of strata step)")
    else:
        final = _lloyd_mllib(df, model, work, strata, max_iter, seed)
        lap("Lloyd on every row (MLlib KMeans)")
    # The final model into out/ (its own run: model.json and how the last step moved it).
    csv = _centroid_csv(final.json["features"], final.centroids, work / "final-centroids.csv")
    strata.on_driver([*strata.cmd, "-q", "recenter", "--model", final.path, "--centroids",
                      str(csv), "-o", str(out_dir)], "strata recenter")
    model = Model.load(str(out_dir))
    lap("final model")
    scored = assign(df, model, out=str(out_dir), strata=strata.cmd[0],
                    global_args=strata.cmd[1:], env=strata.env)
    scored.unpersist()
    lap("assign every row and merge")
    (work / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    model.timings = timings
    return model


def _centroid_csv(features: List[str], centroids, path: Path) -> Path:
    """Centroids as `strata recenter --centroids` reads them: the features' names, then a row
    per centroid (shortest round-trip text, so f32 values read back exactly)."""
    lines = [",".join(_csv_field(f) for f in features)]
    lines += [",".join(repr(float(v)) for v in c) for c in centroids]
    path.write_text("\n".join(lines) + "\n")
    return path


def _spark_schema(df, model: Model):
    from pyspark.sql.types import (BooleanType, FloatType, IntegerType, LongType, StringType,
                                   StructField, StructType)

    id_type = df.schema[model.id_column].dataType
    integral = id_type.typeName() in ("long", "integer", "short", "byte")
    return StructType([
        StructField(model.id_column, LongType() if integral else StringType(), True),
        StructField("segment", IntegerType(), True),
        StructField("label", StringType(), True),
        StructField("distance", FloatType(), True),
        StructField("boundary_ratio", FloatType(), True),
        StructField("ambiguous", BooleanType(), True),
        StructField(_PARTIAL, StringType(), True),
    ])


def assign(df, model, out: Optional[str] = None, strata: Optional[str] = None,
           assign_args: Iterable[str] = (), global_args: Iterable[str] = (),
           env: Optional[Dict[str, str]] = None):
    """Scores every row of ``df`` with ``model`` (a :class:`Model` or a path to model.json)
    on the executors. Returns the scored rows as a DataFrame (the id column under its own
    name, segment, label, distance, boundary_ratio, ambiguous), persisted (``unpersist()`` it
    when written); with ``out``, also
    writes the merged segments.json, report.html and partial.json there. ``assign_args`` are
    more ``strata assign`` flags; ``global_args`` and ``env`` as for :func:`fit`."""
    import pyarrow as pa

    if not isinstance(model, Model):
        model = Model.load(str(model))
    if not model.id_column:
        raise StrataError("the model has no id column: fit it with id_column to score on Spark")
    strata = _strata(strata, global_args, env)
    schema = _spark_schema(df, model)
    arrow_schema = pa.schema([
        (model.id_column,
         pa.int64() if schema[model.id_column].dataType.typeName() == "long" else pa.string()),
        ("segment", pa.int32()), ("label", pa.string()), ("distance", pa.float32()),
        ("boundary_ratio", pa.float32()), ("ambiguous", pa.bool_()), (_PARTIAL, pa.string()),
    ])
    model_text = json.dumps(model.json)
    extra = list(assign_args)

    def score(batches: Iterator) -> Iterator:
        with _partition_run(batches, model_text, strata, "assign", "scored",
                            ["--format", "arrow", "--backend", "cpu", *extra]) as tmp:
            if tmp is None:
                return
            run = os.path.join(tmp, "scored")
            with pa.ipc.open_stream(os.path.join(run, "assignments.arrows")) as reader:
                for batch in reader:
                    n = batch.num_rows
                    columns = [
                        batch.column(0).cast(arrow_schema.field(0).type),
                        batch.column(1),
                        batch.column(2).cast(pa.string()),
                        batch.column(3),
                        batch.column(4),
                        batch.column(5),
                        pa.nulls(n, pa.string()),
                    ]
                    yield pa.RecordBatch.from_arrays(columns, schema=arrow_schema)
            with open(os.path.join(run, "partial.json")) as f:
                tally = f.read()
        row = {f.name: [None] for f in arrow_schema}
        row[_PARTIAL] = [f"{_partition_id()}\t{tally}"]
        yield pa.RecordBatch.from_pydict(row, schema=arrow_schema)

    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    result = _select_model_columns(df, model).mapInArrow(score, schema)
    # One pass over the partitions: the scored rows and the tallies come out of the same
    # run, kept while the tallies are collected, then the rows alone are kept (so that
    # `scored.unpersist()` frees everything, and a later assign scores again).
    result = result.persist(StorageLevel.MEMORY_AND_DISK)
    tallies = result.where(F.col(_PARTIAL).isNotNull()).select(_PARTIAL).collect()
    scored = result.where(F.col(_PARTIAL).isNull()).drop(_PARTIAL)
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)
    scored.count()
    result.unpersist()
    if out is not None:
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="strata-merge.") as tmp:
            parts = []
            ordered = sorted((int(t[0].split("\t", 1)[0]), t[0].split("\t", 1)[1]) for t in tallies)
            for pid, text in ordered:
                p = os.path.join(tmp, f"partial-{pid}.json")
                with open(p, "w") as f:
                    f.write(text)
                parts.append(p)
            if not parts:
                raise StrataError("the DataFrame has no rows to score")
            strata.on_driver([*strata.cmd, "-q", "merge", "--model", model.path, *parts, "-o", str(out_dir),
                  "--input-name", "Spark DataFrame", "--force"], "strata merge")
    return scored
