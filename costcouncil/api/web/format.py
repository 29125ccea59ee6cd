"""Jinja filters: money, shares, counts and labels as a FinOps lead reads them."""

from __future__ import annotations

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
    return "—" if value is None else f"{float(value) * 100:.1f} %"


def count(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.0f}"


def hours(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.1f}"


def label(value: Any) -> str:
    """Sentinel owners by name; everything else exactly as in the data (escaped by Jinja)."""
    if value is None:
        return "(none)"
    text = str(value)
    return _LABELS.get(text, CATEGORY_LABELS.get(text, text))


def sentinel(value: Any) -> bool:
    return str(value) in SENTINELS


FILTERS = {"money": money, "pct": pct, "count": count, "hours": hours, "label": label}
