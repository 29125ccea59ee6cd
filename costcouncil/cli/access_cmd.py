"""``costcouncil users`` and ``costcouncil tokens``: who may use the API (see docs/access.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from costcouncil.errors import CostCouncilError
from costcouncil.workspace.access.accounts import Access
from costcouncil.workspace.core import Workspace

users_app = typer.Typer(help="Users, their roles and teams.", no_args_is_help=True)
tokens_app = typer.Typer(
    help="API tokens (stored hashed, scoped, revocable).", no_args_is_help=True
)
out = Console()
err = Console(stderr=True, soft_wrap=True)
WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace folder.")]


def _fail(error: CostCouncilError) -> NoReturn:
    err.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
    raise typer.Exit(1)


def _access(directory: Path) -> Access:
    try:
        return Access.open(Workspace.open(directory))
    except CostCouncilError as e:
        _fail(e)


@users_app.command("add")
def users_add(
    directory: WorkspaceArg,
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name).")],
    role: Annotated[str, typer.Option(help="admin, finance, member or viewer.")] = "member",
    team: Annotated[
        list[str] | None, typer.Option(help="A team whose costs a member sees (repeatable).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from standard input instead of a prompt.")
    ] = False,
    no_password: Annotated[
        bool, typer.Option(help="No password: the user signs in with API tokens only.")
    ] = False,
) -> None:
    """Add a user with a role (and teams, for members); the password is hashed with argon2."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not no_password:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    access = _access(directory)
    try:
        access.add_user(email, role, team or [], password)
    except CostCouncilError as e:
        _fail(e)
    finally:
        access.close()
    out.print(f"added {email} ({role}{', teams ' + ', '.join(team) if team else ''})")


@users_app.command("list")
def users_list(
    directory: WorkspaceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List users, their roles and teams."""
    access = _access(directory)
    users = access.users()
    access.close()
    if as_json:
        print(json.dumps(users, indent=2))
        return
    table = Table("email", "role", "teams", "password")
    for u in users:
        table.add_row(
            u["email"], u["role"], ", ".join(u["teams"]), "yes" if u["password"] else "no"
        )
    out.print(table)


@tokens_app.command("create")
def tokens_create(
    directory: WorkspaceArg,
    user: Annotated[str, typer.Option(help="The user the token acts as.")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. sdk-prod.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(help="events:write, costs:read or admin (repeatable; default: the role's)."),
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option(help="Days until it expires (default: never).")
    ] = None,
) -> None:
    """Create an API token; it is printed once and only its hash is stored."""
    access = _access(directory)
    try:
        token = access.create_token(user, name, scope, expires_days)
    except CostCouncilError as e:
        _fail(e)
    finally:
        access.close()
    err.print("Store this token now; it is not shown again:")
    print(token)


@tokens_app.command("list")
def tokens_list(
    directory: WorkspaceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List tokens (prefix, user, scopes, last use); secrets are never shown."""
    access = _access(directory)
    tokens = access.tokens()
    access.close()
    if as_json:
        print(json.dumps([t.__dict__ for t in tokens], indent=2, default=str))
        return
    table = Table("prefix", "name", "user", "scopes", "last used", "state")
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
        table.add_row(t.prefix, t.name, t.user, ", ".join(t.scopes), used, state)
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    directory: WorkspaceArg,
    prefix: Annotated[str, typer.Argument(help="The token's prefix (from `tokens list`).")],
) -> None:
    """Revoke a token (a running server stops accepting it within 30 seconds)."""
    access = _access(directory)
    try:
        access.revoke_token(prefix)
    except CostCouncilError as e:
        _fail(e)
    finally:
        access.close()
    out.print(f"revoked {prefix}")


#: The demo's sign-ins: an admin and a member of one team (to see access control at work).
DEMO_USERS: tuple[tuple[str, str, list[str]], ...] = (
    ("admin@demo.local", "admin", []),
    ("vision@demo.local", "member", ["vision"]),
)


def demo_users(console: Console, workspace: Workspace) -> None:
    """Give a demo workspace without users an admin and a member, with passwords printed once
    and kept in ``DEMO-USERS.txt`` (readable by the owner only)."""
    import secrets

    access = Access.open(workspace)
    try:
        if access.has_users():
            return
        lines = []
        for email, role, teams in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            access.add_user(email, role, teams, password, actor="demo")
            lines.append(f"{email}  {password}  ({role}{': ' + ', '.join(teams) if teams else ''})")
    finally:
        access.close()
    note = workspace.root / "DEMO-USERS.txt"
    note.write_text("Sign in to the demo dashboard with:\n" + "\n".join(lines) + "\n")
    note.chmod(0o600)
    console.print("Sign in to the dashboard with:")
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False)
    console.print(f"[dim](also in {note})[/]")
