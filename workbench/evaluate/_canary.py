"""The canary gate: a held-out set that must pass before an export, or a recorded override."""

from __future__ import annotations

import getpass
import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np
import pandas as pd

from workbench.data._dataset import (
    ID_COLUMN,
    LABEL_COLUMN,
    TEXT_COLUMN,
)
from workbench.evaluate._report import GATE_METRICS, _metric_functions, _prepare
from workbench.learn._calibration import expected_calibration_error

# --------------------------------------------------------------------------- canary gate


class CanaryGateError(RuntimeError):
    """Export refused: the canary verdict failed and no override was given."""

    def __init__(self, verdict: "CanaryVerdict"):
        self.verdict = verdict
        super().__init__(
            f"canary gate failed: {verdict.metric} = {verdict.value:.4f} < minimum {verdict.minimum:.4f} "
            f"on {verdict.n} canary rows ({verdict.n_errors} errors). Export refused; to export anyway "
            "pass an explicit override reason (it is recorded in the lineage manifest)."
        )


@dataclass(frozen=True)
class Override:
    """An explicit decision to export despite a failed check; recorded, never silent."""

    reason: str
    by: str = field(default_factory=getpass.getuser)
    at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def __post_init__(self):
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError("an override needs a non-empty reason saying why the failed gate is acceptable")


@dataclass(frozen=True)
class CanaryVerdict:
    """The canary gate's verdict: pass/fail with the numbers, and any override.

    ``allowed`` is True when the gate passed, or failed with a recorded override.
    :meth:`enforce` raises :class:`CanaryGateError` otherwise; :meth:`to_dict` is
    what the export's lineage manifest stores.
    """

    metric: str
    value: float
    minimum: float
    passed: bool
    n: int
    n_errors: int
    metrics: dict[str, float]
    canary_fingerprint: str
    checked_at: str
    override: Override | None = None

    @property
    def allowed(self) -> bool:
        return self.passed or self.override is not None

    def with_override(self, reason: str, by: str | None = None) -> "CanaryVerdict":
        """A copy of this verdict with an override recorded (only meaningful when it failed)."""
        if self.passed:
            raise ValueError("the canary gate passed; there is nothing to override")
        return replace(self, override=Override(reason) if by is None else Override(reason, by))

    def enforce(self) -> "CanaryVerdict":
        """Return self if export may go ahead, else raise :class:`CanaryGateError`."""
        if not self.allowed:
            raise CanaryGateError(self)
        return self

    def to_dict(self) -> dict:
        out = asdict(self)
        out["metrics"] = {k: (None if v is None or np.isnan(v) else float(v)) for k, v in self.metrics.items()}
        out["allowed"] = self.allowed
        return out


def _fingerprint(data: Any, y: np.ndarray, id_column: str) -> str:
    """SHA-256 of the canary's ids and gold labels: the manifest records which canary judged."""
    ids = data[id_column].astype(str).tolist() if isinstance(data, pd.DataFrame) and id_column in data else range(len(y))
    h = hashlib.sha256()
    for i, label in sorted(zip(map(str, ids), y.tolist())):
        h.update(f"{i}\t{label}\n".encode())
    return h.hexdigest()


def canary_gate(
    model_or_probs: Any,
    canary_set: Any,
    metric: str | Callable = "f1",
    minimum: float = 0.8,
    *,
    override: str | None = None,
    positive_label: int = 1,
    label_column: str = LABEL_COLUMN,
    text_column: str | None = TEXT_COLUMN,
    id_column: str = ID_COLUMN,
) -> CanaryVerdict:
    """Judge a model on the canary set: pass when ``metric >= minimum``.

    The canary set is never trained or tuned on; it is the last check before
    export. The verdict records the numbers; export must call
    :meth:`CanaryVerdict.enforce`, which refuses a failed verdict unless an
    override was recorded (``override="why"`` here, or
    :meth:`CanaryVerdict.with_override` later).

    Parameters
    ----------
    metric : str or callable
        One of ``accuracy, balanced_accuracy, precision, recall, f1`` (of
        ``positive_label`` with two classes, macro otherwise) or ``f1_macro``; or a
        callable ``f(y_true, y_pred) -> float`` where higher is better.
    minimum : float
        The lowest acceptable value of ``metric``.
    override : str, optional
        Why to export even if the gate fails. Recorded (with user and time) only
        when the gate fails.

    Examples
    --------
    >>> canary = pd.DataFrame({"example_id": ["a", "b", "c", "d"], "label": [0, 1, 1, 0]})
    >>> v = canary_gate(np.array([0, 1, 0, 0]), canary, "accuracy", 0.9)
    >>> v.passed, v.value, v.allowed
    (False, 0.75, False)
    >>> v.with_override("known-hard canary rows, reviewed by hand").allowed
    True
    """
    y, preds, proba, k = _prepare(model_or_probs, canary_set, label_column=label_column, text_column=text_column)
    if len(y) == 0:
        raise ValueError("the canary set is empty")
    if callable(metric):
        score_fn, metric_name = metric, getattr(metric, "__name__", "custom")
    elif metric in GATE_METRICS:
        score_fn, metric_name = GATE_METRICS[metric](k, positive_label), metric
    else:
        raise ValueError(f"unknown canary metric {metric!r}; use one of {sorted(GATE_METRICS)} or a callable")
    value = float(score_fn(y, preds))
    summary = {name: float(f(y, preds)) for name, f in _metric_functions(k, positive_label).items()}
    if proba is not None:
        summary["ece"] = expected_calibration_error(y, proba)
    verdict = CanaryVerdict(
        metric=metric_name,
        value=value,
        minimum=float(minimum),
        passed=bool(value >= minimum),  # NaN (undefined metric) fails
        n=len(y),
        n_errors=int(np.sum(y != preds)),
        metrics=summary,
        canary_fingerprint=_fingerprint(canary_set, y, id_column),
        checked_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return verdict.with_override(override) if override is not None and not verdict.passed else verdict
