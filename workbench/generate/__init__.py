"""Generators: label models over LF votes, pseudo-labeling from seeds, distillation from a teacher."""

from workbench.generate._distill import (
    TARGETS,
    Distiller,
    compare_targets,
    make_student,
    make_teacher,
    soft_targets,
)
from workbench.generate._labelmodel import (
    LABEL_MODELS,
    TIE_BREAKS,
    HealthReport,
    MajorityVote,
    SnorkelLabelModel,
    fit_label_model,
    health_check,
    probs_to_preds,
)
from workbench.generate._pseudolabel import (
    BALANCE,
    CRITERIA,
    WEIGHTING,
    PseudoLabeler,
)

__all__ = [
    "BALANCE",
    "CRITERIA",
    "Distiller",
    "HealthReport",
    "LABEL_MODELS",
    "MajorityVote",
    "PseudoLabeler",
    "SnorkelLabelModel",
    "TARGETS",
    "TIE_BREAKS",
    "WEIGHTING",
    "compare_targets",
    "fit_label_model",
    "health_check",
    "make_student",
    "make_teacher",
    "probs_to_preds",
    "soft_targets",
]
