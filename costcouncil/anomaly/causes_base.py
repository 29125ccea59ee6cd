"""What a root-cause estimator answers before the causes are ranked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Found:
    """A cause and the change in cost per day it explains (signed), with a sentence and evidence."""

    cause: str
    per_day: float
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
