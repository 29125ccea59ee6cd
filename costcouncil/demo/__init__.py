"""A seeded synthetic AI organisation: FOCUS cost exports, GPU jobs, LLM logs and ground truth.

Used by the demo, the tests and the benchmarks alike. Everything is a pure function of a
:class:`DemoSpec`: the same spec gives byte-identical data. See ``docs/demo.md``.
"""

from __future__ import annotations

from costcouncil.demo.costs import generate_costs
from costcouncil.demo.files import DemoFiles, write_demo
from costcouncil.demo.jobs import generate_jobs
from costcouncil.demo.llm_logs import generate_llm_requests
from costcouncil.demo.spec import DemoSpec
from costcouncil.demo.truth import ground_truth

__all__ = [
    "DemoFiles",
    "DemoSpec",
    "generate_costs",
    "generate_jobs",
    "generate_llm_requests",
    "ground_truth",
    "write_demo",
]
