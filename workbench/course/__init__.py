"""The course: exercise checkers for the notebooks, and the handout build.

Every ``check_*`` function takes the learner's answer first (``None`` while unanswered),
recomputes the right answer with the package and returns a :class:`Feedback` that says
right or wrong and why; :func:`check_choice` checks the concept questions of
:data:`QUESTIONS`. The primer's worked example (:func:`simulate_votes`,
:func:`accuracies_from_agreement`) lives here too, and :func:`build_course` executes the notebooks
into a readable HTML copy.
"""

from workbench.course._build import (
    build_course,
    build_notebook,
    course_notebooks,
)
from workbench.course._checks import (
    check_best_round,
    check_brier,
    check_coverage,
    check_curation_choice,
    check_ece,
    check_exported_rows,
    check_flagged_slices,
    check_funnel_removed,
    check_gray_zone_count,
    check_kept_count,
    check_kappa,
    check_label_model_accuracy,
    check_leak_count,
    check_lf,
    check_majority_vote,
    check_snowball_class,
    check_soft_targets,
    check_temperature_choice,
    check_threshold,
    check_top_conflict,
)
from workbench.course._feedback import (
    Feedback,
)
from workbench.course._primer import (
    accuracies_from_agreement,
    accuracy_figure,
    simulate_votes,
    split_roles,
)
from workbench.course._questions import (
    QUESTIONS,
    Question,
    check_choice,
)

__all__ = [
    "Feedback",
    "QUESTIONS",
    "Question",
    "accuracies_from_agreement",
    "accuracy_figure",
    "build_course",
    "build_notebook",
    "check_best_round",
    "check_brier",
    "check_choice",
    "check_coverage",
    "check_curation_choice",
    "check_ece",
    "check_exported_rows",
    "check_flagged_slices",
    "check_funnel_removed",
    "check_gray_zone_count",
    "check_kept_count",
    "check_kappa",
    "check_label_model_accuracy",
    "check_leak_count",
    "check_lf",
    "check_majority_vote",
    "check_snowball_class",
    "check_soft_targets",
    "check_temperature_choice",
    "check_threshold",
    "check_top_conflict",
    "course_notebooks",
    "simulate_votes",
    "split_roles",
]
