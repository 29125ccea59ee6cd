"""The Parquet lake on disk: layout, the writer's lock, staging, commit and clean-up.

::

    lake/
      manifest.json                       what the lake holds (see manifest.py)
      costs/provider=<p>/period=<YYYY-MM>/<slice>-<export>.parquet
      rejects/<file stem>-<fingerprint>.csv
      .staging/<transaction>/             a writer's scratch space; gone after commit or crash
      .allocate/<run>/                    an allocate run's outputs before it takes the lock
      .lock                               held by the one writer at a time
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from costcouncil.errors import WorkspaceError
from costcouncil.lake import manifest as mf

#: The lake's datasets, one folder each: FOCUS cost rows, usage, attribution results.
DATASETS = ("costs", "jobs", "llm", "allocations", "reconciliation", "rollups")


@dataclass(frozen=True)
class Lake:
    """A lake rooted at ``root``."""

    root: Path

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def rejects_dir(self) -> Path:
        return self.root / "rejects"

    def read(self) -> mf.Manifest:
        return mf.load(self.manifest_path)

    def data_paths(self, dataset: str = "costs") -> list[Path]:
        return [self.root / f for f in self.read().data_files(dataset)]

    @contextmanager
    def writer(self) -> Iterator[Transaction]:
        """The one writer: holds the lock, cleans orphans, offers a staging folder."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / ".lock"):
            self.collect_garbage()
            tx = Transaction(self, self.root / ".staging" / uuid.uuid4().hex)
            tx.staging.mkdir(parents=True)
            try:
                yield tx
            finally:
                shutil.rmtree(tx.staging, ignore_errors=True)

    def collect_garbage(self) -> list[Path]:
        """Delete data files the manifest does not list and stale staging folders."""
        live = {self.root / f for f in self.read().all_data_files()}
        removed = [
            p for d in DATASETS for p in sorted((self.root / d).rglob("*.parquet")) if p not in live
        ]
        for path in removed:
            path.unlink()
        shutil.rmtree(self.root / ".staging", ignore_errors=True)
        return removed


@dataclass
class Transaction:
    """Files written under ``staging`` become part of the lake only in :meth:`commit`."""

    lake: Lake
    staging: Path

    def place(self, staged: Path, relative: str) -> None:
        """Move a staged data file to its final path (not yet visible: the manifest decides)."""
        target = self.lake.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
        crashpoint("placed")

    def commit(self, new: mf.Manifest, old: mf.Manifest) -> None:
        """Make ``new`` the lake's state, then delete what only ``old`` referenced."""
        crashpoint("before-commit")
        mf.save(new, self.lake.manifest_path)
        crashpoint("after-commit")
        keep = set(new.all_data_files())
        for f in set(old.all_data_files()) - keep:
            (self.lake.root / f).unlink(missing_ok=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise WorkspaceError(f"{path.parent}: another ingest is writing this lake") from e
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def crashpoint(name: str) -> None:
    """Testing hook: ``COSTCOUNCIL_CRASHPOINT=<name>`` kills the process here, as kill -9 would."""
    if os.environ.get("COSTCOUNCIL_CRASHPOINT") == name:
        os.kill(os.getpid(), 9)
