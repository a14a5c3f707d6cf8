"""The filter: decide which synthetic labels the learner sees, and record why.

Between the generator (labeling functions and a label model, or a teacher model) and the
learner sits the filter. Every step here is a pure function (arrays and DataFrames in, a
:class:`FilterStep` out) that says which rows it kept and, for each row it removed, the
reason. Steps compose into a :class:`Funnel` from the raw pool to the curated set, whose
:meth:`Funnel.to_dict` is what an export's lineage manifest embeds.

Steps
-----
- :func:`confidence_filter` keeps rows whose top probability reaches a threshold (global and
  per class); :func:`threshold_curve` shows what each threshold costs in coverage and buys in
  dev-set precision.
- :func:`class_balance` reports the kept set's classes against a target; :func:`rebalance`
  down-samples to it or gives sample weights.
- :func:`find_duplicates` finds exact duplicates after :func:`normalize_text` (case,
  whitespace, NFKC, URLs, HTML, invisible characters; the leakage check's normalisation too)
  and near clones (MinHash LSH on character :func:`shingles`, with ``datasketch``'s
  permutations and band choice, computed in bulk with numpy; 100,000 rows take a few
  seconds, see ``bench/bench_dedupe.py``); :func:`drop_duplicates` keeps one representative
  per cluster.
- :func:`diversity_sample` picks ``k`` rows that cover the feature space (k-center greedy on
  TF-IDF + SVD features, :func:`text_embedding`); :func:`diversity_score` says how diverse a
  set is, so it can be compared with taking the ``k`` most confident rows.
- :func:`gray_zone` lists rows near the decision boundary (:func:`margin`,
  :func:`in_gray_zone`) for human audit; :func:`generator_disagreement` lists rows where
  two generators disagree, :func:`disagreement_score` scores how much any number of them do
  (the review queue ranks by both, :mod:`workbench.review`).
- :func:`find_label_errors` flags likely label errors with cleanlab's confident learning on
  out-of-sample probabilities (:func:`out_of_sample_proba`).
- :data:`FILTER_STEPS` is the one registry of the steps a pipeline config can name
  (``uncovered``, ``confidence``, ``protected_duplicates``, ``near_duplicates``): each is one
  :class:`FilterStepSpec` (name, :class:`StepParam` list, run function), added with
  :func:`filter_step` and run in order by :func:`run_filter_steps` on a :class:`FilterContext`.
- :func:`curate` runs the usual sequence (dedupe, threshold, label errors, balance,
  diversity) and returns the curated DataFrame with its funnel; the threshold explorer
  (:mod:`workbench.ui.explorer`) calls it on every slider move.

Example
-------
>>> import numpy as np
>>> P = np.array([[0.9, 0.1], [0.55, 0.45], [0.2, 0.8]])
>>> from workbench.curate import Funnel, confidence_filter
>>> step = confidence_filter(P, threshold=0.7, ids=["a", "b", "c"])
>>> step.kept_ids.tolist(), step.removed_counts
(['a', 'c'], {'below_threshold': 1})
>>> Funnel(["a", "b", "c"]).then(step).to_dict()["n_kept"]
2"""

from workbench._internal.text import (
    normalize_text,
    shingles,
)
from workbench.curate._balance import (
    class_balance,
    class_shares,
    rebalance,
)
from workbench.curate._confidence import (
    confidence_filter,
    effective_thresholds,
    examples_near_threshold,
    operating_point,
    threshold_curve,
)
from workbench.curate._curate import (
    CuratedSet,
    curate,
)
from workbench.curate._dedupe import (
    DuplicateClusters,
    drop_duplicates,
    find_duplicates,
)
from workbench.curate._diversity import (
    diversity_sample,
    diversity_score,
    k_center_greedy,
    text_embedding,
)
from workbench.curate._funnel import (
    BELOW_THRESHOLD,
    DOWNSAMPLED,
    EXACT_DUPLICATE,
    LIKELY_LABEL_ERROR,
    NEAR_DUPLICATE,
    NO_LF_VOTE,
    NOT_SELECTED_FOR_DIVERSITY,
    FilterStep,
    Funnel,
)
from workbench.curate._disagreement import (
    DISAGREEMENT_STEP,
    ROUTED_TO_REVIEW,
)
from workbench.curate._label_errors import (
    find_label_errors,
    out_of_sample_proba,
)
from workbench.curate._registry import (
    CONFIDENCE_STEP,
    FILTER_STEPS,
    NEAR_DUPLICATES_STEP,
    PROTECTED_DUPLICATES_STEP,
    UNCOVERED_STEP,
    FilterContext,
    FilterStepSpec,
    ParamError,
    StepParam,
    filter_step,
    run_filter_steps,
)
from workbench.curate._scores import (
    disagreement_score,
    exclude,
    generator_disagreement,
    gray_zone,
    in_gray_zone,
    margin,
)

__all__ = [
    "BELOW_THRESHOLD",
    "CONFIDENCE_STEP",
    "CuratedSet",
    "DISAGREEMENT_STEP",
    "DOWNSAMPLED",
    "DuplicateClusters",
    "EXACT_DUPLICATE",
    "FILTER_STEPS",
    "FilterContext",
    "FilterStep",
    "FilterStepSpec",
    "Funnel",
    "LIKELY_LABEL_ERROR",
    "NEAR_DUPLICATE",
    "NEAR_DUPLICATES_STEP",
    "NOT_SELECTED_FOR_DIVERSITY",
    "NO_LF_VOTE",
    "PROTECTED_DUPLICATES_STEP",
    "ParamError",
    "ROUTED_TO_REVIEW",
    "StepParam",
    "UNCOVERED_STEP",
    "class_balance",
    "class_shares",
    "confidence_filter",
    "curate",
    "disagreement_score",
    "diversity_sample",
    "diversity_score",
    "drop_duplicates",
    "effective_thresholds",
    "examples_near_threshold",
    "exclude",
    "filter_step",
    "find_duplicates",
    "find_label_errors",
    "generator_disagreement",
    "gray_zone",
    "in_gray_zone",
    "k_center_greedy",
    "margin",
    "normalize_text",
    "operating_point",
    "out_of_sample_proba",
    "rebalance",
    "run_filter_steps",
    "shingles",
    "text_embedding",
    "threshold_curve",
]
