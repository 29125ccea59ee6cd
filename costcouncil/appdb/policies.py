"""The app-state table of governance: policy violations and their lifecycle.

A violation is one breach of one policy by one subject (``resource=i-0abc``, ``team=vision``,
``project=exp-42`` …), identified by ``key`` (policy + subject) across evaluations. Its state
moves open → acknowledged → exception (with a justification, an expiry and who approved it) →
resolved; an evaluation that no longer finds it resolves it, one that finds it again reopens it
(an exception holds until it expires). Money is decimal text; ``team`` is the owner from
attribution, so a member's queries filter on it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from costcouncil.appdb.models import Base

_TZ = DateTime(timezone=True)
#: A violation's states.
VIOLATION_STATES = ("open", "acknowledged", "exception", "resolved")


class ViolationRow(Base):
    """One policy breach and where it stands."""

    __tablename__ = "violations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(600), unique=True)
    policy: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(400))
    team: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    at_stake: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    evidence: Mapped[dict[str, object]] = mapped_column(JSON)
    first_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    last_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)
    note: Mapped[str] = mapped_column(String(2000), default="")
    state_by: Mapped[str] = mapped_column(String(320), default="")
    state_at: Mapped[datetime] = mapped_column(_TZ)
    exception_until: Mapped[datetime | None] = mapped_column(_TZ, nullable=True)
    detected_at: Mapped[datetime] = mapped_column(_TZ)
    seen_at: Mapped[datetime] = mapped_column(_TZ)
