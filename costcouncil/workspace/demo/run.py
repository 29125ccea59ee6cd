"""``costcouncil demo``: generate the demo AI organisation into a workspace and ingest it.

After ingesting, the usage logs are ingested too, the demo's ``rules.yaml`` is written and every
period is allocated. The generated exports (one FOCUS 1.2 CSV per provider and billing period) land in
``<workspace>/exports/``, the usage logs in ``<workspace>/usage/`` and the planted anomalies and
tagging mistakes in ``<workspace>/ground_truth.json``; the demo's governance policies, under which
exactly the planted policy breaches are violations, in ``<workspace>/policies.yaml``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

from costcouncil.demo import DemoSpec, write_demo
from costcouncil.demo.policies import demo_policies
from costcouncil.workspace.allocate.run import RULES_FILE, AllocateOptions, allocate
from costcouncil.workspace.allocate.series import parse_scope
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import FileOutcome, IngestOptions, StageProgress, ingest
from costcouncil.workspace.ingest.usage import ingest_usage
from costcouncil.workspace.refresh.run import Refreshed, refresh

Say = Callable[[str], None]
#: The demo's governance policies, in the workspace root (see docs/policies.md).
POLICIES_FILE = "policies.yaml"


def demo_rules_text() -> str:
    """The demo organisation's ``rules.yaml`` (shipped in the package)."""
    return resources.files("costcouncil.demo").joinpath("rules.yaml").read_text()


@dataclass
class DemoRun:
    """The demo workspace and the wall-clock seconds of each step, in the order they ran."""

    workspace: Workspace
    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.steps[name] = time.perf_counter() - start


def build(
    directory: Path,
    rows: int = 200_000,
    seed: int = 7,
    progress: StageProgress | None = None,
    say: Say = print,
) -> Workspace:
    """Create (or reuse) the demo workspace at ``directory``, generate data, ingest it."""
    return run(directory, rows, seed, progress, say).workspace


def run(
    directory: Path,
    rows: int = 200_000,
    seed: int = 7,
    progress: StageProgress | None = None,
    say: Say = print,
) -> DemoRun:
    """:func:`build`, timing each step: generate, ingest (costs and usage), allocate."""
    demo = DemoRun(Workspace.init(directory, name="demo-ai-org"))
    with demo.step("generate"):
        say(f"Generating the demo organisation ({rows:,} cost rows, seed {seed}) in {directory}/")
        spec = DemoSpec(rows=rows, seed=seed)
        write_demo(directory, spec)
        (directory / POLICIES_FILE).write_text(demo_policies(spec))
    with demo.step("ingest"):
        _ingest(demo.workspace, directory, progress, say)
    with demo.step("allocate"):
        (directory / RULES_FILE).write_text(demo_rules_text())
        say("Allocating every period by the demo's rules.yaml")
        outcome = allocate(demo.workspace, AllocateOptions())
    coverage = outcome.coverage()
    say(
        f"  {outcome.allocation_rows:,} allocations, coverage {coverage or 0:.1%}, conserved exactly"
    )
    with demo.step("refresh"):
        say("Forecasting every scope and detecting anomalies on every monitor")
        done = _refresh(demo.workspace, directory)
        say(f"  {done.forecast_scopes} forecasts, {done.detection.count('new') if done.detection else 0} "
            "anomalies found")  # fmt: skip
    return demo


def _refresh(workspace: Workspace, directory: Path) -> Refreshed:
    """The annotations the demo's planned launch carries (as its team would have entered them),
    then forecasts and detection as of the end of the demo's year."""
    truth = json.loads((directory / "ground_truth.json").read_text())
    store = Monitoring.open(workspace)
    try:
        notes = [n for e in truth.get("normal_events", []) for n in e.get("annotations", [])]
        for note in notes if not store.annotations() else []:
            end = _when(note["end"]) if note.get("end") else None
            store.add_annotation(parse_scope(workspace, note["scope"]), _when(note["start"]), end,
                                 note["label"], actor="demo")  # fmt: skip
    finally:
        store.close()
    spec = truth["spec"]
    start = date.fromisoformat(spec["start"])
    months = start.year * 12 + start.month - 1 + int(spec["months"])
    end = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
    return refresh(workspace, now=end)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ingest(
    workspace: Workspace, directory: Path, progress: StageProgress | None, say: Say
) -> None:
    exports = sorted((directory / "exports").rglob("*.csv*"))
    say(f"Ingesting {len(exports)} export file(s)")
    _check(ingest(workspace, exports, IngestOptions(), progress))
    for kind in ("jobs", "llm"):
        ingest_usage(workspace, kind, [directory / "usage" / f"{kind}.parquet"])


def _check(outcomes: list[FileOutcome]) -> None:
    failed = [o for o in outcomes if o.failed]
    if failed:
        from costcouncil.errors import IngestError

        raise IngestError("demo exports were not stored:\n" + "\n".join(o.error for o in failed))
