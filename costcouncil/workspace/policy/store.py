"""Policy violations in the app database and their lifecycle (docs/policies.md, "Violations and
their lifecycle").

=================  ==========================================  ===========================
from               what happens                                to
=================  ==========================================  ===========================
(nothing)          an evaluation finds it                      ``open``
``open``           someone acknowledges it                     ``acknowledged``
open / ack.        finance or admin grant an exception         ``exception`` (until a time)
open / ack. / exc. someone resolves it                         ``resolved``
open / ack.        an evaluation no longer finds it            ``resolved`` (by evaluation)
``resolved``       an evaluation finds it again                ``open`` (reopened)
``exception``      found after its ``exception_until``         ``open`` (reopened)
=================  ==========================================  ===========================

:meth:`Violations.record` applies an evaluation's findings: a new key opens a violation; a key
found again takes the new figures, evidence and ``seen_at`` (a ``resolved`` one reopens, an
``exception`` past its ``exception_until`` opens again, one still valid stays); an ``open`` or
``acknowledged`` key not found is resolved by ``evaluation``. People acknowledge, grant an
exception (only the ``finance`` and ``admin`` roles approve one, with a justification and an
expiry in the future) and resolve. Every state change is in the audit log.

Every read and change takes ``visible``: the teams the caller may see (None: every team). A
member sees only the violations their teams own (the ``team`` column is the violation's owner);
another team's is answered exactly as one that does not exist.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from costcouncil.appdb.models import AuditEvent
from costcouncil.appdb.policies import VIOLATION_STATES, ViolationRow
from costcouncil.errors import ConfigError, NotFoundError
from costcouncil.policy import Violation
from costcouncil.workspace.common.appstate import AppStore, Visible, audit, aware, now, only_visible

__all__ = [
    "APPROVERS",
    "EVALUATION",
    "GROWTH",
    "Change",
    "ViolationInfo",
    "Violations",
    "Visible",
    "through",
]

#: The roles that may approve an exception.
APPROVERS = ("finance", "admin")
#: Who changes a violation's state when an evaluation does it.
EVALUATION = "evaluation"
#: A violation found again "grew" when its $ at stake passed the last one times this.
GROWTH = Decimal("1.25")
#: The changes :meth:`Violations.record` reports.
CHANGE_KINDS = ("new", "reopened", "grew", "same", "resolved")
_CENT = Decimal("0.01")
_NOTE = 2000


@dataclass(frozen=True)
class ViolationInfo:
    """One stored violation: the breach (as the engine found it last) and where it stands."""

    id: int
    key: str
    policy: str
    kind: str
    severity: str
    subject: str
    team: str | None
    at_stake: Decimal
    currency: str
    evidence: dict[str, Any]
    first_day: date | None
    last_day: date | None
    state: str
    note: str
    state_by: str
    state_at: datetime
    exception_until: datetime | None
    detected_at: datetime
    seen_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (money as decimal text, days and times in ISO 8601)."""
        out = self.__dict__.copy()
        out["at_stake"] = str(self.at_stake)
        for k in ("first_day", "last_day", "state_at", "exception_until", "detected_at", "seen_at"):
            value = out[k]
            out[k] = None if value is None else value.isoformat()
        return out


@dataclass(frozen=True)
class Change:
    """What one evaluation did to one violation: ``new``, ``reopened``, ``grew``, ``same`` or
    ``resolved``."""

    violation_id: int
    key: str
    kind: str


def through(day: date) -> datetime:
    """The end of ``day`` (UTC): an exception granted "until DAY" holds through that day."""
    return datetime.combine(day + timedelta(days=1), time(), UTC)


