"""The live event log: append-only NDJSON segments, fsynced before an event is acknowledged.

``events/seg-<sequence>.ndjson`` files under the workspace. :meth:`EventLog.append` writes a
batch with one ``write`` and ``fsync`` (and the directory's on a new segment), so once it returns
the batch survives a crash of the process or the machine. A crash in the middle of a write can
leave a torn last line; it was never acknowledged, and :func:`read_segment` skips it.

Segments are *sealed* (closed for appends) before compaction reads them, and *dropped* only after
the lake commit that holds their events; a crash between the two replays them, and the lake's
per-id dedupe makes that replay harmless.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

SEGMENT_BYTES = 64 << 20


class EventLog:
    """Append-only segments in ``root``; thread-safe."""

    def __init__(self, root: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.root = root
        self.segment_bytes = segment_bytes
        root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        existing = self.segments()
        self._sequence = int(existing[-1].stem.split("-")[1]) if existing else 0
        self._file: Any = None
        self._size = 0

    def segments(self) -> list[Path]:
        """Every segment, oldest first (the open one last)."""
        return sorted(self.root.glob("seg-*.ndjson"))

    def append(self, data: bytes) -> Path:
        """Write ``data`` (whole NDJSON lines) durably; returns the segment it went to."""
        with self._lock:
            if self._file is None or self._size >= self.segment_bytes:
                self._open_next()
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._size += len(data)
            return Path(self._file.name)

    def seal(self) -> list[Path]:
        """Close the open segment; every segment now on disk is sealed and returned."""
        with self._lock:
            self._close()
            return self.segments()

    def drop(self, paths: list[Path]) -> None:
        """Delete sealed segments whose events the lake now holds."""
        for path in paths:
            path.unlink(missing_ok=True)
        _fsync_dir(self.root)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open_next(self) -> None:
        self._close()
        self._sequence += 1
        path = self.root / f"seg-{self._sequence:012d}.ndjson"
        self._file = path.open("ab", buffering=0)
        self._size = 0
        _fsync_dir(self.root)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_segment(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a segment, skipping a torn (unacknowledged) last line."""
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n"):
                return
            try:
                yield orjson.loads(line)
            except orjson.JSONDecodeError:
                return


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
