"""``allowed_instances`` and ``allowed_models``: what may run in each environment.

Environments the policy does not list are not constrained. A value is allowed when it matches
one of its environment's glob patterns (case-sensitive ``fnmatch``).

- ``allowed_instances`` reads ``costs`` (rows with an ``instance_type`` and, with ``gpu_only``,
  an ``accelerator_type``) and ``jobs``: each (resource, environment) on a disallowed type is a
  violation with its cost in the window at stake, listing the jobs that ran on it; a job of a
  disallowed type on no such resource (e.g. a cluster the bill does not show) is one too, its
  ``cost`` at stake (0 when unknown).
- ``allowed_models`` reads ``llm``: each (team, feature, model, environment) calling a
  disallowed model is a violation with its requests, tokens and cost (at stake).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from costcouncil.policy.model import (
    AllowedInstancesParams,
    AllowedModelsParams,
    Policy,
    allowed,
)
from costcouncil.policy.tables import (
    Window,
    distinct,
    ids,
    in_scope,
    money,
    owners,
    sums,
    violation,
)
from costcouncil.policy.violation import Violation

Patterns = Mapping[str, tuple[str, ...]]


def disallowed(table: pa.Table, column: str, environments: Patterns) -> pa.Table:
    """The rows of ``table`` in a listed environment whose ``column`` matches none of its patterns."""
    pairs = table.select(["environment", column]).group_by(["environment", column]).aggregate([])
    bad = [
        (env, value)
        for env, value in zip(
            pairs["environment"].to_pylist(), pairs[column].to_pylist(), strict=True
        )
        if env in environments and value and not allowed(value, environments[env])
    ]
    keep = pc.is_in(_pair(table, column), pa.array([f"{e}\x00{v}" for e, v in bad], pa.string()))
    return table.filter(pc.fill_null(keep, False))


def _pair(table: pa.Table, column: str) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(table["environment"], table[column], "\x00")


def evaluate_allowed_instances(
    policy: Policy, costs: pa.Table, jobs: pa.Table, window: Window
) -> list[Violation]:
    """Resources and jobs on an instance type their environment does not allow."""
    params = policy.params
    assert isinstance(params, AllowedInstancesParams)
    rows = in_scope(window.of(costs), policy, "costs")
    if params.gpu_only:
        rows = rows.filter(pc.fill_null(pc.not_equal(rows["accelerator_type"], ""), False))
    rows = disallowed(
        rows.filter(pc.is_valid(rows["resource_id"])), "instance_type", params.environments
    )
    ran = disallowed(
        _jobs_in(in_scope(jobs, policy, "jobs"), window, params),
        "instance_type",
        params.environments,
    )
    out = _resource_violations(policy, rows, ran)
    flagged = {(v.evidence["resource_id"], v.evidence["environment"]) for v in out}
    return out + [
        _job_violation(policy, job)
        for job in ran.to_pylist()
        if (job["resource_id"], job["environment"]) not in flagged
    ]


def _jobs_in(jobs: pa.Table, window: Window, params: AllowedInstancesParams) -> pa.Table:
    """Jobs that ran during the window (GPU jobs only with ``gpu_only``)."""
    start = datetime.combine(window.first, time(), UTC)
    end = datetime.combine(window.last + timedelta(days=1), time(), UTC)
    began = pc.less(jobs["start"], pa.scalar(end, jobs.schema.field("start").type))
    running = pc.fill_null(
        pc.greater(jobs["end"], pa.scalar(start, jobs.schema.field("end").type)), True
    )
    keep = pc.and_(began, running)
    if params.gpu_only:
        gpu = pc.or_(
            pc.fill_null(pc.greater(jobs["accelerator_count"], 0), False),
            pc.fill_null(pc.not_equal(jobs["accelerator_type"], ""), False),
        )
        keep = pc.and_(keep, gpu)
    return jobs.filter(keep)


def _resource_violations(policy: Policy, rows: pa.Table, ran: pa.Table) -> list[Violation]:
    keys = ["resource_id", "environment", "instance_type"]
    teams = owners(rows, keys)
    job_ids = distinct(ran, ["resource_id", "environment"], "job_id")
    out = []
    for row in sums(rows, keys, ["cost"]):
        rid, env, kind = (row[k] for k in keys)
        on = job_ids.get((rid, env), [])
        subject = f"resource={rid},environment={env}"
        out.append(
            violation(
                policy,
                subject,
                teams[(rid, env, kind)],
                money(row["cost_sum"]),
                row,
                resource_id=rid,
                environment=env,
                instance_type=kind,
                allowed=list(_patterns(policy)[env]),
                cost=money(row["cost_sum"]),
                jobs=ids(on),
                job_count=len(on),
            )
        )
    return out


def _job_violation(policy: Policy, job: dict[str, Any]) -> Violation:
    env = job["environment"]
    days = {"day_min": job["start"].date(), "day_max": (job["end"] or job["start"]).date()}
    return violation(
        policy,
        f"job={job['job_id']}",
        job["team"],
        money(job["cost"]),
        days,
        job_id=job["job_id"],
        resource_id=job["resource_id"],
        environment=env,
        instance_type=job["instance_type"],
        allowed=list(_patterns(policy)[env]),
        accelerator_type=job["accelerator_type"],
        accelerator_count=job["accelerator_count"],
        cost=job["cost"],
    )


def _patterns(policy: Policy) -> Patterns:
    params = policy.params
    assert isinstance(params, AllowedInstancesParams | AllowedModelsParams)
    return params.environments


def evaluate_allowed_models(policy: Policy, llm: pa.Table, window: Window) -> list[Violation]:
    """Each (team, feature, model, environment) calling a model its environment does not allow."""
    rows = disallowed(in_scope(window.of(llm), policy, "llm"), "model", _patterns(policy))
    keys = ["team", "feature", "model", "environment"]
    out = []
    for row in sums(rows, keys, ["requests", "input_tokens", "output_tokens", "cost"]):
        subject = ",".join(f"{k}={row[k]}" for k in keys if row[k] is not None)
        out.append(
            violation(
                policy,
                subject,
                row["team"],
                money(row["cost_sum"]),
                row,
                **{k: row[k] for k in keys},
                allowed=list(_patterns(policy)[row["environment"]]),
                requests=row["requests_sum"] or 0,
                input_tokens=row["input_tokens_sum"] or 0,
                output_tokens=row["output_tokens_sum"] or 0,
                cost=money(row["cost_sum"]),
            )
        )
    return out
