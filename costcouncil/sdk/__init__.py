"""The CostCouncil Python SDK: report LLM calls and GPU jobs to a server as they happen.

::

    from costcouncil.sdk import CostCouncil

    cc = CostCouncil("http://localhost:8000", token="...", defaults={"team": "search"})
    cc.llm_call(model="gpt-4o", provider="openai", input_tokens=812, output_tokens=95)
    cc.record_openai(response, feature="answers")
    with cc.job(run_id="r-42", gpus=8, gpu_type="H100", model="detector"):
        train()
    with cc.reserve("0.40", model="gpt-4o") as r:   # budget enforcement (BudgetDenied)
        r.actual = call_the_model()

Importing it is light: ``orjson`` and the standard library (``httpx`` loads with the first
request; ``mlflow`` only in :mod:`costcouncil.sdk.mlflow`).
"""

from __future__ import annotations

from costcouncil.sdk.budgets import BudgetDecision, BudgetDenied, BudgetError, Reservation
from costcouncil.sdk.client import CostCouncil, Stats
from costcouncil.sdk.events import JOB_KINDS, JOB_STOP_STATUSES
from costcouncil.sdk.job import Job
from costcouncil.sdk.openai import openai_usage

__all__ = [
    "JOB_KINDS",
    "JOB_STOP_STATUSES",
    "BudgetDecision",
    "BudgetDenied",
    "BudgetError",
    "CostCouncil",
    "Job",
    "Reservation",
    "Stats",
    "openai_usage",
]
