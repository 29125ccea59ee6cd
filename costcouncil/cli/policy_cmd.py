"""``costcouncil policy``: validate ``policies.yaml``, evaluate it over a workspace, work through
its violations (list, acknowledge, exception, resolve) and check a planned job or LLM route
(see docs/policies.md, "Command line").

``check`` exits with :data:`DENIED` when an enforced policy denies the plan, so CI and admission
hooks can gate on it; ``validate`` exits 1 with every problem of the document, each with its line.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError
from rich.table import Table

from costcouncil.api.policy_api import JobBody, RouteBody, check_answer
from costcouncil.cli.common import JsonOpt, WorkspaceArg, fail, opened, out
from costcouncil.errors import CostCouncilError
from costcouncil.policy import CheckResult
from costcouncil.workspace.access.accounts import Access, account_key
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.policy.run import (
    POLICIES_FILE,
    Outcome,
    check_plan,
    evaluate_workspace,
    read_policies,
)
from costcouncil.workspace.policy.store import APPROVERS, ViolationInfo, Violations, through

__all__ = ["DENIED", "policy_app"]

#: The exit status of ``policy check`` when a policy denies the plan.
DENIED = 3
LISTED = ["id", "policy", "severity", "subject", "owner", "at stake", "state", "seen"]

policy_app = typer.Typer(
    help="Policies: validate policies.yaml, evaluate it, work through violations, check plans.",
    no_args_is_help=True,
)
IdArg = Annotated[int, typer.Argument(help="The violation's id (see `policy violations`).")]
NoteOpt = Annotated[str, typer.Option(help="What was done or why.")]
DayOpt = Annotated[
    str | None, typer.Option("--as-of", help="The day to judge, YYYY-MM-DD (default below).")
]


@policy_app.command("validate")
def policy_validate(
    directory: WorkspaceArg,
    file: Annotated[
        Path | None, typer.Argument(help="A policies.yaml (default: the workspace's).")
    ] = None,
) -> None:
    """Read a policies.yaml and print every problem with its line; exit 1 when there is one."""
    try:
        workspace = Workspace.open(directory)
        path = file or workspace.root / POLICIES_FILE
        if not path.exists():
            fail(f"{path}: no such file (policies live in {POLICIES_FILE} at the workspace root)")
        policies = read_policies(workspace, path)
    except CostCouncilError as e:
        fail(e)
    _say(f"{path}: {len(policies)} polic{'y' if len(policies) == 1 else 'ies'}, no problems")
    for p in policies:
        enforced = "enforced" if p.enforce else "warns"
        _say(f"  {p.name}: {p.kind}, scope {p.scope}, {p.severity}, {enforced}")


@policy_app.command("evaluate")
def policy_evaluate(
    directory: WorkspaceArg, as_of: DayOpt = None, as_json: JsonOpt = False
) -> None:
    """Evaluate the policies over the workspace (default day: the lake's last complete day),
    record the violations and notify subscribers; print the violations by policy."""
    day = _day(as_of, "--as-of") if as_of else None
    with opened(directory, Violations) as (workspace, store):
        done = evaluate_workspace(workspace, store, as_of=day)
    if as_json:
        print(json.dumps(done.as_dict(), indent=2, ensure_ascii=False))
        return
    for line in evaluation_lines(done, workspace.config.currency):
        _say(line)


def evaluation_lines(done: Outcome, currency: str) -> list[str]:
    """The violations found, grouped by policy, each with its owner and $ at stake."""
    day = done.as_of.isoformat() if done.as_of else "no day"
    counts = ", ".join(f"{done.count(k)} {k}" for k in ("new", "reopened", "grew", "resolved"))
    lines = [f"{done.policies} policies as of {day}: {len(done.found)} violation(s) ({counts})"]
    policy = None
    for v in done.found:
        if v.policy != policy:
            policy = v.policy
            lines.append(f"{policy} ({v.kind}, {v.severity}):")
        lines.append(f"  {v.subject}  owner {v.owner or 'nobody'}  {_money(v.at_stake)} {currency}")
    return lines


@policy_app.command("violations")
def policy_violations(
    directory: WorkspaceArg,
    state: Annotated[
        str | None, typer.Option(help="open, acknowledged, exception or resolved.")
    ] = None,
    policy: Annotated[str | None, typer.Option(help="Only this policy's violations.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List violations, the most money at stake first."""
    with opened(directory, Violations) as (_, store):
        found = store.list(state=state, policy=policy)
    if as_json:
        print(json.dumps([v.as_dict() for v in found], indent=2, ensure_ascii=False))
        return
    if not found:
        _say("no violations" + (f" in state {state}" if state else ""))
        return
    shown = Table(*LISTED)
    for v in found:
        shown.add_row(*_row(v))
    out.print(shown)


def _row(v: ViolationInfo) -> list[str]:
    money = f"{_money(v.at_stake)} {v.currency}"
    return [str(v.id), v.policy, v.severity, v.subject, v.team or "", money, v.state,
            v.seen_at.date().isoformat()]  # fmt: skip


@policy_app.command("ack")
def policy_ack(directory: WorkspaceArg, violation: IdArg, note: NoteOpt = "") -> None:
    """Acknowledge an open violation: someone owns it and is on it."""
    with opened(directory, Violations) as (_, store):
        done = store.acknowledge(violation, "cli", note)
    _say(f"violation {done.id} ({done.key}) acknowledged")


@policy_app.command("exception")
def policy_exception(
    directory: WorkspaceArg,
    violation: IdArg,
    justification: Annotated[str, typer.Option(help="Why the breach is accepted.")],
    until: Annotated[str, typer.Option(help="The last day it holds, YYYY-MM-DD.")],
    approver: Annotated[str, typer.Option(help="The email of a finance or admin user.")],
) -> None:
    """Accept a violation until a day, approved by a finance or admin user of the workspace."""
    last = _day(until, "--until")
    with opened(directory, Violations) as (workspace, store):
        role = _role(workspace, approver)
        done = store.grant_exception(violation, approver, justification, through(last), role=role)
    _say(f"violation {done.id} ({done.key}) accepted until {last.isoformat()} by {approver}")


def _role(workspace: Workspace, email: str) -> str:
    """The role of an enabled user of the workspace (fail when there is none)."""
    access = Access.open(workspace)
    try:
        users = {u["email"]: u for u in access.users() if not u["disabled"]}
    finally:
        access.close()
    user = users.get(account_key(email))
    if user is None:
        fail(f"--approver {email!r}: no such enabled user; an exception is approved by a "
             f"{' or '.join(APPROVERS)} user (costcouncil users add)")  # fmt: skip
    return str(user["role"])


@policy_app.command("resolve")
def policy_resolve(directory: WorkspaceArg, violation: IdArg, note: NoteOpt = "") -> None:
    """Resolve a violation (the next evaluation reopens it if it is still there)."""
    with opened(directory, Violations) as (_, store):
        done = store.resolve(violation, "cli", note)
    _say(f"violation {done.id} ({done.key}) resolved")


@policy_app.command("check")
def policy_check(
    directory: WorkspaceArg,
    job: Annotated[str | None, typer.Option(help="A planned job as JSON.")] = None,
    route: Annotated[str | None, typer.Option(help="A planned LLM route as JSON.")] = None,
    job_file: Annotated[Path | None, typer.Option(help="A planned job in a JSON file.")] = None,
    route_file: Annotated[
        Path | None, typer.Option(help="A planned LLM route in a JSON file.")
    ] = None,
    as_of: DayOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Would the policies allow this job or route? Prints each deciding policy; exits 3 when an
    enforced policy denies it."""
    planned = _planned(job, route, job_file, route_file)
    today = _day(as_of, "--as-of") if as_of else datetime.now(UTC).date()
    with opened(directory, Violations) as (workspace, store):
        result = check_plan(workspace, store, planned.planned(), today=today, actor="cli")
    if as_json:
        print(json.dumps(check_answer(result), indent=2, ensure_ascii=False))
    else:
        for line in check_lines(result):
            _say(line)
    if not result.allow:
        raise typer.Exit(DENIED)


def check_lines(result: CheckResult) -> list[str]:
    """The answer, then each finding: its policy and reason."""
    if not result.findings:
        return ["allowed: no policy objects"]
    head = "allowed (with warnings)" if result.allow else "denied"
    return [head, *(f"  {f.policy}: {f.reason}" for f in result.findings)]


def _planned(
    job: str | None, route: str | None, job_file: Path | None, route_file: Path | None
) -> JobBody | RouteBody:
    given = {"--job": job, "--route": route, "--job-file": job_file, "--route-file": route_file}
    named = [k for k, v in given.items() if v is not None]
    if len(named) != 1:
        fail("give one of --job, --route, --job-file or --route-file")
    option, value = named[0], given[named[0]]
    text = _read(value) if isinstance(value, Path) else str(value)
    model: type[BaseModel] = JobBody if "job" in option else RouteBody
    try:
        parsed = model.model_validate_json(text)
    except ValidationError as e:
        fail(f"{option}: " + "; ".join(_problem(p) for p in e.errors()))
    assert isinstance(parsed, JobBody | RouteBody)
    return parsed


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ())) or "the value"
    return f"{where}: {error.get('msg', 'invalid')}"


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"{path}: cannot read it ({e})")


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} {text!r}: a day as YYYY-MM-DD")


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):,}"


def _say(line: str) -> None:
    """One line as it is: no markup, no highlighting, no wrapping (scripts read it)."""
    out.print(line, highlight=False, markup=False, soft_wrap=True)
