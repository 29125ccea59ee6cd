"""Governance as the dashboard shows it: the caller's violations under one state tab with a
summary of the money at stake in the open ones, the policies in force, and one violation with
its evidence and its history (the audit log's state changes of that violation).

A violation's history is read from the audit log, where the store records every state change
(``violation.open``, ``.acknowledge``, ``.exception``, ``.resolve``, ``.reopen``) with the
violation's id, who, from, to and the note.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from costcouncil.appdb.policies import VIOLATION_STATES
from costcouncil.errors import ConfigError
from costcouncil.workspace.common.appstate import Visible
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.policy.run import read_policies
from costcouncil.workspace.policy.store import ViolationInfo, Violations

__all__ = ["ALL", "TABS", "Listed", "detail", "history", "listing", "policies", "read_until"]

#: The list's tabs: each state, then every violation whatever its state.
ALL = "all"
TABS = (*VIOLATION_STATES, ALL)
#: How many violations the list and its summary read at most.
LIMIT = 1000


@dataclass(frozen=True)
class Listed:
    """What the list shows: a state tab (``all`` for every state) and a policy (None: any)."""

    state: str = "open"
    policy: str | None = None

    @classmethod
    def read(cls, params: dict[str, str]) -> Listed:
        """The tab and policy of the page's query (``state``, ``policy``); an unknown tab is a
        ConfigError naming the choices."""
        state = params.get("state") or "open"
        if state not in TABS:
            raise ConfigError(f"state {state!r}: choose one of {', '.join(TABS)}")
        return cls(state, params.get("policy") or None)


def listing(
    store: Violations, workspace: Workspace, visible: Visible, shown: Listed
) -> dict[str, Any]:
    """The list page's figures: the tab's violations, the open summary and the policies."""
    state = None if shown.state == ALL else shown.state
    found = store.list(visible, state=state, policy=shown.policy, limit=LIMIT)
    open_ones = store.list(visible, state="open", limit=LIMIT)
    return {
        "state": shown.state, "policy": shown.policy, "tabs": list(TABS),
        "violations": [v.as_dict() for v in found],
        "summary": summary(open_ones, workspace.config.currency),
        "empty": _why_empty(visible, shown), **policies(workspace),
    }  # fmt: skip


def summary(open_ones: list[ViolationInfo], currency: str) -> dict[str, Any]:
    """The open violations' count and $ at stake, in all and per policy (most money first)."""
    by_policy: dict[str, list[Decimal]] = defaultdict(list)
    for v in open_ones:
        by_policy[v.policy].append(v.at_stake)
    sums = sorted(((sum(a, Decimal(0)), p, len(a)) for p, a in by_policy.items()),
                  key=lambda r: (-r[0], r[1]))  # fmt: skip
    rows = [{"policy": p, "count": n, "at_stake": str(total)} for total, p, n in sums]
    total = sum((v.at_stake for v in open_ones), Decimal(0))
    return {"count": len(open_ones), "at_stake": str(total), "currency": currency,
            "by_policy": rows}  # fmt: skip


def policies(workspace: Workspace) -> dict[str, Any]:
    """The policies in force from ``policies.yaml``, or why it cannot be read (the page still
    shows the violations)."""
    try:
        found = read_policies(workspace)
    except ConfigError as e:
        return {"policies": [], "policies_error": str(e)}
    rows = [{"name": p.name, "kind": p.kind, "scope": p.scope, "severity": p.severity,
             "enforce": p.enforce, "owner": p.owner, "description": p.description}
            for p in found]  # fmt: skip
    return {"policies": rows, "policies_error": None}


def detail(store: Violations, info: ViolationInfo) -> dict[str, Any]:
    """One violation with its history, oldest change first."""
    return {"violation": info.as_dict(), "history": history(store, info)}


def history(store: Violations, info: ViolationInfo) -> list[dict[str, Any]]:
    """The violation's state changes (see :meth:`Violations.history`)."""
    return store.history(info)


def read_until(text: str) -> date:
    """The exception form's last day (YYYY-MM-DD)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"until: {text!r} is not a day (YYYY-MM-DD)") from None


def _why_empty(visible: Visible, shown: Listed) -> str:
    """Why the tab has no violations, in one sentence."""
    if visible is not None and not visible:
        return "Nothing visible to this account: it belongs to no team."
    which = "" if shown.state == ALL else f"{shown.state} "
    whose = f" of your teams ({', '.join(sorted(visible))})" if visible is not None else ""
    of = f" of the policy {shown.policy}" if shown.policy else ""
    return f"No {which}violations{of}{whose}."
