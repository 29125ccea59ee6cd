"""FOCUS 1.2 conformance: our own gate for every cost row we ingest and export.

:mod:`~costcouncil.conformance.checks` declares the checks as data (one DuckDB SQL predicate per
requirement); :mod:`~costcouncil.conformance.runner` runs them all in one aggregated scan and
returns a :class:`Report`. The FinOps Foundation's ``focus-validator`` is a cross-check beside
it (``docs/focus-validator.md``), not the gate.
"""

from costcouncil.conformance.checks import ALL_CHECKS, BY_ID, Check
from costcouncil.conformance.runner import CheckResult, Example, Report, run_checks

__all__ = ["ALL_CHECKS", "BY_ID", "Check", "CheckResult", "Example", "Report", "run_checks"]
