"""Explain an owner's figure: which cost rows, which rules, which weights, which usage.

``explain(workspace, {"team": "vision", "model": "detector-v3"}, "2026-10")`` returns the owner's
total per rule and method, its largest allocations with the cost row each slices (its full cost,
the share's weight and usage weight), and, for usage splits, the usage rows behind each share.
The API and the CLI both call this function.

The usage rows of a share are found as the attribution engine found them: the split rule is read
from the rules file of the run that allocated the period (its usage kind, its ``on`` join, its
weight), the usage is the latest observation of each row, and a row belongs to the share when it
ran on the cost row (``on`` and charge period) and has the owner's keys. They come largest weight
first (then time and id), at most :data:`USAGE_SHOWN` of them, with their true count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa

from costcouncil.attribution.refs import Scope
from costcouncil.attribution.rules import Rules, UsageSplitRule
from costcouncil.attribution.splits import D0, job_weight, priced_llm_sql, tokens_by_kind
from costcouncil.catalog import build_price_table
from costcouncil.errors import ConfigError, CostCouncilError
from costcouncil.lake import manifest as mf
from costcouncil.schema.sql import lit, q
from costcouncil.schema.usage import JOBS_SCHEMA, LLM_SCHEMA
from costcouncil.workspace.allocate.run import load_rules
from costcouncil.workspace.common.inputs import lake_view, latest_usage, load_overrides
from costcouncil.workspace.common.query import open_costs, records
from costcouncil.workspace.core import Workspace

#: How many usage rows an allocation lists (its ``usage_count`` is the true count).
USAGE_SHOWN = 20

_ROW_COLUMNS = (
    "x_source_file",
    "x_source_row",
    "ServiceName",
    "ResourceId",
    "ChargePeriodStart",
    "ChargePeriodEnd",
)
_SCHEMAS = {"jobs": JOBS_SCHEMA, "llm": LLM_SCHEMA}
_KEYS = {"jobs": "job_id", "llm": "request_id"}
_SHOWN_COLUMNS = {
    "jobs": 'j.job_id AS id, CAST(j.start AS VARCHAR) AS start, CAST(j."end" AS VARCHAR) AS "end", '
    "j.accelerator_count",
    "llm": "j.request_id AS id, CAST(j.time AS VARCHAR) AS time, j.model, j.input_tokens, "
    "j.output_tokens, j.request_count",
}
_ORDER = {"jobs": "j.weight DESC, j.start, j.job_id", "llm": "j.weight DESC, j.time, j.request_id"}


@dataclass
class Explanation:
    """An owner's figure, traced."""

    owner: dict[str, str]
    period: str | None
    metric: str
    total: Decimal = Decimal(0)
    rows: int = 0
    by_rule: list[dict[str, Any]] = field(default_factory=list)
    allocations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return cast(
            dict[str, Any],
            _jsonable(
                {
                    "owner": self.owner,
                    "period": self.period,
                    "metric": self.metric,
                    "total": self.total,
                    "rows": self.rows,
                    "by_rule": self.by_rule,
                    "allocations": self.allocations,
                }
            ),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, Decimal) else value


def explain(
    workspace: Workspace,
    owner: dict[str, str],
    period: str | None = None,
    metric: str = "EffectiveCost",
    limit: int = 10,
) -> Explanation:
    """Trace ``owner`` (owner key → value) in ``period``'s allocations."""
    keys = workspace.config.tags.owner_keys
    unknown = [k for k in owner if k not in keys]
    if unknown or not owner:
        raise ConfigError(
            f"explain needs owner keys among {', '.join(keys)} (got {', '.join(unknown) or 'none'})"
        )
    con = open_costs(workspace, [period] if period else None, allocated=True)
    where = _where(owner, "")
    result = Explanation(owner, period, metric)
    total = con.execute(
        f"SELECT SUM({q(metric)}), COUNT(*) FROM allocated WHERE {where}"
    ).fetchall()[0]
    result.total, result.rows = total[0] or Decimal(0), int(total[1])
    result.by_rule = records(
        con,
        f"SELECT x_rule, x_method, COUNT(*) AS rows, SUM({q(metric)}) AS amount FROM allocated "
        f"WHERE {where} GROUP BY ALL ORDER BY abs(SUM({q(metric)})) DESC",
    )
    result.allocations = _top(con, _where(owner, "a."), metric, limit, keys)
    tracer = _UsageTracer(con, workspace)
    for allocation in result.allocations:
        allocation.update(tracer.trace(allocation))
    return result


