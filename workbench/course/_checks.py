"""Exercise checkers: each recomputes the answer with the package and says right or wrong, and why.

A checker given ``None`` (the placeholder in the notebooks) says what is asked and gives a hint,
so the notebooks run top to bottom before anyone has answered.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench._internal.validation import ABSTAIN, check_label_matrix, covered
from workbench.course._feedback import Feedback, close, unanswered
from workbench.curate._confidence import confidence_filter
from workbench.curate._scores import gray_zone
from workbench.evaluate._label_model_score import label_model_score
from workbench.evaluate._leakage import check_leakage
from workbench.generate._distill import soft_targets
from workbench.generate._labelmodel import MajorityVote
from workbench.labeling._analysis import conflict_matrix
from workbench.labeling._engines import apply_lfs
from workbench.learn._calibration import brier_score, expected_calibration_error

TOL = 0.0015  # an answer rounded to three decimals is right


# --------------------------------------------------------------------------- primer


def check_majority_vote(answer: Sequence[int] | None, L: Any) -> Feedback:
    """Majority vote of each row of ``L``: ties and rows with no vote abstain (``ABSTAIN``, -1)."""
    name = "majority vote by hand"
    if answer is None:
        return unanswered(name, "count each row's votes per class; a tie or no vote at all is -1 (ABSTAIN)")
    L = check_label_matrix(L)
    truth = MajorityVote(cardinality=max(2, int(L.max()) + 1)).fit(L).predict(L, tie_break="abstain")
    answer = np.asarray(answer)
    if answer.shape != truth.shape:
        return Feedback(name, False, f"give one label per row: {len(truth)} rows, you gave {answer.size}.")
    wrong = np.flatnonzero(answer != truth)
    if not wrong.size:
        return Feedback(name, True, "every row matches; note the abstentions: no vote, or a tie, is no label.")
    row = int(wrong[0])
    votes = [int(v) for v in L[row] if v != ABSTAIN]
    return Feedback(name, False, f"row {row} has votes {votes or 'none'}: its majority vote is {int(truth[row])}, "
                                 f"you gave {int(answer[row])} ({len(wrong)} rows differ).")


def check_coverage(answer: float | None, L: Any) -> Feedback:
    """Share of rows on which at least one LF votes."""
    name = "coverage"
    if answer is None:
        return unanswered(name, "a row is covered when at least one LF votes on it (not -1)")
    L = check_label_matrix(L)
    truth = float(covered(L).mean())
    if close(answer, truth, TOL):
        return Feedback(name, True, f"{truth:.3f}: rows where no LF votes carry no information for any label model.")
    per_lf = (L != ABSTAIN).mean(axis=0)
    if np.isclose(float(answer), per_lf.mean(), atol=TOL):
        return Feedback(name, False, "that is the mean of the LFs' own coverages; coverage of the set counts a row "
                                     "once when any LF votes on it.")
    return Feedback(name, False, f"the share of rows with at least one vote is not {answer}.")


# --------------------------------------------------------------------------- 00, 01: LFs and label models


def check_lf(lf: Any, ds: Any, *, label: int | None = None, min_accuracy: float = 0.75,
             min_coverage: float = 0.02, taken: Sequence[Any] = ()) -> Feedback:
    """A new LF that votes ``label`` (if given), covers at least ``min_coverage`` of the pool and is
    right on at least ``min_accuracy`` of the dev rows it votes on; it must not raise on any row."""
    name = "a new labeling function"
    if lf is None:
        return unanswered(name, "build one with keyword_lf/regex_lf or write a @labeling_function")
    lf_name = getattr(lf, "name", repr(lf))
    if lf_name in {getattr(t, "name", t) for t in taken}:
        return Feedback(name, False, f"{lf_name!r} is already in the list: write a new one (another name and idea).")
    try:
        L_pool, L_dev = (apply_lfs(ds[split], [lf], cardinality=ds.cardinality, progress_bar=False)
                         for split in ("train", "dev"))
    except Exception as exc:  # the learner's LF: any failure is the feedback
        return Feedback(name, False, f"{lf_name!r} FAILED: {str(exc).splitlines()[0]}")
    pool_votes, dev_votes = L_pool[:, 0], L_dev[:, 0]
    voted = dev_votes != ABSTAIN
    coverage = float((pool_votes != ABSTAIN).mean())
    if label is not None and set(np.unique(pool_votes[pool_votes != ABSTAIN]).tolist()) - {label}:
        return Feedback(name, False, f"{lf_name!r} votes for other labels than {label}; vote {label} or abstain.")
    if coverage < min_coverage:
        return Feedback(name, False, f"{lf_name!r} votes on {coverage:.1%} of the pool; it needs {min_coverage:.0%}.")
    if not voted.any():
        return Feedback(name, False, f"{lf_name!r} never votes on dev, so nobody can tell whether it is right.")
    right = int((dev_votes[voted] == ds.dev["label"].to_numpy()[voted]).sum())
    accuracy = right / int(voted.sum())
    stats = f"pool coverage {coverage:.1%}; right on {right} of its {int(voted.sum())} dev votes ({accuracy:.0%})"
    if accuracy < min_accuracy:
        return Feedback(name, False, f"{lf_name!r}: {stats}, below {min_accuracy:.0%}. Look at the dev rows it gets wrong.")
    caveat = " Few dev votes: treat the accuracy as a guide." if voted.sum() < 10 else ""
    return Feedback(name, True, f"{lf_name!r}: {stats}.{caveat}")


def check_label_model_accuracy(answer: float | None, model: Any, L: Any, y: Any) -> Feedback:
    """The label model's accuracy under the workbench's convention (abstentions count as errors)."""
    name = "label-model accuracy"
    if answer is None:
        return unanswered(name, "use workbench.evaluate.label_model_score: rows no LF covers and ties abstain, "
                                "and an abstention is an error")
    score = label_model_score(model, L, y)
    if close(answer, score.accuracy, TOL):
        return Feedback(name, True, f"{score}.")
    if close(answer, score.accuracy_covered, TOL):
        return Feedback(name, False, f"{answer:.3f} is the accuracy on the {score.coverage:.0%} of rows it labels; "
                                     "the headline counts abstentions as errors, so say which one you report.")
    guess = np.mean(model.predict(L, tie_break="random") == np.asarray(y))
    if close(answer, guess, TOL):
        return Feedback(name, False, "that breaks ties at random and guesses rows no LF covers: a coin flip counted as "
                                     "a label. The convention lets them abstain and counts them as errors.")
    return Feedback(name, False, f"{answer} matches neither convention; recompute with label_model_score.")


def check_kept_count(answer: int | None, proba: Any, L: Any, threshold: float) -> Feedback:
    """Pool rows kept by a confidence threshold after rows no LF votes on are removed."""
    name = f"rows kept at threshold {threshold}"
    if answer is None:
        return unanswered(name, "confidence_filter(proba, threshold, abstained=~covered(L)).n_kept")
    voted = covered(L)
    step = confidence_filter(proba, threshold, abstained=~voted)
    if int(answer) == step.n_kept:
        return Feedback(name, True, f"{step.n_kept} of {len(voted)} rows: {int((~voted).sum())} have no vote, the rest "
                                    "are below the threshold.")
    if int(answer) == int((np.asarray(proba).max(axis=1) >= threshold).sum()):
        return Feedback(name, False, "you kept rows no LF voted on; their probability is the prior, not evidence.")
    return Feedback(name, False, f"not {answer}: apply the threshold to the covered rows only.")


def check_top_conflict(answer: Sequence[str] | None, L: Any, lfs: Sequence[Any]) -> Feedback:
    """The pair of LFs that conflict (both vote, disagree) on the largest share of the pool."""
    name = "most conflicting pair"
    if answer is None:
        return unanswered(name, "conflict_matrix(L, lfs) gives the share of rows where both vote and disagree")
    matrix = conflict_matrix(L, lfs)
    values = matrix.to_numpy()
    i, j = np.unravel_index(np.argmax(values), values.shape)
    truth = {matrix.index[i], matrix.columns[j]}
    if set(answer) == truth:
        return Feedback(name, True, f"{sorted(truth)} disagree on {values[i, j]:.1%} of the pool: read some of those rows.")
    pair = list(answer)
    if len(pair) == 2 and all(p in matrix.index for p in pair):
        share = matrix.loc[pair[0], pair[1]]
        return Feedback(name, False, f"{pair} disagree on {share:.1%}; another pair disagrees on {values[i, j]:.1%}.")
    return Feedback(name, False, f"give two LF names out of {list(matrix.index)}.")


# --------------------------------------------------------------------------- 02: thresholds


def check_threshold(answer: float | None, curve: pd.DataFrame, min_precision: float) -> Feedback:
    """The lowest threshold of ``curve`` whose valid precision (class ``all``) reaches ``min_precision``."""
    name = f"lowest threshold with valid precision >= {min_precision}"
    if answer is None:
        return unanswered(name, "filter the curve's 'all' rows on valid_precision, then take the smallest threshold")
    overall = curve[curve["class"] == "all"]
    ok = overall[overall["valid_precision"] >= min_precision]
    if ok.empty:
        raise ValueError(f"no threshold reaches {min_precision} on this curve")
    truth = float(ok["threshold"].min())
    if close(answer, truth, 1e-9):
        row = ok.loc[ok["threshold"].idxmin()]
        return Feedback(name, True, f"{truth:.2f} keeps {row['coverage']:.0%} of the pool at valid precision "
                                    f"{row['valid_precision']:.3f} ({int(row['valid_n_kept'])} valid rows).")
    why = ("higher thresholds reach it too, but the lowest keeps the most rows" if answer > truth
           else "below it the valid precision is under the target")
    return Feedback(name, False, f"{why}; look again at the 'all' rows.")


def check_gray_zone_count(answer: int | None, proba: Any, abstained: Any, width: float) -> Feedback:
    """How many covered rows have a margin of at most ``width`` between their two top classes."""
    name = f"gray zone of width {width}"
    if answer is None:
        return unanswered(name, "len(gray_zone(proba, width=..., abstained=...))")
    truth = len(gray_zone(proba, width=width, abstained=abstained))
    if int(answer) == truth:
        return Feedback(name, True, f"{truth} rows: the queue a reviewer should label first.")
    return Feedback(name, False, f"not {answer}; leave out the rows no LF voted on (abstained).")


# --------------------------------------------------------------------------- 03: pseudo-labeling


def check_snowball_class(answer: str | None, history: pd.DataFrame, class_names: Sequence[str]) -> Feedback:
    """The class the unsafeguarded run added most of (summed over its rounds)."""
    name = "the class it snowballs into"
    if answer is None:
        return unanswered(name, "sum the added_<class> columns of the run's history")
    added = {c: int(history[f"added_{i}"].sum()) for i, c in enumerate(class_names) if f"added_{i}" in history}
    truth = max(added, key=added.get)
    if answer == truth:
        return Feedback(name, True, f"added per class: {added}. Without class balance one class takes over.")
    return Feedback(name, False, f"added per class: {added}.")


def check_best_round(answer: int | None, history: pd.DataFrame, column: str = "valid_accuracy") -> Feedback:
    """The round with the best ``column`` (the first, on ties): the one early stopping keeps."""
    name = "the round early stopping keeps"
    if answer is None:
        return unanswered(name, f"the round with the highest {column} (the first one on a tie)")
    truth = int(history.loc[history[column].idxmax(), "round"])
    if int(answer) == truth:
        return Feedback(name, True, f"round {truth}: {column} {history[column].max():.3f}.")
    if "test_accuracy" in history and int(answer) == int(history.loc[history["test_accuracy"].idxmax(), "round"]):
        return Feedback(name, False, "that is the best round on test; stopping looks only at valid.")
    return Feedback(name, False, f"round {answer} has {column} "
                                 f"{history.set_index('round')[column].get(int(answer), float('nan')):.3f}; another is higher.")


# --------------------------------------------------------------------------- 04: distillation


def check_soft_targets(answer: Sequence[float] | None, proba_row: Sequence[float], temperature: float) -> Feedback:
    """``softmax(log p / T)`` of one row of teacher probabilities."""
    name = f"soft targets at T={temperature:g}"
    if answer is None:
        return unanswered(name, "divide the log-probabilities by T, exponentiate, normalise to sum 1")
    truth = soft_targets([list(proba_row)], temperature)[0]
    if np.allclose(answer, truth, atol=0.005):
        direction = "softer (closer to uniform)" if temperature > 1 else "sharper"
        return Feedback(name, True, f"{np.round(truth, 3).tolist()}: {direction} than the teacher's {list(proba_row)}.")
    if np.allclose(answer, np.asarray(proba_row) / temperature / np.sum(np.asarray(proba_row) / temperature), atol=0.005):
        return Feedback(name, False, "dividing the probabilities changes nothing after normalising: divide the logs.")
    return Feedback(name, False, f"expected {np.round(truth, 3).tolist()}.")


def check_temperature_choice(answer: float | None, valid_table: pd.DataFrame, metric: str = "log_loss") -> Feedback:
    """The soft-target temperature with the best (lowest) ``metric`` on the valid table."""
    name = f"temperature chosen on valid by {metric}"
    if answer is None:
        return unanswered(name, f"the 'soft T=...' row of the valid table with the lowest {metric}")
    soft = valid_table[valid_table["targets"] == "soft"]
    truth = float(soft.loc[soft[metric].idxmin(), "temperature"])
    if close(answer, truth, 1e-9):
        return Feedback(name, True, f"T={truth:g} has the lowest valid {metric} ({soft[metric].min():.3f}); "
                                    "its test score is now an honest report.")
    return Feedback(name, False, f"T={answer:g} is not the lowest valid {metric}; choose on valid, never on test.")


# --------------------------------------------------------------------------- 05: learner and calibration


def check_ece(answer: float | None, y: Any, proba: Any, n_bins: int = 10) -> Feedback:
    """Expected calibration error with ``n_bins`` equal-width bins."""
    name = f"ECE ({n_bins} equal-width bins)"
    if answer is None:
        return unanswered(name, "bin rows by confidence; average |accuracy - confidence| weighted by bin size")
    truth = expected_calibration_error(y, proba, n_bins=n_bins)
    if close(answer, truth, TOL):
        return Feedback(name, True, f"{truth:.3f}.")
    if close(answer, expected_calibration_error(y, proba, n_bins=n_bins, strategy="quantile"), TOL):
        return Feedback(name, False, "that is the equal-mass (quantile) ECE; this asks for equal-width bins.")
    return Feedback(name, False, f"not {answer}; weight each bin's gap by its share of rows.")


def check_brier(answer: float | None, y: Any, proba: Any) -> Feedback:
    """Brier score as scikit-learn counts it: for two classes, the mean of ``(p_1 - y)^2``."""
    name = "Brier score"
    if answer is None:
        return unanswered(name, "for two classes: the mean over rows of (probability of class 1 - gold label)^2")
    truth = brier_score(y, proba)
    if close(answer, truth, TOL):
        return Feedback(name, True, f"{truth:.3f} (0 is perfect).")
    if np.asarray(proba).shape[1] == 2 and close(answer, 2 * truth, TOL):
        return Feedback(name, False, "that sums the squared gaps over both classes; with two classes the Brier "
                                     "score (scikit-learn's) counts the positive class only, half of that.")
    return Feedback(name, False, f"not {answer}; average (p_1 - y)^2 over the rows.")


def check_curation_choice(answer: Any, choices: pd.DataFrame) -> Feedback:
    """The row of ``choices`` with the best valid accuracy (the choice is made on valid, never test)."""
    name = "curation and targets chosen on valid"
    if answer is None:
        return unanswered(name, "the index of the row with the highest 'valid accuracy'")
    valid = choices["valid accuracy"].astype(float)
    truth = valid.idxmax()
    if tuple(np.atleast_1d(answer)) == tuple(np.atleast_1d(truth)):
        return Feedback(name, True, f"{truth}: valid accuracy {valid.max():.3f}.")
    if "test accuracy" in choices and tuple(np.atleast_1d(answer)) == tuple(np.atleast_1d(choices["test accuracy"].astype(float).idxmax())):
        return Feedback(name, False, "that row is best on test: choosing by it turns the verdict into a tuning set.")
    return Feedback(name, False, f"{answer} is not the best row on valid.")


# --------------------------------------------------------------------------- 06: evaluation


def check_leak_count(answer: int | None, ds: Any) -> Feedback:
    """Pool rows that copy (exactly or nearly) a protected row."""
    name = "leaked pool rows"
    if answer is None:
        return unanswered(name, "len(check_leakage(ds.train, ds).leaked_ids)")
    report = check_leakage(ds.train, ds)
    truth = len(report.leaked_ids)
    if int(answer) == truth:
        return Feedback(name, True, f"{truth} of {report.n_train} pool rows repeat a protected row: drop them before training.")
    return Feedback(name, False, f"not {answer}; count distinct pool rows, exact and near copies together.")


def check_flagged_slices(answer: Sequence[str] | None, slices: pd.DataFrame) -> Feedback:
    """The slices a slice report flags (worse than the margin and big enough)."""
    name = "flagged slices"
    if answer is None:
        return unanswered(name, "the slice names whose 'flagged' column is True")
    table = slices if "slice" in slices.columns else slices.reset_index()
    key = "slice" if "slice" in table.columns else table.columns[0]
    truth = set(table.loc[table["flagged"], key])
    if set(answer) == truth:
        return Feedback(name, True, f"{sorted(truth) or 'none'}; the others are within the margin or too small to tell.")
    small = set(answer) & set(table.loc[table["status"] == "too small", key])
    why = f" {sorted(small)} are too small to flag: read their interval." if small else ""
    return Feedback(name, False, f"the report flags {len(truth)} slice(s).{why}")


# --------------------------------------------------------------------------- 08: export


def check_funnel_removed(answer: int | None, manifest: dict, step: str) -> Feedback:
    """How many rows the filter step ``step`` removed, read from the lineage manifest."""
    name = f"rows removed by {step!r}"
    if answer is None:
        return unanswered(name, "manifest['funnel']['steps']: n_in - n_kept of that step")
    steps = {s["step"]: s for s in manifest["funnel"]["steps"]}
    if step not in steps:
        raise KeyError(f"no filter step {step!r} in the manifest; steps are {sorted(steps)}")
    truth = steps[step]["n_in"] - steps[step]["n_kept"]
    if int(answer) == truth:
        return Feedback(name, True, f"{truth}; the manifest also lists their ids per reason.")
    if int(answer) == steps[step]["n_kept"]:
        return Feedback(name, False, "that is what the step kept, not what it removed.")
    return Feedback(name, False, f"not {answer}.")


def check_exported_rows(answer: int | None, manifest: dict) -> Feedback:
    """Rows in the export, as the manifest records them."""
    name = "exported rows"
    if answer is None:
        return unanswered(name, "manifest['export']['rows']")
    truth = int(manifest["export"]["rows"])
    if int(answer) == truth:
        return Feedback(name, True, f"{truth}: after every filter step and the leakage check.")
    if int(answer) == int(manifest["funnel"]["n_pool"]):
        return Feedback(name, False, "that is the pool before filtering.")
    return Feedback(name, False, f"not {answer}.")


def check_kappa(answer: float | None, agreement: Any) -> Feedback:
    """Cohen's kappa between two reviewers (:func:`workbench.review.reviewer_agreement`)."""
    name = "reviewer kappa"
    if answer is None:
        return unanswered(name, "reviewer_agreement(store, a, b).kappa")
    truth = float(agreement.kappa)
    if close(answer, truth, TOL):
        return Feedback(name, True, f"kappa {truth:.3f} on {agreement.n_common} shared examples: agreement beyond what "
                                    f"their label shares would give by chance (observed {agreement.observed_agreement:.3f}).")
    if close(answer, agreement.observed_agreement, TOL):
        return Feedback(name, False, "that is the observed agreement; kappa discounts the agreement expected by chance.")
    return Feedback(name, False, f"not {answer}; read the kappa of reviewer_agreement(...).")
