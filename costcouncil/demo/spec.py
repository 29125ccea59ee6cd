"""The demo's parameters and its calendar: billing periods as hour offsets from the span start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class DemoSpec:
    """What to generate: about ``rows`` FOCUS cost rows over ``months`` billing periods."""

    rows: int = 200_000
    seed: int = 7
    start: date = date(2025, 11, 1)
    months: int = 12

    def __post_init__(self) -> None:
        if self.rows < 500:
            raise ValueError(f"DemoSpec.rows must be at least 500, got {self.rows}")
        if self.months < 1:
            raise ValueError(f"DemoSpec.months must be at least 1, got {self.months}")
        if self.start.day != 1:
            raise ValueError(f"DemoSpec.start must be the first day of a month, got {self.start}")


@dataclass(frozen=True)
class Period:
    """One billing period (a calendar month, UTC) as hours since the span start."""

    label: str
    start_hour: int
    end_hour: int

    @property
    def start_day(self) -> int:
        return self.start_hour // 24

    @property
    def end_day(self) -> int:
        return self.end_hour // 24

    @property
    def days(self) -> int:
        return self.end_day - self.start_day


def _month(start: date, offset: int) -> date:
    months = start.year * 12 + start.month - 1 + offset
    return date(months // 12, months % 12 + 1, 1)


def epoch_us(day: date) -> int:
    """Microseconds since the Unix epoch at midnight UTC of ``day``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def periods(spec: DemoSpec) -> tuple[Period, ...]:
    """The billing periods of the span, in order."""
    origin = epoch_us(spec.start)
    edges = [(epoch_us(_month(spec.start, i)) - origin) // HOUR_US for i in range(spec.months + 1)]
    labels = [_month(spec.start, i).strftime("%Y-%m") for i in range(spec.months)]
    return tuple(Period(labels[i], edges[i], edges[i + 1]) for i in range(spec.months))


def span_hours(spec: DemoSpec) -> int:
    return periods(spec)[-1].end_hour
