"""The Generator interface: what label models, pseudo-labelers and distillation teachers share.

A generator makes synthetic labels. Whatever it reads, it yields one ``(n, k)`` probability
matrix (``predict_proba``) and says where its labels come from (``source``, one value of the
fixed vocabulary :data:`LABEL_SOURCES`, which the export's ``label_source`` column accepts):

==========================  =========  =========================================================
generator                   ``reads``  ``fit``
==========================  =========  =========================================================
label models                ``"L"``    ``fit(L)``: the LF votes, ``ABSTAIN`` where an LF is silent
:class:`PseudoLabeler`      ``"X"``    ``fit(X, y)``: seed labels, ``ABSTAIN`` (-1) for unlabeled
:class:`Distiller`          ``"X"``    ``fit(X, teacher_proba)``: a teacher's probabilities
==========================  =========  =========================================================

So a caller that holds both the LF votes and the examples (the pipeline, the export) treats
every fitted generator alike: ``generator.predict_proba(L if generator.reads == "L" else X)``
and ``label_source = generator.source``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

#: Every value of the export's ``label_source`` column: who made a row's label.
#: ``label_model``, ``pseudo_label`` and ``distillation`` are generators; ``human_review``
#: labels come from the review loop, ``seed`` labels from the hand-labeled seed split.
LABEL_SOURCES = ("label_model", "pseudo_label", "distillation", "human_review", "seed")

#: What a generator's ``predict_proba`` reads: the LF votes ``L`` or the examples ``X``.
GENERATOR_INPUTS = ("L", "X")


def check_label_source(source: Any, n_rows: int | None = None) -> list[str]:
    """``source`` (one value for all rows, or one per row) as a list of :data:`LABEL_SOURCES` values.

    Raises
    ------
    ValueError
        Naming the first value outside the vocabulary (and its row) and the allowed values, or
        a count other than ``n_rows``.

    Examples
    --------
    >>> check_label_source("label_model", 2)
    ['label_model', 'label_model']
    >>> check_label_source(["seed", "teacher"])
    Traceback (most recent call last):
    ...
    ValueError: label_source 'teacher' (row 1) is not one of ('label_model', 'pseudo_label', 'distillation', 'human_review', 'seed')
    """
    if isinstance(source, str):
        if source not in LABEL_SOURCES:
            raise ValueError(f"label_source {source!r} is not one of {LABEL_SOURCES}")
        return [source] * (1 if n_rows is None else n_rows)
    values = list(source)
    if n_rows is not None and len(values) != n_rows:
        raise ValueError(f"label_source has {len(values)} values for {n_rows} rows (give one per row, or one string)")
    allowed = set(LABEL_SOURCES)
    for row, value in enumerate(values):
        if value not in allowed:
            raise ValueError(f"label_source {value!r} (row {row}) is not one of {LABEL_SOURCES}")
    return values


class Generator(ABC):
    """Mixin of every generator: a ``source`` from :data:`LABEL_SOURCES` and ``predict_proba``.

    Subclasses set two class attributes, checked when the class is defined:

    - ``source``: the ``label_source`` of the labels it makes (one of :data:`LABEL_SOURCES`);
    - ``reads``: ``"L"`` (LF votes) or ``"X"`` (the examples), what ``predict_proba`` takes;

    and implement ``fit`` (as a scikit-learn estimator: parameters in ``__init__``, fitted
    attributes ending in ``_`` set in ``fit``) and ``predict_proba`` returning an ``(n, k)``
    matrix whose rows sum to 1, with ``classes_`` equal to ``0..k-1`` after ``fit``.
    Put it left of ``BaseEstimator`` in the bases, as scikit-learn does with its mixins.

    Examples
    --------
    >>> class Teacher(Generator):
    ...     source = "teacher"
    Traceback (most recent call last):
    ...
    TypeError: Teacher.source = 'teacher' is not one of ('label_model', 'pseudo_label', 'distillation', 'human_review', 'seed')
    """

    source: ClassVar[str]
    reads: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        source, reads = getattr(cls, "source", None), getattr(cls, "reads", None)
        if source is not None and source not in LABEL_SOURCES:
            raise TypeError(f"{cls.__name__}.source = {source!r} is not one of {LABEL_SOURCES}")
        if reads is not None and reads not in GENERATOR_INPUTS:
            raise TypeError(f"{cls.__name__}.reads = {reads!r} is not one of {GENERATOR_INPUTS}")

    @abstractmethod
    def predict_proba(self, data: Any) -> np.ndarray:
        """``(n, k)`` class probabilities for the ``n`` rows of ``data`` (``L`` or ``X``, see ``reads``)."""

