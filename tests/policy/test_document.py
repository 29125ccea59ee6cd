"""policies.yaml: every kind read, every mistake at once with its line, patterns, round trips."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costcouncil.errors import ConfigError
from costcouncil.policy import (
    KINDS,
    PARAMS,
    AllowedInstancesParams,
    AllowedModelsParams,
    BudgetOverrunParams,
    Experiment,
    ExperimentCapParams,
    IdleGpuParams,
    Policy,
    RequiredTagsParams,
    UnitCostParams,
    dump_policies,
    parse_policies,
)

D = Decimal
TYPES = ["p4d.24xlarge", "p5.48xlarge", "g5.xlarge", "g5.12xlarge", "g6.xlarge", "m5.large"]

GOOD = """\
version: 1
policies:
  - name: ai-tags
    kind: required_tags
    owner: finops@acme.com
    params: {keys: [team, project, cost_center], min_coverage: 95}
  - name: prod-gpus
    kind: allowed_instances
    scope: environment=prod
    severity: critical
    enforce: true
    params:
      environments: {prod: ["p4d.*", "g5.*"], dev: [g5.xlarge, "g6.*"]}
  - name: models
    kind: allowed_models
    params: {environments: {prod: [gpt-4o-mini, "claude-*"]}}
  - name: experiments
    kind: experiment_cap
    description: fail fast, learn quickly
    params:
      key: run
      experiments:
        - {match: "exp-*", cap: 5000, ends: 2026-12-31}
        - {match: "poc-*", ends: "2026-06-30"}
        - {match: "big", cap: 12.5}
  - name: idle
    kind: idle_gpu
    scope: team=vision
    params: {max_idle_percent: 40, days: 14}
  - name: chat-unit
    kind: unit_cost
    params: {per: 1k_requests, max: 2.50, by: feature}
  - name: overruns
    kind: budget_overrun
    severity: info
    params: {budgets: all, basis: forecast}
"""


def parse(text: str) -> list[Policy]:
    return parse_policies(text, "policies.yaml", instance_types=TYPES)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    head, *lines = str(caught.value).splitlines()
    assert head == f"policies.yaml: {len(lines)} problem(s):"
    return [line.removeprefix("  - ") for line in lines]


def test_every_kind_is_read() -> None:
    tags, gpus, models, exps, idle, unit, over = parse(GOOD)
    assert tags == Policy(
        "ai-tags",
        "required_tags",
        RequiredTagsParams(keys=("team", "project", "cost_center"), min_coverage=D(95)),
        owner="finops@acme.com",
    )
    assert gpus == Policy(
        "prod-gpus",
        "allowed_instances",
        AllowedInstancesParams({"prod": ("p4d.*", "g5.*"), "dev": ("g5.xlarge", "g6.*")}),
        scope="environment=prod",
        severity="critical",
        enforce=True,
    )
    assert models.params == AllowedModelsParams({"prod": ("gpt-4o-mini", "claude-*")})
    assert exps.params == ExperimentCapParams(
        "run",
        (
            Experiment("exp-*", D(5000), date(2026, 12, 31)),
            Experiment("poc-*", None, date(2026, 6, 30)),
            Experiment("big", D("12.5")),
        ),
    )
    assert exps.description == "fail fast, learn quickly"
    assert idle.params == IdleGpuParams(D(40), 14) and idle.scope == "team=vision"
    assert unit.params == UnitCostParams(D("2.50"), "1k_requests", "feature")
    assert over.params == BudgetOverrunParams((), "forecast") and over.severity == "info"
    assert [p.kind for p in parse(GOOD)] == list(KINDS)


def test_defaults_fill_what_is_left_out() -> None:
    text = (
        "version: 1\npolicies:\n  - {name: t, kind: required_tags}\n  - {name: i, kind: idle_gpu}\n"
    )
    tags, idle = parse(text)
    assert tags.params == RequiredTagsParams()
    assert tags.params.keys == ("team", "project") and tags.params.min_coverage == 100
    assert idle.params == IdleGpuParams(D(50), 7)
    assert (tags.scope, tags.severity, tags.enforce) == ("org", "warning", False)


def test_every_mistake_is_reported_at_once_with_its_line() -> None:
    text = """\
version: 1
policies:
  - name: one
    kind: required_tag
  - name: two
    kind: idle_gpu
    severty: critical
    params: {max_idle_pct: 40, days: 0}
  - name: three
    kind: unit_cost
    severity: urgent
    scope: teem=vision
    params: {per: 1m_token, max: -1, by: model}
  - name: one
    kind: experiment_cap
    params:
      experiments:
        - {match: "exp-*", cap: lots, ends: "2026-13-01"}
        - {match: "x-*"}
