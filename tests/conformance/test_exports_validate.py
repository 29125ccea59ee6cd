"""Our exports of the real source samples and of the demo organisation, checked twice.

1. Our own FOCUS gate (:mod:`costcouncil.conformance`): each sample's export fails exactly the
   checks declared below, each with the reason the *source* cannot give more; the demo export
   passes the gate without ``force``.
2. The FinOps Foundation's focus-validator (when ``.venv-validator`` exists): every rule it fails
   on an export is on ``validator_known_defects.yaml`` for that dataset, and every rule listed
   there for the dataset still fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from costcouncil.workspace.core import Workspace
from costcouncil.workspace.ingest.costs import ingest
from costcouncil.workspace.reports.export import ExportResult, export_focus
from tests.conformance.sample import SHARED_DATA
from tests.conformance.test_focus_validator import known_defects
from tests.conformance.validator import VENV, available, run_validator

BILLING = SHARED_DATA / "billing"

#: Sample file -> (dataset name in validator_known_defects.yaml, our failed checks -> why).
#: The failed set must be exactly this: a check that starts or stops failing fails the test.
SAMPLES: dict[str, tuple[str, dict[str, str]]] = {
    "aws_cur_sample_anonymous.csv": ("aws-cur", {}),
    "azure_ea_sample_anonymous.csv": (
        "azure-ea",
        {
            "FOCUS-ContractedCost-NotAboveListCost": "the anonymised sample's UnitPrice exceeds "
            "its PayGPrice on 13 rows (a warning; costs are the source's own)",
            "FOCUS-PricingUnit-UnitFormat": "UnitOfMeasure '10K' is Azure's own unit string, "
            "kept as PricingUnit (a warning)",
        },
    ),
    "oci_cost_report_sample.csv": (
        "oci",
        {
            "FOCUS-PricingUnit-UnitFormat": "cost/skuUnitDescription ('GB Months', 'Instance "
            "per hour') is OCI's own unit string, kept as PricingUnit (a warning)",
            "FOCUS-ConsumedUnit-UnitFormat": "the report has no consumed unit of its own; "
            "ConsumedUnit is the same billing unit string (a warning)",
        },
    ),
}

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} not found; the export cross-checks need ../shared/data/billing")
    return path


def _require_validator() -> None:
    if not available():
        pytest.skip(
            f"focus-validator not installed at {VENV}; run scripts/validator-venv.sh "
            "(needs Python >= 3.12) to enable the cross-check"
        )


def _validator_matches(result: ExportResult, dataset: str) -> None:
    failed = {f.rule_id for f in run_validator(result.path) if not f.composite}
    known = set(known_defects(dataset))
    assert failed - known == set(), f"{dataset}: validator failures not on the known-defects list"
    assert known - failed == set(), f"{dataset}: known defects that no longer fail: remove them"


def _export_sample(name: str, tmp_path: Path) -> ExportResult:
    source = _require(BILLING / name)
    workspace = Workspace.init(tmp_path / "ws")
    ingest(workspace, [source])
    return export_focus(workspace, tmp_path / "export.csv", force=True)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_export(name: str, tmp_path: Path) -> None:
    dataset, expected = SAMPLES[name]
    result = _export_sample(name, tmp_path)
    report = result.conformance
    failed = {r.check.id for r in report.failures()}
    assert failed == set(expected), report.to_text()
    assert not report.failures("error"), report.to_text()
    if available():
        _validator_matches(result, dataset)


def test_demo_export(tmp_path: Path) -> None:
    from costcouncil.demo import DemoSpec, write_demo

    demo = tmp_path / "demo"
    write_demo(demo, DemoSpec(rows=3000, seed=7, months=2))
    workspace = Workspace.init(tmp_path / "ws")
    ingest(workspace, sorted((demo / "exports").rglob("*.csv*")))
    result = export_focus(workspace, tmp_path / "export.csv", period="2025-12")
    assert result.conformance.ok, result.conformance.to_text()
    assert result.conformance.failures() == (), result.conformance.to_text()
    if available():
        _validator_matches(result, "demo")


def test_validator_is_set_up_or_skipped() -> None:
    """Says plainly when the validator half of the tests above did not run."""
    _require_validator()


def test_demo_allocated_export(tmp_path: Path) -> None:
    """Allocated rows (amounts split, x_ owner columns) are still FOCUS for both checkers."""
    from costcouncil.demo import DemoSpec, write_demo
    from costcouncil.workspace.allocate.run import AllocateOptions, allocate
    from costcouncil.workspace.demo.run import demo_rules_text
    from costcouncil.workspace.ingest.usage import ingest_usage

    demo = tmp_path / "demo"
    write_demo(demo, DemoSpec(rows=3000, seed=7, months=2))
    workspace = Workspace.init(tmp_path / "ws")
    ingest(workspace, sorted((demo / "exports").rglob("*.csv*")))
    for kind in ("jobs", "llm"):
        ingest_usage(workspace, kind, [demo / "usage" / f"{kind}.parquet"])
    (workspace.root / "rules.yaml").write_text(demo_rules_text())
    allocate(workspace, AllocateOptions(periods=("2025-12",)))
    result = export_focus(workspace, tmp_path / "alloc.csv", period="2025-12", allocated=True)
    assert result.conformance.failures() == (), result.conformance.to_text()
    if available():
        _validator_matches(result, "demo")
