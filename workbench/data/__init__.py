"""Datasets: the :class:`Dataset` of splits, your own tables (:func:`load_table`), splitting them
(:func:`split_dataset`), saving and loading them, and the bundled YouTube spam and WRENCH loaders.

The bundled examples live beside it: :mod:`workbench.data.youtube_lfs` (labeling functions)
and :mod:`workbench.data.youtube_slices` (evaluation slices)."""

from workbench.data._dataset import (
    DATASET_FILE,
    DEFAULT_SPLIT_SIZES,
    ID_COLUMN,
    LABEL_COLUMN,
    LABELED_SPLITS,
    PROTECTED_SPLITS,
    SPLIT_ORDER,
    TEXT_COLUMN,
    YOUTUBE_FILES,
    Dataset,
    load_dataset,
    load_wrench,
    load_youtube_spam,
    recipe_sha256,
    split_dataset,
)
from workbench.data._table import (
    TABLE_FORMATS,
    LoadTableWarning,
    encode_labels,
    load_table,
    read_table_file,
)

__all__ = [
    "DATASET_FILE",
    "DEFAULT_SPLIT_SIZES",
    "Dataset",
    "ID_COLUMN",
    "LABELED_SPLITS",
    "LABEL_COLUMN",
    "LoadTableWarning",
    "PROTECTED_SPLITS",
    "SPLIT_ORDER",
    "TABLE_FORMATS",
    "TEXT_COLUMN",
    "YOUTUBE_FILES",
    "encode_labels",
    "load_dataset",
    "load_table",
    "load_wrench",
    "load_youtube_spam",
    "read_table_file",
    "recipe_sha256",
    "split_dataset",
]
