"""``required_tags``: the share of AI spend whose bill carried every required owner key.

AI spend is a ``costs`` row whose ``service_category`` is one of the policy's
``service_categories``, or, with ``include_gpu``, a row with an ``accelerator_type``. A row is
*tagged* when its ``tag_keys`` hold every key of ``keys``. Per team (null: ``__unallocated__``):
``coverage = tagged / AI spend × 100``; a team below ``min_coverage`` is a violation with the
untagged $ at stake, and so is each of its resources with untagged AI spend (its untagged $).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.policy.model import Policy, RequiredTagsParams
from costcouncil.policy.tables import (
    ZERO,
    Window,
    ids,
    in_scope,
    money,
    owners,
    sums,
    team_of,
    violation,
)
from costcouncil.policy.violation import Violation

_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Coverage:
    """One team's AI spend, split into the part whose bill carried every key and the rest."""

    team: str
    ai_spend: Decimal
    tagged: Decimal
    untagged: Decimal

    @property
    def percent(self) -> Decimal:
        """``tagged / ai_spend × 100``; 100 when there is no AI spend."""
        if self.ai_spend == 0:
            return Decimal(100)
        return self.tagged / self.ai_spend * 100


def ai_rows(costs: pa.Table, params: RequiredTagsParams) -> pa.Table:
    """The AI spend rows of ``costs``, with a boolean column ``tagged`` added."""
    ai = pc.is_in(costs["service_category"], pa.array(params.service_categories, pa.string()))
    if params.include_gpu:
        gpu = pc.and_(
            pc.is_valid(costs["accelerator_type"]), pc.not_equal(costs["accelerator_type"], "")
        )
        ai = pc.or_(pc.fill_null(ai, False), pc.fill_null(gpu, False))
    rows = costs.filter(pc.fill_null(ai, False))
    return rows.append_column("tagged", pa.array(_tagged(rows["tag_keys"], params.keys)))


def _tagged(tag_keys: pa.ChunkedArray, keys: Sequence[str]) -> np.ndarray:
    """Per row, whether its list of tag keys holds every one of ``keys``."""
    lists = tag_keys.combine_chunks() if tag_keys.num_chunks else pa.array([], tag_keys.type)
    flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy()
    ok = np.ones(len(lists), dtype=bool)
    for key in keys:
        has = np.zeros(len(lists), dtype=bool)
        has[parents[flat == key]] = True
        ok &= has
    return ok


def coverage(rows: pa.Table) -> list[Coverage]:
    """Per team, AI spend and its tagged and untagged parts (``rows`` from :func:`ai_rows`).

    Teams are expected filled in (:func:`~costcouncil.policy.tables.with_teams`)."""
    tagged = {
        r["team"]: money(r["cost_sum"])
        for r in sums(rows.filter(rows["tagged"]), ["team"], ["cost"])
    }
    untagged = {
        r["team"]: money(r["cost_sum"])
        for r in sums(rows.filter(pc.invert(rows["tagged"])), ["team"], ["cost"])
    }
    out = []
    for r in sums(rows, ["team"], ["cost"]):
        team = r["team"]
        out.append(
            Coverage(
                team_of(team),
                money(r["cost_sum"]),
                tagged.get(team, ZERO),
                untagged.get(team, ZERO),
            )
        )
    return sorted(out, key=lambda c: c.team)


def evaluate_required_tags(policy: Policy, costs: pa.Table, window: Window) -> list[Violation]:
    """Teams below the minimum coverage, and each of their resources with untagged AI spend."""
    params = policy.params
    assert isinstance(params, RequiredTagsParams)
    rows = ai_rows(in_scope(window.of(costs), policy, "costs"), params)
    failing = [c for c in coverage(rows) if c.percent < params.min_coverage]
    untagged = rows.filter(pc.invert(rows["tagged"]))
    untagged = untagged.filter(
        pc.is_in(untagged["team"], pa.array([c.team for c in failing], pa.string()))
    )
    out = []
    if "team" in params.report:
        out += [_team_violation(policy, c, untagged) for c in failing]
    if "resource" in params.report:
        out += _resource_violations(policy, untagged)
    return out


def _team_violation(policy: Policy, cover: Coverage, untagged: pa.Table) -> Violation:
    params = policy.params
    assert isinstance(params, RequiredTagsParams)
    mine = untagged.filter(pc.equal(untagged["team"], cover.team))
    resources = {str(r) for r in mine["resource_id"].to_pylist() if r is not None}
    days = sums(mine, [], ["cost"])[0]
    return violation(
        policy,
        f"team={cover.team}",
        cover.team,
        cover.untagged,
        days,
        keys=list(params.keys),
        ai_spend=cover.ai_spend,
        tagged=cover.tagged,
        untagged=cover.untagged,
        coverage_percent=cover.percent.quantize(_TENTH),
        min_coverage=params.min_coverage,
        untagged_resources=ids(resources),
        untagged_resource_count=len(resources),
    )


def _resource_violations(policy: Policy, untagged: pa.Table) -> list[Violation]:
    params = policy.params
    assert isinstance(params, RequiredTagsParams)
    with_id = untagged.filter(pc.is_valid(untagged["resource_id"]))
    teams = owners(with_id, ["resource_id"])
    missing = _missing(with_id, params.keys)
    out = []
    for row in sums(with_id, ["resource_id"], ["cost"]):
        rid = row["resource_id"]
        out.append(
            violation(
                policy,
                f"resource={rid}",
                teams[(rid,)],
                money(row["cost_sum"]),
                row,
                resource_id=rid,
                untagged=money(row["cost_sum"]),
                missing_keys=missing[rid],
            )
        )
    return out


def _missing(rows: pa.Table, keys: Sequence[str]) -> dict[str, list[str]]:
    """Per resource, the required keys some of its rows' bills lacked."""
    found: dict[str, set[str]] = {}
    for row in rows.select(["resource_id", "tag_keys"]).to_pylist():
        have = set(row["tag_keys"] or ())
        found.setdefault(row["resource_id"], set()).update(k for k in keys if k not in have)
    return {rid: sorted(k) for rid, k in found.items()}
