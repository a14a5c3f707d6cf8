"""The one atomic writer: files appear whole or not at all, with the mode a normal write gives.

Temporary files are *named*, not created, here (``mkstemp`` would create them 0600): each
writer creates its file with the usual permissions (0666 minus the umask), and it is then
renamed into place with ``os.replace`` on the same file system.
"""

from __future__ import annotations

import os
import pickle
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence


@contextmanager
def atomic_files(paths: Sequence[str | os.PathLike], *, overwrite: bool = False) -> Iterator[list[Path]]:
    """Stage several files and move them into place together when the block succeeds.

    Yields one temporary path per destination, each in its destination's folder (so
    ``os.replace`` is an atomic rename on the same file system). When the block
    exits normally every temporary file replaces its destination, in order; when it
    raises, the temporaries are deleted and no destination changes. A process killed
    inside the block leaves the destinations as they were (and at most a hidden
    ``.<name>.*.tmp`` file beside them).

    Raises
    ------
    FileExistsError
        If a destination exists and ``overwrite`` is False (checked before the block
        runs, and again just before the files are moved into place).

    Examples
    --------
    >>> with atomic_files(["out/a.csv", "out/a.csv.manifest.json"]) as (tmp_data, tmp_manifest):  # doctest: +SKIP
    ...     df.to_csv(tmp_data)
    ...     tmp_manifest.write_text("{}")
    """
    finals = [Path(p) for p in paths]
    if len(set(finals)) != len(finals):
        raise ValueError(f"the same destination appears twice in {[str(p) for p in finals]}")

    def refuse_existing() -> None:
        if not overwrite:
            existing = [str(p) for p in finals if p.exists()]
            if existing:
                raise FileExistsError(f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                                      "pass overwrite=True to replace")

    refuse_existing()
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
    # Named, not created: each writer creates its file with the usual permissions.
    temps = [final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp") for final in finals]
    try:
        yield list(temps)
        refuse_existing()
        for temp, final in zip(temps, finals):
            if not temp.exists():
                raise RuntimeError(f"nothing was written for {final}")
            with open(temp, "rb+") as fh:  # the bytes must be on disk before the rename makes them visible
                os.fsync(fh.fileno())
        for temp, final in zip(temps, finals):
            os.replace(temp, final)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any] | str | bytes, *, overwrite: bool = True) -> Path:
    """Write one file atomically and return its path.

    ``write`` is the text or bytes to write, or a callable that writes to the temporary path
    it is given (``lambda tmp: df.to_csv(tmp)``).
    """
    with atomic_files([path], overwrite=overwrite) as (temp,):
        if isinstance(write, str):
            temp.write_text(write, encoding="utf-8")
        elif isinstance(write, (bytes, bytearray)):
            temp.write_bytes(write)
        else:
            write(temp)
    return Path(path)


def atomic_pickle(obj: Any, path: str | os.PathLike) -> Path:
    """Pickle ``obj`` to ``path`` atomically (checkpoints, fitted models)."""
    return atomic_write(path, lambda temp: temp.write_bytes(pickle.dumps(obj)))
