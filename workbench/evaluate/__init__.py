"""Evaluation that does not fool you: reports, slices, time, costs, the canary gate, the sacred set.

Synthetic labels can produce confident models that are wrong in systematic ways.
This module measures a model on a clean, human-labeled set and looks for where it
fails:

- :func:`evaluate` -- accuracy, precision/recall/F1 per class, confusion matrix,
  expected calibration error and the cost of errors (an :class:`EvaluationReport`);
- :func:`slice_report` -- every metric per slice (Snorkel slicing functions, a
  column, or boolean masks) computed with fairlearn's ``MetricFrame``, the gap to
  the whole set, and a flag for slices whose error rate is worse than the whole by
  more than a margin, with the slice size and a confidence interval so tiny slices
  are not over-read;
- :func:`metrics_over_time` -- the same metrics per month of a date column, rows
  without a date in their own bucket, so drift shows;
- :func:`canary_gate` -- a pass/fail :class:`CanaryVerdict` on the canary set that
  the export step records; a failing verdict refuses export
  (:class:`CanaryGateError`) unless an explicit, recorded :class:`Override` is given;
- :func:`check_leakage` -- the sacred set: protected rows (dev, valid, test,
  canary) found in a training set by exact match of normalised text (the
  normalisation deduplication uses) or by MinHash near-duplicate match, the
  report's ``method`` saying which ran; :meth:`LeakageReport.enforce` raises
  :class:`LeakageError` naming the rows;
- :func:`compare_models` -- several models on the same clean set and slices, as a
  DataFrame;
- :func:`label_model_score` -- *the* convention for a label model's accuracy (uncovered rows
  and ties abstain, abstentions count as errors, the accuracy on covered rows beside it), so
  every number names its model, split and abstain policy.

Every function takes ``model_or_probs`` first: a fitted model with
``predict_proba`` (or ``predict``) that is applied to ``data[text_column]``, an
``(n, k)`` array of class probabilities, or an ``(n,)`` array of predicted labels
where ``-1`` (``ABSTAIN``) means the model gave no label. An abstention is never a
correct answer: it counts as an error and lowers ``coverage``. Gold labels come
from ``data[label_column]`` when ``data`` is a DataFrame, or ``data`` itself when it
is an array of labels."""

from workbench.evaluate._canary import (
    CanaryGateError,
    CanaryVerdict,
    Override,
    canary_gate,
)
from workbench.evaluate._compare import (
    compare_models,
)
from workbench.evaluate._label_model_score import (
    ABSTAIN_POLICY,
    LabelModelScore,
    label_model_labels,
    label_model_name,
    label_model_score,
)
from workbench.evaluate._leakage import (
    LeakageError,
    LeakageReport,
    check_leakage,
)
from workbench.evaluate._report import (
    GATE_METRICS,
    ErrorCost,
    EvaluationReport,
    MatrixCost,
    error_cost,
    evaluate,
    matrix_cost,
)
from workbench.evaluate._slices import (
    slice_masks,
    slice_report,
)
from workbench.evaluate._time import (
    NO_DATE,
    metrics_over_time,
)

__all__ = [
    "ABSTAIN_POLICY",
    "CanaryGateError",
    "CanaryVerdict",
    "ErrorCost",
    "EvaluationReport",
    "GATE_METRICS",
    "LabelModelScore",
    "LeakageError",
    "LeakageReport",
    "MatrixCost",
    "NO_DATE",
    "Override",
    "canary_gate",
    "check_leakage",
    "compare_models",
    "error_cost",
    "evaluate",
    "label_model_labels",
    "label_model_name",
    "label_model_score",
    "matrix_cost",
    "metrics_over_time",
    "slice_masks",
    "slice_report",
]
