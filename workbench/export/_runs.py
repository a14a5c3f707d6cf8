"""Export runs: the export, its manifest and its report as one unit, switched into place by one rename.

An export folder (``out/<name>/``) holds every run in a folder of its own and a pointer::

    out/youtube_spam/
        latest.json                       the pointer: which run is current, and each kept run's manifest hash
        runs/20261202T101500Z-3fa9c1/     one run: export, manifest, report
            youtube_spam.parquet
            youtube_spam.parquet.manifest.json
            youtube_spam.report.md

A run is written into a hidden staging folder, its files flushed to disk, the folder renamed to
``runs/<id>/``, and only then is ``latest.json`` replaced (written beside it and renamed over it,
:func:`workbench._internal.atomic.atomic_write`). Until that last rename readers see the previous
run, whole; after it, the new one, whole: there is no moment at which an export and a manifest of
different runs are current together. A process killed anywhere leaves at most a staging folder,
removed by the next run. The current run and the one before it are kept (:data:`KEEP_RUNS`), so
the previous export stays readable until the next switch; older runs are deleted after a switch.

The manifest's own SHA-256 travels with the export so that a manifest edited afterwards is
detected: in the Parquet file's key-value metadata (key :data:`MANIFEST_KEY`), and for every format
in the pointer. The manifest in turn records the export file's SHA-256; for Parquet this is the
hash of the file with the embedded manifest hash zeroed (:func:`export_file_sha256`), which is
also what a re-run compares, so times in the manifest never make two runs' files differ.

A partitioned export (the Dask engine's: a folder ``<name>.parquet/`` of ``part-*.parquet`` files
written by the workers, :class:`PartitionedExport`) is moved whole into the staging folder; it has
one manifest, whose hash is kept in the pointer, and its SHA-256 is that of its parts' names and hashes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workbench._internal.atomic import atomic_write
from workbench.export._lineage import LineageError, export_path_of, file_sha256, load_manifest
from workbench.export._table import WRITERS, read_table

POINTER = "latest.json"
RUNS = "runs"
POINTER_VERSION = 1
#: Runs kept in an export folder: the current one and the one before it.
KEEP_RUNS = 2
#: Parquet key-value metadata key holding the SHA-256 of the export's manifest.
MANIFEST_KEY = "workbench.manifest_sha256"
_SLOT = b"0" * 64  # the embedded hash's place while the manifest is not written yet
_STAGING = ".staging-"


@dataclass(frozen=True)
class ExportRun:
    """One run of an export folder: its id and files, and its manifest's SHA-256."""

    folder: Path
    run_id: str
    export_path: Path
    manifest_path: Path
    report_path: Path
    manifest_sha256: str


@dataclass(frozen=True)
class PartitionedExport:
    """A Parquet export already written part by part into the folder ``parts`` (on the export folder's
    file system, so that it moves into a run by one rename): its size, columns and content hash."""

    parts: Path
    rows: int
    columns: list[str]
    table_sha256: str


@dataclass(frozen=True)
class RunFiles:
    """The file names a run writer produced in its staging folder."""

    export: str
    manifest: str
    report: str


# --------------------------------------------------------------------------- Parquet's manifest slot


def write_export_file(df: pd.DataFrame, path: Path, fmt: str) -> None:
    """Write an export table; a Parquet file gets a slot for its manifest's hash (:func:`embed_manifest_sha256`)."""
    if fmt != "parquet":
        WRITERS[fmt](df, path)
        return
    table = pa.Table.from_pandas(df, preserve_index=False)  # what DataFrame.to_parquet(index=False) writes
    with pq.ParquetWriter(path, table.schema) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({MANIFEST_KEY: _SLOT.decode()})


def _footer(path: Path) -> tuple[int, bytes]:
    """Offset and bytes of a Parquet file's footer (its metadata, stored uncompressed before the last 8 bytes)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(size - 8)
        tail = fh.read(8)
        if size < 12 or tail[4:] != b"PAR1":
            raise LineageError(f"{path}: not a Parquet file")
        length = int.from_bytes(tail[:4], "little")
        fh.seek(size - 8 - length)
        return size - 8 - length, fh.read(length)


def embedded_manifest_sha256(path: str | os.PathLike) -> str | None:
    """The manifest hash a Parquet export carries (None if it carries none)."""
    try:
        value = (pq.read_metadata(path).metadata or {}).get(MANIFEST_KEY.encode())
    except (OSError, pa.ArrowException) as exc:
        raise LineageError(f"{path}: unreadable Parquet file ({exc})") from exc
    return None if value is None or value == _SLOT else value.decode()


def _slot_offset(path: Path, value: bytes) -> int:
    start, footer = _footer(path)
    at = footer.find(value)
    if at < 0 or footer.find(value, at + 1) >= 0:
        raise LineageError(f"{path}: the footer does not hold the manifest hash exactly once")
    return start + at


def embed_manifest_sha256(path: Path, sha256: str) -> None:
    """Write ``sha256`` into the slot :func:`write_export_file` left in a Parquet file's footer."""
    offset = _slot_offset(path, _SLOT)
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(sha256.encode())


