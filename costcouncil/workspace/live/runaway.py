"""Runaway bookkeeping: a spend-rate monitor per (team, model) stream and per team, and episodes.

Every priced live ``llm_call`` is observed twice: in the stream of its team and model, and in the
stream of its team over every model (an event without a team counts for ``__unallocated__``).
Each stream is a :class:`~costcouncil.anomaly.rate.RateMonitor`: it learns the usual spend per
hour from the completed hours it has seen and flags a window whose spend is far above it.

:meth:`Runaways.check` looks at the streams with an event in the last window or an open episode
and turns what the monitors say into :class:`Change` values:

* a stream that runs away and had no open episode opens one (``new``); its id stays the same for
  the whole episode, so dispatch's dedup sends one message per runaway;
* a team's own stream opens an episode only when none of that team's model streams is open (a
  runaway of one model is told once, as that model's);
* an episode whose stream has not run away for ``quiet_seconds`` closes (``resolved``).

Everything here is pure and driven by explicit times (seconds since the epoch); the thread that
drains events, seeds history from the lake and dispatches is ``runaway_watch``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, NamedTuple
from urllib.parse import urlencode

from costcouncil.anomaly.rate import HOUR_S, RateAlert, RateMonitor, seconds
from costcouncil.notify.message import Alert, format_money, format_time
from costcouncil.workspace.notify.dispatch import BASE_URL

__all__ = ["UNTAGGED", "Change", "Episode", "RunawayOptions", "Runaways", "Stream", "to_alert"]

#: The team of events that name none.
UNTAGGED = "__unallocated__"
#: Longest alert id the delivery log holds.
_ID_LIMIT = 200
#: Observations between two prunings of the monitors' windows while feeding many events.
_PRUNE_EVERY = 1000


@dataclass(frozen=True)
class RunawayOptions:
    """The rule's parameters (see ``RateMonitor``) and the watcher's timing.

    ``floor`` is in the workspace currency per hour; ``check_seconds`` is how often active streams
    are checked; an episode resolves after ``quiet_seconds`` without a flagged check; an open
    episode is dispatched again every ``retry_seconds`` (dedup makes that a no-op for whoever
    heard of it, and a retry for a delivery that failed).
    """

    window: float = 60.0
    factor: float = 3.0
    z: float = 6.0
    floor: float = 10.0
    history_hours: int = 168
    check_seconds: float = 2.0
    quiet_seconds: float = 300.0
    retry_seconds: float = 60.0
    base_url: str = BASE_URL

    def monitor(self) -> RateMonitor:
        """A fresh monitor with these parameters."""
        return RateMonitor(window=self.window, factor=self.factor, z=self.z, floor=self.floor,
                           history_hours=self.history_hours)  # fmt: skip

    @property
    def seed_per_hour(self) -> int:
        """Most observations one seeded hour is spread over.

        A seeded hour of cost C over n observations has mean amount C/n; with
        n ≥ 3600·z² / ((factor−1)²·window) the Poisson term of the limit never exceeds the
        factor term, so seeding from hourly sums never makes a stream less sensitive than the
        factor alone (540 with the defaults).
        """
        return max(1, math.ceil(HOUR_S * self.z**2 / ((self.factor - 1) ** 2 * self.window)))


class Stream(NamedTuple):
    """A team and model (``model`` None: every model of the team); a tuple, as it is hashed for
    every event."""

    team: str
    model: str | None

    @property
    def label(self) -> str:
        return self.model if self.model is not None else "all"


@dataclass
class Episode:
    """One runaway of one stream: from the first event of the window that first ran away."""

    stream: Stream
    start: float
    first: RateAlert
    last_flagged: float
    peak_rate: float
    end: float | None = None

    @property
    def id(self) -> str:
        """``live-{team}-{model}-{start}``: stable for the whole episode."""
        stamp = datetime.fromtimestamp(self.start, UTC).strftime("%Y%m%dT%H%M%SZ")
        middle = f"{self.stream.team}-{self.stream.label}"[: _ID_LIMIT - 23]
        return f"live-{middle}-{stamp}"


@dataclass(frozen=True)
class Change:
    """An episode opened (``new``) or closed (``resolved``)."""

    episode: Episode
    status: Literal["new", "resolved"]


@dataclass
class Runaways:
    """Every stream's monitor, when it last saw an event, and its open episode."""

    options: RunawayOptions = field(default_factory=RunawayOptions)
    monitors: dict[Stream, RateMonitor] = field(default_factory=dict)
    last_event: dict[Stream, float] = field(default_factory=dict)
    open: dict[Stream, Episode] = field(default_factory=dict)

    def observe(self, team: str | None, model: str, when: float, amount: float) -> list[Stream]:
        """Add one priced event (seconds since the epoch) to its model's and its team's stream;
        the two streams."""
        team = team or UNTAGGED
        moment = datetime.fromtimestamp(when, UTC)
        streams = [Stream(team, model), Stream(team, None)]
        for stream in streams:
            monitor = self.monitors.get(stream)
            if monitor is None:
                monitor = self.monitors[stream] = self.options.monitor()
            monitor.observe(moment, amount)
            if when > self.last_event.get(stream, -math.inf):
                self.last_event[stream] = when
        return streams

    def observe_all(
        self, events: Iterable[tuple[str | None, str, float, float]], now: float
    ) -> int:
        """Observe (team, model, time, amount) events in time order; how many there were.

        The windows of the streams fed are pruned every thousand events and at the end, so late
        events (a backfill behind live traffic) stay cheap to insert and old ones are not kept.
        """
        count, touched = 0, set[Stream]()
        for team, model, when, amount in sorted(events, key=lambda e: e[2]):
            touched.update(self.observe(team, model, when, amount))
            count += 1
            if count % _PRUNE_EVERY == 0:
                self.prune(now, touched)
                touched = set()
        self.prune(now, touched)
        return count

    def seed(self, team: str | None, model: str, hour: int, amount: float, requests: int) -> None:
        """Learn one past hour (hours since the epoch) from its total: ``amount`` spread evenly
        over min(``requests``, ``seed_per_hour``) observations."""
        n = max(1, min(requests, self.options.seed_per_hour))
        for i in range(n):
            self.observe(team, model, hour * HOUR_S + (i + 0.5) * HOUR_S / n, amount / n)

    def prune(self, now: float, streams: Iterable[Stream] | None = None) -> None:
        """Drop the events that left the window of ``streams`` (every stream when None)."""
        moment = datetime.fromtimestamp(now, UTC)
        for stream in self.monitors if streams is None else streams:
            self.monitors[stream].check(moment)  # a check prunes; its answer is not needed here

    def check(self, now: float) -> list[Change]:
        """Check every active stream at ``now``: the episodes opened and closed."""
        moment = datetime.fromtimestamp(now, UTC)
        changes: list[Change] = []
        # model streams first, so that a team's own stream knows whether one of them is open
        for stream in sorted(self._active(now), key=lambda s: (s.model is None, s)):
            flagged = self.monitors[stream].check(moment)
            change = self._step(stream, flagged, now)
            if change is not None:
                changes.append(change)
        return changes

    def _active(self, now: float) -> list[Stream]:
        since = now - self.options.window
        return [s for s, t in self.last_event.items() if t > since or s in self.open]

    def _step(self, stream: Stream, flagged: RateAlert | None, now: float) -> Change | None:
        episode = self.open.get(stream)
        if flagged is not None and episode is not None:
            episode.last_flagged, episode.peak_rate = now, max(episode.peak_rate, flagged.rate)
        elif flagged is not None and not self._told_by_a_model(stream):
            start = seconds(flagged.since)
            episode = self.open[stream] = Episode(stream, start, flagged, now, flagged.rate)
            return Change(episode, "new")
        elif episode is not None and now - episode.last_flagged >= self.options.quiet_seconds:
            episode.end = episode.last_flagged
            del self.open[stream]
            return Change(episode, "resolved")
        return None

    def _told_by_a_model(self, stream: Stream) -> bool:
        """Whether ``stream`` is a team's own stream with one of its model streams open."""
        return stream.model is None and any(s.team == stream.team for s in self.open)


