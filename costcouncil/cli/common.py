"""What the command modules share: the consoles, the workspace argument and ``--json`` option,
failing with a message, opening a workspace's app-database store, and printing a table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, Protocol, Self, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from costcouncil.errors import CostCouncilError
from costcouncil.workspace.core import Workspace

out = Console()
err = Console(stderr=True, soft_wrap=True)
WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class Store(Protocol):
    @classmethod
    def open(cls, workspace: Workspace) -> Self: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=Store)


def fail(error: CostCouncilError | str) -> NoReturn:
    """Print ``error`` and exit with status 1."""
    err.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
    raise typer.Exit(1)


@contextmanager
def opened(directory: Path, kind: type[S]) -> Iterator[tuple[Workspace, S]]:
    """The workspace at ``directory`` and its ``kind`` store; a CostCouncilError inside fails."""
    try:
        workspace = Workspace.open(directory)
        store = kind.open(workspace)
    except CostCouncilError as e:
        fail(e)
    try:
        yield workspace, store
    except CostCouncilError as e:
        fail(e)
    finally:
        store.close()


def table(rows: list[dict[str, Any]], columns: list[str], as_json: bool, empty: str) -> None:
    """``rows`` as JSON, or as a table of ``columns`` (``empty`` when there are none)."""
    if as_json:
        print(json.dumps(rows, indent=2, default=str, ensure_ascii=False))
        return
    if not rows:
        out.print(empty)
        return
    shown = Table(*columns)
    for row in rows:
        shown.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
    out.print(shown)
