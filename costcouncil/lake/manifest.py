"""The lake's manifest: which source files were ingested and which data files hold each slice.

The manifest (``lake/manifest.json``) is the lake's single source of truth. Readers read exactly
the data files it lists; a data file on disk that it does not list is an orphan of an interrupted
write and is deleted by the next writer. Replacing the manifest (write a temporary file, fsync,
``os.replace``) is the one atomic step that commits an ingest, so a crash at any moment leaves
the lake as it was before or as it is after, never in between.

A *slice* is one provider + billing account + billing period. Each slice is held by exactly one
*export*: the set of source files that supplied it in one ingest. A newer export of a slice
replaces it (providers restate bills until month close); "newer" is the greater
``(as_of, export key)``, so the lake does not depend on the order files are ingested in.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from costcouncil.errors import LakeError

MANIFEST_VERSION = 1


@dataclass
class SourceFile:
    """One ingested source file, keyed by its content fingerprint."""

    fingerprint: str
    name: str
    size: int
    format: str
    as_of: str
    ingested_at: str
    rows: int
    rejected: int
    warnings: int
    rejects_path: str | None = None
    options: str = ""
    slices: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)


@dataclass
class Slice:
    """One provider + billing account + billing period, and the export that holds it."""

    slice_id: str
    dataset: str
    provider: str
    billing_account: str
    period: str
    as_of: str
    export: list[str]
    files: list[str]
    rows: int
    totals: dict[str, dict[str, str]]
    charge_start: str
    charge_end: str

    @property
    def rank(self) -> tuple[str, str]:
        """What decides which of two exports of a slice is newer."""
        return (self.as_of, ",".join(sorted(self.export)))


@dataclass
class Manifest:
    """Everything the lake holds, as of the last committed ingest."""

    version: int = MANIFEST_VERSION
    files: dict[str, SourceFile] = field(default_factory=dict)
    slices: dict[str, Slice] = field(default_factory=dict)

    runs: list[dict[str, Any]] = field(default_factory=list)

    def data_files(self, dataset: str = "costs") -> list[str]:
        return sorted(f for s in self.slices.values() if s.dataset == dataset for f in s.files)

    def all_data_files(self) -> list[str]:
        return sorted(f for s in self.slices.values() for f in s.files)

    def periods(self, dataset: str = "costs") -> list[str]:
        """The billing periods ('YYYY-MM') a dataset has slices for."""
        return sorted({s.period for s in self.slices.values() if s.dataset == dataset and s.period})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def load(path: Path) -> Manifest:
    """Read a manifest; a missing file is an empty lake."""
    if not path.exists():
        return Manifest()
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise LakeError(f"{path}: the lake manifest cannot be read ({e})") from e
    if raw.get("version") != MANIFEST_VERSION:
        raise LakeError(
            f"{path}: manifest version {raw.get('version')!r} is not {MANIFEST_VERSION}"
        )
    files = {k: SourceFile(**v) for k, v in raw.get("files", {}).items()}
    slices = {k: Slice(**v) for k, v in raw.get("slices", {}).items()}
    return Manifest(MANIFEST_VERSION, files, slices, list(raw.get("runs", [])))


def save(manifest: Manifest, path: Path) -> None:
    """Replace the manifest atomically (temporary file, fsync, rename, fsync of the folder)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(manifest.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
