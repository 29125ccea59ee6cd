"""Policies (docs/policies.md): governance as code, the pure engine.

A policy is a named rule of one kind (:data:`KINDS`) read from ``policies.yaml``
(:mod:`.document`). :func:`evaluate` turns input tables (:mod:`.inputs`) into
:class:`Violation` s, each with its policy, subject, owner, evidence and $ at stake; :func:`check`
answers allow / deny for a planned job or LLM route before it starts. No files, no database:
the use cases read the lake into the input tables and keep the violations' lifecycle.
"""

from costcouncil.policy.check import (
    CheckResult,
    Finding,
    PlannedJob,
    PlannedRoute,
    check,
)
from costcouncil.policy.coverage import Coverage, ai_rows, coverage
from costcouncil.policy.document import SCOPE_KEYS, dump_policies, parse_policies
from costcouncil.policy.evaluate import DEFAULT_DAYS, evaluate
from costcouncil.policy.inputs import (
    BUDGETS_SCHEMA,
    COSTS_SCHEMA,
    GPU_SCHEMA,
    JOBS_SCHEMA,
    LLM_SCHEMA,
    SCHEMAS,
    Inputs,
)
from costcouncil.policy.model import (
    KINDS,
    PARAMS,
    SEVERITIES,
    UNALLOCATED,
    AllowedInstancesParams,
    AllowedModelsParams,
    BudgetOverrunParams,
    Experiment,
    ExperimentCapParams,
    IdleGpuParams,
    Params,
    Policy,
    RequiredTagsParams,
    UnitCostParams,
    policy_problems,
    scope_pairs,
)
from costcouncil.policy.violation import Violation

__all__ = [
    "BUDGETS_SCHEMA",
    "COSTS_SCHEMA",
    "DEFAULT_DAYS",
    "GPU_SCHEMA",
    "JOBS_SCHEMA",
    "KINDS",
    "LLM_SCHEMA",
    "PARAMS",
    "SCHEMAS",
    "SCOPE_KEYS",
    "SEVERITIES",
    "UNALLOCATED",
    "AllowedInstancesParams",
    "AllowedModelsParams",
    "BudgetOverrunParams",
    "CheckResult",
    "Coverage",
    "Experiment",
    "ExperimentCapParams",
    "Finding",
    "IdleGpuParams",
    "Inputs",
    "Params",
    "PlannedJob",
    "PlannedRoute",
    "Policy",
    "RequiredTagsParams",
    "UnitCostParams",
    "Violation",
    "ai_rows",
    "check",
    "coverage",
    "dump_policies",
    "evaluate",
    "parse_policies",
    "policy_problems",
    "scope_pairs",
]