def export_file_sha256(path: str | os.PathLike, fmt: str) -> str:
    """SHA-256 of an export file as its manifest records it: for Parquet, with the embedded manifest
    hash zeroed (the manifest cannot hold the hash of a file that holds the manifest's hash)."""
    path = Path(path)
    if path.is_dir():  # a partitioned export: its parts' names and hashes, in order
        parts = sorted(path.glob("*.parquet"))
        if not parts:
            raise LineageError(f"{path}: a partitioned export without parts")
        return hashlib.sha256("".join(f"{p.name}:{file_sha256(p)}\n" for p in parts).encode()).hexdigest()
    if fmt != "parquet":
        return file_sha256(path)
    embedded = embedded_manifest_sha256(path)
    offset = _slot_offset(path, embedded.encode() if embedded else _SLOT)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        remaining = offset
        while remaining:
            block = fh.read(min(remaining, 1 << 20))
            h.update(block)
            remaining -= len(block)
        fh.seek(len(_SLOT), os.SEEK_CUR)
        h.update(_SLOT)
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- the pointer


def _read_pointer(folder: Path) -> dict:
    path = folder / POINTER
    if not path.is_file():
        raise LineageError(f"{folder}: no export here (no {POINTER}); run the pipeline first")
    try:
        pointer = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LineageError(f"{path}: not a JSON pointer ({exc})") from exc
    if not isinstance(pointer, dict) or pointer.get("pointer_version") != POINTER_VERSION:
        raise LineageError(f"{path}: not an export pointer of version {POINTER_VERSION}")
    return pointer


def _run_of(folder: Path, entry: dict) -> ExportRun:
    run = folder / RUNS / entry["run"]
    return ExportRun(folder, entry["run"], run / entry["export"], run / entry["manifest"], run / entry["report"],
                     entry["manifest_sha256"])


def latest_run(folder: str | os.PathLike) -> ExportRun:
    """The current run of an export folder, as its pointer names it."""
    folder = Path(folder)
    pointer = _read_pointer(folder)
    return _run_of(folder, pointer["runs"][0])


def runs(folder: str | os.PathLike) -> list[ExportRun]:
    """The kept runs of an export folder, newest (current) first."""
    folder = Path(folder)
    return [_run_of(folder, entry) for entry in _read_pointer(folder)["runs"]]


def resolve_manifest(where: str | os.PathLike) -> Path:
    """The manifest meant by ``where``: an export folder or its pointer (the current run), or a manifest."""
    where = Path(where)
    if where.is_dir() or not where.suffix:  # a folder, or one that does not exist yet
        return latest_run(where).manifest_path
    if where.name == POINTER:
        return latest_run(where.parent).manifest_path
    return where


def _recorded_manifest_sha256(manifest_path: Path, fmt: str, export: Path) -> tuple[str | None, str]:
    """The manifest hash the export carries, and where it was found."""
    if fmt == "parquet" and export.is_file():
        return embedded_manifest_sha256(export), f"the Parquet metadata of {export.name}"
    folder = manifest_path.parent.parent.parent
    if manifest_path.parent.parent.name == RUNS and (folder / POINTER).is_file():
        for entry in _read_pointer(folder)["runs"]:
            if entry["run"] == manifest_path.parent.name:
                return entry["manifest_sha256"], str(folder / POINTER)
    return None, f"the pointer of its export folder ({fmt.upper()} {'folders' if export.is_dir() else 'files'} carry no metadata)"