class Violations(AppStore):
    """The violations table of one workspace's app database."""

    # -- evaluation -------------------------------------------------------------------------

    def record(self, found: Sequence[Violation], *, at: datetime, currency: str) -> list[Change]:
        """Apply one evaluation's ``found`` violations as of ``at``; what changed, by key."""
        by_key = {v.key: v for v in found}
        with self.session() as s:
            rows = {r.key: r for r in s.scalars(select(ViolationRow))}
            changes = [_seen(s, rows.get(key), v, at, currency) for key, v in by_key.items()]
            for key, row in rows.items():
                if key not in by_key and row.state in ("open", "acknowledged"):
                    _move(s, row, "resolved", EVALUATION, "no longer found", at)
                    changes.append(Change(row.id, key, "resolved"))
            return changes

    # -- reads ------------------------------------------------------------------------------

    def list(
        self,
        visible: Visible = None,
        *,
        state: str | None = None,
        policy: str | None = None,
        limit: int = 500,
    ) -> list[ViolationInfo]:
        """Violations, the most money at stake first (then the newest)."""
        if state is not None:
            _check_state(state)
        with self.session() as s:
            query = only_visible(select(ViolationRow), ViolationRow.team, visible)
            if state is not None:
                query = query.where(ViolationRow.state == state)
            if policy is not None:
                query = query.where(ViolationRow.policy == policy)
            rows = [_info(r) for r in s.scalars(query.order_by(ViolationRow.id.desc()))]
        rows.sort(key=lambda v: v.at_stake, reverse=True)
        return rows[:limit]

    def get(self, violation_id: int, visible: Visible = None) -> ViolationInfo:
        """One violation (NotFoundError when there is none the caller may see)."""
        with self.session() as s:
            return _info(_row(s, violation_id, visible))

    # -- people -----------------------------------------------------------------------------

    def acknowledge(
        self, violation_id: int, actor: str, note: str = "", *, visible: Visible = None
    ) -> ViolationInfo:
        """Someone owns it and is on it: an ``open`` violation becomes ``acknowledged``."""
        return self._change(violation_id, "acknowledged", actor, note, ("open",), visible)

    def grant_exception(
        self,
        violation_id: int,
        actor: str,
        justification: str,
        until: datetime,
        *,
        role: str,
        visible: Visible = None,
        at: datetime | None = None,
    ) -> ViolationInfo:
        """Accept the breach until ``until``: ``role`` (the approver's) must be finance or admin,
        the justification given and ``until`` after ``at`` (now)."""
        if role not in APPROVERS:
            raise ConfigError(f"{actor} has the role {role!r}: an exception needs the approval "
                              f"of a {' or '.join(APPROVERS)} user")  # fmt: skip
        if not justification.strip():
            raise ConfigError("an exception needs a justification (why the breach is accepted)")
        if until.tzinfo is None or until <= (at or now()):
            raise ConfigError(f"an exception's expiry must be a UTC time in the future "
                              f"(got {until.isoformat()})")  # fmt: skip
        allowed = ("open", "acknowledged", "exception")
        return self._change(violation_id, "exception", actor, justification, allowed, visible,
                            until=until)  # fmt: skip

    def resolve(
        self, violation_id: int, actor: str, note: str = "", *, visible: Visible = None
    ) -> ViolationInfo:
        """Fixed: the violation is ``resolved`` (the next evaluation reopens it if it is not)."""
        allowed = ("open", "acknowledged", "exception")
        return self._change(violation_id, "resolved", actor, note, allowed, visible)

    def _change(
        self,
        violation_id: int,
        state: str,
        actor: str,
        note: str,
        allowed: tuple[str, ...],
        visible: Visible,
        *,
        until: datetime | None = None,
    ) -> ViolationInfo:
        if len(note) > _NOTE:
            raise ConfigError(f"a note is at most {_NOTE} characters (got {len(note)})")
        with self.session() as s:
            row = _row(s, violation_id, visible)
            if row.state not in allowed:
                raise ConfigError(f"violation {violation_id} is {row.state}: only one that is "
                                  f"{' or '.join(allowed)} can become {state}")  # fmt: skip
            _move(s, row, state, actor, note.strip(), now(), until=until)
            return _info(row)

    def history(self, info: ViolationInfo) -> builtins.list[dict[str, Any]]:
        """The violation's state changes from the audit log, oldest first: state, action, the
        state before, by whom, when, note (and an exception's expiry)."""
        query = (
            select(AuditEvent)
            .where(AuditEvent.action.in_(sorted(_STATE_OF)))
            .where(AuditEvent.target.in_(sorted({info.key, info.key[:320]})))
            .order_by(AuditEvent.id)
        )
        with self.session() as s:
            events = [e for e in s.scalars(query) if (e.detail or {}).get("id") == info.id]
            return [_change(e) for e in events]


