"""Column names shared by every table the workbench writes or shows (one vocabulary)."""

#: Per-class probability columns: ``proba_<class name>``.
PROBA_PREFIX = "proba_"
#: One column per LF with its vote: ``vote_<lf name>``.
VOTE_PREFIX = "vote_"
#: Per-row training weight, as scikit-learn names the argument.
SAMPLE_WEIGHT = "sample_weight"
#: With more than one generator: how much they disagree on a row (0..1), and the flag (score >= threshold).
DISAGREEMENT_SCORE = "disagreement_score"
GENERATORS_DISAGREE = "generators_disagree"


def proba_column(class_name: object) -> str:
    return f"{PROBA_PREFIX}{class_name}"


def vote_column(lf_name: str) -> str:
    return f"{VOTE_PREFIX}{lf_name}"
