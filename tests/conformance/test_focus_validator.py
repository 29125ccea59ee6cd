"""The FinOps Foundation's focus-validator as an outside cross-check of the FOCUS 1.0 sample.

Every rule it fails must be on ``validator_known_defects.yaml`` with a reason. Skips when
``.venv-validator`` is missing (``scripts/validator-venv.sh`` creates it).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conformance.sample import require_sample, write_focus_1_2_csv
from tests.conformance.validator import VENV, available, parse_junit, run_validator

KNOWN_DEFECTS = Path(__file__).with_name("validator_known_defects.yaml")

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


#: The datasets a known defect may name (see the header of validator_known_defects.yaml).
DATASETS = frozenset({"focus-sample", "aws-cur", "azure-ea", "oci", "demo"})


def _entries() -> dict[str, dict[str, object]]:
    document = yaml.safe_load(KNOWN_DEFECTS.read_text())
    assert document["version"] == 2
    return dict(document["known_defects"])


def known_defects(dataset: str | None = None) -> dict[str, str]:
    """Rule id -> reason, for the rules listed as failing on ``dataset`` (None: all rules)."""
    assert dataset is None or dataset in DATASETS, dataset
    return {
        rule_id: str(entry["reason"])
        for rule_id, entry in _entries().items()
        if dataset is None or dataset in list(entry["datasets"])  # type: ignore[call-overload]
    }


def _known() -> dict[str, str]:
    return known_defects("focus-sample")


@pytest.fixture
def validator() -> None:
    if not available():
        pytest.skip(
            f"focus-validator not installed at {VENV}; run scripts/validator-venv.sh "
            "(needs Python >= 3.12) to enable the cross-check"
        )


def test_known_defects_have_reasons() -> None:
    """Each entry says whose defect it is: the validator's or the sample's, never ours."""
    for rule_id, entry in _entries().items():
        reason, datasets = entry["reason"], entry["datasets"]
        assert isinstance(reason, str), rule_id
        assert reason.startswith(("Validator defect.", "Sample gap")), rule_id
        assert len(reason) > 60, rule_id
        assert isinstance(datasets, list) and datasets, rule_id
        assert set(datasets) <= DATASETS, rule_id


def test_sample_fails_only_known_defects(validator: None, tmp_path: Path) -> None:
    require_sample()
    csv_path = write_focus_1_2_csv(duckdb.connect(), tmp_path / "focus_1_0_as_1_2.csv")
    failed = {f.rule_id for f in run_validator(csv_path) if not f.composite}
    known = _known()
    assert failed - set(known) == set(), "validator failures not on the known-defects list"
    assert set(known) - failed == set(), "known defects that no longer fail: remove them"


def test_parquet_input(validator: None, tmp_path: Path) -> None:
    require_sample()
    con = duckdb.connect()
    csv_path = write_focus_1_2_csv(con, tmp_path / "sample.csv")
    parquet = tmp_path / "sample.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar = true)) TO "
        f"'{parquet}' (FORMAT parquet)"
    )
    assert {f.rule_id for f in run_validator(parquet) if not f.composite} <= set(_known())


def test_parse_junit(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite name="BilledCost-C-005-BilledCost">'
        '<testcase name="BilledCost-C-005-C :: Validation"><failure name="BilledCost-C-005-C" '
        'message="Validation check for BilledCost">Failed</failure></testcase>'
        '<testcase name="BilledCost-C-001-M :: Type"/>'
        '<testcase name="Tags-C-000-C :: Composite"><skipped message="x"/></testcase>'
        "</testsuite></testsuites>"
    )
    [failure] = parse_junit(report)
    assert (failure.rule_id, failure.check_type, failure.composite) == (
        "BilledCost-C-005-C",
        "Validation",
        False,
    )
