"""The policy engine's five input tables (:class:`costcouncil.policy.Inputs`) from a workspace.

:func:`build_inputs` reads the lake with DuckDB, as of a day (nothing after it is read):

- ``costs`` — every day up to ``as_of`` (``experiment_cap`` needs all of them), from the
  ``resources`` allocation rollup (:mod:`.inputs_costs`);
- ``gpu`` — every day up to ``as_of`` (``idle_gpu`` has its own window), per GPU node
  (:mod:`.inputs_gpu`);
- ``jobs`` — every job started by the end of ``as_of``; ``llm`` — the ``days`` days ending with
  ``as_of`` (:mod:`.inputs_usage`);
- ``budgets`` — each budget's period holding ``as_of`` (:mod:`.inputs_budgets`).

A lake without allocations gives empty ``costs`` and ``gpu`` tables (jobs and LLM usage are still
read). Every table has its engine schema exactly; ``costs`` also carries the workspace's other
owner keys (``model_version``, ``customer`` …) so that policies can scope by them.
"""

from __future__ import annotations

from datetime import date

from costcouncil.policy import DEFAULT_DAYS, Inputs
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.policy.inputs_budgets import budgets_table
from costcouncil.workspace.policy.inputs_costs import costs_table
from costcouncil.workspace.policy.inputs_gpu import gpu_table
from costcouncil.workspace.policy.inputs_lake import open_lake
from costcouncil.workspace.policy.inputs_usage import jobs_table, llm_table

__all__ = ["build_inputs"]


def build_inputs(workspace: Workspace, *, as_of: date, days: int = DEFAULT_DAYS) -> Inputs:
    """The input tables of ``workspace`` as of ``as_of`` (``llm``: the ``days`` days ending with
    it; the other tables as the module docstring says)."""
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days}")
    lake = open_lake(workspace, as_of, days)
    try:
        costs, gpu = costs_table(lake), gpu_table(lake)
        jobs, llm = jobs_table(lake), llm_table(lake)
    finally:
        lake.con.close()
    return Inputs(costs, gpu, jobs, llm, budgets_table(workspace, as_of))
