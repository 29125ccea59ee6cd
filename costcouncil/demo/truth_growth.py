"""Ground truth of the organisation's unplanned growth: every resource and LLM use that starts
after the first day, with the monitor scopes its cost lands on.

These are not planted anomalies and not normal events: a fleet that grows about 4 % a month adds
whole instances, endpoints and buckets, and a resource of $800 a day can double a small team's
spend overnight. A detector may rightly flag such a step (its root cause is then
``new_resource`` or ``new_client``) or not; the planted-truth score counts an alarm on one
neither as a hit nor as a false alarm, and says how many there were.
"""

from __future__ import annotations

from typing import Any

from costcouncil.demo.plan import Plan
from costcouncil.demo.planted import provider_name
from costcouncil.demo.streams import Stream
from costcouncil.demo.truth_planted import iso_hour

#: Tag states whose cost attribution may leave without an owner.
_UNOWNED = ("untagged", "mistagged")


def growth_truth(plan: Plan) -> list[dict[str, Any]]:
    """One entry per resource or LLM use that starts after the span's first day."""
    planted = {r for p in plan.planted for r in p.resource_ids}
    planted |= {s.resource_id for s in (*plan.runaway, plan.idle)}
    planted |= {r for n in plan.normal for r in n.resource_ids}
    out: dict[str, dict[str, Any]] = {}
    for s in plan.streams:
        hour = s.start * s.unit_hours
        if s.role == "tokens" or hour < 24 or s.resource_id in planted or s.resource_id in out:
            continue
        out[s.resource_id] = {
            "id": s.resource_id,
            "kind": "new_resource",
            "start": iso_hour(plan, hour),
            "scopes": _stream_scopes(s),
        }
    for app in plan.apps:
        if app.start > 0 and app.resource_id not in planted:
            scopes = ["org", f"provider={provider_name(app.provider)}"]
            scopes += [f"team={app.use.owner.team}", f"model={app.use.model}"]
            out[app.resource_id] = {
                "id": app.resource_id,
                "kind": "new_app",
                "start": iso_hour(plan, app.start * 24),
                "scopes": scopes,
            }
    return sorted(out.values(), key=lambda g: (g["start"], g["id"]))


def _stream_scopes(s: Stream) -> list[str]:
    out = ["org", f"provider={provider_name(s.provider)}"]
    if s.role == "node":  # a shared node: its cost goes to the jobs' teams and to idle
        return [*out, "team=__idle__", "model=__idle__"]
    if s.owner is not None:
        out += [f"team={s.owner.team}"] + ([f"model={s.owner.model}"] if s.owner.model else [])
    if s.tag_state in _UNOWNED or s.owner is None:
        out += ["team=__unallocated__", "model=__unallocated__"]
    return out
