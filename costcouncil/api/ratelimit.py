"""Sign-in rate limiting: failed attempts per address and per account in a sliding window.

Accounts are keyed as :class:`~costcouncil.workspace.access.accounts.Access` spells them
(:func:`account_key`), so ``" Vision@x "`` and ``"vision@x"`` share one allowance.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from costcouncil.workspace.access.accounts import account_key

WINDOW_SECONDS = 900.0
PER_ACCOUNT = 5
PER_ADDRESS = 20


class LoginLimiter:
    """Refuses sign-in once an account or an address has failed too often recently."""

    def __init__(self, per_account: int = PER_ACCOUNT, per_address: int = PER_ADDRESS) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, account: str, address: str) -> int:
        """Seconds until a sign-in may be tried again (0: now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for kind, key in (("account", account_key(account)), ("address", address)):
                seen = self._prune(self._failures[(kind, key)], now)
                if len(seen) >= self.limits[kind]:
                    wait = max(wait, seen[0] + WINDOW_SECONDS - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, account: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures[("account", account_key(account))].append(now)
            self._failures[("address", address)].append(now)

    def succeeded(self, account: str) -> None:
        with self._lock:
            self._failures.pop(("account", account_key(account)), None)

    @staticmethod
    def _prune(seen: deque[float], now: float) -> deque[float]:
        while seen and seen[0] <= now - WINDOW_SECONDS:
            seen.popleft()
        return seen
