"""``costcouncil monitors`` and ``costcouncil annotations``: what anomaly detection watches, and
the known events it must not flag (see docs/anomalies.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from costcouncil.cli.common import JsonOpt, WorkspaceArg, opened, out, table
from costcouncil.errors import ConfigError
from costcouncil.workspace.allocate.series import parse_scope
from costcouncil.workspace.anomaly.monitors import sync_default_monitors
from costcouncil.workspace.anomaly.store import Monitoring

monitors_app = typer.Typer(
    help="Anomaly monitors: a scope watched at a grain.", no_args_is_help=True
)
annotations_app = typer.Typer(
    help="Known events (a launch, a retrain) that detection treats as normal.",
    no_args_is_help=True,
)


@monitors_app.command("list")
def monitors_list(directory: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """List monitors (the defaults are created on the first detection, or with `sync`)."""
    with opened(directory, Monitoring) as (_, store):
        rows = [m.as_dict() for m in store.monitors()]
    table(rows, ["name", "scope", "grain", "sensitivity", "direction", "builtin", "enabled"], as_json,
           "no monitors yet: run `costcouncil monitors sync DIR` or `costcouncil allocate`")  # fmt: skip


@monitors_app.command("sync")
def monitors_sync(directory: WorkspaceArg) -> None:
    """Create the default monitors: the organisation, each team, each model, each provider."""
    with opened(directory, Monitoring) as (workspace, store):
        added = sync_default_monitors(workspace, store)
    out.print(f"{len(added)} monitor(s) added" + (f": {', '.join(added)}" if added else ""))


@monitors_app.command("add")
def monitors_add(
    directory: WorkspaceArg,
    name: Annotated[str, typer.Argument(help="A name for the monitor.")],
    scope: Annotated[
        str, typer.Option(help="org or DIMENSION=VALUE, e.g. team=research, provider=aws.")
    ],
    grain: Annotated[str, typer.Option(help="day, or hour for live usage.")] = "day",
    sensitivity: Annotated[
        float | None, typer.Option(help="Above 1 flags more, below 1 fewer (default 1).")
    ] = None,
    direction: Annotated[
        str, typer.Option(help="up (spend above expected), down (below) or both.")
    ] = "up",
) -> None:
    """Add a monitor for any scope."""
    with opened(directory, Monitoring) as (workspace, store):
        parsed = parse_scope(workspace, scope, grain)
        added = store.add_monitor(
            name, parsed, grain=grain, sensitivity=sensitivity, direction=direction
        )
    out.print(f"added monitor {added.name!r} ({added.scope}, {added.grain})")


@monitors_app.command("remove")
def monitors_remove(
    directory: WorkspaceArg, name: Annotated[str, typer.Argument(help="The monitor's name.")]
) -> None:
    """Remove a monitor and its anomalies (a default monitor is disabled instead)."""
    with opened(directory, Monitoring) as (_, store):
        store.remove_monitor(name)
    out.print(f"removed monitor {name!r}")


@monitors_app.command("enable")
def monitors_enable(
    directory: WorkspaceArg, name: Annotated[str, typer.Argument(help="The monitor's name.")]
) -> None:
    """Enable a disabled default monitor again."""
    with opened(directory, Monitoring) as (_, store):
        store.enable_monitor(name)
    out.print(f"enabled monitor {name!r}")


def _when(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option} {text!r}: an ISO 8601 date or time, e.g. 2026-05-01") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@annotations_app.command("add")
def annotations_add(
    directory: WorkspaceArg,
    scope: Annotated[str, typer.Option(help="org or DIMENSION=VALUE, e.g. team=research.")],
    start: Annotated[str, typer.Option(help="When it starts (ISO 8601 date or time, UTC).")],
    label: Annotated[str, typer.Option(help="What it is: 'launch of v2', 'quarterly retrain'.")],
    end: Annotated[str | None, typer.Option(help="When it ends (open-ended if left out).")] = None,
) -> None:
    """Annotate a known event: detection learns it as normal and does not flag it."""
    with opened(directory, Monitoring) as (workspace, store):
        begins = _when(start, "--start")
        assert begins is not None
        added = store.add_annotation(
            parse_scope(workspace, scope), begins, _when(end, "--end"), label
        )
    out.print(f"added annotation {added.id} on {added.scope}: {added.label}")


@annotations_app.command("list")
def annotations_list(directory: WorkspaceArg, as_json: JsonOpt = False) -> None:
    """List annotations."""
    with opened(directory, Monitoring) as (_, store):
        rows = [a.as_dict() for a in store.annotations()]
    table(rows, ["id", "scope", "start", "end", "label", "created_by"], as_json, "no annotations")


@annotations_app.command("remove")
def annotations_remove(
    directory: WorkspaceArg, annotation: Annotated[int, typer.Argument(help="Its id.")]
) -> None:
    """Remove an annotation."""
    with opened(directory, Monitoring) as (_, store):
        store.remove_annotation(annotation)
    out.print(f"removed annotation {annotation}")