"""
    found = problems(text)
    assert found == [
        "policies.yaml:4: policies[0].kind: unknown kind; known: "
        + ", ".join(KINDS)
        + " (got 'required_tag') — did you mean 'required_tags'?",
        "policies.yaml:7: policies[1].severty: unknown key; known: name, kind, scope, severity, "
        "owner, description, enforce, params — did you mean 'severity'?",
        "policies.yaml:8: policies[1].params.max_idle_pct: unknown key; known: max_idle_percent, "
        "days — did you mean 'max_idle_percent'?",
        "policies.yaml:11: policies[2].severity: must be one of info, warning, critical "
        "(got 'urgent')",
        "policies.yaml:12: policies[2].scope: unknown scope key 'teem' (got 'teem=vision') "
        "— did you mean 'team'?",
        "policies.yaml:13: policies[2].params.max: must be 0 or above (got -1)",
        "policies.yaml:13: policies[2].params.per: must be one of 1m_tokens, 1k_requests "
        "(got '1m_token') — did you mean '1m_tokens'?",
        "policies.yaml:14: policies[3].name: another policy has this name (got 'one')",
        "policies.yaml:18: policies[3].params.experiments[0].cap: must be a number (got 'lots')",
        "policies.yaml:18: policies[3].params.experiments[0].ends: must be a date YYYY-MM-DD "
        "(got '2026-13-01')",
    ]


def test_an_experiment_needs_a_cap_or_an_end() -> None:
    text = """\
version: 1
policies:
  - name: e
    kind: experiment_cap
    params:
      experiments:
        - {match: "exp-*", cap: 10}
        - {match: "x-*"}
"""
    assert problems(text) == [
        "policies.yaml:8: policies[0].params.experiments[1]: needs a cap, an ends day, or both"
    ]


def test_an_instance_pattern_matching_no_known_type_is_an_error() -> None:
    text = """\
version: 1
policies:
  - name: gpus
    kind: allowed_instances
    params:
      environments:
        prod: ["p4d.*", "p4de.*"]
        dev: [g5.xlarg]
"""
    assert problems(text) == [
        "policies.yaml:7: policies[0].params.environments.prod[1]: matches no known instance "
        "type (got 'p4de.*')",
        "policies.yaml:8: policies[0].params.environments.dev[0]: matches no known instance "
        "type (got 'g5.xlarg') — did you mean 'g5.xlarge'?",
    ]
    # Without a catalog there is nothing to match against, and the same document reads.
    assert len(parse_policies(text, "policies.yaml")) == 1


def test_required_params_and_document_shape() -> None:
    text = "version: 2\npolicies:\n  - {name: m, kind: allowed_models}\n  - kind: unit_cost\n"
    assert problems(text) == [
        "policies.yaml:1: version: must be 1 (`version: 1`) (got 2)",
        "policies.yaml:3: policies[0]: `environments` is required for kind allowed_models",
        "policies.yaml:4: policies[1]: `name` is required",
        "policies.yaml:4: policies[1]: `max` is required for kind unit_cost",
    ]
    assert problems("policies: {}\n")[1].endswith("policies: must be a list of policies (got {})")


def test_a_yaml_syntax_error_names_its_line() -> None:
    with pytest.raises(ConfigError, match=r"policies.yaml:4: not valid YAML"):
        parse("version: 1\npolicies:\n  - name: [x\n")


def test_the_good_document_round_trips() -> None:
    policies = parse(GOOD)
    assert parse(dump_policies(policies)) == policies


texts = st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=8)
money = st.decimals(min_value=0, max_value=10**6, places=2)
days = st.dates(date(2020, 1, 1), date(2030, 12, 31))
experiments = st.builds(Experiment, texts, money, st.none() | days)
params = st.one_of(
    st.builds(
        RequiredTagsParams, st.lists(texts, min_size=1).map(tuple), money.map(lambda m: m % 100)
    ),
    st.builds(
        AllowedModelsParams,
        st.dictionaries(texts, st.lists(texts, min_size=1).map(tuple), min_size=1),
    ),
    st.builds(ExperimentCapParams, texts, st.lists(experiments, min_size=1).map(tuple)),
    st.builds(IdleGpuParams, money.map(lambda m: m % 100), st.integers(1, 90)),
    st.builds(
        UnitCostParams,
        money,
        st.sampled_from(["1m_tokens", "1k_requests"]),
        st.sampled_from(["feature", "model"]),
    ),
    st.builds(
        BudgetOverrunParams, st.lists(texts).map(tuple), st.sampled_from(["actual", "forecast"])
    ),
)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    chosen = draw(params)
    kind = next(k for k, cls in PARAMS.items() if cls is type(chosen))
    return Policy(
        draw(texts),
        kind,
        chosen,
        scope=draw(st.sampled_from(["org", "team=vision", "environment=prod,project=x"])),
        severity=draw(st.sampled_from(["info", "warning", "critical"])),
        owner=draw(st.sampled_from(["", "finops@acme.com"])),
        enforce=draw(st.booleans()),
    )


@settings(deadline=None)
@given(st.lists(policies(), max_size=4, unique_by=lambda p: p.name))
def test_dump_then_parse_gives_the_same_policies(drawn: list[Policy]) -> None:
    assert parse_policies(dump_policies(drawn), "p.yaml") == drawn
