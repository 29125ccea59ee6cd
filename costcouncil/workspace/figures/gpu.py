"""GPU: clusters and nodes, their used and idle cost, utilisation, and who used what.

A GPU node is a resource whose cost was split over jobs by GPU-seconds (method
``usage_split:gpu_seconds``) or kept as idle (method ``idle``). Utilisation is the used share
of the node's cost; a cluster is a provider account in a region. GPU-hours per node and team
come from the jobs (the usage rollup written with the last allocation run).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.figures.filters import (
    NONE,
    Dimensions,
    Filter,
    scope,
    tier_for,
    usage_where,
    where_sql,
)
from costcouncil.workspace.figures.rollup_store import RollupStore

GPU_METHODS = "(method = 'idle' OR method LIKE 'usage_split:gpu%')"


def gpu(store: RollupStore, flt: Filter) -> dict[str, Any]:
    """The GPU page's figures."""
    metric = rollups.METRICS[flt.metric]
    where = f"{where_sql(flt, 'day')} AND {GPU_METHODS}"
    split = (
        f"SUM(CASE WHEN method = 'idle' THEN {metric} ELSE 0 END) AS idle, "
        f"SUM(CASE WHEN method <> 'idle' THEN {metric} ELSE 0 END) AS used"
    )
    nodes = store.query(
        f"SELECT provider, account, max(account_name) AS account_name, region, resource, "
        f"max(resource_name) AS resource_name, {split} FROM resources WHERE {where} "
        "GROUP BY provider, account, region, resource ORDER BY used + idle DESC, resource",
    )
    central = flt.teams is not None  # a member: idle capacity is held centrally
    for node in nodes:
        _utilisation(node, central)
    clusters: dict[tuple[Any, ...], dict[str, Any]] = {}
    for node in nodes:
        key = (node["provider"], node["account"], node["region"])
        into = clusters.setdefault(key, {"provider": key[0], "account": key[1],
                                         "account_name": node["account_name"],
                                         "region": key[2], "nodes": 0,
                                         "used": Decimal(0), "idle": Decimal(0)})  # fmt: skip
        into["nodes"] += 1
        into["used"] += node["used"]
        into["idle"] += node["idle"]
    for cluster in clusters.values():
        _utilisation(cluster, central)
    dims = Dimensions.of(store.workspace.config.tags.owner_keys)
    tier = tier_for(dims, flt.keys() | {"method"}, None)  # a tag filter needs the resources
    daily = store.query(
        f"SELECT day AS period, {split} FROM {tier} WHERE {where} GROUP BY ALL ORDER BY 1",
    )
    return {
        "from": flt.start,
        "to": flt.end,
        "metric": flt.metric,
        "currency": flt.currency,
        "clusters": sorted(clusters.values(), key=lambda c: -(c["used"] + c["idle"])),
        "nodes": nodes,
        "daily": daily,
        "usage": _named_nodes(_usage(store, flt), nodes),
        "idle_held_centrally": central,
        "params": flt.params(),
        "scope": scope(flt),
    }


def _named_nodes(usage: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The heatmap's rows with each node's name where the bill gives one."""
    names = {n["resource"]: n["resource_name"] for n in nodes}
    return [{**row, "resource_name": names.get(row["resource"])} for row in usage]


def _utilisation(row: dict[str, Any], central: bool = False) -> None:
    """Used and idle cost and their ratio; for a member (``central``) the node's idle is not
    theirs to see, so utilisation is unknown rather than a false 100 %."""
    row["used"] = row["used"] or Decimal(0)
    row["idle"] = row["idle"] or Decimal(0)
    total = row["used"] + row["idle"]
    row["cost"] = total
    row["utilisation"] = None if not total or central else row["used"] / total


def _usage(store: RollupStore, flt: Filter) -> list[dict[str, Any]]:
    """GPU-hours per node and team (the heatmap).

    The jobs record team, project, model and node; a filter on anything else (a tag, the
    provider, the region) keeps the GPU-hours of the nodes whose cost it matches.
    """
    loaded = store.current()
    if "usage_gpu" not in loaded.tables:
        return []
    keys = loaded.usage_keys("gpu")
    span = usage_where(flt, keys)
    if span is None:
        own = tuple((k, v) for k, v in flt.where if k in keys)
        narrowed = usage_where(flt.narrowed(where=own, tags=()), keys)
        nodes = f"SELECT DISTINCT resource FROM resources WHERE {where_sql(flt, 'day')}"
        span = f"{narrowed} AND resource IN ({nodes} AND {GPU_METHODS})"
    rows = store.query(
        "SELECT resource, accelerator_type, team, SUM(gpu_hours) AS gpu_hours FROM usage_gpu "
        f"WHERE {span} GROUP BY ALL ORDER BY resource, team",
    )
    for row in rows:
        row["team"] = row["team"] if row["team"] is not None else NONE
    return rows
