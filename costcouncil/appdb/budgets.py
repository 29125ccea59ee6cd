"""The app-state tables of budgets: the budgets themselves and the enforcement holds.

Money is decimal text (exact on SQLite and PostgreSQL alike). A budget's amount, windows and
thresholds are JSON in the shapes of ``costcouncil.budgets.document`` (what ``budgets.yaml``
holds). ``team`` is the team a budget belongs to, so a member's queries filter on it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from costcouncil.appdb.models import Base

_TZ = DateTime(timezone=True)
#: A hold's states: open until settled, released or lapsed.
HOLD_STATES = ("open", "settled", "released", "expired")


class BudgetRow(Base):
    """One budget (see :class:`costcouncil.budgets.Budget`)."""

    __tablename__ = "budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scope: Mapped[str] = mapped_column(String(400))
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    metric: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(20))
    windows: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    amount: Mapped[dict[str, object]] = mapped_column(JSON)
    thresholds: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    hard: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(320), default="")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    created_at: Mapped[datetime] = mapped_column(_TZ)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    updated_at: Mapped[datetime] = mapped_column(_TZ)


class BudgetHold(Base):
    """A reservation against one budget, and how it ended (a reservation that several budgets
    decide has one row per budget, with the same ``id``).

    ``counted``: the settled cost came as a live usage event (counted with live usage, not
    again as a settlement); ``day`` is the day a settlement without one counts on, until
    allocation covers that day.
    """

    __tablename__ = "budget_holds"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    budget_id: Mapped[int] = mapped_column(
        ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    amount: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(_TZ)
    expires_at: Mapped[datetime] = mapped_column(_TZ)
    closed_at: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)
    actual: Mapped[str | None] = mapped_column(String(40), nullable=True)
    counted: Mapped[bool] = mapped_column(Boolean, default=False)
    day: Mapped[date | None] = mapped_column(Date, nullable=True)
    actor: Mapped[str] = mapped_column(String(320), default="")
