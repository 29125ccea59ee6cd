"""What runs after every ``allocate`` and on a schedule inside ``serve``: the saved forecasts are
refreshed, every monitor's detection runs, and the anomalies it found or that grew or ended are
handed to the notification subscriptions (immediate ones sent, digests queued, the inbox filled);
then every budget's crossed thresholds are (``costcouncil.workspace.budgets.alerts``); then the
policies of ``policies.yaml`` are evaluated (``costcouncil.workspace.policy.run``).

Each step is independent: one that fails is reported in the outcome and the others still run,
so a broken SMTP server never stops forecasts from updating.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from costcouncil.errors import CostCouncilError
from costcouncil.workspace.anomaly.run import Outcome as Detection
from costcouncil.workspace.anomaly.run import run_detection
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.budgets.alerts import notify_budgets
from costcouncil.workspace.budgets.service import BudgetService
from costcouncil.workspace.budgets.store import BudgetStore
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import refresh_forecasts
from costcouncil.workspace.policy.run import Outcome as Evaluation
from costcouncil.workspace.policy.run import evaluate_workspace
from costcouncil.workspace.policy.store import Violations
from costcouncil.workspace.refresh.alerts import dispatch_changes

T = TypeVar("T")


@dataclass
class Refreshed:
    """What one refresh did, step by step, with each step's seconds and any failure."""

    forecast_scopes: int = 0
    detection: Detection | None = None
    notified: int = 0
    budget_alerts: int = 0
    policies: Evaluation | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        found = self.detection
        return {
            "forecast_scopes": self.forecast_scopes,
            "monitors": found.monitors if found else 0,
            "anomalies_new": found.count("new") if found else 0,
            "anomalies_grew": found.count("grew") if found else 0,
            "anomalies_ended": found.count("ended") if found else 0,
            "notified": self.notified,
            "budget_notifications": self.budget_alerts,
            **_policy_counts(self.policies),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "failures": self.failures,
        }


def refresh(workspace: Workspace, *, now: datetime | None = None, link: str = "") -> Refreshed:
    """Forecasts, detection and notifications, in that order."""
    at = now or datetime.now(UTC)
    done = Refreshed()
    saved = _step(done, "forecast", lambda: refresh_forecasts(workspace))
    done.forecast_scopes = len(saved.scopes) if saved is not None else 0
    store = Monitoring.open(workspace)
    try:
        done.detection = _step(done, "detect", lambda: run_detection(workspace, store, at=at))
        if done.detection is not None:
            found = done.detection
            sent = _step(
                done, "notify", lambda: dispatch_changes(workspace, store, found, at, link)
            )
            done.notified = sent or 0
    finally:
        store.close()
    done.budget_alerts = _step(done, "budgets", lambda: _budgets(workspace, at, link)) or 0
    done.policies = _step(done, "policies", lambda: _policies(workspace, at, link))
    return done


def _budgets(workspace: Workspace, at: datetime, link: str) -> int:
    """Every budget's crossed thresholds (forecast ones projected) to the subscriptions."""
    budgets = BudgetStore.open(workspace)
    try:
        if not budgets.budgets():
            return 0
        service = BudgetService.open(workspace, budgets, clock=at.timestamp)
        return notify_budgets(service, at=at, link=link)
    finally:
        budgets.close()


def _policies(workspace: Workspace, at: datetime, link: str) -> Evaluation:
    """The policies evaluated as of the lake's last complete day, changes told."""
    store = Violations.open(workspace)
    try:
        return evaluate_workspace(workspace, store, at=at, link=link)
    finally:
        store.close()


def _policy_counts(found: Evaluation | None) -> dict[str, int]:
    """The violations opened, reopened and resolved, and the delivery-log rows written."""
    counts = {
        f"violations_{k}": found.count(k) if found else 0 for k in ("new", "reopened", "resolved")
    }
    return counts | {"policy_notifications": found.notified if found else 0}


def _step(done: Refreshed, name: str, work: Callable[[], T]) -> T | None:
    started = time.perf_counter()
    try:
        return work()
    except CostCouncilError as e:
        done.failures[name] = str(e)
        return None
    finally:
        done.seconds[name] = time.perf_counter() - started
