"""The demo organisation's planted policy breaches, checked: every one found, with its owner, and
no other violation.

A demo workspace (``--demo DIR``, generated with ``costcouncil demo DIR --no-serve`` when absent;
``--rows``) holds ``policies.yaml`` and ``ground_truth.json``, whose ``policy_breaches`` list every
violation those policies should raise as of the demo's last day (docs/demo.md). The real
evaluation (``costcouncil.workspace.policy.run.evaluate_workspace``) runs as of that day on a
fresh app database. Printed: per breach of the truth, found or not and its owner right or not;
then every violation that matches no breach of the truth. Exit 1 when a breach is missed, has the
wrong owner, or an unplanned violation appears.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from costcouncil.appdb.db import open_database
from costcouncil.workspace.core import Workspace

ROOT = Path(__file__).resolve().parents[1]


def workspace(folder: Path, rows: int) -> Workspace:
    """The demo workspace at ``folder``, generated first when it holds no ground truth."""
    if not (folder / "ground_truth.json").exists():
        command = [str(ROOT / ".venv/bin/costcouncil"), "demo", str(folder), "--no-serve"]
        subprocess.run([*command, "--rows", str(rows)], check=True, stdout=subprocess.DEVNULL)
    return Workspace.open(folder)


def last_day(truth: dict[str, Any]) -> date:
    """The demo's last day: the day before the first day after its last billing period."""
    start = date.fromisoformat(truth["spec"]["start"])
    months = start.year * 12 + start.month - 1 + int(truth["spec"]["months"])
    return date(months // 12, months % 12 + 1, 1) - timedelta(days=1)


def found_violations(ws: Workspace, as_of: date) -> tuple[list[dict[str, Any]], float]:
    """The open violations after one evaluation on a fresh app database, and its seconds."""
    from costcouncil.workspace.policy.run import evaluate_workspace
    from costcouncil.workspace.policy.store import Violations

    with tempfile.TemporaryDirectory() as tmp:
        store = Violations(open_database(f"sqlite:///{tmp}/bench.db"))
        try:
            started = time.perf_counter()
            evaluate_workspace(ws, store, as_of=as_of)
            seconds = time.perf_counter() - started
            rows = [v.as_dict() for v in store.list(state="open", limit=100_000)]
        finally:
            store.close()
    return rows, seconds


def score(truth: list[dict[str, Any]], found: list[dict[str, Any]]) -> tuple[list[str], bool]:
    """Report lines and whether every breach was found with its owner and nothing else."""
    by_key = {(v["policy"], v["subject"]): v for v in found}
    lines, ok = [f"{'breach':26} {'policy':18} {'found':6} {'owner':28} subject"], True
    for b in truth:
        v = by_key.pop((b["policy"], b["subject"]), None)
        owner = "-" if v is None else "right" if v["team"] == b["owner"] else f"WRONG ({v['team']})"
        ok = ok and v is not None and v["team"] == b["owner"]
        name = b.get("id") or "(not planted)"
        lines.append(
            f"{name:26} {b['policy']:18} {'yes' if v else 'NO':6} {owner:28} {b['subject']}"
        )
    lines.append(f"violations matching no breach of the truth: {len(by_key)} (must be 0)")
    lines += [f"  UNPLANNED {p}: {s} (owner {v['team']}, ${v['at_stake']})" for (p, s), v in sorted(by_key.items())]  # fmt: skip
    return lines, ok and not by_key


def main(args: argparse.Namespace) -> int:
    ws = workspace(Path(args.demo), args.rows)
    truth = json.loads((ws.root / "ground_truth.json").read_text())
    breaches = truth.get("policy_breaches")
    if breaches is None:
        print(f"{ws.root}/ground_truth.json has no policy_breaches (version {truth.get('version')}): regenerate the demo")  # fmt: skip
        return 1
    as_of = last_day(truth)
    found, seconds = found_violations(ws, as_of)
    print(f"\nDemo policy breaches ({ws.root}, as of {as_of}): {len(breaches)} in the truth, "
          f"{len(found)} violations found, evaluation {seconds:.1f} s")  # fmt: skip
    lines, ok = score(breaches, found)
    print("\n".join(lines))
    print("PASS: every breach found with its owner, nothing else" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", default="/tmp/costcouncil-policies-demo")
    parser.add_argument("--rows", type=int, default=200_000)
    sys.exit(main(parser.parse_args()))