def to_alert(change: Change, currency: str, base_url: str) -> Alert:
    """The notification of a change: kind ``anomaly``, scope ``team=…``, the episode's id.

    ``impact`` is the spend per hour above the usual rate when the runaway was found (what it
    costs for every hour it goes on); ``impact_pct`` the same over the usual rate.
    """
    episode, first = change.episode, change.episode.first
    ratio = first.ratio
    usual = f"{ratio:.0f}× usual" if math.isfinite(ratio) else "nothing usual"
    rate = format_money(_money(first.rate), currency)
    stream = episode.stream
    title = f"runaway: team={stream.team} model={stream.label} spending {rate}/h ({usual})"
    return Alert(
        id=episode.id, kind="anomaly", title=title, scope=f"team={stream.team}",
        status=change.status, impact=_money(first.rate - first.expected), currency=currency,
        start=datetime.fromtimestamp(episode.start, UTC), end=_end(episode), link=_link(
            base_url, stream), impact_pct=(ratio - 1) * 100 if math.isfinite(ratio) else None,
        score=ratio if math.isfinite(ratio) else None, lines=_lines(episode, currency),
        severity="critical" if ratio >= 10 else "warning",
    )  # fmt: skip


def _lines(episode: Episode, currency: str) -> tuple[str, ...]:
    first = episode.first
    lines = [
        f"{format_money(_money(first.spend), currency)} in {first.events} call(s) within "
        f"{(seconds(first.at) - episode.start):.0f} s, against a usual "
        f"{format_money(_money(first.expected), currency)}/h",
        f"peak rate {format_money(_money(episode.peak_rate), currency)}/h",
        "impact: the spend per hour above the usual rate",
    ]
    if episode.end is not None:
        last = format_time(datetime.fromtimestamp(episode.end, UTC))
        lines.append(f"back under the limit after {last}")
    return tuple(lines)


def _end(episode: Episode) -> datetime | None:
    return None if episode.end is None else datetime.fromtimestamp(episode.end, UTC)


def _money(amount: float) -> Decimal:
    return Decimal(repr(round(amount, 2))).quantize(Decimal("0.01"))


def _link(base_url: str, stream: Stream) -> str:
    query = {"team": stream.team, **({"model": stream.model} if stream.model else {})}
    return f"{base_url.rstrip('/')}/v1/live/costs?{urlencode({'by': 'day', **query})}"
