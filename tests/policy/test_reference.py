"""docs/policies.md: every kind and parameter is documented, and every example reads."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from costcouncil.policy import KINDS, PARAMS, dump_policies, parse_policies

DOC = (Path(__file__).resolve().parents[2] / "docs" / "policies.md").read_text()


def test_every_kind_and_param_has_its_section() -> None:
    for kind in KINDS:
        section = DOC.split(f"### `{kind}`", 1)[1].split("###", 1)[0]
        for f in fields(PARAMS[kind]):
            assert f"`{f.name}`" in section, f"{kind}.{f.name} is not documented"


def test_every_example_reads_and_round_trips() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)
    items = [b for b in blocks if b.startswith("  - ")]
    assert len(items) == len(KINDS)
    text = "version: 1\npolicies:\n" + "".join(items)
    policies = parse_policies(
        text, "docs/policies.md", instance_types=["p4d.24xlarge", "g5.xlarge", "g6.xlarge"]
    )
    assert sorted(p.kind for p in policies) == sorted(KINDS)
    assert parse_policies(dump_policies(policies), "again.yaml") == policies
    full = parse_policies(blocks[0], "docs/policies.md")
    assert [p.name for p in full] == ["ai-tags"]
