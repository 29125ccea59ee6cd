"""Jinja filters: money, shares, counts and labels as a FinOps lead reads them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from costcouncil.attribution import SENTINELS

_LABELS = {"__idle__": "Idle capacity", "__unallocated__": "Unallocated"}
CATEGORY_LABELS = {
    "compute": "Compute / GPU", "llm_api": "LLM API", "storage": "Storage",
    "network": "Network", "support": "Support", "other": "Other",
}  # fmt: skip


def money(value: Any, currency: str = "") -> str:
    if value is None:
        return "—"
    amount = Decimal(str(value))
    text = f"{abs(amount):,.2f}"
    sign = "−" if amount < 0 else ""
    return f"{sign}{text} {currency}".strip()


def pct(value: Any) -> str:
    if value is None:
        return "—"
    share = float(value) * 100
    if share and abs(share) < 0.05:  # never "0.0 %" for a share that is not nothing
        return "<0.1 %" if share > 0 else "−<0.1 %"
    return f"{share:.1f} %"


def count(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.0f}"


def hours(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.1f}"


def when(value: Any) -> str:
    """A moment to the minute, in UTC (never microseconds)."""
    if value is None:
        return "—"
    moment = value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def instant(value: Any) -> str:
    """A day when the moment is midnight UTC (a daily anomaly's start), else :func:`when`."""
    shown = when(value)
    return shown[:10] if shown.endswith(" 00:00 UTC") else shown


def evidence(value: Any, limit: int = 12) -> list[str]:
    """A cause's evidence as lines a person reads: nested keys joined by ``·``, numbers with
    thousands separators, at most ``limit`` lines (then how many more)."""
    lines = list(_lines("", value))
    more = len(lines) - limit
    return lines[:limit] + ([f"… and {more} more"] if more > 0 else [])


def _lines(prefix: str, value: Any) -> Iterator[str]:
    if isinstance(value, dict) and value and not all(_scalar(v) for v in value.values()):
        for k, v in value.items():
            yield from _lines(f"{prefix} · {k}" if prefix else str(k), v)
        return
    if isinstance(value, dict):
        text = ", ".join(f"{k} {_number(v)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(_number(v) for v in value)
    else:
        text = _number(value)
    yield f"{prefix}: {text}" if prefix else text


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list | tuple)


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    return f"{value:,.2f}" if isinstance(value, float | Decimal) else f"{value:,}"


def short_id(value: Any) -> str:
    """A resource or account id as a person reads it: the last part of an ARN or an Azure
    resource id (``arn:aws:ec2:…:instance/i-0abc`` → ``i-0abc``), long ids cut to their end."""
    if value is None:
        return "(none)"
    text = str(value)
    if text.startswith("arn:") or text.startswith("/subscriptions/"):
        text = text.rstrip("/").replace(":", "/").rsplit("/", 1)[-1] or text
    return text if len(text) <= 40 else "…" + text[-39:]


def named(name: Any, ident: Any) -> str:
    """A resource or account by its name from the bill, else its short id."""
    return str(name) if name not in (None, "") and name != ident else short_id(ident)


def label(value: Any) -> str:
    """Sentinel owners by name; everything else exactly as in the data (escaped by Jinja)."""
    if value is None:
        return "(none)"
    text = str(value)
    return _LABELS.get(text, CATEGORY_LABELS.get(text, text))


def sentinel(value: Any) -> bool:
    return str(value) in SENTINELS


FILTERS = {
    "money": money,
    "pct": pct,
    "count": count,
    "hours": hours,
    "label": label,
    "when": when,
    "instant": instant,
    "evidence": evidence,
    "short_id": short_id,
}
