"""Generators: label models over LF votes, pseudo-labeling from seeds, distillation from a teacher.

Every generator is a :class:`Generator`: it yields an ``(n, k)`` probability matrix
(``predict_proba``) and names where its labels come from (``source``, one of
:data:`LABEL_SOURCES`). Label models are registered by name in :data:`LABEL_MODELS`.
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
from workbench.generate._labelmodel import (
    LABEL_MODELS,
    TIE_BREAKS,
    BaseLabelModel,
    HealthReport,
    MajorityVote,
    SnorkelLabelModel,
    fit_label_model,
    health_check,
    proba_to_labels,
)
from workbench.generate._pseudolabel import (
    BALANCE,
    CRITERIA,
    WEIGHTING,
    PseudoLabeler,
)

__all__ = [
    "BALANCE",
    "BaseLabelModel",
    "CRITERIA",
    "Distiller",
    "GENERATOR_INPUTS",
    "Generator",
    "HealthReport",
    "LABEL_MODELS",
    "LABEL_SOURCES",
    "MajorityVote",
    "PseudoLabeler",
    "SnorkelLabelModel",
    "TARGETS",
    "TIE_BREAKS",
    "WEIGHTING",
    "best_student",
    "check_label_source",
    "compare_targets",
    "fit_label_model",
    "health_check",
    "make_student",
    "make_teacher",
    "proba_to_labels",
    "soft_targets",
]
