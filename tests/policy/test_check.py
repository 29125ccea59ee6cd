"""Shift-left check: allow and deny per kind, with the policies that decided."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from costcouncil.policy import CheckResult, Finding, PlannedJob, PlannedRoute, check, parse_policies

D = Decimal
TODAY = date(2026, 3, 31)

POLICIES = parse_policies(
    """\
version: 1
policies:
  - {name: tags, kind: required_tags, enforce: true, params: {keys: [team, project]}}
  - name: gpus
    kind: allowed_instances
    enforce: true
    params: {environments: {prod: ["p4d.*", "g5.*"]}}
  - {name: models, kind: allowed_models, enforce: true, params: {environments: {prod: ["claude-*"]}}}
  - name: exps
    kind: experiment_cap
    enforce: true
    params:
      experiments: [{match: "exp-*", cap: 1000, ends: 2026-06-30}, {match: "poc-*", ends: 2026-03-01}]
  - {name: unit, kind: unit_cost, params: {per: 1m_tokens, max: 5, by: model}}
  - {name: idle, kind: idle_gpu, enforce: true}
""",
    "policies.yaml",
)
KEYS = {"team": "vision", "project": "exp-1"}


def job(**changes: object) -> PlannedJob:
    base: dict[str, object] = {
        "keys": KEYS,
        "environment": "prod",
        "instance_type": "p4d.24xlarge",
        "gpus": 8,
        "hours": 2.0,
        "hourly_price": D("4"),
    }
    return PlannedJob(**(base | changes))  # type: ignore[arg-type]


def test_a_compliant_job_is_allowed_without_findings() -> None:
    assert check(POLICIES, job(), today=TODAY) == CheckResult(True, ())


def test_a_disallowed_instance_type_is_denied_by_that_policy() -> None:
    result = check(POLICIES, job(instance_type="p5.48xlarge"), today=TODAY)
    assert result == CheckResult(
        False,
        (
            Finding(
                "gpus", False, "denied: p5.48xlarge is not allowed in prod (allowed: p4d.*, g5.*)"
            ),
        ),
    )
    # Environments the policy does not list are not constrained.
    assert check(POLICIES, job(instance_type="p5.48xlarge", environment="dev"), today=TODAY).allow


def test_missing_owner_keys_are_denied() -> None:
    result = check(POLICIES, job(keys={"team": "vision", "project": " "}), today=TODAY)
    assert not result.allow
    assert [f.policy for f in result.findings] == ["tags"]
    assert "project" in result.findings[0].reason


def test_the_experiment_cap_counts_spend_so_far_and_the_expected_cost() -> None:
    # 8 GPUs × 2 h × 4 = 64 expected.
    assert check(POLICIES, job(), today=TODAY, spent={"exp-1": D(936)}).allow
    result = check(POLICIES, job(), today=TODAY, spent={"exp-1": D("936.01")})
    assert [(f.policy, f.allow) for f in result.findings] == [("exps", False)]
    assert "passes its cap 1000" in result.findings[0].reason


def test_an_ended_experiment_is_denied() -> None:
    result = check(POLICIES, job(keys={"team": "x", "project": "poc-9"}), today=TODAY)
    assert result.findings == (Finding("exps", False, "denied: project=poc-9 ended on 2026-03-01"),)
    assert check(
        POLICIES, job(keys={"team": "x", "project": "poc-9"}), today=date(2026, 3, 1)
    ).allow


def test_routes_are_checked_for_model_and_unit_cost() -> None:
    good = PlannedRoute(
        KEYS | {"project": "app"}, "prod", "claude-3-5-haiku", cost_per_1m_tokens=D(4)
    )
    assert check(POLICIES, good, today=TODAY) == CheckResult(True, ())
    bad = PlannedRoute(KEYS | {"project": "app"}, "prod", "gpt-4o", cost_per_1m_tokens=D(10))
    result = check(POLICIES, bad, today=TODAY)
    assert not result.allow
    assert result.findings == (
        Finding("models", False, "denied: gpt-4o is not allowed in prod (allowed: claude-*)"),
        Finding(
            "unit", True, "warning (not enforced): model=gpt-4o costs 10 per 1M tokens, above 5"
        ),
    )


def test_a_route_spends_against_its_experiment() -> None:
    route = PlannedRoute(
        KEYS, "prod", "claude-x", expected_tokens=2_000_000, cost_per_1m_tokens=D(3)
    )
    assert check(POLICIES, route, today=TODAY, spent={"exp-1": D(994)}).allow
    assert not check(POLICIES, route, today=TODAY, spent={"exp-1": D(995)}).allow


def test_a_policy_out_of_scope_does_not_decide() -> None:
    scoped = parse_policies(
        "version: 1\npolicies:\n  - {name: g, kind: allowed_instances, scope: team=nlp, enforce: true,"
        " params: {environments: {prod: [g5.xlarge]}}}\n",
        "p.yaml",
    )
    assert check(scoped, job(), today=TODAY).allow
    assert not check(scoped, job(keys={"team": "nlp"}), today=TODAY).allow
