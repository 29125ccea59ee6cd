"""Ingest cost files into the workspace's lake: detect, read once into slices, validate, commit.

One call ingests a batch of files under the lake's writer lock. Each file is read on its own, in
one pass that types, validates and splits its rows by slice (see :mod:`costcouncil.ingest.plan`); files that fail are refused and reported while the others
go on. Slices supplied by several files of the batch form one export. The lake changes only in
the final atomic commit, so bad input or a crash never loses what was stored.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from costcouncil.engine.duckdb import connect, execute
from costcouncil.errors import FormatError, IngestError, Problem, ValidationError
from costcouncil.ingest import plan
from costcouncil.ingest.detect import Sniffed, detect, sniff
from costcouncil.ingest.sources import REGISTRY
from costcouncil.ingest.sources.base import Converter
from costcouncil.lake import manifest as mf
from costcouncil.lake.store import Transaction, crashpoint
from costcouncil.schema.sql import lit
from costcouncil.settings import get_settings
from costcouncil.workspace.common.csvsafe import neutralised_sql
from costcouncil.workspace.core import Workspace

StageProgress = Callable[[str, str, float], None]  # file name, stage, fraction

#: The one write of a file's rows: Parquet per slice and state, the lake's files as they will be.
_SPLIT_FORMAT = "FORMAT parquet, PARTITION_BY (x_slice, x_state)"


@dataclass(frozen=True)
class IngestOptions:
    """How to read the batch (see ``costcouncil ingest --help``)."""

    format: str | None = None
    delimiter: str | None = None
    strict: bool = False
    assume_utc: bool = False
    as_of: datetime | None = None

    def key(self) -> str:
        """The options that change what a file's rows become (re-reading with others is allowed)."""
        return f"format={self.format or ''};delimiter={self.delimiter or ''};utc={self.assume_utc}"


#: Every status a file can end with, and whether the command fails (exit status 1) because of it.
STATUSES: dict[str, bool] = {
    "ingested": False,  # its rows are stored (rows it rejected are in its rejects file)
    "already ingested": False,  # the same content with the same options is in the lake: a no-op
    "superseded": False,  # every period it brings is held by a newer export; nothing stored
    "empty": False,  # a header and no data row; nothing to store
    "rejected": True,  # every row was rejected; nothing stored
    "refused": True,  # the file cannot be read, or --strict found a bad row; nothing stored
}

#: Reasons a row is rejected that one reading option would have fixed.
FIXES = {plan.NAIVE_REASON: "--assume-utc"}


