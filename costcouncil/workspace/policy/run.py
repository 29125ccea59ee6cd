"""Evaluating a workspace's policies: ``policies.yaml`` read, the input tables built from the lake
and the budgets, the engine's violations recorded with their lifecycle, and the new, reopened,
grown and resolved ones told to the notification subscriptions and the inbox.

Runs after every ``allocate`` and on ``serve``'s schedule (the ``policies`` step of
:mod:`costcouncil.workspace.refresh.run`) and from ``costcouncil policy evaluate``. A workspace
without a ``policies.yaml`` has no policies: an evaluation then resolves whatever was open.
:func:`check_plan` answers the shift-left check for a planned job or LLM route, with each
experiment's spend so far read from the lake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from costcouncil.engine.duckdb import connect
from costcouncil.errors import ConfigError
from costcouncil.notify.message import SEVERITIES, Alert
from costcouncil.policy import (
    SCOPE_KEYS,
    CheckResult,
    ExperimentCapParams,
    Inputs,
    PlannedJob,
    PlannedRoute,
    Policy,
    Violation,
    check,
    evaluate,
    parse_policies,
)
from costcouncil.policy.violation import plain
from costcouncil.workspace.allocate.series import dimensions, last_complete_end, rollup_files
from costcouncil.workspace.budgets.spend import lake_spend
from costcouncil.workspace.common.appstate import audit, now
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.notify.dispatch import BASE_URL, dispatch
from costcouncil.workspace.policy.inputs import build_inputs
from costcouncil.workspace.policy.store import Change, ViolationInfo, Violations

__all__ = [
    "POLICIES_FILE",
    "POLICY_SOURCE",
    "Outcome",
    "as_of_day",
    "check_plan",
    "evaluate_inputs",
    "evaluate_workspace",
    "evidence_lines",
    "experiment_spend",
    "policy_alerts",
    "policy_keys",
    "read_policies",
]

#: The policies of a workspace, at its root.
POLICIES_FILE = "policies.yaml"
#: The source name of a policy's alerts: ``policy:<name>`` (in place of a monitor's name).
POLICY_SOURCE = "policy:"
#: The alert status of each change an evaluation tells subscribers of.
_TOLD = {"new": "new", "reopened": "updated", "grew": "updated", "resolved": "resolved"}
_CENT = Decimal("0.01")
_SHOWN = 5


@dataclass
class Outcome:
    """What one evaluation did: the day evaluated, how many policies, the violations found, the
    changes to the stored ones and how many delivery-log rows the notifications wrote."""

    as_of: date | None = None
    policies: int = 0
    found: list[Violation] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    notified: int = 0

    def count(self, kind: str) -> int:
        """How many changes of ``kind`` (new, reopened, grew, same, resolved)."""
        return sum(1 for c in self.changes if c.kind == kind)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures and the violations found."""
        counts = {k: self.count(k) for k in ("new", "reopened", "grew", "resolved")}
        return {"as_of": None if self.as_of is None else self.as_of.isoformat(),
                "policies": self.policies, **counts, "notified": self.notified,
                "violations": [v.as_dict() for v in self.found]}  # fmt: skip


# -- reading -----------------------------------------------------------------------------------


def policy_keys(workspace: Workspace) -> tuple[str, ...]:
    """The keys a policy's scope may name: the workspace's owner keys and the tables' columns."""
    fixed = SCOPE_KEYS[len(SCOPE_KEYS) - 3 :]  # resource_id, instance_type, service_category
    return tuple(dict.fromkeys((*workspace.config.tags.owner_keys, *fixed)))


def read_policies(workspace: Workspace, path: Path | None = None) -> list[Policy]:
    """The policies of ``path`` (the workspace's ``policies.yaml`` by default; missing: none).

    The workspace has no catalog of instance types, so ``allowed_instances`` patterns are not
    checked against one."""
    path = path or workspace.root / POLICIES_FILE
    if path == workspace.root / POLICIES_FILE and not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read it ({e})") from e
    return parse_policies(text, str(path), known_keys=policy_keys(workspace))


def as_of_day(workspace: Workspace, at: datetime) -> date:
    """The lake's last complete day (the day of ``at`` when the lake has no cost yet)."""
    files = rollup_files(workspace, "hourly")
    if not files:
        return at.astimezone(UTC).date()
    con = connect()
    try:
        end = last_complete_end(con, workspace)
    finally:
        con.close()
    days = int(end.astype("datetime64[D]").astype(np.int64))
    return date(1970, 1, 1) + timedelta(days=days - 1)


# -- evaluation --------------------------------------------------------------------------------


