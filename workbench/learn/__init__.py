"""Learning: the end model on curated synthetic labels plus seeds, and calibration."""

from workbench.learn._calibration import (
    STRATEGIES,
    TemperatureScaling,
    apply_temperature,
    brier_score,
    calibrate_classifier,
    calibration_report,
    expected_calibration_error,
    reliability_table,
    smooth_labels,
)
from workbench.learn._learner import (
    EndModelTrainer,
    StudentTeacherResult,
    expand_soft_labels,
    fit_soft,
    fit_weighted,
    hashed_tfidf_vectorizer,
    one_hot,
    student_teacher_loop,
    take_rows,
    tfidf_vectorizer,
    train_end_model,
)

__all__ = [
    "EndModelTrainer",
    "STRATEGIES",
    "StudentTeacherResult",
    "TemperatureScaling",
    "apply_temperature",
    "brier_score",
    "calibrate_classifier",
    "calibration_report",
    "expand_soft_labels",
    "expected_calibration_error",
    "fit_soft",
    "fit_weighted",
    "hashed_tfidf_vectorizer",
    "one_hot",
    "reliability_table",
    "smooth_labels",
    "student_teacher_loop",
    "take_rows",
    "tfidf_vectorizer",
    "train_end_model",
]
