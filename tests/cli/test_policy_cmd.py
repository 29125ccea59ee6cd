"""`costcouncil policy` on the small allocated organisation of tests/web/org.py (its bill is in
2026-09 and 2026-10, so the evaluated day comes from the lake, not the clock): validate with
mistakes, evaluate, list, acknowledge, an exception approved only by finance or admin, resolve,
and check — exit 3 on deny."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costcouncil.cli.main import app
from costcouncil.cli.policy_cmd import DENIED
from costcouncil.workspace.core import Workspace
from tests.web.org import build_org

runner = CliRunner()
POLICIES = """\
version: 1
policies:
  - name: tags
    kind: required_tags
    params: {keys: [team, project]}
  - name: prod-gpus
    kind: allowed_instances
    enforce: true
    params: {environments: {prod: ["p4d.*"]}}
"""
MISTAKES = """\
version: 1
policies:
  - name: tags
    kind: required_tag
  - name: idle
    kind: idle_gpu
    severty: info
    params: {max_idle_pct: 40}
"""
JOB = {"keys": {"team": "search", "project": "ranking"}, "environment": "prod",
       "instance_type": "g5.48xlarge", "gpus": 8, "hours": 12}  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    org = build_org(tmp_path_factory.mktemp("policy-cli"))
    (org.root / "policies.yaml").write_text(POLICIES)
    return org


def cc(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_validate_prints_every_mistake_with_its_line(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "policies.yaml"
    bad.write_text(MISTAKES)
    code, output = cc("policy", "validate", str(ws.root), str(bad))
    assert code == 1
    assert (
        "policies.yaml:4: policies[0].kind: unknown kind" in output
        and "did you mean 'required_tags'" in output
    )
    assert (
        "policies.yaml:7: policies[1].severty" in output
        and "policies.yaml:8: policies[1].params.max_idle_pct" in output
    )
    code, output = cc("policy", "validate", str(ws.root))
    assert (
        code == 0
        and "2 policies, no problems" in output
        and "prod-gpus: allowed_instances, scope org, warning, enforced" in output
    )
    code, output = cc("policy", "validate", str(ws.root), str(tmp_path / "none.yaml"))
    assert code == 1 and "no such file" in output


def test_evaluate_then_work_through_a_violation(ws: Workspace) -> None:
    code, output = cc("policy", "evaluate", str(ws.root), "--json")
    assert code == 0, output
    done = json.loads(output)
    assert done["policies"] == 2 and done["new"] == len(done["violations"]) > 0
    assert {v["policy"] for v in done["violations"]} <= {"tags", "prod-gpus"}
    code, output = cc("policy", "evaluate", str(ws.root))
    assert code == 0 and f"2 policies as of {done['as_of']}" in output and "owner" in output
    listed = json.loads(cc("policy", "violations", str(ws.root), "--state", "open", "--json")[1])
    assert len(listed) == len(done["violations"]) and all(v["state"] == "open" for v in listed)
    vid = str(listed[0]["id"])
    assert cc("policy", "ack", str(ws.root), vid, "--note", "on it")[0] == 0
    refused = cc("policy", "exception", str(ws.root), vid, "--justification", "agreed",
                 "--until", "2099-01-31", "--approver", "vision@example.com")  # fmt: skip
    assert (
        refused[0] == 1
        and "an exception needs the approval of a finance or admin user" in refused[1]
    )
    unknown = cc("policy", "exception", str(ws.root), vid, "--justification", "agreed",
                 "--until", "2099-01-31", "--approver", "nobody@example.com")  # fmt: skip
    assert unknown[0] == 1 and "no such enabled user" in unknown[1]
    granted = cc("policy", "exception", str(ws.root), vid, "--justification", "agreed",
                 "--until", "2099-01-31", "--approver", "finance@example.com")  # fmt: skip
    assert granted[0] == 0 and "accepted until 2099-01-31 by finance@example.com" in granted[1]
    shown = json.loads(
        cc("policy", "violations", str(ws.root), "--state", "exception", "--json")[1]
    )
    assert [v["id"] for v in shown] == [int(vid)] and shown[0]["exception_until"].startswith(
        "2099-02-01"
    )
    assert cc("policy", "resolve", str(ws.root), vid, "--note", "tagged")[0] == 0
    assert cc("policy", "resolve", str(ws.root), vid)[0] == 1  # resolved already
    assert cc("policy", "violations", str(ws.root), "--state", "closed")[0] == 1


def test_check_exits_3_on_deny(ws: Workspace, tmp_path: Path) -> None:
    code, output = cc("policy", "check", str(ws.root), "--job", json.dumps(JOB))
    assert code == DENIED == 3
    assert (
        "denied" in output
        and "prod-gpus: denied: g5.48xlarge is not allowed in prod (allowed: p4d.*)" in output
    )
    fine = tmp_path / "job.json"
    fine.write_text(json.dumps(JOB | {"instance_type": "p4d.24xlarge"}))
    assert cc("policy", "check", str(ws.root), "--job-file", str(fine)) == (
        0,
        "allowed: no policy objects\n",
    )
    untagged = cc(
        "policy",
        "check",
        str(ws.root),
        "--job",
        json.dumps(JOB | {"instance_type": "p4d.24xlarge", "keys": {}}),
    )
    assert (
        untagged[0] == 0
        and "allowed (with warnings)" in untagged[1]
        and "owner keys missing: team, project" in untagged[1]
    )
    route = {"keys": {"team": "search", "project": "x"}, "environment": "prod", "model": "gpt-4o"}
    answer = cc("policy", "check", str(ws.root), "--route", json.dumps(route), "--json")
    assert answer[0] == 0 and json.loads(answer[1]) == {"allow": True, "findings": []}
    broken = cc("policy", "check", str(ws.root), "--job", '{"gpus": "many"}')
    assert broken[0] == 1 and "environment: Field required" in broken[1] and "gpus:" in broken[1]
    assert cc("policy", "check", str(ws.root))[0] == 1
