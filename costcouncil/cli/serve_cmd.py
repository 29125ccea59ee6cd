"""``costcouncil serve``: the dashboard and HTTP API, with live event ingest (docs/dashboard.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from costcouncil.errors import CostCouncilError
from costcouncil.settings import get_settings
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.allocate import rollups
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.live.runaway import RunawayOptions
from costcouncil.workspace.live.service import LiveIngest, LiveOptions

err = Console(stderr=True, soft_wrap=True)


def serve(
    directory: Annotated[Path, typer.Argument(help="The workspace folder.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    compact_seconds: Annotated[
        float, typer.Option(help="How often live events are compacted into the lake.")
    ] = 2.0,
    stale_job_seconds: Annotated[
        float, typer.Option(help="A job whose heartbeats stop this long ago has ended.")
    ] = 600.0,
) -> None:
    """Serve the web dashboard and the HTTP API (figures, live usage events) on one port."""
    import uvicorn

    from costcouncil.api.app import create_app

    try:
        workspace = Workspace.open(directory)
        runaway = RunawayOptions(base_url=f"http://{host}:{port}")
        options = LiveOptions(compact_seconds, stale_job_seconds=stale_job_seconds, runaway=runaway)
        live = LiveIngest(workspace, options)
        access = Access.open(workspace)
        rebuilt = rollups.refresh(workspace)
    except CostCouncilError as e:
        err.print(f"[bold red]error:[/] {e}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    if rebuilt:
        err.print(f"Built the rollups of {len(rebuilt)} allocated period(s)")
    settings = get_settings()
    if settings.ingest_token is None and not access.has_users():
        err.print(
            "note: no users and no COSTCOUNCIL_INGEST_TOKEN: the API is open to whoever reaches it"
        )
    err.print(f"CostCouncil serving {directory}: dashboard http://{host}:{port}/ · API docs /docs")
    uvicorn.run(create_app(live, settings, access), host=host, port=port, log_level="warning")