def _where(owner: dict[str, str], alias: str) -> str:
    return " AND ".join(f"{alias}{q('x_' + k)} = {lit(v)}" for k, v in owner.items())


def _top(
    con: duckdb.DuckDBPyConnection, where: str, metric: str, limit: int, keys: list[str]
) -> list[dict[str, Any]]:
    """The largest allocations: their cost row, owner (``x_<key>``), rule, method and weights."""
    cols = ", ".join(
        f"a.{c}" if c.startswith("x_") else f"CAST(a.{c} AS VARCHAR) AS {c}" for c in _ROW_COLUMNS
    )
    owners = "".join(f"a.{q('x_' + k)}, " for k in keys)
    return records(
        con,
        f"SELECT {cols}, strftime(a.BillingPeriodStart, '%Y-%m') AS period, {owners}a.x_rule, a.x_method, "
        "a.x_weight, CAST(a.x_usage_weight AS VARCHAR) AS x_usage_weight, "
        f"a.x_usage_count, a.{q(metric)} AS amount, c.{q(metric)} AS row_cost FROM allocated AS a "
        "JOIN costs AS c ON c.x_source_file = a.x_source_file AND c.x_source_row = a.x_source_row "
        f"WHERE {where} ORDER BY abs(a.{q(metric)}) DESC LIMIT {int(limit)}",
    )


