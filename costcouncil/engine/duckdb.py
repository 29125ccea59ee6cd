"""DuckDB, the embedded engine: one way to open a connection, run long statements with progress.

Every connection runs in UTC (``TimeZone``), so naive timestamps read as UTC and ``strftime`` of a
``TIMESTAMPTZ`` gives UTC calendar fields; it has a memory limit and spills to ``temp_directory``.
:class:`DuckDBEngine` is the :class:`~costcouncil.engine.base.Engine` on such a connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from costcouncil.engine.base import check_view_name, first_value, normalise
from costcouncil.engine.portable import check_portable
from costcouncil.errors import EngineError
from costcouncil.settings import Settings, get_settings

Progress = Callable[[float], None]


def connect(
    temp_dir: Path | None = None, settings: Settings | None = None
) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection configured for CostCouncil's work."""
    settings = settings or get_settings()
    con = duckdb.connect(config={"memory_limit": settings.memory_limit})
    con.execute("SET TimeZone = 'UTC'")
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(temp_dir)])
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    return con


def execute(con: duckdb.DuckDBPyConnection, sql: str, progress: Progress | None = None) -> Any:
    """Run ``sql``; while it runs, report DuckDB's own progress (0..1) to ``progress``."""
    if progress is None:
        return con.execute(sql).fetchall()
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["rows"] = con.execute(sql).fetchall()
        except BaseException as e:  # re-raised in the caller's thread
            result["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
        fraction = con.query_progress()
        if fraction >= 0:
            progress(min(fraction / 100.0, 1.0))
    if "error" in result:
        raise result["error"]
    progress(1.0)
    return result["rows"]


class DuckDBEngine:
    """The :class:`~costcouncil.engine.base.Engine` on DuckDB: views are TEMP views / tables.

    Uses ``con`` when given (the engine then leaves it open on :meth:`close`, dropping only what
    it created, unless ``owned``) and otherwise opens one with :func:`connect`. The session runs
    in UTC. With ``portable`` (the default) SQL outside the portable subset is refused here too,
    so that a pipeline tested on DuckDB alone also runs on Spark.
    """

    name = "duckdb"

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection | None = None,
        *,
        temp_dir: Path | None = None,
        settings: Settings | None = None,
        portable: bool = True,
        owned: bool = False,
    ) -> None:
        self.con = con if con is not None else connect(temp_dir, settings)
        self._owned = con is None or owned
        self.portable = portable
        self._kinds: dict[str, str] = {}
        self.con.execute("SET TimeZone = 'UTC'")

    def load_arrow(self, view: str, table: pa.Table) -> None:
        """Copy ``table`` into the TEMP TABLE ``view``."""
        check_view_name(view, self.name)
        self.con.register("__costcouncil_arrow", table)
        try:
            self._create(view, "TABLE", "SELECT * FROM __costcouncil_arrow")
        finally:
            self.con.unregister("__costcouncil_arrow")

    def load_parquet(self, view: str, files: Sequence[Path | str], schema: pa.Schema) -> None:
        """A TEMP VIEW over ``files`` with ``schema``'s columns, cast to its types."""
        if not files:
            return self.load_arrow(view, schema.empty_table())
        check_view_name(view, self.name)
        present = self._columns_in(view, files)
        types = self.con.from_arrow(schema.empty_table()).types
        columns = ", ".join(
            _cast(f.name, str(t), f.name in present) for f, t in zip(schema, types, strict=True)
        )
        paths = ", ".join(_literal(str(f)) for f in files)
        source = f"read_parquet([{paths}], union_by_name = true, hive_partitioning = false)"
        self._create(view, "VIEW", f"SELECT {columns} FROM {source}")

    def create(self, view: str, sql: str, materialize: bool = False) -> None:
        """``CREATE OR REPLACE TEMP VIEW`` (or ``TEMP TABLE`` when ``materialize``)."""
        check_view_name(view, self.name)
        self._check(view, sql)
        self._create(view, "TABLE" if materialize else "VIEW", sql)

    def fetch(self, sql: str) -> pa.Table:
        """Run ``sql``; HUGEINT columns (integer sums) come back as BIGINT, like Spark's."""
        self._check("fetch", sql)
        with self._stage("fetch", sql):
            rel = self.con.sql(sql)
            if rel is None:
                raise EngineError("fetch", "not a query", engine=self.name, sql=sql)
            return normalise(_without_hugeint(rel).to_arrow_table())

    def scalar(self, sql: str) -> Any:
        """The first value of ``sql``'s result (None when it has no rows)."""
        return first_value(self.fetch(sql))

    def write_parquet(self, sql: str, target: Path) -> int:
        """``COPY (sql) TO target``: DuckDB streams the rows into the file."""
        self._check("write", sql)
        with self._stage("write", sql):
            self.con.execute(
                f"COPY ({sql}) TO '{_quoted(str(target))}' (FORMAT parquet, ROW_GROUP_SIZE 122880)"
            )
        return int(pq.read_metadata(target).num_rows)

    def spool(self, view: str, sql: str, target: Path) -> None:
        """``COPY (sql) TO target``, then a view over the file (its types as written)."""
        self._check(view, sql)
        with self._stage(view, sql):
            self.con.execute(
                f"COPY ({sql}) TO '{_quoted(str(target))}' (FORMAT parquet, ROW_GROUP_SIZE 122880)"
            )
        source = f"read_parquet({_literal(str(target))}, hive_partitioning = false)"
        self._create(view, "VIEW", f"SELECT * FROM {source}")

    def drop(self, view: str) -> None:
        """``DROP`` the temp table or view ``view`` if this engine created it."""
        kind = self._kinds.pop(view, None)
        if kind is not None:
            self.con.execute(f"DROP {kind} IF EXISTS {_ident(view)}")

    def close(self) -> None:
        """Close the connection this engine opened, or drop what it created on a lent one."""
        if self._owned:
            self.con.close()
            return
        for view, kind in self._kinds.items():
            self.con.execute(f"DROP {kind} IF EXISTS {_ident(view)}")
        self._kinds.clear()

    def _columns_in(self, view: str, files: Sequence[Path | str]) -> set[str]:
        """The names of the columns any of ``files`` holds (Parquet footers only)."""
        try:
            return set().union(*(pq.read_schema(f).names for f in files))
        except (OSError, pa.ArrowException) as e:
            raise EngineError(view, f"cannot read Parquet: {e}", engine=self.name) from e

    def _check(self, stage: str, sql: str) -> None:
        if self.portable:
            try:
                check_portable(sql, stage)
            except EngineError as e:
                raise EngineError(stage, e.reason, engine=self.name, sql=sql) from e

    def _create(self, view: str, kind: str, sql: str) -> None:
        with self._stage(view, sql):
            old = self._kinds.get(view)
            if old is not None and old != kind:  # DuckDB will not replace a table by a view
                self.con.execute(f"DROP {old} IF EXISTS {_ident(view)}")
            self.con.execute(f"CREATE OR REPLACE TEMP {kind} {_ident(view)} AS {sql}")
            self._kinds[view] = kind

    @contextmanager
    def _stage(self, stage: str, sql: str) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as e:
            raise EngineError(stage, str(e).strip(), engine=self.name, sql=sql) from e


def _without_hugeint(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """``rel`` with its 128-bit integer columns cast to BIGINT (overflow raises)."""
    wide = {"hugeint", "uhugeint"}
    if not any(t.id in wide for t in rel.types):
        return rel
    columns = [
        f"CAST({_ident(c)} AS BIGINT) AS {_ident(c)}" if t.id in wide else _ident(c)
        for c, t in zip(rel.columns, rel.types, strict=True)
    ]
    return rel.project(", ".join(columns))


def _cast(name: str, sql_type: str, present: bool) -> str:
    source = _ident(name) if present else "NULL"
    return f"CAST({source} AS {sql_type}) AS {_ident(name)}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(text: str) -> str:
    return text.replace("'", "''")
