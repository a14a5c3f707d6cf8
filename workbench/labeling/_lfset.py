"""Which LF set the notebooks and the pipeline use: the learner's saved module when there is one.

Notebook 01 saves the LFs written in the studio to ``out_dir() / SAVED_LFS_FILE``; notebooks 02-08
call :func:`resolve_lf_set` so that a class sees its own LFs go through threshold, end model,
export and reproduce, and every notebook says which set it is using.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from workbench._internal.paths import out_dir
from workbench.labeling._module import load_lf_module

SAVED_LFS_FILE = "labeling_functions.py"
BUNDLED_LFS = "workbench.data.youtube_lfs"


def saved_lfs_path() -> Path:
    """Where notebook 01 saves the learner's LFs (``$WORKBENCH_OUT`` or ``out/``, then ``labeling_functions.py``)."""
    return out_dir() / SAVED_LFS_FILE


@dataclass(frozen=True)
class LFSet:
    """The LFs in use and where they came from.

    ``source`` is a ``.py`` file or a dotted module path, usable as the pipeline config's ``lfs:``;
    ``saved`` says whether it is the learner's own module (True) or the bundled fallback.
    """

    lfs: list
    source: str
    saved: bool

    @property
    def names(self) -> list[str]:
        return [lf.name for lf in self.lfs]

    def __str__(self) -> str:
        whose = "your saved LFs from notebook 01" if self.saved else "the bundled YouTube LFs"
        hint = "" if self.saved else f" (save LFs in notebook 01 to {saved_lfs_path()} to use yours)"
        return f"LF set: {whose}, {len(self.lfs)} LFs from {self.source}{hint}"


def resolve_lf_set(path: str | os.PathLike | None = None, *, default: str = BUNDLED_LFS,
                   verbose: bool = True) -> LFSet:
    """The learner's saved LF module if it exists, else ``default``; prints which unless ``verbose=False``.

    ``path`` defaults to :func:`saved_lfs_path`. A saved module that exists but does not load
    raises :class:`~workbench.labeling.LFModuleError` naming the file: silently falling back to
    the bundled LFs would hide the learner's mistake behind someone else's numbers.

    Examples
    --------
    >>> lf_set = resolve_lf_set("no/such/file.py", verbose=False)
    >>> lf_set.saved, lf_set.source
    (False, 'workbench.data.youtube_lfs')
    """
    saved = Path(path) if path is not None else saved_lfs_path()
    if saved.is_file():
        lf_set = LFSet(load_lf_module(saved).lfs, str(saved), True)
    else:
        lf_set = LFSet(load_lf_module(default).lfs, default, False)
    if verbose:
        print(lf_set)
    return lf_set
