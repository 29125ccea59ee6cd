"""Known future changes, ``forecasts.yaml`` in the workspace: a planned cluster, a price change.

::

    version: 1
    adjustments:
      - scope: team=research        # org or DIMENSION=VALUE
        start: 2027-01-15           # from this day (UTC)
        end: 2027-04-01             # until this day, exclusive (leave out: open-ended)
        amount: 1200                # add this much a day (the workspace currency) ...
        factor: 1.0                 # ... after multiplying the forecast by this
        label: new H100 cluster

Every forecast of the scope from ``start`` to ``end`` becomes ``value * factor + amount`` (bounds
too). A missing file means no adjustments; every problem in it is reported at once, naming the
entry and key.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from costcouncil.documents import load_document
from costcouncil.errors import ConfigError
from costcouncil.forecast import Adjustment
from costcouncil.workspace.allocate.series import parse_scope
from costcouncil.workspace.core import Workspace

FILE = "forecasts.yaml"


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scope: str
    start: date
    end: date | None = None
    amount: float = 0.0
    factor: float = Field(default=1.0, ge=0)
    label: str = ""


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    adjustments: list[_Entry] = Field(default_factory=list)


def load_adjustments(workspace: Workspace) -> dict[str, list[Adjustment]]:
    """The adjustments of ``forecasts.yaml`` per scope (``team=research`` …)."""
    path = workspace.root / FILE
    if not path.exists():
        return {}
    document = load_document(path, _Document)
    out: dict[str, list[Adjustment]] = {}
    for i, e in enumerate(document.adjustments):
        if e.end is not None and e.end <= e.start:
            raise ConfigError(
                f"{path}: adjustments.{i}.end {e.end} is not after its start {e.start}"
            )
        try:
            scope = str(parse_scope(workspace, e.scope))
        except ConfigError as error:
            raise ConfigError(f"{path}: adjustments.{i}.scope: {error}") from error
        end = np.datetime64(e.end, "s") if e.end else None
        out.setdefault(scope, []).append(
            Adjustment(np.datetime64(e.start, "s"), end, e.amount, e.factor, e.label)
        )
    return out