def check_export(where: str | os.PathLike) -> tuple[dict, list[str], list[str]]:
    """Check a run's manifest against what its export carries, and its export against its manifest.

    Returns the manifest, the problems with the manifest (edited after export, or its hash not
    found) and the problems with the export file (missing, or changed after export).
    """
    manifest_path = resolve_manifest(where)
    manifest = load_manifest(manifest_path)
    export = export_path_of(manifest_path, manifest)
    fmt = manifest["export"]["format"]
    if not export.exists():
        return manifest, [f"cannot check the manifest: its export {export} is missing"], [
            f"{export}: the export named by {manifest_path} is missing"]
    manifest_problems, export_problems = [], []
    try:
        carried, where_from = _recorded_manifest_sha256(manifest_path, fmt, export)
    except LineageError as exc:
        carried, where_from = None, str(exc)
    actual = file_sha256(manifest_path)
    if carried is None:
        manifest_problems.append(f"{manifest_path}: its SHA-256 is not recorded in {where_from}, so it cannot be checked")
    elif carried != actual:
        manifest_problems.append(f"{manifest_path}: SHA-256 {actual[:12]}… differs from the {carried[:12]}… recorded in "
                                 f"{where_from}; the manifest was edited after export")
    try:
        file_sha = export_file_sha256(export, fmt)
    except LineageError as exc:
        export_problems.append(f"{exc}; the file changed after export")
    else:
        if file_sha != manifest["export"]["sha256"]:
            export_problems.append(f"{export}: SHA-256 {file_sha[:12]}… differs from the manifest's "
                                   f"{manifest['export']['sha256'][:12]}…; the file changed after export")
    return manifest, manifest_problems, export_problems


def verify_export(where: str | os.PathLike) -> dict:
    """Check that an export and its manifest are the pair the run wrote; return the manifest.

    ``where`` is an export folder (its current run), its ``latest.json``, or a run's manifest.
    Raises :class:`LineageError` naming the file if the export is missing or changed, or if the
    manifest was edited after export (its hash differs from the one the export carries).
    """
    manifest, manifest_problems, export_problems = check_export(where)
    if manifest_problems or export_problems:
        raise LineageError("; ".join(export_problems + manifest_problems))
    return manifest


def read_export(where: str | os.PathLike) -> pd.DataFrame:
    """Read an export after :func:`verify_export`: ``where`` is an export folder (its current run),
    its ``latest.json``, or a run's manifest.

    Examples
    --------
    >>> train = read_export(out_dir() / "youtube_spam")  # doctest: +SKIP
    """
    manifest_path = resolve_manifest(where)
    manifest = verify_export(manifest_path)
    return read_table(export_path_of(manifest_path, manifest), format=manifest["export"]["format"])


# --------------------------------------------------------------------------- writing a run


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One writer at a time per export folder (so a staging folder found while locked is a dead run's)."""
    with open(folder / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fsync(*paths: Path) -> None:
    """Flush files, or a folder's entries (a rename is durable once its folder is flushed)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_run(folder: str | os.PathLike, write: Callable[[Path, Path], RunFiles], *,
              overwrite: bool = False) -> ExportRun:
    """Write a new run of an export folder and make it current with one atomic rename.

    ``write(staging, run)`` writes the export, manifest and report into the staging folder and
    returns their names; ``run`` is the folder the files will have once published (for the
    paths a report mentions). Then the files are flushed, the staging folder becomes ``runs/<id>/``, the
    pointer is replaced, and runs beyond :data:`KEEP_RUNS` (and staging folders of killed runs) are
    deleted. If ``write`` raises, nothing current changes.

    Raises
    ------
    FileExistsError
        The folder already has an export and ``overwrite`` is False.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUNS).mkdir(exist_ok=True)
    with _locked(folder):
        if (folder / POINTER).exists() and not overwrite:
            raise FileExistsError(f"{folder} already holds an export ({POINTER}); pass overwrite=True to replace it")
        for dead in (folder / RUNS).glob(_STAGING + "*"):  # a killed run's: no live writer holds the lock
            shutil.rmtree(dead, ignore_errors=True)
        run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"
        staging = folder / RUNS / f"{_STAGING}{run_id}"
        staging.mkdir()
        try:
            files = write(staging, folder / RUNS / run_id)
            manifest_sha = file_sha256(staging / files.manifest)
            _fsync(*staging.iterdir(), staging)
            os.rename(staging, folder / RUNS / run_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync(folder / RUNS)
        entry = {"run": run_id, "export": files.export, "manifest": files.manifest, "report": files.report,
                 "manifest_sha256": manifest_sha}
        previous = _read_pointer(folder)["runs"] if (folder / POINTER).exists() else []
        kept = [entry, *previous][:KEEP_RUNS]
        atomic_write(folder / POINTER, json.dumps({"pointer_version": POINTER_VERSION, **entry, "runs": kept},
                                                  indent=2) + "\n")
        keep = {e["run"] for e in kept}
        for old in (folder / RUNS).iterdir():
            if old.is_dir() and old.name not in keep:
                shutil.rmtree(old, ignore_errors=True)
    return _run_of(folder, entry)