class _UsageTracer:
    """Finds the usage rows behind usage-split shares; views and rules are set up once."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workspace: Workspace) -> None:
        self.con = con
        self.workspace = workspace
        self.manifest = workspace.lake.read()
        self.rules: dict[str, Rules | str] = {}
        self.views: dict[str, bool] = {}

    def trace(self, allocation: dict[str, Any]) -> dict[str, Any]:
        """``usage`` (the rows shown), ``usage_count`` (all of them) and, when the rows cannot
        be traced, ``usage_note`` saying why."""
        if not str(allocation["x_method"]).startswith("usage_split"):
            return {"usage": [], "usage_count": 0}
        rule = self._rule(str(allocation["period"]), str(allocation["x_rule"]))
        if isinstance(rule, str):
            return {"usage": [], "usage_count": 0, "usage_note": rule}
        if not self._view(rule.usage):
            return {"usage": [], "usage_count": 0}
        try:
            matched = self._matched(rule, allocation)
        except ConfigError as e:  # a rule edited since the run names a column that is not there
            return {"usage": [], "usage_count": 0, "usage_note": str(e)}
        count = self.con.execute(f"SELECT COUNT(*) FROM {matched}").fetchall()[0][0]
        shown = records(
            self.con,
            f"SELECT {_SHOWN_COLUMNS[rule.usage]}, CAST(j.weight AS VARCHAR) AS weight "
            f"FROM {matched} ORDER BY {_ORDER[rule.usage]} LIMIT {USAGE_SHOWN}",
        )
        return {"usage": shown, "usage_count": int(count)}

    def _rule(self, period: str, name: str) -> UsageSplitRule | str:
        """The usage split ``name`` of the rules the period was allocated with, or why not."""
        path = _rules_path(self.manifest, period)
        key = str(path)
        if key not in self.rules:
            self.rules[key] = _load(self.workspace, path)
        rules = self.rules[key]
        if isinstance(rules, str):
            return rules
        for rule in rules.rules:
            if rule.name == name and isinstance(rule, UsageSplitRule):
                return rule
        return (
            f"{rules.path} has no usage_split rule {name!r} any more: "
            "allocate again to trace this share's usage"
        )

    def _view(self, kind: str) -> bool:
        """Define ``jobs`` or ``llm`` (each usage row once, as the engine reads it); False
        when the lake has no usage of that kind."""
        if kind not in self.views:
            files = [str(self.workspace.lake.root / f) for f in self.manifest.data_files(kind)]
            if files:
                lake_view(self.con, f"{kind}_all", files)
                key = _KEYS[kind]
                self.con.execute(
                    f"CREATE VIEW {kind} AS {latest_usage(f'{kind}_all', _SCHEMAS[kind], key)}"
                )
                if kind == "llm":
                    self._prices()
            self.views[kind] = bool(files)
        return self.views[kind]

    def _prices(self) -> None:
        models = self.con.execute("SELECT DISTINCT provider, model FROM llm ORDER BY 1, 2")
        pairs = [(str(p), str(m)) for p, m in models.fetchall()]
        prices: pa.Table = build_price_table(pairs, load_overrides(self.workspace)).table
        self.con.register("prices", prices)
        self.con.execute(f"CREATE VIEW llm_priced AS {priced_llm_sql()}")

    def _matched(self, rule: UsageSplitRule, allocation: dict[str, Any]) -> str:
        """A subquery of the usage rows behind the share, each with its weight: the rows that
        ran on the cost row and carry the share's owner (its ``x_<key>`` values, for the keys
        the usage schema has)."""
        row = (
            f"SELECT * FROM costs WHERE x_source_file = {lit(str(allocation['x_source_file']))} "
            f"AND x_source_row = {int(allocation['x_source_row'])}"
        )
        columns = [r[0] for r in self.con.execute(f"DESCRIBE {row}").fetchall()]
        where = f"rules.{rule.name}"
        on = _on(rule, Scope("c", columns, "the cost data"), where)
        mine = _owner_sql(rule.usage, self.workspace.config.tags.owner_keys, allocation)
        weight = _weight(rule, str(allocation["x_method"]), columns, where)
        usage = "jobs" if rule.usage == "jobs" else "llm_priced"
        conditions = " AND ".join([*on, _during(rule.usage), *mine])
        return (
            f"(SELECT j.*, {weight} AS weight FROM ({row}) AS c JOIN {usage} AS j "
            f"ON {conditions}) AS j"
        )


def _load(workspace: Workspace, path: Path | None) -> Rules | str:
    """The rules, or why they cannot be read (the trace goes on without usage)."""
    try:
        return load_rules(workspace, path)
    except CostCouncilError as e:
        return f"the rules cannot be read to trace usage: {e}"


def _rules_path(manifest: mf.Manifest, period: str) -> Path | None:
    """The rules file of the run that allocated ``period`` (None: the workspace's rules.yaml)."""
    allocated = manifest.slices.get(f"allocations/{period}")
    run_id = allocated.export[0] if allocated and allocated.export else None
    for run in manifest.runs:
        if run.get("run") == run_id and run.get("rules"):
            path = Path(str(run["rules"]))
            return path if path.exists() else None
    return None


def _on(rule: UsageSplitRule, costs: Scope, where: str) -> list[str]:
    """The rule's ``on`` equalities (its default for jobs: ``ResourceId = resource_id``)."""
    usage = Scope("j", _SCHEMAS[rule.usage].names, f"{rule.usage} usage")
    return [
        f"{costs.sql(c, where + '.on')} = {usage.sql(u, where + '.on')}"
        for c, u in rule.joins.items()
    ]


def _owner_sql(kind: str, keys: list[str], allocation: dict[str, Any]) -> list[str]:
    names = _SCHEMAS[kind].names
    out = []
    for key in (k for k in keys if k in names and "x_" + k in allocation):
        value = allocation.get("x_" + key)
        out.append(f"j.{q(key)} IS NULL" if value is None else f"j.{q(key)} = {lit(str(value))}")
    return out


def _during(kind: str) -> str:
    """A usage row ran in the cost row's charge period (jobs overlap it; a request is in it)."""
    if kind == "jobs":
        return 'j.start < c.ChargePeriodEnd AND (j."end" IS NULL OR j."end" > c.ChargePeriodStart)'
    return "j.time >= c.ChargePeriodStart AND j.time < c.ChargePeriodEnd"


def _weight(rule: UsageSplitRule, method: str, cost_columns: list[str], where: str) -> str:
    """The usage weight of one row as the engine computed it for the share's method (an LLM
    row whose request has no price was weighed by tokens: ``usage_split:tokens(unpriced)``)."""
    if rule.usage == "jobs":
        return job_weight(rule)
    weight = method.partition(":")[2].removesuffix("(unpriced)") or rule.weight_kind
    if weight == "requests":
        return f"CAST(j.n_req AS {D0})"
    kind = (
        Scope("c", cost_columns, "the cost data").sql(rule.token_kind, where + ".token_kind")
        if rule.token_kind
        else None
    )
    return tokens_by_kind("n" if weight == "token_cost" else "k", kind, "j")
