"""Evaluation: one planted breach of each kind among compliant rows is found, and nothing else."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from costcouncil.errors import ConfigError
from costcouncil.policy import Inputs, Policy, Violation, evaluate, parse_policies
from tests.policy.build import budgets, costs, gpu, jobs, llm

D = Decimal
AS_OF = date(2026, 3, 31)

POLICIES = parse_policies(
    """\
version: 1
policies:
  - {name: tags, kind: required_tags, params: {keys: [team, project]}}
  - name: gpus
    kind: allowed_instances
    severity: critical
    params: {environments: {prod: ["p4d.*", "g5.*"], dev: ["g6.*"]}}
  - {name: models, kind: allowed_models, params: {environments: {prod: [gpt-4o-mini, "claude-*"]}}}
  - name: exps
    kind: experiment_cap
    params: {experiments: [{match: "exp-*", cap: 5000, ends: 2026-12-31}]}
  - {name: idle, kind: idle_gpu, params: {max_idle_percent: 50, days: 7}}
  - {name: unit, kind: unit_cost, params: {per: 1k_requests, max: 2.50, by: feature}}
  - {name: budgets, kind: budget_overrun, params: {budgets: all, basis: actual}}
""",
    "policies.yaml",
)


def day(d: int, month: int = 3) -> date:
    return date(2026, month, d)


def ai(**row: Any) -> dict[str, Any]:
    """An AI cost row, tagged with team and project unless told otherwise."""
    return {"service_category": "AI and Machine Learning", "tag_keys": ["team", "project"]} | row


COSTS = costs(
    ai(
        day=day(10),
        resource_id="r-a",
        instance_type="g5.xlarge",
        accelerator_type="A10G",
        team="vision",
        project="vis",
        environment="prod",
        cost=100,
    ),
    # planted: AI spend whose bill lacked `project`
    ai(
        day=day(11),
        resource_id="r-untagged",
        instance_type="g5.xlarge",
        accelerator_type="A10G",
        team="nlp",
        project="nlp-app",
        environment="prod",
        tag_keys=["team"],
        cost=40,
    ),
    ai(day=day(1, 2), resource_id="r-old", team="search", tag_keys=[], cost=70),  # before window
    {
        "day": day(12),
        "resource_id": "bucket",
        "service_category": "Storage",
        "team": "search",
        "tag_keys": [],
        "cost": 15,
    },  # not AI spend
    # planted: an H100 node in prod, where only p4d and g5 are allowed
    ai(
        day=day(15),
        resource_id="r-p5",
        instance_type="p5.48xlarge",
        accelerator_type="H100",
        team="vision",
        project="vis",
        environment="prod",
        cost=300,
    ),
    ai(
        day=day(15),
        resource_id="r-g6",
        instance_type="g6.xlarge",
        accelerator_type="L4",
        team="vision",
        project="vis",
        environment="dev",
        cost=20,
    ),
    {
        "day": day(15),
        "resource_id": "r-cpu",
        "instance_type": "m5.large",
        "team": "vision",
        "service_category": "Compute",
        "environment": "prod",
        "tag_keys": [],
        "cost": 5,
    },
    # planted: exp-1 spends 3 × 2000 against a 5000 cap, the first day before the window
    *[
        ai(
            day=day(d),
            resource_id="r-train",
            instance_type="p4d.24xlarge",
            accelerator_type="A100",
            team="research",
            project="exp-1",
            environment="prod",
            cost=2000,
        )
        for d in (1, 2, 3)
    ],
    ai(
        day=day(5),
        resource_id="r-train",
        instance_type="p4d.24xlarge",
        accelerator_type="A100",
        team="research",
        project="exp-2",
        environment="prod",
        cost=100,
    ),
    ai(
        day=day(2, 4),
        resource_id="r-train",
        instance_type="p4d.24xlarge",
        accelerator_type="A100",
        team="research",
        project="exp-2",
        environment="prod",
        cost=9999,
    ),  # after as_of
)


def stamp(d: date, hour: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


JOBS = jobs(
    {
        "job_id": "job-p5",
        "resource_id": "r-p5",
        "instance_type": "p5.48xlarge",
        "accelerator_type": "H100",
        "accelerator_count": 8,
        "team": "vision",
        "environment": "prod",
        "start": stamp(day(15), 1),
        "end": stamp(day(15), 9),
    },
    {
        "job_id": "job-a",
        "resource_id": "r-a",
        "instance_type": "g5.xlarge",
        "accelerator_type": "A10G",
        "accelerator_count": 1,
        "team": "vision",
        "environment": "prod",
        "start": stamp(day(10), 1),
        "end": stamp(day(10), 5),
    },
)


def node(rid: str, team: str, days: list[date], busy: float) -> list[dict[str, Any]]:
    return [
        {
            "day": d,
            "resource_id": rid,
            "instance_type": "p4d.24xlarge",
            "team": team,
            "capacity_hours": 192.0,
            "busy_hours": busy,
            "cost": 786,
        }
        for d in days
    ]


LAST_WEEK = [AS_OF - timedelta(days=i) for i in range(7)]
GPU = gpu(
    *node("node-idle", "platform", LAST_WEEK, 40.0),  # planted: 79 % idle
    *node("node-busy", "platform", LAST_WEEK, 180.0),
    *node("node-old", "platform", [day(d) for d in range(1, 20)], 0.0),  # idle, but weeks ago
)

LLM = llm(
    {
        "day": day(20),
        "team": "product",
        "feature": "chat",
        "model": "gpt-4o-mini",
        "environment": "prod",
        "requests": 1000,
        "input_tokens": 1_500_000,
        "output_tokens": 500_000,
        "cost": "1.00",
    },
    # planted: a model prod does not allow
    {
        "day": day(21),
        "team": "product",
        "feature": "summarise",
        "model": "gpt-4o",
        "environment": "prod",
        "requests": 100,
        "input_tokens": 90_000,
        "output_tokens": 10_000,
        "cost": "0.20",
    },
    {
        "day": day(21),
        "team": "product",
        "feature": "draft",
        "model": "gpt-4o",
        "environment": "dev",
        "requests": 10,
        "input_tokens": 9_000,
        "output_tokens": 1_000,
        "cost": "0.02",
    },  # dev is not constrained
    # planted: search costs 5.00 per 1k requests, the ceiling is 2.50
    {
        "day": day(22),
        "team": "search",
        "feature": "search",
        "model": "claude-3-5-haiku",
        "environment": "prod",
        "requests": 2000,
        "input_tokens": 1_000_000,
        "output_tokens": 100_000,
        "cost": "10.00",
    },
)

BUDGETS = budgets(
    {
        "name": "research-monthly",
        "team": "research",
        "owner": "ada@acme.com",
        "amount": 5000,
        "spent": 6000,
        "projected": 7000,
        "window_start": day(1),
        "window_end": day(1, 4),
    },
    {
        "name": "vision-monthly",
        "team": "vision",
        "owner": "bo@acme.com",
        "amount": 5000,
        "spent": 4000,
        "projected": 5500,
        "window_start": day(1),
        "window_end": day(1, 4),
    },
    {
        "name": "research-april",
        "team": "research",
        "owner": "ada@acme.com",
        "amount": 1,
        "spent": 50,
        "projected": None,
        "window_start": day(1, 4),
        "window_end": day(1, 5),
    },
)

INPUTS = Inputs(costs=COSTS, gpu=GPU, jobs=JOBS, llm=LLM, budgets=BUDGETS)


def found() -> dict[str, Violation]:
    return {v.key: v for v in evaluate(POLICIES, INPUTS, as_of=AS_OF)}


def test_every_planted_breach_is_found_and_no_other() -> None:
    assert sorted(found()) == [
        "budgets:budget=research-monthly,window=2026-03-01",
        "exps:project=exp-1",
        "gpus:resource=r-p5,environment=prod",
        "idle:resource=node-idle",
        "models:team=product,feature=summarise,model=gpt-4o,environment=prod",
        "tags:resource=r-untagged",
        "tags:team=nlp",
        "unit:feature=search",
    ]


def test_each_breach_has_its_owner_and_money_at_stake() -> None:
    got = {k: (v.owner, v.at_stake, v.first_day, v.last_day) for k, v in found().items()}
    assert got == {
        "budgets:budget=research-monthly,window=2026-03-01": ("research", 1000, day(1), AS_OF),
        "exps:project=exp-1": ("research", 1000, day(3), day(3)),
        "gpus:resource=r-p5,environment=prod": ("vision", 300, day(15), day(15)),
        "idle:resource=node-idle": ("platform", D("4355.75"), AS_OF - timedelta(6), AS_OF),
        "models:team=product,feature=summarise,model=gpt-4o,environment=prod": (
            "product",
            D("0.20"),
            day(21),
            day(21),
        ),
        "tags:resource=r-untagged": ("nlp", 40, day(11), day(11)),
        "tags:team=nlp": ("nlp", 40, day(11), day(11)),
        "unit:feature=search": ("search", D("5.00"), day(22), day(22)),
    }


def test_the_evidence_says_what_breached() -> None:
    v = found()
    assert v["gpus:resource=r-p5,environment=prod"].evidence["jobs"] == ["job-p5"]
    assert v["gpus:resource=r-p5,environment=prod"].severity == "critical"
    assert v["tags:resource=r-untagged"].evidence["missing_keys"] == ["project"]
    team = v["tags:team=nlp"].evidence
    assert (team["coverage_percent"], team["untagged_resources"]) == ("0.0", ["r-untagged"])
    exp = v["exps:project=exp-1"].evidence
    assert (D(exp["spent"]), D(exp["over_cap"]), exp["resources"]) == (6000, 1000, ["r-train"])
    idle = v["idle:resource=node-idle"].evidence
    assert (idle["idle_percent"], idle["capacity_hours"]) == ("79.2", 1344.0)
    unit = v["unit:feature=search"].evidence
    assert (D(unit["cost_per_unit"]), D(unit["units"])) == (5, 2)
    assert v["budgets:budget=research-monthly,window=2026-03-01"].evidence["budget_owner"] == (
        "ada@acme.com"
    )
    json.dumps([x.as_dict() for x in v.values()])  # JSON-ready


def test_the_window_moves_with_as_of() -> None:
    later = {v.key for v in evaluate(POLICIES, INPUTS, as_of=date(2026, 5, 15))}
    # Only what does not look at a window stays: experiments, and both budgets started by then.
    assert later == {
        "budgets:budget=research-monthly,window=2026-03-01",
        "budgets:budget=research-april,window=2026-04-01",
        "exps:project=exp-1",
        "exps:project=exp-2",  # its 9999 on 2 April is now in the past
    }
    short = {v.key for v in evaluate(POLICIES, INPUTS, as_of=AS_OF, days=5)}
    assert "tags:team=nlp" not in short and "unit:feature=search" not in short


def policy(text: str) -> list[Policy]:
    return parse_policies(f"version: 1\npolicies:\n{text}", "p.yaml")


def test_experiments_breach_by_spending_after_their_end() -> None:
    (p,) = policy(
        "  - {name: e, kind: experiment_cap, params: {experiments: [{match: 'poc-*', ends: 2026-03-20}]}}\n"
    )
    rows = costs(
        ai(day=day(19), project="poc-1", team="lab", resource_id="r1", cost=500),
        ai(day=day(20), project="poc-1", team="lab", resource_id="r1", cost=500),
        ai(day=day(22), project="poc-1", team="lab", resource_id="r2", cost=30),
        ai(day=day(25), project="poc-1", team=None, resource_id="r2", cost=20),
        ai(day=day(25), project="lab-2", team="lab", cost=20000),  # no experiment matches
    )
    (v,) = evaluate([p], Inputs(costs=rows), as_of=AS_OF)
    assert (v.subject, v.owner, v.at_stake) == ("project=poc-1", "lab", 50)
    assert (v.first_day, v.last_day) == (day(22), day(25))
    assert D(v.evidence["after_end"]) == 50 and v.evidence["cap"] is None


def test_a_job_of_a_disallowed_type_on_no_billed_resource_is_its_own_violation() -> None:
    (p,) = policy(
        "  - {name: g, kind: allowed_instances, params: {environments: {prod: ['g5.*']}}}\n"
    )
    ran = jobs(
        {
            "job_id": "j1",
            "resource_id": "onprem-7",
            "instance_type": "p5.48xlarge",
            "accelerator_count": 8,
            "team": "lab",
            "environment": "prod",
            "start": stamp(day(30), 22),
            "end": None,
            "cost": "123.40",
        },
        {
            "job_id": "j-old",
            "resource_id": "onprem-7",
            "instance_type": "p5.48xlarge",
            "accelerator_count": 8,
            "team": "lab",
            "environment": "prod",
            "start": stamp(day(1, 1)),
            "end": stamp(day(2, 1)),
        },  # before the window
        {
            "job_id": "j-cpu",
            "instance_type": "c5.large",
            "accelerator_count": 0,
            "team": "lab",
            "environment": "prod",
            "start": stamp(day(30)),
            "end": stamp(day(31)),
        },
    )
    (v,) = evaluate([p], Inputs(jobs=ran), as_of=AS_OF)
    assert (v.key, v.owner, v.at_stake) == ("g:job=j1", "lab", D("123.40"))
    assert v.evidence["allowed"] == ["g5.*"] and v.first_day == day(30)


def test_a_forecast_basis_counts_the_projection() -> None:
    (p,) = policy(
        "  - {name: b, kind: budget_overrun, params: {budgets: [vision-monthly], basis: forecast}}\n"
    )
    (v,) = evaluate([p], Inputs(budgets=BUDGETS), as_of=AS_OF)
    assert (v.subject, v.owner, v.at_stake) == (
        "budget=vision-monthly,window=2026-03-01",
        "vision",
        500,
    )


def test_unit_cost_per_million_tokens_by_model() -> None:
    (p,) = policy("  - {name: u, kind: unit_cost, params: {per: 1m_tokens, max: 2.5, by: model}}\n")
    (v,) = evaluate([p], Inputs(llm=LLM), as_of=AS_OF)
    # claude-3-5-haiku: 10.00 over 1.1M tokens; gpt-4o: 0.22 over 0.11M = 2.00 per 1M, within.
    assert (v.subject, v.owner) == ("model=claude-3-5-haiku", "search")
    assert v.at_stake == D("10.00") - D("2.5") * D("1.1")


def test_scope_narrows_what_a_policy_sees() -> None:
    (p,) = policy("  - {name: i, kind: idle_gpu, scope: team=vision, params: {days: 7}}\n")
    assert evaluate([p], Inputs(gpu=GPU), as_of=AS_OF) == []
    (q,) = policy("  - {name: i, kind: idle_gpu, scope: team=platform, params: {days: 7}}\n")
    assert [v.subject for v in evaluate([q], Inputs(gpu=GPU), as_of=AS_OF)] == [
        "resource=node-idle"
    ]


def test_a_scope_key_the_table_lacks_is_an_error() -> None:
    (p,) = policy("  - {name: i, kind: idle_gpu, scope: feature=chat}\n")
    with pytest.raises(
        ConfigError, match=r"policy 'i': scope key 'feature' is not a column of the gpu table"
    ):
        evaluate([p], Inputs(gpu=GPU), as_of=AS_OF)


def test_a_team_at_or_above_its_minimum_coverage_is_not_a_breach() -> None:
    (p,) = policy("  - {name: t, kind: required_tags, params: {min_coverage: 60}}\n")
    rows = costs(
        ai(day=day(5), resource_id="a", team="x", cost=60),
        ai(day=day(5), resource_id="b", team="x", tag_keys=["team"], cost=40),
        ai(day=day(5), resource_id="c", team=None, tag_keys=[], cost=1),
    )
    assert [(v.subject, v.owner) for v in evaluate([p], Inputs(costs=rows), as_of=AS_OF)] == [
        ("resource=c", "__unallocated__"),
        ("team=__unallocated__", "__unallocated__"),
    ]


def test_an_input_table_missing_a_column_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"policy input 'gpu': no column 'busy_hours'"):
        Inputs(gpu=GPU.drop_columns(["busy_hours"]))


def test_violation_keys_are_stable_across_runs() -> None:
    first = [v.key for v in evaluate(POLICIES, INPUTS, as_of=AS_OF)]
    shuffled = Inputs(
        costs=COSTS.take(list(reversed(range(COSTS.num_rows)))),
        gpu=GPU,
        jobs=JOBS,
        llm=LLM,
        budgets=BUDGETS,
    )
    assert [v.key for v in evaluate(list(reversed(POLICIES)), shuffled, as_of=AS_OF)] == first
