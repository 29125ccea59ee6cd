"""A job's life as a context manager: ``job_start`` on enter, ``job_stop`` on exit.

The stop status follows how the block ended: normally (or ``sys.exit(0)``) → ``succeeded``; an
exception (or a non-zero ``sys.exit``) → ``failed``; ``KeyboardInterrupt`` or another
``BaseException`` → ``killed``. The exception still propagates.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Unpack

from costcouncil.sdk.events import HeartbeatFields, JobStartFields


class Reporter(Protocol):
    """What a :class:`Job` sends its events through (the :class:`~costcouncil.sdk.CostCouncil` client).

    A protocol, so this module needs nothing from the client's and the import runs one way.
    """

    def job_start(self, job_id: str, **fields: Unpack[JobStartFields]) -> str: ...

    def job_heartbeat(self, job_id: str, **fields: Unpack[HeartbeatFields]) -> str: ...

    def job_stop(self, job_id: str, *, status: str = "succeeded") -> str: ...


class Job:
    """One job reported live; use as ``with cc.job(...) as job:``."""

    def __init__(self, client: Reporter, job_id: str, start: dict[str, Any]) -> None:
        self.client = client
        self.job_id = job_id
        self.status: str | None = None
        self._start = start
        self._started = False

    def start(self) -> None:
        """Send ``job_start`` (once)."""
        if not self._started:
            self._started = True
            self.client.job_start(self.job_id, **self._start)

    def heartbeat(self, **fields: Unpack[HeartbeatFields]) -> None:
        """Send a ``job_heartbeat`` for this job (utilisation, memory …)."""
        self.client.job_heartbeat(self.job_id, **fields)

    def stop(self, status: str = "succeeded") -> None:
        """Send ``job_stop`` with ``status`` (once; later calls do nothing)."""
        if self.status is None:
            self.status = status
            self.client.job_stop(self.job_id, status=status)

    def __enter__(self) -> Job:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop(exit_status(exc))


def exit_status(exc: BaseException | None) -> str:
    """The stop status for a block that ended with ``exc`` (``None``: it ended normally)."""
    if exc is None:
        return "succeeded"
    if isinstance(exc, SystemExit):
        return "succeeded" if exc.code in (0, None) else "failed"
    return "failed" if isinstance(exc, Exception) else "killed"
