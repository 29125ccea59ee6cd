"""Apache Spark, the scale-out engine: the same DuckDB SQL, transpiled, on a SparkSession.

pyspark is an optional extra (``pip install 'costcouncil[spark]'``) and needs Java 17+
(``scripts/java.sh``); both are checked, and pyspark imported, only when a :class:`SparkEngine`
is made. One SparkContext serves the whole process (it takes seconds to start); each engine gets
its own session on it, so its temp views are its own. Settings that make Spark agree with DuckDB:

* ``spark.sql.session.timeZone = UTC`` (and the JVM's ``user.timezone``): calendar fields in UTC;
* ``spark.sql.decimalOperations.allowPrecisionLoss = false``: decimal products keep their scale;
* ``spark.sql.ansi.enabled = true``: overflow, bad casts and division by zero raise, as on DuckDB;
* Arrow transfers (``spark.sql.execution.arrow.pyspark.enabled``), no UI, few shuffle partitions;
* ``spark.sql.constraintPropagation.enabled = false``: a union of local checkpoints works.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from costcouncil.engine.base import check_view_name, first_value, normalise
from costcouncil.engine.portable import to_spark
from costcouncil.errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

__all__ = ["SQL_CONF", "SparkEngine", "java_version", "parse_java_version", "stop_spark"]

T = TypeVar("T")

#: Session settings applied to every engine's session (see the module docstring).
SQL_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.decimalOperations.allowPrecisionLoss": "false",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    # Parquet timestamps as UTC microseconds (not INT96), as the lake and DuckDB keep them.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # A local checkpoint keeps its source plan's constraints under attribute ids it no longer
    # outputs; a UNION of checkpoints (a stage run in parts) then fails in constraint
    # propagation ("key not found"). The filters it would infer are already written out.
    "spark.sql.constraintPropagation.enabled": "false",
}

_STATIC_CONF: dict[str, str] = {
    "spark.log.level": "ERROR",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "costcouncil-spark-warehouse"),
}

_LOCAL_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}

_ROOT: list[SparkSession] = []  # the process's one root session, once started


class SparkEngine:
    """The :class:`~costcouncil.engine.base.Engine` on Spark (``master`` ``local[N]`` or a URL).

    ``conf`` adds or overrides settings (``{"spark.sql.shuffle.partitions": "64"}``); on a local
    master shuffles use one partition per core unless it says otherwise. ``master``, ``memory``
    (``"4g"``, the driver's) and the settings Spark reads at start (``spark.driver.*`` …) only
    count for the first engine of a process, which starts the JVM. Views are Spark temp views bound
    when created: replacing a view does not change views built on it, so create them in order.
    """

    name = "spark"

    def __init__(
        self,
        master: str = "local[2]",
        *,
        memory: str | None = None,
        conf: Mapping[str, str] | None = None,
    ) -> None:
        settings = {**SQL_CONF, **_shuffle_conf(master), **(conf or {})}
        if memory:
            settings["spark.driver.memory"] = memory
        self.spark: SparkSession = _root_session(master, settings).newSession()
        for key, value in settings.items():
            if self.spark.conf.isModifiable(key):
                self.spark.conf.set(key, value)
        self._errors = _spark_errors()
        self._cached: dict[str, DataFrame] = {}

    def load_arrow(self, view: str, table: pa.Table) -> None:
        """``table`` as the temp view ``view``, its Arrow types mapped as DuckDB maps them."""
        check_view_name(view, self.name)
        schema = _spark_schema(table.schema)
        df = self._guard(view, "", lambda: self.spark.createDataFrame(table, schema=schema))
        self._register(view, df)

    def load_parquet(self, view: str, files: Sequence[Path | str], schema: pa.Schema) -> None:
        """A temp view over ``files`` read with ``schema`` (absent columns read as NULL)."""
        check_view_name(view, self.name)
        if not files:
            return self.load_arrow(view, schema.empty_table())
        reader = self.spark.read.schema(_spark_schema(schema))
        df = self._guard(view, "", lambda: reader.parquet(*[str(f) for f in files]))
        self._register(view, df)

    def create(self, view: str, sql: str, materialize: bool = False) -> None:
        """A temp view of ``sql`` (transpiled); ``materialize`` computes it now and keeps it.

        A materialised view is a local checkpoint: its rows stay on the executors and its plan is
        cut there, so later stages' plans do not grow with every stage before them (a plan that
        repeats its cached inputs' full lineage at each reference grows exponentially with depth).
        """
        check_view_name(view, self.name)
        df = self._sql(view, sql)
        if materialize:
            df = self._guard(view, sql, lambda: df.localCheckpoint(eager=True))
        self._register(view, df, cached=materialize)

    def fetch(self, sql: str) -> pa.Table:
        """Run ``sql`` (transpiled); the result in canonical Arrow types."""
        df = self._sql("fetch", sql)
        return normalise(self._guard("fetch", sql, df.toArrow))

    def scalar(self, sql: str) -> Any:
        """The first value of ``sql``'s result (None when it has no rows)."""
        return first_value(self.fetch(sql))

    def write_parquet(self, sql: str, target: Path) -> int:
        """The executors write ``sql``'s rows as part files; they are streamed into ``target``.

        Nothing is collected on the driver (``toArrow`` of a large result outgrows its memory):
        the part files are read back one row group at a time, cast to the canonical types, and
        appended to the one file the lake keeps.
        """
        import pyarrow.parquet as pq

        df = self._sql("write", sql)
        parts = target.with_name(target.name + ".parts")
        writer = df.write.mode("overwrite").option("compression", "snappy")
        self._guard("write", sql, lambda: writer.parquet(str(parts)))
        rows = 0
        out: pq.ParquetWriter | None = None
        try:
            for part in sorted(parts.glob("part-*.parquet")):
                source = pq.ParquetFile(part)
                for group in range(source.num_row_groups):
                    table = normalise(source.read_row_group(group))
                    out = out or pq.ParquetWriter(target, table.schema)
                    out.write_table(table)
                    rows += table.num_rows
            if out is None:  # no rows: the file still carries the columns
                pq.write_table(normalise(self._guard("write", sql, df.limit(0).toArrow)), target)
        finally:
            if out is not None:
                out.close()
            shutil.rmtree(parts, ignore_errors=True)
        return rows

    def spool(self, view: str, sql: str, target: Path) -> None:
        """The executors write ``sql``'s rows as part files in the folder ``target`` (a path
        they all reach, as the lake is on a cluster); the view reads them back."""
        check_view_name(view, self.name)
        df = self._sql(view, sql)
        writer = df.write.mode("overwrite").option("compression", "snappy")
        self._guard(view, sql, lambda: writer.parquet(str(target)))
        self._register(view, self._guard(view, sql, lambda: self.spark.read.parquet(str(target))))

    def drop(self, view: str) -> None:
        """Unpersist ``view``'s cached rows and drop the temp view (if there is one)."""
        cached = self._cached.pop(view.lower(), None)
        if cached is not None:
            cached.unpersist()
        self.spark.catalog.dropTempView(view)

    def close(self) -> None:
        """Drop this engine's views and caches; the process's SparkContext stays up."""
        for df in self._cached.values():
            df.unpersist()
        self._cached.clear()
        for table in self.spark.catalog.listTables():
            if table.isTemporary:
                self.spark.catalog.dropTempView(table.name)

    def _sql(self, stage: str, sql: str) -> DataFrame:
        try:
            spark_sql = to_spark(sql, stage)
        except EngineError as e:
            raise EngineError(stage, e.reason, engine=self.name, sql=sql) from e
        return self._guard(stage, sql, lambda: self.spark.sql(spark_sql))

    def _register(self, view: str, df: DataFrame, cached: bool = False) -> None:
        df.createOrReplaceTempView(view)
        old = self._cached.pop(view.lower(), None)
        if old is not None:
            old.unpersist()
        if cached:
            self._cached[view.lower()] = df

    def _guard(self, stage: str, sql: str, work: Callable[[], T]) -> T:
        with _stage(stage, sql, self._errors):
            return work()


@contextmanager
def _stage(stage: str, sql: str, errors: tuple[type[BaseException], ...]) -> Iterator[None]:
    """Turn Spark's errors into :class:`EngineError` naming ``stage`` (first line of the message)."""
    try:
        yield
    except errors as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise EngineError(stage, message, engine="spark", sql=sql) from e


def _spark_schema(schema: pa.Schema) -> StructType:
    """``schema`` as Spark types; naive timestamps stay TIMESTAMP_NTZ, as DuckDB's TIMESTAMP."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema, prefer_timestamp_ntz=True)


def _spark_errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JError  # type: ignore[import-untyped, unused-ignore]
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


# --- the process's SparkContext -------------------------------------------------------------


def _root_session(master: str, settings: Mapping[str, str]) -> SparkSession:
    """The process's root session, started on first use with our and the caller's settings."""
    if _ROOT and _ROOT[0].sparkContext._jsc is not None:  # None once stopped
        return _ROOT[0]
    builder = _builder(master, settings)
    with _stage("start", "", _spark_errors()):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    _ROOT[:] = [session]
    return session


def _builder(master: str, settings: Mapping[str, str]) -> SparkSession.Builder:
    """A SparkSession builder with our settings, once Java and pyspark are known to be there."""
    _require_java()
    session_class = _require_pyspark()
    local = master.startswith("local")
    if local:
        os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {**_STATIC_CONF, **(_LOCAL_CONF if local else {})}
    for key, value in settings.items():  # JVM options add to ours (user.timezone=UTC)
        conf[key] = f"{conf[key]} {value}" if key.endswith("extraJavaOptions") else value
    builder = session_class.builder.master(master).appName("costcouncil")
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder


def _shuffle_conf(master: str) -> dict[str, str]:
    """One shuffle partition per local core (Spark's default of 200 is for clusters)."""
    match = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    if match is None:
        return {}
    cores = match.group(1) or "1"  # plain "local" is one thread
    count = (os.cpu_count() or 1) if cores == "*" else int(cores)
    return {"spark.sql.shuffle.partitions": str(max(count, 1))}


def _require_pyspark() -> type[SparkSession]:
    try:
        from pyspark.logger import PySparkLogger
        from pyspark.sql import SparkSession
    except ImportError as e:
        raise EngineError(
            "start", "pyspark is not installed: pip install 'costcouncil[spark]'", engine="spark"
        ) from e
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)  # we raise EngineError instead
    return SparkSession


def _require_java() -> None:
    version = java_version()
    if version is None or version < 17:
        found = "no java on PATH or JAVA_HOME" if version is None else f"Java {version}"
        raise EngineError(
            "start",
            f"Spark 4 needs Java 17 or newer ({found}); install Java 17: scripts/java.sh",
            engine="spark",
        )


def java_version() -> int | None:
    """The major version of the Java Spark would use (``JAVA_HOME``, else PATH); None if none."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_java_version(out.stderr + out.stdout)


def parse_java_version(text: str) -> int | None:
    """The major version in ``java -version`` output (``"1.8.0_x"`` is 8); None if none."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def stop_spark() -> None:
    """Stop the process's SparkContext (the next :class:`SparkEngine` starts a new one)."""
    if _ROOT:
        _ROOT.pop().stop()
