"""Runtime settings: paths, database URL and limits, from the environment or a ``.env`` file.

Every variable is prefixed ``COSTCOUNCIL_`` (``COSTCOUNCIL_MEMORY_LIMIT=2GB``). Domain documents
(rules, budgets, the workspace's ``costcouncil.yaml``) are not settings; they live in YAML files.
"""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide runtime settings."""

    model_config = SettingsConfigDict(env_prefix="COSTCOUNCIL_", env_file=".env", extra="ignore")

    #: DuckDB memory limit for ingest, reports and exports; above it DuckDB spills to disk.
    memory_limit: str = "4GB"
    #: DuckDB memory limit for attribution runs (``allocate``): below the 3 GB a run may take in
    #: all, the rest being the interpreter, Arrow and the engine's own state; it spills past it.
    allocate_memory_limit: str = "2GB"
    #: Cost rows an attribution run takes at once: consecutive billing periods are attributed
    #: together up to this many rows (a larger period on its own), each group's working set
    #: freed before the next, so memory follows the largest period rather than the lake.
    allocate_chunk_rows: int = 4_000_000
    #: DuckDB worker threads; 0 means one per core.
    threads: int = 0
    #: Longest CSV line accepted, in bytes; a longer one is a format error, not an out-of-memory.
    max_line_bytes: int = 8 * 1024 * 1024
    #: A service token ``costcouncil serve`` accepts (and then requires) on every API call;
    #: unset, and with no users, the server is open (bind to loopback only then).
    ingest_token: str | None = None
    #: Largest request body ``serve`` accepts on /v1/events and /v1/traces, in bytes (413 above).
    max_batch_bytes: int = 16 * 1024 * 1024
    #: Mark the dashboard's session cookie ``Secure``: true, false, or unset for "when the
    #: request came over HTTPS" (behind a TLS proxy, run uvicorn with --proxy-headers).
    cookie_secure: bool | None = None
    #: How often ``serve`` checks whether the lake changed, in seconds; when it did, forecasts,
    #: detection and notifications refresh (as after ``allocate``). 0 turns it off.
    refresh_seconds: float = 300.0
    #: The hour (UTC) after which ``serve`` sends the day's daily digests (weekly ones on Mondays).
    digest_hour: int = 8
    #: The dashboard's address as people reach it, for the links in notifications.
    public_url: str = "http://127.0.0.1:8000"


def get_settings() -> Settings:
    return Settings()
