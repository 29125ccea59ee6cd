"""Move this Python process's wall clock when ``COSTCOUNCIL_TEST_CLOCK`` says so.

``make test-clock CLOCK=+365d`` (or ``CLOCK='2027-01-31 23:30:00'``) puts this folder on
``PYTHONPATH``, so every Python process of the run -- pytest, its xdist workers, each
``costcouncil`` command and server a test starts -- imports this module at start-up and runs with
its clock moved by time-machine: ``+<N>d`` moves it N days ahead, anything else is a UTC moment
the clock starts from. The clock then ticks on; the monotonic clock, sleeps and timeouts are not
touched (libfaketime moves those too, which hangs Python's timed waits). A process started with
libfaketime (``FAKETIME``: a test that froze its server's clock) keeps the moment its test chose.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta


def _destination(text: str) -> datetime | timedelta:
    if text.startswith("+") and text.endswith("d"):
        return timedelta(days=int(text[1:-1]))
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


_at = os.environ.get("COSTCOUNCIL_TEST_CLOCK", "")
if _at and "FAKETIME" not in os.environ:
    import time_machine

    time_machine.travel(_destination(_at), tick=True).start()
