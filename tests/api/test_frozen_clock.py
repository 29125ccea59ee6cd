"""``/v1/live/costs`` on the 1st of a month, with the server's clock frozen there (libfaketime)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.costs import CostQuery
from tests.api.server import Server
from tests.clock import frozen_clock_env


def _call(i: int, time: str) -> dict[str, object]:
    return {
        "type": "llm_call", "id": f"call-{i}", "time": time, "provider": "openai",
        "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "cost": "0.01",
        "team": "search",
    }  # fmt: skip


def test_on_the_first_of_a_month_the_default_window_still_shows_yesterday(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "ws", None, "USD")
    server = Server(tmp_path / "ws", env=frozen_clock_env("2027-03-01 00:30:00")).start()
    try:
        events = [
            _call(1, "2027-02-28T23:10:00Z"),  # yesterday, the last complete day
            _call(2, "2027-02-01T09:00:00Z"),  # the first day of last month
            _call(3, "2027-03-01T00:05:00Z"),  # today, minutes ago
            _call(4, "2027-01-31T12:00:00Z"),  # the month before: outside the default
        ]
        assert httpx.post(f"{server.url}/v1/events", json=events).json()["accepted"] == 4
        body = httpx.get(f"{server.url}/v1/live/costs", params={"by": "day"}).json()
        assert (body["from"], body["to"]) == ("2027-02-01", "2027-04-01")
        days = sorted(row["day"] for row in body["rows"])
        assert days == ["2027-02-01", "2027-02-28", "2027-03-01"]
        assert body["totals"]["requests"] == 3
    finally:
        server.stop()


def test_default_window_starts_at_the_month_of_yesterday() -> None:
    def window(today: date) -> tuple[date, date]:
        query = CostQuery.make("", {}, None, None, today=today)
        return query.start, query.end

    assert window(date(2026, 12, 4)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert window(date(2026, 12, 1)) == (date(2026, 11, 1), date(2027, 1, 1))
    assert window(date(2027, 1, 1)) == (date(2026, 12, 1), date(2027, 2, 1))
    assert window(date(2028, 2, 29)) == (date(2028, 2, 1), date(2028, 3, 1))
    explicit = CostQuery.make("", {}, date(2026, 5, 1), None, today=date(2026, 12, 1))
    assert (explicit.start, explicit.end) == (date(2026, 5, 1), date(2026, 6, 1))
