"""A process with its clock moved: Debian's libfaketime, preloaded (``make faketime``)."""

from __future__ import annotations

import glob
import os

import pytest

_LIBRARY = "/usr/lib/*/faketime/libfaketime.so.1"


def frozen_clock_env(at: str) -> dict[str, str]:
    """Environment that starts a child process's clock at ``at`` (``YYYY-MM-DD HH:MM:SS`` UTC).

    The clock then runs on from there, so timeouts and sleeps still behave. Skips when
    libfaketime is missing (fails in CI, where ``make test`` installs it).
    """
    found = sorted(glob.glob(_LIBRARY))
    if not found:
        why = "libfaketime is not installed: run `make faketime` (apt-get install faketime)"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI runs the moved-clock tests, but {why}", pytrace=False)
        pytest.skip(why)
    return {"LD_PRELOAD": found[0], "FAKETIME": f"@{at}", "TZ": "UTC"}
