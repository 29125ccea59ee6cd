"""The refresh inside ``serve``: a thread that, every ``COSTCOUNCIL_REFRESH_SECONDS``, refreshes
forecasts, detection and notifications when the lake changed since the last refresh (an ingest or
an ``allocate`` from another process), and sends digests when due — daily ones once a day after
``COSTCOUNCIL_DIGEST_HOUR`` (UTC), weekly ones when :func:`weekly_due` says so.

A failure is logged and tried again at the next check; it never stops the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

from costcouncil.errors import CostCouncilError
from costcouncil.workspace.anomaly.store import Monitoring
from costcouncil.workspace.core import Workspace
from costcouncil.workspace.forecast.saved import load
from costcouncil.workspace.notify.dispatch import BASE_URL, send_digests
from costcouncil.workspace.refresh.run import Refreshed, refresh

log = logging.getLogger(__name__)


class Scheduler:
    """Checks the lake every ``seconds``; :meth:`tick` is one check (tests call it directly)."""

    def __init__(
        self,
        workspace: Workspace,
        seconds: float,
        *,
        digest_hour: int = 8,
        link: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.workspace = workspace
        self.seconds = seconds
        self.digest_hour = digest_hour
        self.link = link
        self.clock = clock
        self.stamp = self._stamp() if self._current() else (0, 0)
        self.daily_sent: date | None = None
        self.last: Refreshed | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.seconds > 0:
            self._thread = threading.Thread(target=self._run, name="cc-refresh", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.tick()
            except Exception:  # the server must keep running; the error is logged
                log.exception("refresh failed; trying again at the next check")

    def tick(self) -> Refreshed | None:
        """Refresh if the lake changed, then send the digests that are due."""
        now = self.clock()
        stamp = self._stamp()
        done = None
        if stamp != self.stamp:
            self.stamp = stamp
            done = self.last = refresh(self.workspace, now=now, link=self.link)
            for step, why in done.failures.items():
                log.warning("refresh: %s failed: %s", step, why)
        self._digests(now)
        return done

    def _digests(self, now: datetime) -> None:
        store = Monitoring.open(self.workspace)
        try:
            if now.hour >= self.digest_hour and self.daily_sent != now.date():
                send_digests(store.db, "daily", now=now, base_url=self.link or BASE_URL)
                self.daily_sent = now.date()
            send_digests(store.db, "weekly", now=now, base_url=self.link or BASE_URL)
        except CostCouncilError as e:
            log.warning("digests failed: %s", e)
        finally:
            store.close()

    def _current(self) -> bool:
        """Whether the saved forecasts are newer than the lake (refreshed since it changed)."""
        saved = load(self.workspace)
        if saved is None:
            return False
        made = datetime.fromisoformat(saved.created_at).timestamp()
        try:
            return made >= self.workspace.lake.manifest_path.stat().st_mtime
        except FileNotFoundError:
            return True

    def _stamp(self) -> tuple[int, int]:
        try:
            st = self.workspace.lake.manifest_path.stat()
        except FileNotFoundError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_ino)