def evaluate_workspace(
    workspace: Workspace,
    store: Violations,
    *,
    as_of: date | None = None,
    at: datetime | None = None,
    link: str = "",
) -> Outcome:
    """Evaluate ``policies.yaml`` over the workspace as of ``as_of`` (default: the lake's last
    complete day); record the lifecycle at ``at`` (default: now) and notify the changes."""
    at = at or now()
    policies = read_policies(workspace)
    day = as_of or as_of_day(workspace, at)
    inputs = build_inputs(workspace, as_of=day) if policies else Inputs()
    return evaluate_inputs(workspace, store, policies, inputs, as_of=day, at=at, link=link)


def evaluate_inputs(
    workspace: Workspace,
    store: Violations,
    policies: Sequence[Policy],
    inputs: Inputs,
    *,
    as_of: date,
    at: datetime | None = None,
    link: str = "",
) -> Outcome:
    """Evaluate ``policies`` over ``inputs``, record what was found and notify the changes."""
    at = at or now()
    found = evaluate(policies, inputs, as_of=as_of)
    changes = store.record(found, at=at, currency=workspace.config.currency)
    alerts = policy_alerts(store, changes, link)
    notified = len(dispatch(store.db, alerts, now=at)) if alerts else 0
    return Outcome(as_of, len(policies), found, changes, notified)


# -- notifications -----------------------------------------------------------------------------


def policy_alerts(
    store: Violations, changes: Sequence[Change], link: str = ""
) -> list[tuple[Alert, str, str | None]]:
    """The alerts of the new, reopened, grown and resolved violations: each with its source
    (``policy:<name>``) and its team (the violation's owner)."""
    out = []
    for change in changes:
        status = _TOLD.get(change.kind)
        if status is not None:
            info = store.get(change.violation_id)
            out.append((_alert(info, status, link), f"{POLICY_SOURCE}{info.policy}", info.team))
    return out


def _alert(v: ViolationInfo, status: str, link: str) -> Alert:
    first = v.first_day
    start = datetime.combine(first, time(), UTC) if first else v.detected_at
    return Alert(
        id=f"violation:{v.id}", kind="policy", title=f"{v.policy} ({v.kind}) breached",
        scope=v.subject, status=status, impact=v.at_stake.quantize(_CENT),  # type: ignore[arg-type]
        currency=v.currency, start=start, end=v.state_at if status == "resolved" else None,
        link=f"{(link or BASE_URL).rstrip('/')}/governance/{v.id}",
        severity=v.severity if v.severity in SEVERITIES else "warning",  # type: ignore[arg-type]
        lines=tuple(evidence_lines(v)),
    )  # fmt: skip


def evidence_lines(v: ViolationInfo) -> list[str]:
    """The violation in short: its owner and days, then each piece of evidence on one line."""
    days = f"{v.first_day} to {v.last_day}" if v.first_day and v.last_day else "no days"
    lines = [f"owner: {v.team or 'nobody'}; severity {v.severity}; {days}"]
    return lines + [f"{k}: {_short(value)}" for k, value in v.evidence.items()]


def _short(value: object) -> str:
    if isinstance(value, list | tuple):
        more = f" … and {len(value) - _SHOWN} more" if len(value) > _SHOWN else ""
        return ", ".join(str(x) for x in value[:_SHOWN]) + more
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_short(x)}" for k, x in value.items())
    return str(value)


# -- the shift-left check ----------------------------------------------------------------------


def check_plan(
    workspace: Workspace,
    store: Violations,
    planned: PlannedJob | PlannedRoute,
    *,
    today: date,
    actor: str,
    policies: Sequence[Policy] | None = None,
) -> CheckResult:
    """Whether ``planned`` may go ahead under ``policies`` (default: ``policies.yaml``), each
    experiment it names priced with its spend so far; a denial is audited."""
    policies = read_policies(workspace) if policies is None else policies
    spent = experiment_spend(workspace, policies, planned)
    result = check(policies, planned, today=today, spent=spent)
    if not result.allow:
        what = "job" if isinstance(planned, PlannedJob) else "route"
        deciding = ",".join(f.policy for f in result.findings if not f.allow)
        detail = {"plan": plain(asdict(planned)), "reasons": [f.reason for f in result.findings]}
        with store.session() as s:
            audit(s, actor, f"policy.deny.{what}", deciding[:320], detail)
    return result


def experiment_spend(
    workspace: Workspace, policies: Sequence[Policy], planned: PlannedJob | PlannedRoute
) -> dict[str, Decimal]:
    """The lake's spend (effective cost, every day) of each experiment value the plan names."""
    keys = {p.params.key for p in policies if isinstance(p.params, ExperimentCapParams)}
    spent: dict[str, Decimal] = {}
    for key in sorted(keys & set(planned.keys) & set(dimensions(workspace))):
        value = planned.keys[key]
        found = lake_spend(workspace, [(key, value)], "EffectiveCost", date.min)
        spent[value] = sum(found.days.values(), Decimal(0))
    return spent
