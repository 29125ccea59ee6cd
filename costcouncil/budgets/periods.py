"""A budget's periods: calendar months, quarters or years, or its own custom windows.

Every period is a half-open :class:`~costcouncil.budgets.model.Window` of days, ``[start, end)``:
March 2026 is ``Window(2026-03-01, 2026-04-01)``.
"""

from __future__ import annotations

from datetime import date

from costcouncil.budgets.model import Budget, Window

#: Months in one period, for the calendar periods.
_MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}


def window_at(budget: Budget, day: date) -> Window | None:
    """The period of ``budget`` that holds ``day``; for a custom period, None between windows."""
    if budget.period == "custom":
        return next((w for w in budget.windows if w.contains(day)), None)
    months = _MONTHS[budget.period]
    first = (day.month - 1) // months * months + 1
    start = date(day.year, first, 1)
    return Window(start, _add_months(start, months))


def windows_between(budget: Budget, start: date, end: date) -> list[Window]:
    """Every period of ``budget`` that shares a day with ``[start, end)``, oldest first."""
    if end <= start:
        return []
    if budget.period == "custom":
        span = Window(start, end)
        return [w for w in budget.windows if w.overlaps(span)]
    out: list[Window] = []
    window = window_at(budget, start)
    while window is not None and window.start < end:
        out.append(window)
        window = window_at(budget, window.end)
    return out


def elapsed(window: Window, today: date) -> tuple[int, int]:
    """``(days of the window up to and including today, days in the window)``.

    Before the window the first figure is 0; on or after its last day, all of it.
    """
    done = (today - window.start).days + 1
    return max(0, min(done, window.days)), window.days


def month_window(year: int, month: int) -> Window:
    """The calendar month ``year-month`` as a window."""
    start = date(year, month, 1)
    return Window(start, _add_months(start, 1))


def _add_months(day: date, months: int) -> date:
    """The first of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
