"""Half-open validity ranges ``[start, end)`` and the three operations the catalog needs.

A timeline is a list of :class:`Span` that never overlap, sorted by ``start``. An open end
("since forever", "until further notice") is the sentinel :data:`EARLIEST` or :data:`LATEST`, so
that every comparison is a plain ``datetime`` comparison; :func:`bound` turns it back into ``None``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, TypeVar

T = TypeVar("T")

EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Span(Generic[T]):
    """``value`` holds from ``start`` (inclusive) to ``end`` (exclusive)."""

    start: datetime
    end: datetime
    value: T

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, value: T) -> Span[T]:
        """A span whose ``None`` bounds are open."""
        return cls(EARLIEST if start is None else start, LATEST if end is None else end, value)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when ``[start, end)`` shares an instant with this span."""
        return self.start < end and start < self.end


def bound(moment: datetime) -> datetime | None:
    """``moment``, or ``None`` where it is an open end."""
    return None if moment in (EARLIEST, LATEST) else moment


def remap(
    spans: Iterable[Span[T]], start: datetime, end: datetime, change: Callable[[T], T]
) -> list[Span[T]]:
    """The timeline with ``change`` applied to the part of it inside ``[start, end)``."""
    out: list[Span[T]] = []
    for span in spans:
        if not span.overlaps(start, end):
            out.append(span)
            continue
        out += _outside(span, start, end)
        inner = replace(span, start=max(span.start, start), end=min(span.end, end))
        out.append(replace(inner, value=change(span.value)))
    return sorted(out, key=lambda s: s.start)


def overlay(spans: Iterable[Span[T]], top: Span[T]) -> list[Span[T]]:
    """The timeline with ``top`` laid over it: what it covers is cut away from the others."""
    out = [top]
    for span in spans:
        out += _outside(span, top.start, top.end) if span.overlaps(top.start, top.end) else [span]
    return sorted(out, key=lambda s: s.start)


def merge(spans: Iterable[Span[T]]) -> list[Span[T]]:
    """The timeline with touching spans of equal value joined into one."""
    out: list[Span[T]] = []
    for span in sorted(spans, key=lambda s: s.start):
        if out and out[-1].end == span.start and out[-1].value == span.value:
            out[-1] = replace(out[-1], end=span.end)
        else:
            out.append(span)
    return out


def _outside(span: Span[T], start: datetime, end: datetime) -> list[Span[T]]:
    """The parts of ``span`` before ``start`` and from ``end`` on."""
    parts = []
    if span.start < start:
        parts.append(replace(span, end=start))
    if end < span.end:
        parts.append(replace(span, start=end))
    return parts
