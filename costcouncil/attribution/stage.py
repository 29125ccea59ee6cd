"""One named step of the attribution plan, and how an engine keeps its rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from costcouncil.engine.base import Engine


@dataclass
class Stage:
    """One named view of the pipeline (or, with ``check``, a query that must return no rows;
    with ``bind``, values for later stages' placeholders)."""

    view: str
    sql: str
    materialize: bool = False
    #: A view on DuckDB, which streams it into each reader; materialised on other engines
    #: (Spark inlines a view's expressions into every consumer and its plans grow with them).
    streamed: bool = False
    #: Written to a Parquet file and read back from it (when the run has a spool folder; else
    #: materialised): a part's allocation rows, so nothing of the part stays in memory.
    spooled: bool = False
    #: Not a view: a conservation check run at this point; its rows name what does not conserve.
    check: bool = False
    #: Computed in Python: called with the engine and ``sql`` (the rows it reads), its table is
    #: loaded as the view (the controlled rounding's unit moves).
    compute: Callable[[Engine, str], pa.Table] | None = None
    #: Not a view: computed in Python from the rows ``sql`` reads, the values of the
    #: placeholders later stages' SQL holds (a large period's part ranges,
    #: :mod:`costcouncil.attribution.parts`).
    bind: Callable[[Engine, str], dict[str, str]] | None = None
