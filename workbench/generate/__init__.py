"""Generators: label models over LF votes, pseudo-labeling from seeds, distillation from a teacher.

Every generator is a :class:`Generator`: it yields an ``(n, k)`` probability matrix
(``predict_proba``) and names where its labels come from (``source``, one of
:data:`LABEL_SOURCES`). Label models are registered by name in :data:`LABEL_MODELS`:
``majority``, ``snorkel``, ``hyper`` (the pretrained hyper label model, fine-tuned on labeled
rows when given), ``weighted`` (LF weights from labeled rows), ``dawid_skene`` (semi-supervised
Dawid-Skene) and ``auto`` (:class:`AutoLabelModel`: chosen on held-out labeled rows).
Label models take labels as ``fit(L, y)``, ``y`` one entry per row, ``ABSTAIN`` if unlabeled.
"""

from workbench.generate._base import (
    GENERATOR_INPUTS,
    LABEL_SOURCES,
    Generator,
    check_label_source,
)
from workbench.generate._distill import (
    TARGETS,
    Distiller,
    best_student,
    compare_targets,
    make_student,
    make_teacher,
    soft_targets,
)
from workbench.generate._hyper import (
    HyperLabelModel,
    load_checkpoint,
)
from workbench.generate._labelmodel import (
    LABEL_MODELS,
    TIE_BREAKS,
    BaseLabelModel,
    MajorityVote,
    SnorkelLabelModel,
    fit_label_model,
    fit_with_selected,
    proba_to_labels,
)
from workbench.generate._pseudolabel import (
    BALANCE,
    CRITERIA,
    WEIGHTING,
    PseudoLabeler,
)
from workbench.generate._select import (
    DEFAULT_CANDIDATES,
    PREFERENCE,
    AutoLabelModel,
    HealthReport,
    health_check,
    paired_bootstrap,
)
from workbench.generate._semisup import DawidSkeneLabelModel
from workbench.generate._weighted import WeightedVote

__all__ = [
    "AutoLabelModel",
    "BALANCE",
    "BaseLabelModel",
    "CRITERIA",
    "DEFAULT_CANDIDATES",
    "DawidSkeneLabelModel",
    "Distiller",
    "GENERATOR_INPUTS",
    "Generator",
    "HealthReport",
    "HyperLabelModel",
    "LABEL_MODELS",
    "LABEL_SOURCES",
    "MajorityVote",
    "PREFERENCE",
    "PseudoLabeler",
    "SnorkelLabelModel",
    "TARGETS",
    "TIE_BREAKS",
    "WEIGHTING",
    "WeightedVote",
    "best_student",
    "check_label_source",
    "compare_targets",
    "fit_label_model",
    "fit_with_selected",
    "health_check",
    "load_checkpoint",
    "make_student",
    "make_teacher",
    "paired_bootstrap",
    "proba_to_labels",
    "soft_targets",
]
