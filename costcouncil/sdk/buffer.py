"""A bounded, thread-safe FIFO of encoded events that drops the oldest first.

Events are numbered in the order they arrive (a sequence number). The sender *peeks* a batch
from the front without removing it, so the batch still counts against the bound while it is on
the wire, and then either *settles* it (delivered or refused for good: it leaves the buffer) or
*releases* it (to be retried: it stays). An event pushed out by the bound while its batch is on
the wire counts as dropped only if that batch is then released; if the batch was delivered, so
was the event.
"""

from __future__ import annotations

import threading
from collections import deque
from time import monotonic


class Buffer:
    """Encoded events waiting to be sent; at most ``capacity`` of them, oldest dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.cond = threading.Condition()
        self.dropped = 0
        self.oldest_at = 0.0
        self._events: deque[bytes] = deque()
        self._head = 0
        self._inflight_end = 0
        self._inflight_dropped = 0

    def __len__(self) -> int:
        return len(self._events)

    @property
    def head(self) -> int:
        """Sequence number of the oldest event still held."""
        return self._head

    @property
    def tail(self) -> int:
        """Sequence number the next event will get."""
        return self._head + len(self._events)

    def put(self, line: bytes) -> bool:
        """Add one event; True when the bound pushed the oldest one out. Call under ``cond``."""
        if not self._events:
            self.oldest_at = monotonic()
        self._events.append(line)
        if len(self._events) <= self.capacity:
            return False
        self._events.popleft()
        if self._head < self._inflight_end:
            self._inflight_dropped += 1
        else:
            self.dropped += 1
        self._head += 1
        return True

    def peek(self, count: int) -> tuple[int, list[bytes]]:
        """The first ``count`` events and the sequence number of the first. Call under ``cond``."""
        batch = [self._events[i] for i in range(min(count, len(self._events)))]
        self._inflight_end = self._head + len(batch)
        self._inflight_dropped = 0
        return self._head, batch

    def settle(self, start: int, count: int) -> None:
        """The batch ``[start, start + count)`` is done with: remove what is left of it."""
        while self._events and self._head < start + count:
            self._events.popleft()
            self._head += 1
        self._end_flight()

    def release(self) -> None:
        """The batch on the wire stays for a retry; events the bound pushed out are now lost."""
        self.dropped += self._inflight_dropped
        self._end_flight()

    def drop_all(self) -> int:
        """Remove every event (closing, or a forked child); returns how many were held."""
        count = len(self._events)
        self._head += count
        self._events.clear()
        self._end_flight()
        return count

    def _end_flight(self) -> None:
        self._inflight_end = self._head
        self._inflight_dropped = 0
        if self._events:
            self.oldest_at = monotonic()
