"""Job state of live events: one ``jobs`` row per job from its start, heartbeats and stop."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa

from costcouncil.engine.duckdb import connect
from costcouncil.schema.sql import lit
from costcouncil.schema.usage import JOBS_SCHEMA
from costcouncil.workspace.common.inputs import lake_view, latest_usage
from costcouncil.workspace.core import Workspace

SOURCE = "events"
_COPIED = (
    "resource_id", "accelerator_type", "accelerator_count", "cpu_cores", "memory_gib", "kind",
    "team", "project", "model", "model_version", "run", "environment", "user",
)  # fmt: skip


@dataclass
class _Job:
    job_id: str
    start: int
    end: int | None = None
    status: str | None = None
    last_heartbeat: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    utilisation_sum: float = 0.0
    heartbeats: int = 0
    memory_max: float = 0.0


class JobBook:
    """Open and just-closed jobs, keyed by ``job_id``."""

    def __init__(self, stale_seconds: float) -> None:
        self.stale_us = int(stale_seconds * 1_000_000)
        self.jobs: dict[str, _Job] = {}

    def apply(self, e: dict[str, Any]) -> str:
        """Apply one checked job event; returns its job id."""
        job = self.jobs.get(e["job_id"])
        if job is None:
            job = self.jobs[e["job_id"]] = _Job(e["job_id"], e["t"])
            if e["type"] == "job_stop":
                job.attributes["start_unknown"] = True
        kind = e["type"]
        if kind == "job_start":
            job.start = min(job.start, e["t"])
        for name in _COPIED:
            if name in e and (kind == "job_start" or name not in job.values):
                job.values[name] = e[name]
        if e.get("attributes"):
            job.attributes.update(orjson.loads(e["attributes"]))
        if kind == "job_heartbeat":
            self._beat(job, e)
        elif kind == "job_stop":
            job.end = max(e["t"], job.start)
            job.status = e.get("status") or "succeeded"
        return job.job_id

    @staticmethod
    def _beat(job: _Job, e: dict[str, Any]) -> None:
        job.last_heartbeat = max(job.last_heartbeat or 0, e["t"])
        job.heartbeats += 1
        if e.get("gpu_utilization") is not None:
            job.utilisation_sum += e["gpu_utilization"]
        job.memory_max = max(job.memory_max, e.get("gpu_memory_gib") or 0.0)

    def has_stale(self, now_s: float) -> bool:
        return bool(self._stale(now_s))

    def close_stale(self, now_s: float) -> set[str]:
        """End jobs whose heartbeats stopped ``stale_seconds`` ago, at their last heartbeat."""
        stale = self._stale(now_s)
        for job in stale:
            job.end = job.last_heartbeat
            job.attributes["ended_by"] = "heartbeats stopped"
        return {j.job_id for j in stale}

    def _stale(self, now_s: float) -> list[_Job]:
        limit = int(now_s * 1_000_000) - self.stale_us
        return [
            j for j in self.jobs.values()
            if j.end is None and j.last_heartbeat is not None and j.last_heartbeat < limit
        ]  # fmt: skip

    def table(self, ids: set[str]) -> pa.Table:
        """The current ``jobs`` rows of ``ids``."""
        return pa.Table.from_pylist([self._row(self.jobs[i]) for i in sorted(ids)], JOBS_SCHEMA)

    def forget_closed(self, ids: set[str]) -> None:
        for i in ids:
            if self.jobs[i].end is not None:
                del self.jobs[i]

    def _row(self, job: _Job) -> dict[str, Any]:
        attributes = dict(job.attributes)
        if job.heartbeats:
            attributes["heartbeats"] = job.heartbeats
            attributes["gpu_utilization_avg"] = round(job.utilisation_sum / job.heartbeats, 4)
            attributes["gpu_memory_gib_max"] = job.memory_max
            attributes["last_heartbeat"] = _time(job.last_heartbeat or job.start).isoformat()
        return {
            "job_id": job.job_id,
            "source": SOURCE,
            "start": _time(job.start),
            "end": None if job.end is None else _time(job.end),
            "status": job.status or ("running" if job.end is None else None),
            **job.values,
            "attributes": orjson.dumps(attributes).decode() if attributes else None,
        }

    def load_open(self, workspace: Workspace) -> None:
        """Re-open the jobs the lake holds as still running (from an earlier server run)."""
        files = [str(workspace.lake.root / f) for f in workspace.lake.read().data_files("jobs")]
        if not files:
            return
        con = connect()
        lake_view(con, "jobs_all", files)
        rows = con.sql(
            f"SELECT * FROM ({latest_usage('jobs_all', JOBS_SCHEMA, 'job_id')}) "
            f'WHERE source = {lit(SOURCE)} AND "end" IS NULL'
        ).to_arrow_table()
        con.close()
        for row in rows.to_pylist():
            self.jobs[row["job_id"]] = _reopen(row)


def _reopen(row: dict[str, Any]) -> _Job:
    attributes = orjson.loads(row["attributes"]) if row["attributes"] else {}
    job = _Job(row["job_id"], _micros(row["start"]))
    job.values = {k: row[k] for k in _COPIED if row.get(k) is not None}
    job.heartbeats = int(attributes.pop("heartbeats", 0))
    job.utilisation_sum = float(attributes.pop("gpu_utilization_avg", 0.0)) * job.heartbeats
    job.memory_max = float(attributes.pop("gpu_memory_gib_max", 0.0))
    last = attributes.pop("last_heartbeat", None)
    job.last_heartbeat = _micros(datetime.fromisoformat(last)) if last else None
    job.attributes = attributes
    return job


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _micros(moment: Any) -> int:
    if isinstance(moment, datetime):
        delta = moment - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(moment)
