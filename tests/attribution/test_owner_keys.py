"""Owner keys no rule could ever fill are refused when ``rules.yaml`` is loaded, with the file,
line and the keys that would work (docs/attribution.md, "Owner keys no rule can fill")."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from costcouncil.attribution import default_rules_text, parse_rules
from costcouncil.errors import ConfigError
from tests.attribution.cases import all_cases, load_case

JOBS_KEYS = "team, project, model, model_version, run, environment, user"


def _refused(text: str, owner_keys: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "rules.yaml", owner_keys)
    return str(caught.value)


def test_a_split_over_usage_without_the_coverage_key_is_refused() -> None:
    text = _refused(
        "version: 1\nowner_keys: [app]\nrules:\n  - name: gpu\n    kind: usage_split\n"
        "    usage: jobs\n"
    )
    assert "1 problem(s)" in text
    assert "rules.yaml:6: rules[0].usage: jobs usage has no 'app' column" in text
    assert "'app' is the first owner key (required by default)" in text
    assert f"(owner keys of jobs usage: {JOBS_KEYS})" in text


def test_a_workspace_owner_key_is_checked_against_the_splits_too() -> None:
    """``owner_keys: [app]`` in costcouncil.yaml: tags may carry it, jobs and LLM usage cannot."""
    rules = (
        "version: 1\nrules:\n  - {name: tags, kind: tag}\n"
        "  - {name: gpu, kind: usage_split, usage: jobs}\n"
        "  - {name: llm, kind: usage_split, usage: llm}\n"
    )
    text = _refused(rules, ["app"])
    assert "2 problem(s)" in text
    assert "rules.yaml:4: rules[1].usage: jobs usage has no 'app' column" in text
    assert "rules.yaml:5: rules[2].usage: llm usage has no 'app' column" in text
    assert "the workspace's `tags.owner_keys` (costcouncil.yaml" in text
    assert "feature, customer, api_key_id)" in text


def test_a_tag_rule_can_fill_any_key() -> None:
    parsed = parse_rules(default_rules_text(), "rules.yaml", ["app", "team"])
    assert parsed.require == ["app"]


def test_a_require_key_that_is_not_an_owner_key_suggests_one() -> None:
    text = _refused("version: 1\nrequire: [team, tema]\nrules:\n  - {name: tags, kind: tag}\n")
    assert "1 problem(s)" in text
    assert "rules.yaml:2: require[1]: 'tema' is not an owner key (owner keys: team, project" in text
    assert text.endswith("— did you mean 'team'?")


def test_a_required_key_no_owner_rule_gives_is_refused() -> None:
    text = _refused(
        "version: 1\nrequire: [team, project]\nrules:\n"
        "  - {name: tags, kind: tag, keys: [team]}\n"
        "  - {name: gpu, kind: usage_split, usage: jobs}\n"
    )
    assert "1 problem(s)" in text
    assert "rules.yaml:2: require[1]: no tag or resource rule gives the required key 'project'" in (
        text
    )
    assert "these give: team)" in text


def test_a_declared_key_no_rule_fills_is_refused_but_a_workspace_one_is_not() -> None:
    rules = "version: 1\n{}rules:\n  - {{name: gpu, kind: usage_split, usage: jobs}}\n"
    text = _refused(rules.format("owner_keys:\n  - team\n  - customer\n"))
    assert "rules.yaml:4: owner_keys[1]: no rule can fill the owner key 'customer'" in text
    assert "(keys these rules can fill: team)" in text
    # the workspace's eight default keys need not all be filled by one rules file
    assert parse_rules(rules.format(""), "rules.yaml").owner_keys[-1] == "customer"


def test_a_usage_weighted_pool_key_missing_from_the_usage_is_refused() -> None:
    text = _refused(
        "version: 1\nrules:\n  - {name: tags, kind: tag}\n"
        "  - name: support\n    kind: shared_pool\n    by: gpu_seconds\n    keys: [team, customer]\n"
    )
    assert "rules.yaml:7: rules[1].keys: jobs usage has no 'customer' column" in text


def test_every_problem_is_listed_at_once() -> None:
    text = _refused(
        "version: 1\nowner_keys: [app, team]\nrequire: [app, tema]\nrules:\n"
        "  - {name: gpu, kind: usage_split, usage: jobs}\n"
        "  - {name: tags, kind: tag, keys: [team]}\n"
    )
    assert "3 problem(s)" in text
    assert "require[1]: 'tema' is not an owner key" in text
    assert "require[0]: no tag or resource rule gives the required key 'app'" in text
    assert "rules[0].usage: jobs usage has no 'app' column" in text


def test_a_misnamed_key_is_reported_alone() -> None:
    """A typo in a tag rule's keys is the problem; what it leaves unfilled is not another."""
    text = _refused("version: 1\nrules:\n  - {name: tags, kind: tag, keys: [taem]}\n")
    assert "1 problem(s)" in text and "did you mean 'team'?" in text


@pytest.mark.parametrize("path", all_cases(), ids=lambda p: p.stem)
def test_the_golden_cases_still_load(path: Path) -> None:
    case = load_case(path)
    parse_rules(yaml.safe_dump(case.rules, sort_keys=False), path.name, case.owner_keys)
