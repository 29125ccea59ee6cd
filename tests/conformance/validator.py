"""Run the FinOps Foundation's ``focus-validator`` (in ``.venv-validator``) and parse its findings.

The validator is a cross-check beside our own checks (:mod:`costcouncil.conformance`), not the
gate: it always exits 0, so findings come from its JUnit XML. Set it up with
``scripts/validator-venv.sh``; see ``docs/focus-validator.md``.
"""

from __future__ import annotations

import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-validator"
ENTRYPOINT = VENV / "bin" / "focus-validator"


@dataclass(frozen=True)
class Failure:
    """One failed validator rule: its model id (``BilledCost-C-005-C``), check type, message."""

    rule_id: str
    check_type: str
    message: str

    @property
    def composite(self) -> bool:
        """A roll-up rule: it fails exactly when one of the rules it is made of fails."""
        return self.check_type == "Composite"


def available() -> bool:
    return ENTRYPOINT.is_file()


def _package_parent() -> Path:
    """The site-packages holding ``focus_validator``: the validator must run from there.

    2.2.1 opens ``focus_validator/rules/currency_codes.csv`` relative to the working directory.
    """
    found = sorted(VENV.glob("lib/python3*/site-packages/focus_validator"))
    if not found:
        raise FileNotFoundError(f"focus_validator is not installed in {VENV}")
    return found[-1].parent


def run_validator(
    data_path: Path | str, *, applicability: str | None = None, timeout: float = 600
) -> list[Failure]:
    """Validate a FOCUS 1.2 CSV or Parquet file offline; return the failed rules.

    ``applicability`` is passed as ``--applicability-criteria`` (``ALL`` or a comma-separated
    list such as ``TAGGING_SUPPORTED,REGION_SUPPORTED``); without it the validator skips the
    rules of conditional columns.
    """
    path = Path(data_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    with tempfile.TemporaryDirectory(prefix="focus-validator-") as tmp:
        report = Path(tmp) / "report.xml"
        command = [
            str(ENTRYPOINT),
            "--data-file",
            str(path),
            "--validate-version",
            "1.2",
            "--block-download",
            "--output-type",
            "unittest",
            "--output-destination",
            str(report),
        ]
        if path.suffix.lower() == ".parquet":
            command += ["--data-format", "parquet"]
        if applicability:
            command += ["--applicability-criteria", applicability]
        done = subprocess.run(
            command,
            cwd=_package_parent(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if not report.is_file():
            raise RuntimeError(
                f"focus-validator wrote no report for {path} (exit {done.returncode})"
                f":\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
            )
        return parse_junit(report)


def parse_junit(report: Path) -> list[Failure]:
    """The failed (and errored) test cases of a focus-validator JUnit report."""
    failures = []
    for case in ET.parse(report).iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        rule_id, _, check_type = (case.get("name") or "").partition(" :: ")
        failures.append(
            Failure(
                problem.get("name") or rule_id.strip(),
                check_type.strip(),
                problem.get("message") or "",
            )
        )
    return failures
