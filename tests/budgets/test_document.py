"""budgets.yaml: reading every form, every mistake at once with its line, round trips, diffs."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costcouncil.budgets import (
    AMOUNT_KINDS,
    ANY_TAG,
    DEFAULT_THRESHOLDS,
    METRICS,
    Amount,
    Budget,
    Change,
    Threshold,
    Window,
    diff,
    dump_budgets,
    parse_budgets,
)
from costcouncil.errors import ConfigError

D = Decimal
KEYS = ["team", "project", "environment", "provider", "service_category", "model", ANY_TAG]

GOOD = """\
version: 1
budgets:
  - name: research
    scope: team=research,environment=prod
    amount: 5000
    owner: ada@example.com
    team: research
  - name: plan
    scope: org
    amount: {plan: {"2026-01": 4000, "2026-02": 4500.25}}
    period: quarterly
    metric: BilledCost
    thresholds: ["80%", "100% forecast", {percent: 120, basis: actual}]
    hard: true
    currency: EUR
  - name: launch
    scope: tag:cost-center=42
    amount: {auto: {months: 6, factor: 1.1}}
    period: custom
    windows:
      - {start: 2026-01-05, end: 2026-02-01}
      - {start: "2026-02-01", end: 2026-03-01}
"""


def parse(text: str) -> list[Budget]:
    return parse_budgets(text, "budgets.yaml", known_keys=KEYS)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    head, *lines = str(caught.value).splitlines()
    assert head == f"budgets.yaml: {len(lines)} problem(s):"
    return [line.removeprefix("  - ") for line in lines]


def test_every_form_is_read() -> None:
    research, plan, launch = parse(GOOD)
    assert research == Budget(
        "research",
        "team=research,environment=prod",
        Amount("fixed", D(5000)),
        owner="ada@example.com",
        team="research",
    )
    assert plan.amount == Amount("plan", plan={"2026-01": D(4000), "2026-02": D("4500.25")})
    assert (plan.period, plan.metric, plan.hard, plan.currency) == (
        "quarterly",
        "BilledCost",
        True,
        "EUR",
    )
    assert plan.thresholds == (
        Threshold(D(80), "actual"),
        Threshold(D(100), "forecast"),
        Threshold(D(120), "actual"),
    )
    assert launch.amount == Amount("auto", months=6, factor=D("1.1"))
    assert launch.windows == (
        Window(date(2026, 1, 5), date(2026, 2, 1)),
        Window(date(2026, 2, 1), date(2026, 3, 1)),
    )
    assert launch.thresholds == DEFAULT_THRESHOLDS


MISTAKES = """\
version: 1
budgets:
  - name: a
    scope: teem=research
    amount: -5
    peroid: monthly
    thresholds: ["80%", "100% forcast", "abc"]
  - name: a
    scope: team=x
    amount: {plan: {"2026-13": 5, "2026-01": -1}}
    period: custom
    windows:
      - {start: 2026-01-05, end: 2026-02-01}
      - {start: 2026-01-20, end: 2026-03-01}
      - {start: 2026-04-01}
  - name: c
    scope: org
    amount: {auto: {months: 0, factr: 2}}
    metric: EffectivCost
    period: montly
    hard: yes