def _seen(
    s: Session, row: ViolationRow | None, found: Violation, at: datetime, currency: str
) -> Change:
    """Record one violation found by an evaluation; what that did to it."""
    if row is None:
        row = ViolationRow(key=found.key, state="open", note="", state_by=EVALUATION,
                           state_at=at, detected_at=at)  # fmt: skip
        _fill(row, found, at, currency)
        s.add(row)
        s.flush()
        audit(s, EVALUATION, "violation.open", found.key, {"id": row.id, "policy": found.policy})
        return Change(row.id, found.key, "new")
    kind = _again(s, row, found, at)
    _fill(row, found, at, currency)
    return Change(row.id, found.key, kind)


def _again(s: Session, row: ViolationRow, found: Violation, at: datetime) -> str:
    """What finding a stored violation again means: reopened, grew or the same."""
    expired = row.state == "exception" and (aware(row.exception_until) or at) <= at
    if row.state == "resolved" or expired:
        why = "exception expired, still found" if expired else "found again"
        _move(s, row, "open", EVALUATION, why, at)
        return "reopened"
    if row.state != "exception" and _money(found.at_stake) > Decimal(row.at_stake) * GROWTH:
        return "grew"
    return "same"


def _fill(row: ViolationRow, found: Violation, at: datetime, currency: str) -> None:
    row.policy, row.kind, row.severity = found.policy, found.kind, found.severity
    row.subject, row.team = found.subject, found.owner
    row.at_stake, row.currency = str(_money(found.at_stake)), currency
    row.evidence = dict(found.as_dict()["evidence"])
    row.first_day, row.last_day, row.seen_at = found.first_day, found.last_day, at


def _move(
    s: Session,
    row: ViolationRow,
    state: str,
    actor: str,
    note: str,
    at: datetime,
    *,
    until: datetime | None = None,
) -> None:
    """Change a violation's state (audited)."""
    detail: dict[str, object] = {"id": row.id, "from": row.state, "to": state, "note": note}
    if until is not None:
        detail["until"] = until.isoformat()
    row.state, row.note, row.state_by, row.state_at = state, note, actor, at
    row.exception_until = until
    audit(s, actor, f"violation.{_ACTIONS[state]}", row.key[:320], detail)


_ACTIONS = {"open": "reopen", "acknowledged": "acknowledge", "exception": "exception",
            "resolved": "resolve"}  # fmt: skip


def _row(s: Session, violation_id: int, visible: Visible) -> ViolationRow:
    query = select(ViolationRow).where(ViolationRow.id == violation_id)
    row: ViolationRow | None = s.scalars(only_visible(query, ViolationRow.team, visible)).first()
    if row is None:
        raise NotFoundError(f"no violation {violation_id}")
    return row


def _check_state(state: str) -> None:
    if state not in VIOLATION_STATES:
        raise ConfigError(f"state {state!r}: choose one of {', '.join(VIOLATION_STATES)}")


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


def _info(r: ViolationRow) -> ViolationInfo:
    return ViolationInfo(
        r.id, r.key, r.policy, r.kind, r.severity, r.subject, r.team, Decimal(r.at_stake),
        r.currency, dict(r.evidence or {}), r.first_day, r.last_day, r.state, r.note, r.state_by,
        aware(r.state_at), aware(r.exception_until), aware(r.detected_at), aware(r.seen_at),
    )  # fmt: skip


#: The audit actions of a violation's state changes and the state each leaves it in.
_STATE_OF = {"violation.open": "open", "violation.reopen": "open",
             "violation.acknowledge": "acknowledged", "violation.exception": "exception",
             "violation.resolve": "resolved"}  # fmt: skip


def _change(event: AuditEvent) -> dict[str, Any]:
    detail = event.detail or {}
    note = detail.get("note", "found by an evaluation" if event.action == "violation.open" else "")
    return {
        "state": _STATE_OF[event.action], "action": event.action.removeprefix("violation."),
        "from": detail.get("from"), "by": event.actor, "at": aware(event.at).isoformat(),
        "note": str(note), "until": detail.get("until"),
    }  # fmt: skip
