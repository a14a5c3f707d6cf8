"""The threshold explorer: move the thresholds, watch coverage, precision and the funnel.

A widget for a notebook or a Voila web app. Sliders set the global confidence threshold
and per-class thresholds; toggles switch deduplication, rebalancing and diversity sampling
on and off. Every change re-runs :func:`workbench.curate.curate` and redraws three plotly
figures (coverage vs labeled-set precision with the current point,
the confidence histogram with the threshold lines, and the kept set: its class balance
against the target beside the funnel of rows each step removed), the kept-row count and a
preview of the rows either side of the threshold. A button (and :meth:`ThresholdExplorer.curated`) returns the curated DataFrame
with its filter record.

Each figure is a :class:`workbench.ui._plotly.PlotlyView` made once and redrawn in place on
every refresh (plotly's ``FigureWidget`` made the page evaluate 5 MB of plotly.js per figure,
and under Voila 0.5 one present at page load could stay frozen: see that module).

Example
-------
>>> explorer = ThresholdExplorer(ds.train, P_train, valid_proba=P_dev, valid_labels=y_dev,
...                              class_names=ds.class_names)  # doctest: +SKIP
>>> explorer  # displays the widget  # doctest: +SKIP
>>> explorer.set(threshold=0.8, dedupe=True).kept_count  # doctest: +SKIP
>>> curated = explorer.curated()  # curated.frame, curated.funnel.to_dict()  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import json
import os
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as W
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench._internal.atomic import atomic_write
from workbench._internal.display import plain_text, text_html
from workbench._internal.jsonsafe import json_safe
from workbench._internal.validation import ABSTAIN, check_labels, check_proba
from workbench.curate._balance import class_balance, class_shares
from workbench.curate._confidence import (
    effective_thresholds,
    examples_near_threshold,
    operating_point,
    threshold_curve,
)
from workbench.curate._curate import CuratedSet, curate
from workbench.curate._dedupe import DuplicateClusters, find_duplicates
from workbench.curate._diversity import text_embedding
from workbench.curate._funnel import _class_names
from workbench.curate._registry import CONFIDENCE_STEP
from workbench.plots import TEMPLATE
from workbench.plots._layout import resize
from workbench.plots.filter import (
    kept_set_figure,
    threshold_curve_figure,
    threshold_histogram,
)
from workbench.ui._plotly import PlotlyView

# ipywidgets reads a Dropdown value of None as "nothing selected", so "as is" has a name.
BALANCE_OPTIONS = [("keep as is", "as is"), ("down-sample to target", "downsample"), ("weight to target", "weights")]
FIGURE_SIZE = dict(width=610, height=350)
KEPT_FIGURE_SIZE = dict(width=1220, height=360)
STATUS_KEPT, STATUS_BELOW, STATUS_OTHER = "kept", "below threshold", "removed by other steps"
#: Control changes closer together than this are drawn once: a quick run of slider key presses
#: costs the kernel one refresh, not one per press.
DEBOUNCE_SECONDS = 0.15
FIGURES = ("curve_figure", "histogram_figure", "kept_figure")


class ThresholdExplorer:
    """Interactive confidence thresholds and filter toggles over a pool of synthetic labels.

    Parameters
    ----------
    pool : DataFrame
        The unlabeled rows with ``id_column`` and ``text_column``.
    proba : array of shape (len(pool), k)
        The generator's class probabilities for the pool.
    valid_proba, valid_labels : optional
        Probabilities and gold labels on the labeled set that thresholds are chosen on (``valid``:
        never dev, on which the LFs were written), for the precision curve.
    class_names : sequence of str, optional
    abstained : array of bool, optional
        Pool rows no labeling function voted on (removed as ``no_lf_vote``).
    target : sequence or mapping, optional
        Target class shares; default those of ``valid_labels``, else uniform.
    text_column, id_column : str
    threshold : float, optional
        Starting global threshold (default 0.8, or ``1/k`` if that is higher).
    diversity_k : int, optional
        Starting size of the diversity sample (the slider's value; off until toggled).
    save_dir : path, optional
        Where the button writes ``curated.csv`` and ``filter_record.json`` (atomically).
    labeled_name : str
        What to call the labeled set in the figures.
    random_state : int

    Attributes
    ----------
    threshold : FloatSlider
    class_thresholds : dict of str to FloatSlider
        A row predicted as class ``c`` must reach ``max(threshold, class_thresholds[c])``.
    dedupe, diversity : Checkbox
    balance : Dropdown
    diversity_k : IntSlider
    button : Button
    kept_label, preview, status : HTML
    curve_figure, histogram_figure, kept_figure : plotly Figure
        The figures as last drawn.
    views : dict of str to PlotlyView
        The widget showing each figure (keys as the attribute names above), redrawn in place.
    last_curated : CuratedSet or None
        What the button produced last.
    """

    def __init__(
        self,
        pool: pd.DataFrame,
        proba,
        *,
        valid_proba=None,
        valid_labels=None,
        class_names=None,
        abstained=None,
        target=None,
        text_column: str = "text",
        id_column: str = "example_id",
        threshold: float | None = None,
        diversity_k: int | None = None,
        save_dir: str | os.PathLike | None = None,
        labeled_name: str = "valid",
        random_state: int = 0,
    ):
        for column in (text_column, id_column):
            if column not in pool.columns:
                raise ValueError(f"pool has no column {column!r}; columns are {list(pool.columns)}")
        self.pool = pool.reset_index(drop=True)
        self.proba = check_proba(proba)
        if len(self.proba) != len(pool):
            raise ValueError(f"proba has {len(self.proba)} rows but the pool has {len(pool)}")
        k = self.proba.shape[1]
        self.class_names = _class_names(class_names, k)
        self.valid_proba = None if valid_proba is None else check_proba(valid_proba, name="valid_proba")
        self.valid_labels = None if valid_labels is None else np.asarray(valid_labels)
        if target is None and valid_labels is not None:
            target = class_shares(valid_labels, k)
        self.target = target
        self.abstained = None if abstained is None else np.asarray(abstained, dtype=bool)
        self.text_column, self.id_column = text_column, id_column
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.labeled_name = labeled_name
        self.random_state = random_state
        self.confidence = self.proba.max(axis=1)
        self.predicted = self.proba.argmax(axis=1)
        self.curve = threshold_curve(self.proba, valid_proba=self.valid_proba, valid_labels=self.valid_labels, class_names=self.class_names)
        self._duplicates: DuplicateClusters | None = None
        self._features: np.ndarray | None = None
        self._holding = False
        self.last_curated: CuratedSet | None = None

        low = 1 / k
        start = max(low, 0.8 if threshold is None else float(threshold))
        slider = dict(min=round(low, 2), max=1.0, step=0.01, continuous_update=False, readout_format=".2f",
                      style={"description_width": "9em"}, layout=W.Layout(width="26em"))
        self.threshold = W.FloatSlider(value=start, description="Threshold (all)", **slider)
        self.class_thresholds = {name: W.FloatSlider(value=round(low, 2), description=f"{name} at least", **slider) for name in self.class_names}
        self.dedupe = W.Checkbox(value=False, description="Remove duplicates", indent=False)
        self.balance = W.Dropdown(options=BALANCE_OPTIONS, value="as is", description="Class balance", style={"description_width": "7em"})
        self.diversity = W.Checkbox(value=False, description="Diversity sample of", indent=False, layout=W.Layout(width="13em"))
        self.diversity_k = W.IntSlider(value=min(len(pool), diversity_k or 200), min=1, max=max(1, len(pool)), continuous_update=False,
                                       layout=W.Layout(width="18em"))
        # no icon: ipywidgets draws icons with Font Awesome, which Voila's page would fetch from a CDN
        self.button = W.Button(description="Use this curated set", button_style="success", layout=W.Layout(width="16em"))
        self.kept_label = W.HTML(layout=W.Layout(margin="4px 0"))
        self.kept_label.add_class("explorer-kept")
        self.preview = W.HTML()
        self.status = W.HTML()

        # figures are built without a template (most of a build's time) and styled in the page
        self.views = {name: PlotlyView(template=TEMPLATE) for name in FIGURES}
        state = self._compute()
        self._show_figures(state)
        self._show_text(state)

        self._pending: asyncio.TimerHandle | None = None
        for control in (self.threshold, *self.class_thresholds.values(), self.dedupe, self.balance, self.diversity, self.diversity_k):
            control.observe(self._on_change, names="value")
        self.button.on_click(self._on_button)
        self.widget = self._layout()

    # --- Python API --------------------------------------------------------------------

    def set(self, *, threshold: float | None = None, class_thresholds=None, dedupe: bool | None = None,
            balance: str | None | bool = False, diversity_k: int | None | bool = False) -> ThresholdExplorer:
        """Set several controls at once (one refresh); returns the explorer.

        ``class_thresholds`` maps class names (or indices) to values. ``balance`` takes
        ``None``, ``"downsample"`` or ``"weights"``; ``diversity_k`` an int to switch
        diversity sampling on with that size, or ``None`` to switch it off. Arguments left
        out keep their current value.
        """
        with self._hold():
            if threshold is not None:
                self.threshold.value = threshold
            if class_thresholds is not None:
                values = effective_thresholds(0.0, class_thresholds, len(self.class_names), self.class_names)
                given = class_thresholds.keys() if isinstance(class_thresholds, dict) else range(len(self.class_names))
                for key in given:
                    index = key if isinstance(key, (int, np.integer)) else self.class_names.index(str(key))
                    self.class_thresholds[self.class_names[index]].value = float(values[index])
            if dedupe is not None:
                self.dedupe.value = bool(dedupe)
            if balance is not False:
                if balance not in (None, "downsample", "weights"):
                    raise ValueError(f"balance must be None, 'downsample' or 'weights', got {balance!r}")
                self.balance.value = "as is" if balance is None else balance
            if diversity_k is not False:
                self.diversity.value = diversity_k is not None
                if diversity_k is not None:
                    self.diversity_k.value = int(diversity_k)
        self.refresh()
        return self

    def curated(self) -> CuratedSet:
        """The curated set (DataFrame and funnel) for the current settings."""
        return self._curate()

    @property
    def kept_count(self) -> int:
        self._flush()
        return len(self._state["curated"].frame)

    @property
    def settings(self) -> dict:
        """The current settings, as recorded in the funnel."""
        return {
            "threshold": self.threshold.value,
            "class_thresholds": {name: s.value for name, s in self.class_thresholds.items()},
            "dedupe": self.dedupe.value,
            "balance": self._balance_method(),
            "diversity_k": self.diversity_k.value if self.diversity.value else None,
        }

    def refresh(self) -> None:
        """Recompute everything and update the figures and text in place."""
        if self._pending is not None:  # this refresh covers the scheduled one
            self._pending.cancel()
            self._pending = None
        state = self._compute()
        self._show_figures(state)
        self._show_text(state)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # --- computing -----------------------------------------------------------------------

    @contextmanager
    def _hold(self):
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    def _on_change(self, _change) -> None:
        if self._holding:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (plain Python, tests): draw now
            self.refresh()
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(DEBOUNCE_SECONDS, self._flush)

    def _flush(self) -> None:
        """Run a refresh that a control change scheduled, if one is waiting."""
        if self._pending is not None:
            self.refresh()  # cancels the scheduled one

    @property
    def duplicates(self) -> DuplicateClusters:
        """Duplicate clusters of the pool, found on first use."""
        if self._duplicates is None:
            self._duplicates = find_duplicates(self.pool[self.text_column], ids=self.pool[self.id_column])
        return self._duplicates

    @property
    def features(self) -> np.ndarray:
        """Diversity features of the pool, computed on first use."""
        if self._features is None:
            self._features = text_embedding(self.pool[self.text_column], random_state=self.random_state)
        return self._features

    def _class_threshold_values(self) -> list[float]:
        return [self.class_thresholds[name].value for name in self.class_names]

    def _balance_method(self) -> str | None:
        return None if self.balance.value == "as is" else self.balance.value

    def _curate(self) -> CuratedSet:
        return curate(
            self.pool, self.proba, threshold=self.threshold.value, class_thresholds=self._class_threshold_values(),
            abstained=self.abstained, duplicates=self.duplicates if self.dedupe.value else None,
            balance=self._balance_method(), target=self.target,
            diversity_k=self.diversity_k.value if self.diversity.value else None,
            features=self.features if self.diversity.value else None,
            class_names=self.class_names, id_column=self.id_column, random_state=self.random_state,
        )

    def _compute(self) -> dict:
        curated = self._curate()
        reasons = curated.funnel.reasons()
        status = np.where(reasons["step"] == "", STATUS_KEPT, np.where(reasons["step"] == CONFIDENCE_STEP, STATUS_BELOW, STATUS_OTHER))
        point = operating_point(self.proba, self.threshold.value, class_thresholds=self._class_threshold_values(),
                                valid_proba=self.valid_proba, valid_labels=self.valid_labels, class_names=self.class_names)
        self._state = {"curated": curated, "status": status, "point": point}
        return self._state

    def _data_figures(self, state: dict) -> list[go.Figure]:
        """The curve and the histogram, sized, without a template (the views style them)."""
        lines = {"threshold": self.threshold.value}
        lines.update({name: s.value for name, s in self.class_thresholds.items() if s.value > self.threshold.value})
        return [
            resize(threshold_curve_figure(self.curve, state["point"], labeled_name=self.labeled_name, template={}),
                   **FIGURE_SIZE),
            resize(threshold_histogram(self.confidence, state["status"], lines, low=1 / len(self.class_names), template={}),
                   **FIGURE_SIZE),
        ]

    def _kept_set_figure(self, state: dict) -> go.Figure:
        curated: CuratedSet = state["curated"]
        balance = class_balance(curated.frame["label"].to_numpy(), len(self.class_names), target=self.target,
                                class_names=self.class_names,
                                sample_weight=curated.frame["sample_weight"].to_numpy() if self.balance.value == "weights" else None)
        return resize(kept_set_figure(balance, curated.funnel.to_frame(), title=f"The kept set: {len(curated.frame):,} rows",
                                      template={}), **KEPT_FIGURE_SIZE)

    def _show_figures(self, state: dict) -> None:
        """Build the three figures and redraw each view in place."""
        figures = [*self._data_figures(state), self._kept_set_figure(state)]
        for name, figure in zip(FIGURES, figures):
            setattr(self, name, figure)
            self.views[name].show(figure)

    # --- text and layout -------------------------------------------------------------------

    def _show_text(self, state: dict) -> None:
        n_kept, n = len(state["curated"].frame), len(self.pool)
        overall = state["point"].iloc[0]
        precision = ""
        if "valid_precision" in overall and not pd.isna(overall["valid_precision"]):
            name = html.escape(self.labeled_name)
            precision = (f" &middot; {name} precision at these thresholds <b>{overall['valid_precision']:.1%}</b>"
                         f" ({int(overall['valid_n_kept'])} {name} rows)")
        self.kept_label.value = f'<span class="kept-count">Kept <b>{n_kept:,}</b> of {n:,} rows ({n_kept / max(n, 1):.1%})</span>{precision}'
        self.preview.value = self._preview_html(state)

    def _preview_html(self, state: dict, n: int = 5) -> str:
        # among the rows that reached the confidence step: the last kept and the first dropped
        confidence_step = next(s for s in state["curated"].funnel.steps if s.name == CONFIDENCE_STEP)
        position = pd.Series(np.arange(len(self.pool)), index=self.pool[self.id_column].to_numpy())
        rows = position.loc[confidence_step.ids].to_numpy()
        above, below = examples_near_threshold(self.confidence[rows], confidence_step.kept, n=n)

        def table(positions, heading):
            body = "".join(
                "<tr><td>{}</td><td>{:.2f}</td><td>{}</td></tr>".format(
                    html.escape(self.class_names[self.predicted[p]]), self.confidence[p],
                    text_html(self.pool[self.text_column].iat[p], 140),
                )
                for p in rows[positions]
            ) or "<tr><td colspan=3><i>none</i></td></tr>"
            return (f"<div style='flex:1;min-width:20em'><b>{heading}</b><table style='width:100%;font-size:12px'>"
                    f"<tr><th>label</th><th>conf.</th><th style='text-align:left'>text</th></tr>{body}</table></div>")

        return ("<div style='display:flex;gap:1.5em'>"
                + table(above, "Kept, just above the threshold") + table(below, "Dropped, just below the threshold") + "</div>")

    def _layout(self) -> W.Widget:
        grid = W.Box([self.views[name] for name in FIGURES], layout=W.Layout(display="flex", flex_flow="row wrap"))
        controls = W.VBox([
            W.HTML("<b>Confidence thresholds</b>"), self.threshold, *self.class_thresholds.values(),
            W.HTML("<b>Filter steps</b>"), self.dedupe, self.balance, W.HBox([self.diversity, self.diversity_k]),
        ], layout=W.Layout(width="30em"))
        actions = W.VBox([self.kept_label, self.button, self.status])
        return W.VBox([W.HBox([controls, actions]), grid, self.preview])

    @property
    def status_text(self) -> str:
        """The status line as plain text (``status`` is an HTML widget)."""
        return plain_text(self.status.value)

    def _on_button(self, _button) -> None:
        self.last_curated = self.curated()
        message = f"Curated set ready: {len(self.last_curated.frame):,} rows"
        if self.save_dir is not None:
            paths = save_curated(self.last_curated, self.save_dir, settings=self.settings)
            message += " &middot; saved " + ", ".join(f"<code>{html.escape(str(p))}</code>" for p in paths.values())
        self.status.value = message


def save_curated(curated: CuratedSet, folder: str | os.PathLike, *, settings: dict | None = None) -> dict[str, Path]:
    """Write ``curated.csv`` and ``filter_record.json`` (the funnel, plus the explorer's
    settings) into ``folder``, each atomically (temporary file, then ``os.replace``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, record_path = folder / "curated.csv", folder / "filter_record.json"
    record = {"settings": settings or {}, "funnel": curated.funnel.to_dict()}
    atomic_write(csv_path, lambda tmp: curated.frame.to_csv(tmp, index=False))
    atomic_write(record_path, json.dumps(json_safe(record), indent=2))
    return {"curated": csv_path, "record": record_path}


def label_model_proba(model, L_train, others: Mapping[str, np.ndarray] | None = None, *, seed=None,
                      cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Fit a label model on ``L_train``; its probabilities on ``"train"`` and on each of ``others``.

    ``seed``, a pair ``(L_seed, y_seed)`` of labeled rows, is learned from as the pipeline's
    label-model stage does: a model that learns from labels is fitted on ``L_train`` and
    ``L_seed`` stacked, with ``y_seed`` on the seed rows and ``ABSTAIN`` on the others; other
    models ignore it.

    With ``cache_dir`` the probabilities are kept in a file named by a hash of the model's class
    and parameters and of every label matrix (and the seed labels a fit used), and a later call
    with the same inputs reads them instead of fitting: every page of the explorer app starts a
    fresh kernel, and a fit can cost seconds (importing torch, then training).

    Examples
    --------
    >>> proba = label_model_proba(HyperLabelModel(), L_train, {"valid": L_valid}, seed=(L_seed, y_seed),
    ...                           cache_dir=out_dir("explorer"))  # doctest: +SKIP
    >>> proba["train"].shape, proba["valid"].shape  # doctest: +SKIP
    """
    matrices = {"train": L_train, **(others or {})}
    L_fit, y_fit = L_train, None
    if seed is not None and model.uses_labels():
        L_seed, y_seed = seed
        L_seed = np.asarray(L_seed)
        if L_seed.ndim != 2 or L_seed.shape[1] != np.shape(L_train)[1]:
            raise ValueError(f"seed: L_seed has shape {L_seed.shape} but L_train has {np.shape(L_train)[1]} LF columns")
        y_seed = check_labels(y_seed, model.cardinality, n_rows=len(L_seed), name="y_seed")
        L_fit = np.vstack([L_train, L_seed])
        y_fit = np.concatenate([np.full(len(L_train), ABSTAIN, dtype=np.int64), y_seed])
    path = None
    if cache_dir is not None:
        key = hashlib.sha256(f"{type(model).__module__}.{type(model).__qualname__}".encode())
        key.update(json.dumps(json_safe(model.get_params()), sort_keys=True).encode())
        hashed = dict(matrices) if y_fit is None else {**matrices, "seed": L_seed, "seed labels": y_seed}
        for name, L in hashed.items():
            L = np.ascontiguousarray(L)
            key.update(f"{name}:{L.shape}:{L.dtype}".encode())
            key.update(L.tobytes())
        path = Path(cache_dir) / f"label_model_proba_{key.hexdigest()[:20]}.npz"
        if path.exists():
            with np.load(path) as saved:
                return {name: saved[name] for name in matrices}
    model.fit(L_fit, y_fit)
    proba = {name: model.predict_proba(L) for name, L in matrices.items()}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(_npz_bytes(proba)))
    return proba


def _npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
