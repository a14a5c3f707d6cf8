"""Datasets: the :class:`Dataset` of splits, loaders (bundled YouTube spam, your own tables, WRENCH).

The bundled examples live beside it: :mod:`workbench.data.youtube_lfs` (labeling functions)
and :mod:`workbench.data.youtube_slices` (evaluation slices)."""

from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    PROTECTED_SPLITS,
    TEXT_COLUMN,
    YOUTUBE_FILES,
    Dataset,
    load_table,
    load_wrench,
    load_youtube_spam,
)

__all__ = [
    "Dataset",
    "ID_COLUMN",
    "LABEL_COLUMN",
    "PROTECTED_SPLITS",
    "TEXT_COLUMN",
    "YOUTUBE_FILES",
    "load_table",
    "load_wrench",
    "load_youtube_spam",
]
