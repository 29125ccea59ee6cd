"""The Cost Attribution Engine: every cost row split to owners by ordered rules, conserved exactly.

Pure: it reads views an :class:`~costcouncil.engine.base.Engine` holds and creates views in it;
the workspace decides what to load and where the results go. Specified in docs/attribution.md.
"""

from costcouncil.attribution.owners import KEY, METRICS
from costcouncil.attribution.pipeline import (
    Plan,
    build_plan,
    check_conservation,
    release_plan,
    run_plan,
)
from costcouncil.attribution.rules import SENTINELS, Rules, default_rules_text, parse_rules

__all__ = [
    "KEY",
    "METRICS",
    "SENTINELS",
    "Plan",
    "Rules",
    "build_plan",
    "check_conservation",
    "default_rules_text",
    "parse_rules",
    "release_plan",
    "run_plan",
]