@dataclass
class FileOutcome:
    """What happened to one file."""

    path: Path
    status: str  # one of STATUSES
    format: str = ""
    rows: int = 0
    rejected: int = 0
    warnings: int = 0
    slices: list[str] = field(default_factory=list)
    error: str = ""
    rejects_path: Path | None = None
    warning_summary: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether this outcome makes ``costcouncil ingest`` exit with status 1."""
        return STATUSES[self.status]


@dataclass
class _Staged:
    source: mf.SourceFile
    split_dir: Path
    slices: dict[str, mf.Slice]
    rejects: Path | None
    outcome: FileOutcome


def ingest(
    workspace: Workspace,
    paths: Sequence[Path],
    options: IngestOptions = IngestOptions(),
    progress: StageProgress | None = None,
) -> list[FileOutcome]:
    """Ingest ``paths``; return one outcome per file, in the order given."""
    lake = workspace.lake
    with lake.writer() as tx:
        old = lake.read()
        con = connect(temp_dir=tx.staging / "spill")
        outcomes, staged = _stage_all(con, tx, old, paths, options, progress)
        con.close()
        new, placed = _merge(copy.deepcopy(old), staged)
        _place(tx, new, placed)
        tx.commit(new, old)
        _keep_rejects(lake.root, staged)
    return outcomes


def _stage_all(
    con: duckdb.DuckDBPyConnection,
    tx: Transaction,
    old: mf.Manifest,
    paths: Sequence[Path],
    options: IngestOptions,
    progress: StageProgress | None,
) -> tuple[list[FileOutcome], list[_Staged]]:
    outcomes: list[FileOutcome] = []
    staged: list[_Staged] = []
    read: list[tuple[Path, FileOutcome, str, str]] = []
    newest: dict[str, str] = {}  # fingerprint → the newest export time among this batch's copies
    for path in paths:
        outcome = FileOutcome(path, "refused")
        outcomes.append(outcome)
        try:
            fingerprint, as_of = fingerprint_file(path), _as_of(options, path)
        except (IngestError, OSError) as e:
            outcome.error = str(e)
            continue
        read.append((path, outcome, fingerprint, as_of))
        newest[fingerprint] = max(newest.get(fingerprint, as_of), as_of)
    seen: set[str] = set()
    for path, outcome, fingerprint, as_of in read:
        previous = old.files.get(fingerprint)
        if (
            fingerprint in seen
            or as_of != newest[fingerprint]  # a newer copy of the same export is in the batch
            or (previous and _kept(previous, options) and previous.as_of >= as_of)
        ):
            outcome.status = "already ingested"
            continue
        seen.add(fingerprint)
        try:
            staged.append(_stage_one(con, tx, path, fingerprint, options, outcome, progress))
        except IngestError as e:
            outcome.error = str(e)
    return outcomes, staged


def _kept(previous: mf.SourceFile, options: IngestOptions) -> bool:
    """Whether a file already read with ``options`` needs no new read (all-rejected ones do)."""
    return previous.options == options.key() and not (previous.rows == 0 and previous.rejected)


def fingerprint_file(path: Path) -> str:
    """The content fingerprint: BLAKE2b-128 of the bytes, hex."""
    digest = hashlib.blake2b(digest_size=16)
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 22):
                digest.update(chunk)
    except OSError as e:
        raise FormatError(f"{path}: cannot be read ({e.strerror})") from e
    return digest.hexdigest()


def _stage_one(
    con: duckdb.DuckDBPyConnection,
    tx: Transaction,
    path: Path,
    fingerprint: str,
    options: IngestOptions,
    outcome: FileOutcome,
    progress: StageProgress | None,
) -> _Staged:
    sniffed = sniff(path, options.delimiter)
    converter = _converter(options.format, sniffed)
    outcome.format = converter.name
    read = plan.Options(
        naive_timezone="UTC" if options.assume_utc else None,
        max_line_bytes=get_settings().max_line_bytes,
    )
    work = tx.staging / fingerprint
    work.mkdir()
    if sniffed.container == "csv":
        text = work / "text.parquet"
        _run(con, plan.text_copy_sql(sniffed, read, text), path, "parse", progress)
        converted = plan.converted_sql(converter, sniffed, plan.text_copy_source(text), True)
    else:
        converted = plan.converted_sql(converter, sniffed, plan.source_sql(sniffed, read))
    staged = plan.staged_sql(converted, _types(con, converted, path), converter, read)
    split = work / "split"
    split_sql = plan.split_sql(staged, converter.name, fingerprint)
    _run(con, f"COPY ({split_sql}) TO {lit(str(split))} ({_SPLIT_FORMAT})", path, "read", progress)
    parts = _parts(split)
    stored = parts[plan.OK] + parts[plan.WARNED]
    _refuse_mixed_currencies(con, stored, path)
    rejects = None
    if parts[plan.REJECTED] or parts[plan.WARNED]:
        # Only a file with flagged rows is read again, for those rows' messages.
        flags = work / "flags.parquet"
        sql = f"COPY ({plan.flags_sql(staged)}) TO {lit(str(flags))} (FORMAT parquet)"
        _run(con, sql, path, "check", progress)
        rejected, warnings = _counts(con, flags)
        outcome.rejected, outcome.warnings = rejected, warnings
        outcome.warning_summary = _summary(con, flags, "x_warnings")
        if rejected and options.strict:
            raise _validation_error(con, flags, path, rejected)
        rejects = _write_rejects(con, flags, work, path) if rejected else None
    as_of = _as_of(options, path)
    slices = _slices(con, stored, converter, fingerprint, as_of)
    rows = sum(s.rows for s in slices.values())
    outcome.rows = rows
    if rejects is not None and not rows:
        outcome.error = _all_rejected(con, work / "flags.parquet", path, outcome.rejected)
    source = mf.SourceFile(
        fingerprint,
        path.name,
        path.stat().st_size,
        converter.name,
        as_of,
        datetime.now(UTC).isoformat(timespec="seconds"),
        rows,
        outcome.rejected,
        outcome.warnings,
        options=options.key(),
        slices=sorted(slices),
    )
    if rejects is not None:
        source.rejects_path = f"rejects/{_stem(path)}-{fingerprint[:12]}.rejects.csv"
    return _Staged(source, split, slices, rejects, outcome)


def _converter(name: str | None, sniffed: Sniffed) -> Converter:
    if name is None:
        return detect(sniffed, REGISTRY)
    if name not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        raise FormatError(f"unknown --format {name!r}; known formats: {known}")
    return REGISTRY[name]


def _types(con: duckdb.DuckDBPyConnection, converted: str, path: Path) -> dict[str, str]:
    try:
        return {row[0]: row[1] for row in con.execute(f"DESCRIBE {converted}").fetchall()}
    except duckdb.Error as e:
        raise FormatError(f"{path}: {_first_line(e)}") from e


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, path: Path, stage: str, progress: StageProgress | None
) -> None:
    report = (lambda f: progress(path.name, stage, f)) if progress else None
    try:
        execute(con, sql, report)
    except duckdb.Error as e:
        raise FormatError(f"{path}: {_first_line(e)}") from e


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    if "Maximum line size" in text:
        limit = get_settings().max_line_bytes
        text = (
            f"a line is longer than {limit:,} bytes; a cost export has no such line (raise "
            f"COSTCOUNCIL_MAX_LINE_BYTES if it is real). {text}"
        )
    elif "unterminated quote" in text:
        # DuckDB reads a quoted value until its closing quote or its line limit, whichever first.
        limit = get_settings().max_line_bytes
        text = (
            f"a quoted value is not closed, or a line is longer than {limit:,} bytes; a cost "
            f"export has no such line (raise COSTCOUNCIL_MAX_LINE_BYTES if it is real). {text}"
        )
    lines = [ln for ln in text.splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("Possible Solution", "  *", "Original Line"))]
    return " ".join(keep[:4])[:1500]


def _parts(split: Path) -> dict[str, list[Path]]:
    """The Parquet files the split wrote, per state (``ok``, ``warned``, ``rejected``)."""
    out: dict[str, list[Path]] = {plan.OK: [], plan.WARNED: [], plan.REJECTED: []}
    for part in sorted(split.glob("x_slice=*/x_state=*/*.parquet")):
        out[part.parent.name.removeprefix("x_state=")].append(part)
    return out


def _refuse_mixed_currencies(
    con: duckdb.DuckDBPyConnection, stored: list[Path], path: Path
) -> None:
    """A billing account is billed in one currency per period; two in one file is an error."""
    if not stored:
        return
    rows = con.execute(plan.currencies_sql(stored)).fetchall()
    problems = [
        Problem(
            str(path),
            int(first),
            "BillingCurrency",
            currency,
            f"billing account {account} is billed in {', '.join(sorted(currencies))} "
            f"in period {period}; one currency per account and period is expected",
        )
        for account, period, currencies, firsts in rows
        if len(currencies) > 1
        for currency, first in zip(currencies, firsts, strict=True)
    ]
    if not problems:
        return
    raise ValidationError(problems, hint="Split the file per currency, or fix BillingCurrency.")


def _counts(con: duckdb.DuckDBPyConnection, flags: Path) -> tuple[int, int]:
    row = con.execute(
        f"SELECT count(x_problems), count(x_warnings) FROM read_parquet({lit(str(flags))})"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _summary(con: duckdb.DuckDBPyConnection, flags: Path, which: str) -> list[str]:
    rows = con.execute(
        f'SELECT "column", reason, count(*), min("row"), any_value(value) FROM '
        f"({plan.problems_sql(flags, which)}) GROUP BY ALL ORDER BY 3 DESC LIMIT 20"
    ).fetchall()
    return [f"{c}: {r} — {n} row(s), first at row {first} ({v!r})" for c, r, n, first, v in rows]


def _validation_error(
    con: duckdb.DuckDBPyConnection, flags: Path, path: Path, rejected: int
) -> ValidationError:
    rows = con.execute(f"{plan.problems_sql(flags)} LIMIT 200").fetchall()
    total = con.execute(f"SELECT count(*) FROM ({plan.problems_sql(flags)})").fetchone()
    problems = [Problem(str(path), r, c, v, reason) for r, c, v, reason in rows]
    hint = f"--strict refused the whole file ({rejected} bad row(s)); nothing was stored."
    if any("no time zone" in p.reason for p in problems):
        hint += " Naive timestamps: pass --assume-utc if the file's times are UTC."
    return ValidationError(problems, total=int(total[0]) if total else len(problems), hint=hint)


def _all_rejected(con: duckdb.DuckDBPyConnection, flags: Path, path: Path, rejected: int) -> str:
    """Why nothing of ``path`` was stored, naming the one fix when one reason covers every row."""
    reasons = con.execute(
        f'SELECT reason, min("row"), list(DISTINCT "column" ORDER BY "column"), '
        f'arg_min(value, "row") FROM ({plan.problems_sql(flags)}) GROUP BY reason LIMIT 2'
    ).fetchall()
    text = f"{path}: all {rejected:,} row(s) were rejected, so nothing was stored."
    if len(reasons) != 1:
        return f"{text} The reasons differ from row to row; see the rejects file."
    reason, first, columns, value = reasons[0]
    fix = FIXES.get(reason)
    where = f"in {', '.join(columns)}; row {first}: {value!r}"
    if fix is None:
        return f"{text} One reason covers them all: a value {reason} ({where})."
    return (
        f"{text} One reason covers them all: a value {reason.split(';')[0]} ({where}). "
        f"Run it again with {fix} to store them."
    )


def _write_rejects(con: duckdb.DuckDBPyConnection, flags: Path, work: Path, path: Path) -> Path:
    out = work / "rejects.csv"
    problems = plan.problems_sql(flags)
    sql = (
        f'SELECT {neutralised_sql(lit(path.name))} AS file, "row", "column", '
        f"{neutralised_sql('value')} AS value, reason FROM ({problems})"
    )
    con.execute(f"COPY ({sql}) TO {lit(str(out))} (HEADER, DELIMITER ',')")
    return out


def _as_of(options: IngestOptions, path: Path) -> str:
    when = options.as_of or datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _slices(
    con: duckdb.DuckDBPyConnection,
    stored: list[Path],
    converter: Converter,
    fingerprint: str,
    as_of: str,
) -> dict[str, mf.Slice]:
    out: dict[str, mf.Slice] = {}
    if not stored:
        return out
    for sid, prov, acct, period, cur, n, billed, eff, start, end in con.execute(
        plan.slices_sql(stored, converter)
    ).fetchall():
        fresh = mf.Slice(
            sid, "costs", prov, acct, period, as_of, [fingerprint], [], 0, {}, start, end
        )
        s = out.setdefault(sid, fresh)
        s.rows += int(n)
        s.totals[cur] = {"billed": str(billed), "effective": str(eff or 0)}
        s.charge_start = min(s.charge_start, start)
        s.charge_end = max(s.charge_end, end)
    return out


def _merge(new: mf.Manifest, staged: list[_Staged]) -> tuple[mf.Manifest, dict[str, list[_Staged]]]:
    """Decide, per slice, whether this batch's export replaces the lake's; record the files."""
    batch: dict[str, mf.Slice] = {}
    holders: dict[str, list[_Staged]] = {}
    for item in staged:
        for sid, s in item.slices.items():
            holders.setdefault(sid, []).append(item)
            batch[sid] = _union(batch[sid], s) if sid in batch else copy.deepcopy(s)
    winners = {
        sid: s for sid, s in batch.items() if sid not in new.slices or s.rank > new.slices[sid].rank
    }
    for item in staged:
        item.source.superseded = sorted(set(item.slices) - set(winners))
        new.files[item.source.fingerprint] = item.source
    _mark(staged)
    new.slices.update(winners)
    return new, {sid: holders[sid] for sid in winners}


def _replaces(candidate: mf.Slice, held: mf.Slice | None) -> bool:
    """A newer export replaces a slice; so does the same export read again with other options."""
    if held is None or candidate.rank > held.rank:
        return True
    return sorted(candidate.export) == sorted(held.export)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".parquet", ".txt"):
        name = name.removesuffix(suffix)
    return name


def _union(a: mf.Slice, b: mf.Slice) -> mf.Slice:
    totals = copy.deepcopy(a.totals)
    for cur, t in b.totals.items():
        old = totals.setdefault(cur, {"billed": "0", "effective": "0"})
        for k in ("billed", "effective"):
            old[k] = str(Decimal(old[k]) + Decimal(t[k]))
    return mf.Slice(
        a.slice_id,
        a.dataset,
        a.provider,
        a.billing_account,
        a.period,
        max(a.as_of, b.as_of),
        sorted(set(a.export) | set(b.export)),
        [],
        a.rows + b.rows,
        totals,
        min(a.charge_start, b.charge_start),
        max(a.charge_end, b.charge_end),
    )


def _mark(staged: list[_Staged]) -> None:
    for item in staged:
        live = sorted(set(item.slices) - set(item.source.superseded))
        item.outcome.slices = live
        item.outcome.status = _status(item.outcome, bool(live))


def _status(outcome: FileOutcome, stored: bool) -> str:
    if stored:
        return "ingested"
    if outcome.rows:
        return "superseded"
    return "rejected" if outcome.rejected else "empty"


def _place(tx: Transaction, new: mf.Manifest, placed: dict[str, list[_Staged]]) -> None:
    for sid, items in placed.items():
        s = new.slices[sid]
        s.files = []
        for item in items:
            for n, part in enumerate(
                sorted((item.split_dir / f"x_slice={sid}").glob("*/*.parquet"))
            ):
                rel = (
                    f"costs/provider={s.provider}/period={s.period}/"
                    f"{sid}-{item.source.fingerprint[:12]}-{n}.parquet"
                )
                tx.place(part, rel)
                s.files.append(rel)
        crashpoint("slice-placed")


def _keep_rejects(lake_root: Path, staged: list[_Staged]) -> None:
    for item in staged:
        if item.rejects is None or item.source.rejects_path is None:
            continue
        target = lake_root / item.source.rejects_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(item.rejects, target)
        item.outcome.rejects_path = target