"""


def test_a_document_with_many_mistakes_reports_every_one_with_its_line() -> None:
    found = problems(MISTAKES)
    expected = [
        ("4", "budgets[0].scope", "unknown scope key 'teem'", "did you mean 'team'?"),
        ("5", "budgets[0].amount", "must be a number above 0 (got -5)", ""),
        ("6", "budgets[0].peroid", "unknown key", "did you mean 'period'?"),
        ("7", "budgets[0].thresholds[1]", "(got 'forcast')", "did you mean 'forecast'?"),
        ("7", "budgets[0].thresholds[2]", "(got 'abc')", ""),
        ("8", "budgets[1].name", "another budget has this name (got 'a')", ""),
        ("10", "budgets[1].amount.plan.2026-13", "not a month YYYY-MM", ""),
        ("10", "budgets[1].amount.plan.2026-01", "0 or above (got -1)", ""),
        ("14", "budgets[1].windows[1]", "overlaps 2026-01-05..2026-02-01", ""),
        ("15", "budgets[1].windows[2]", "needs end", ""),
        ("18", "budgets[2].amount.auto.factr", "unknown key", "did you mean 'factor'?"),
        ("19", "budgets[2].metric", "(got 'EffectivCost')", "did you mean 'EffectiveCost'?"),
        ("20", "budgets[2].period", "(got 'montly')", "did you mean 'monthly'?"),
        ("21", "budgets[2].hard", "must be true or false (got 'yes')", ""),
    ]
    assert len(found) == len(expected), "\n".join(found)
    for number, where, words, hint in expected:
        [line] = [p for p in found if p.startswith(f"budgets.yaml:{number}: {where}: ")]
        assert words in line and line.endswith(hint), line


def _key(line: str) -> tuple[int, str]:
    number, where = re.match(r"budgets.yaml:(\d+): (\S+):", line).groups()  # type: ignore[union-attr]
    return int(number), where


def test_the_lines_are_in_document_order() -> None:
    found = problems(MISTAKES)
    assert [_key(p)[0] for p in found] == sorted(_key(p)[0] for p in found)


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("budgets: []\n", "budgets.yaml:1: (top level)", "must be 1"),
        (
            "version: 2\nbudgets: []\n",
            "budgets.yaml:1: version",
            "must be 1 (`version: 1`) (got 2)",
        ),
        ("version: 1\n", "budgets.yaml:1: (top level)", "must be a list of budgets"),
        ("version: 1\nbudget: []\n", "budgets.yaml:2: budget", "did you mean 'budgets'?"),
        ("- 1\n", "budgets.yaml:1: (top level)", "must be a mapping"),
        (
            "version: 1\nbudgets:\n  - name: x\n",
            "budgets.yaml:3: budgets[0]",
            "`scope` is required",
        ),
        (
            "version: 1\nbudgets:\n  - 7\n",
            "budgets.yaml:3: budgets[0]",
            "mapping of budget keys (got 7)",
        ),
    ],
)
def test_document_shape_mistakes(text: str, where: str, words: str) -> None:
    found = problems(text)
    assert any(p.startswith(where) and words in p for p in found), found


BUDGET = "version: 1\nbudgets:\n  - name: b\n    scope: org\n"


@pytest.mark.parametrize(
    "lines, where, words",
    [
        ("    amount: lots\n", "budgets[0].amount", "must be a number (got 'lots')"),
        ("    amount: {plan: {}, auto: {}}\n", "budgets[0].amount", "must be a number, {plan"),
        ("    amount: {fixed: 3}\n", "budgets[0].amount.fixed", "unknown key; known: plan, auto"),
        ("    amount: {auto: {months: 1.5}}\n", "budgets[0].amount.auto.months", "whole number"),
        ("    amount: 1\n    thresholds: 80%\n", "budgets[0].thresholds", "must be a list"),
        ("    amount: 1\n    thresholds: [{basis: actual}]\n", "budgets[0].thresholds[0]", "needs a percent"),
        ("    amount: 1\n    thresholds: ['80%', '80 %']\n", "budgets[0].thresholds[1]", "given twice"),
        ("    amount: 1\n    period: custom\n    windows: [{start: '2026-02-30', end: 2026-03-01}]\n",
         "budgets[0].windows[0].start", "must be a date YYYY-MM-DD (got '2026-02-30')"),
        ("    amount: 1\n    windows: [{start: 2026-01-01, end: 2026-02-01}]\n",
         "budgets[0].windows", "only a custom period has windows"),
        ("    amount: 1\n    team: [a]\n", "budgets[0].team", "must be text"),
        ("    amount: 1\n    currency: EURO\n", "budgets[0].currency", "ISO 4217"),
    ],
)  # fmt: skip
def test_value_mistakes(lines: str, where: str, words: str) -> None:
    found = problems(BUDGET + lines)
    assert any(f": {where}: " in p and words in p for p in found), found


def test_scope_keys_are_checked_against_the_known_ones() -> None:
    text = BUDGET.replace("scope: org", "scope: modle=gpt,tag:team=a") + "    amount: 1\n"
    [found] = problems(text)
    assert "unknown scope key 'modle'" in found and found.endswith("did you mean 'model'?")
    with pytest.raises(ConfigError, match="unknown scope key 'tag:team'"):
        parse_budgets(text.replace("modle", "model"), "b.yaml", known_keys=["model"])
    assert parse_budgets(text.replace("modle", "model"), "b.yaml", known_keys=KEYS)


def test_yaml_syntax_errors_name_their_line() -> None:
    with pytest.raises(ConfigError, match=r"budgets.yaml:4: not valid YAML"):
        parse("version: 1\nbudgets:\n  - name: [\n")


def test_an_unquoted_impossible_date_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"budgets.yaml: not valid YAML \(day is out of range"):
        parse(
            BUDGET
            + "    amount: 1\n    period: custom\n    windows: [{start: 2026-02-30, end: 2026-03-01}]\n"
        )


# -- round trip ------------------------------------------------------------------------------

money = st.decimals(min_value=D("0.01"), max_value=10**9, places=2)
names = st.text(st.characters(categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=20)
scopes = st.sampled_from(["org", "team=research", "team=a b,model=gpt-4o", "tag:cost-center=042"])
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2000, 2100), st.integers(1, 12))
amounts = st.one_of(
    st.builds(Amount, st.just("fixed"), money),
    st.builds(lambda p: Amount("plan", plan=p), st.dictionaries(months, money, min_size=1)),
    st.builds(
        lambda n, f: Amount("auto", months=n, factor=f),
        st.integers(1, 36),
        st.decimals(min_value=D("0.01"), max_value=10, places=3),
    ),
)
thresholds = st.lists(
    st.builds(Threshold, st.decimals(min_value=D("0.5"), max_value=500, places=1), st.sampled_from(["actual", "forecast"])),
    unique=True,
    max_size=5,
).map(tuple)  # fmt: skip


@st.composite
def windows(draw: st.DrawFn) -> tuple[Window, ...]:
    day = draw(st.dates(date(2000, 1, 1), date(2090, 1, 1)))
    out = []
    for gap, length in draw(
        st.lists(st.tuples(st.integers(0, 40), st.integers(1, 120)), min_size=1, max_size=4)
    ):
        day += timedelta(days=gap)
        out.append(Window(day, day + timedelta(days=length)))
        day += timedelta(days=length)
    return tuple(out)


@st.composite
def budgets(draw: st.DrawFn) -> Budget:
    period = draw(st.sampled_from(["monthly", "quarterly", "annual", "custom"]))
    return Budget(
        name=draw(names).strip() or "x",
        scope=draw(scopes),
        amount=draw(amounts),
        period=period,
        windows=draw(windows()) if period == "custom" else (),
        metric=draw(st.sampled_from(METRICS)),
        thresholds=draw(st.one_of(st.just(DEFAULT_THRESHOLDS), thresholds)),
        hard=draw(st.booleans()),
        owner=draw(st.sampled_from(["", "ada@example.com"])),
        team=draw(st.one_of(st.none(), names)),
        currency=draw(st.sampled_from(["USD", "EUR", "JPY"])),
    )


@given(st.lists(budgets(), max_size=4, unique_by=lambda b: b.name))
def test_dump_then_parse_gives_the_same_budgets(wanted: list[Budget]) -> None:
    for budget in wanted:
        budget.validate()
    assert parse(dump_budgets(wanted)) == wanted


def test_dump_leaves_out_defaults_and_writes_plain_numbers() -> None:
    text = dump_budgets(parse(GOOD))
    assert text.startswith("version: 1\nbudgets:\n")
    assert "period: monthly" not in text and "metric: EffectiveCost" not in text
    assert "4500.25" in text and "factor: 1.1" in text and "- 100% forecast" in text
    assert "start: 2026-01-05" in text


def test_amount_kinds_are_the_three_forms() -> None:
    assert {b.amount.kind for b in parse(GOOD)} == set(AMOUNT_KINDS)


# -- diff ------------------------------------------------------------------------------------


def test_diff_says_what_an_import_would_add_remove_and_change() -> None:
    research, plan, launch = parse(GOOD)
    moved = Budget(**{**plan.__dict__, "hard": False, "metric": "EffectiveCost"})
    new = Budget("new", "org", Amount("fixed", D(1)))
    assert diff([research, plan, launch], [new, moved, launch]) == [
        Change("new", "add"),
        Change("plan", "change", ("metric", "hard")),
        Change("research", "remove"),
    ]
    assert diff([research, plan], [plan, research]) == []


def test_the_example_in_docs_budgets_md_reads() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "budgets.md").read_text()
    example = page.split("```yaml\n", 1)[1].split("```", 1)[0]
    read = parse(example)
    assert [(b.amount.kind, b.period) for b in read] == [
        ("fixed", "monthly"),
        ("plan", "quarterly"),
        ("auto", "monthly"),
        ("fixed", "custom"),
    ]
    assert parse(dump_budgets(read)) == read
