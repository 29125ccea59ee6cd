"""``costcouncil demo``: generate the demo AI organisation into a workspace and ingest it.

After ingesting, the usage logs are ingested too, the demo's ``rules.yaml`` is written and every
period is allocated. The generated exports (one FOCUS 1.2 CSV per provider and billing period) land in
``<workspace>/exports/``, the usage logs in ``<workspace>/usage/`` and the planted anomalies and
tagging mistakes in ``<workspace>/ground_truth.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from costcouncil.demo import DemoSpec, write_demo
from costcouncil.workspace.allocate.run import RULES_FILE, AllocateOptions, allocate
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import FileOutcome, IngestOptions, StageProgress, ingest
from costcouncil.workspace.ingest.usage import ingest_usage

Say = Callable[[str], None]


def demo_rules_text() -> str:
    """The demo organisation's ``rules.yaml`` (shipped in the package)."""
    return resources.files("costcouncil.demo").joinpath("rules.yaml").read_text()


def build(
    directory: Path,
    rows: int = 200_000,
    seed: int = 7,
    progress: StageProgress | None = None,
    say: Say = print,
) -> Workspace:
    """Create (or reuse) the demo workspace at ``directory``, generate data, ingest it."""
    workspace = Workspace.init(directory, name="demo-ai-org")
    say(f"Generating the demo organisation ({rows:,} cost rows, seed {seed}) in {directory}/")
    write_demo(directory, DemoSpec(rows=rows, seed=seed))
    exports = sorted((directory / "exports").rglob("*.csv*"))
    say(f"Ingesting {len(exports)} export file(s)")
    outcomes = ingest(workspace, exports, IngestOptions(), progress)
    _check(outcomes)
    for kind in ("jobs", "llm"):
        ingest_usage(workspace, kind, [directory / "usage" / f"{kind}.parquet"])
    (directory / RULES_FILE).write_text(demo_rules_text())
    say("Allocating every period by the demo's rules.yaml")
    outcome = allocate(workspace, AllocateOptions())
    coverage = outcome.coverage()
    say(
        f"  {outcome.allocation_rows:,} allocations, coverage {coverage or 0:.1%}, conserved exactly"
    )
    return workspace


def _check(outcomes: list[FileOutcome]) -> None:
    failed = [o for o in outcomes if o.failed]
    if failed:
        from costcouncil.errors import IngestError

        raise IngestError("demo exports were not stored:\n" + "\n".join(o.error for o in failed))
