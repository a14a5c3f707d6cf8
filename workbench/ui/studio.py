"""LF Studio: a live dashboard for writing labeling functions in a notebook.

    studio = Studio(dataset)            # shows the dashboard

    @studio.lf(label=SPAM)              # row-wise: return True where the LF should vote SPAM
    def mentions_channel(x):
        return "channel" in x.text.lower()

    studio.add(keyword_lf("kw_free", ["free", "win"], SPAM))

Every add, replace (same name again), switch on/off and removal updates the dashboard in place:
the sortable summary table, the overlap and conflict heatmaps (click a cell to list its rows),
the label-model panel and the example browser. The cell that changed an LF also gets one line
under it (version, coverage and dev accuracy with their change, or FAILED and why). The no-code
form previews a keyword list or regex as it is typed. With ``store=`` the studio's LFs, their
versions and switches are kept in the project store and come back after a kernel restart.
The logic lives in :mod:`workbench.labeling`; this module only builds widgets and calls it.
"""

from __future__ import annotations

import html
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import ipywidgets as W
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from workbench._internal.columns import PROBA_PREFIX, VOTE_PREFIX
from workbench._internal.display import plain_text, text_html
from workbench._internal.paths import out_dir
from workbench._internal.validation import lf_name
from workbench.labeling._lf import ABSTAIN, predicate_lf
from workbench.labeling._module import lf_to_code
from workbench.labeling._studio import LFHistory, Preview, Snapshot, StudioState, form_lf
from workbench.review._store import ProjectStore
from workbench.plots.studio import (
    balance_figure,
    confidence_figure,
    lf_matrix_figure,
    update_balance,
    update_confidence,
    update_lf_matrix,
)

__all__ = ["Studio"]

#: (header, summary column or None, how to format a value); the first and last columns are widgets.
TABLE_COLUMNS = [
    ("LF", "LF", None),
    ("kind", "Kind", None),
    ("ver.", "Version", None),
    ("polarity", "Polarity", None),
    ("coverage", "Coverage", "pct"),
    ("overlaps", "Overlaps", "pct"),
    ("conflicts", "Conflicts", "pct"),
    ("dev cov.", "Dev Coverage", "pct"),
    ("dev acc. (✓/votes)", "Dev Acc.", "acc"),
    ("95% interval", "Dev Acc. Low", "ci"),
    ("learned acc.", "Learned Acc.", "pct"),
]
BROWSE_KINDS = [("fires", "fires"), ("wrong on dev", "wrong"), ("conflicts", "conflict"), ("no LF fires", "abstain")]
CSS = """
<style>
.wb-studio .wb-cell { font-size: 12px; padding: 1px 6px; white-space: nowrap; }
.wb-studio .wb-off { color: #999; }
.wb-studio .wb-err { color: #c62828; }
.wb-studio table.wb-rows { border-collapse: collapse; font-size: 12px; width: 100%; }
.wb-studio table.wb-rows td, .wb-studio table.wb-rows th { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left; vertical-align: top; }
.wb-studio table.wb-rows td.wb-nowrap { white-space: nowrap; }
.wb-studio .wb-vote { display: inline-block; border-radius: 3px; padding: 0 4px; margin: 1px; font-size: 11px; }
.wb-studio .wb-errors { background: #fdecea; border-left: 4px solid #c62828; padding: 4px 8px; font-size: 12px; }
.wb-studio h4 { margin: 12px 0 4px 0; }
</style>
"""
VOTE_COLORS = ["#e3f2fd", "#fde0dc", "#e8f5e9", "#fff3e0", "#ede7f6", "#e0f7fa"]


def _pct(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


def _esc(value: Any) -> str:
    """A name, number or message as HTML text (example texts go through ``text_html``, which also unescapes)."""
    return html.escape("" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value))


#: Characters of an example text shown in a table row; the full text is in its hover title.
TEXT_WIDTH = 300


class _Pager:
    """Previous / next buttons around "rows a-b of n"."""

    def __init__(self, on_change: Callable[[], None], page_size: int):
        self.page, self.page_size, self.total = 0, page_size, 0
        self.prev = W.Button(description="◀", layout=W.Layout(width="36px"), tooltip="previous page")
        self.next = W.Button(description="▶", layout=W.Layout(width="36px"), tooltip="next page")
        self.label = W.HTML()
        self.prev.on_click(lambda _: self.go(self.page - 1))
        self.next.on_click(lambda _: self.go(self.page + 1))
        self._on_change = on_change
        self.widget = W.HBox([self.prev, self.label, self.next], layout=W.Layout(align_items="center"))

    @property
    def n_pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    def go(self, page: int) -> None:
        self.page = min(max(page, 0), self.n_pages - 1)
        self._on_change()

    def set_total(self, total: int) -> None:
        self.total = total
        self.page = min(self.page, self.n_pages - 1)
        start = self.page * self.page_size
        self.label.value = (f"<span class='wb-cell'>rows {start + 1:,}–{min(start + self.page_size, total):,} of {total:,}</span>"
                            if total else "<span class='wb-cell'>no rows</span>")
        self.prev.disabled = self.page == 0
        self.next.disabled = self.page >= self.n_pages - 1


def _fetch_page(pager: _Pager, fetch: Callable[[int], tuple[int, pd.DataFrame]]) -> tuple[int, pd.DataFrame]:
    """Fetch the pager's page; if the rows shrank below it, clamp and fetch the last page."""
    page = pager.page
    total, rows = fetch(page)
    pager.set_total(total)
    if pager.page != page:
        total, rows = fetch(pager.page)
    return total, rows


class _TableRow:
    """The widgets of one LF's row in the summary table (kept across refreshes)."""

    def __init__(self, studio: "Studio", name: str):
        self.name = name
        self.checkbox = W.Checkbox(value=True, indent=False, layout=W.Layout(width="24px"), tooltip=f"use {name}")
        self.cells = [W.HTML(layout=W.Layout(min_width="0")) for _ in TABLE_COLUMNS]
        self.remove = W.Button(description="✕", tooltip=f"remove {name}",
                               layout=W.Layout(width="30px", height="22px", padding="0"))
        self.checkbox.observe(lambda change: studio._on_checkbox(name, change["new"]), names="value")
        self.remove.on_click(lambda _: studio._guard(lambda: studio.remove(name)))

    @property
    def widgets(self) -> list[W.Widget]:
        return [self.checkbox, *self.cells, self.remove]


class Studio:
    """Live LF-writing dashboard over a :class:`~workbench.data.Dataset`.

    Parameters
    ----------
    dataset : Dataset
        Pool (``train_split``) and hand-labeled ``dev_split``.
    lfs : sequence of LFs, optional
        LFs to start with.
    label_model : str, default "dawid_skene"
        A name in :data:`workbench.generate.LABEL_MODELS`: show that label model beside the live
        majority vote (a ``live`` one, as the default, refitted on every edit; a slower one in
        the background once edits pause); ``"majority"`` shows majority vote only. "Compare
        label models" fits ``auto``'s candidates side by side on the dev set.
    background : bool
        False fits the label model inside each refresh (slower, simpler to script).
    page_size : int
        Rows per page in the example browser and the pair list.
    auto_refresh : bool
        In IPython, re-check the LFs after every cell and refresh if one changed (e.g. a keyword
        list it reads was edited in another cell).
    display : bool
        Show the dashboard at once when running in IPython.
    store : ProjectStore, path or None
        Keep the studio's LFs (form LFs as their spec, code LFs as source), their versions and
        on/off switches in this project store (:class:`workbench.review.ProjectStore`, or the
        path of one), saved after every change; a studio opened on the same store and
        ``session`` (after a kernel restart) starts with them. ``lfs`` given here are added after
        the restored ones (replacing those of the same name).
    session : str, optional
        The studio's name in the store; the dataset's name by default.
    export_dir : path, optional
        Where the Export button writes ``labeling_functions.py``; ``out_dir() / "studio"`` by default.
    cache, progress_bar
        Passed to :class:`~workbench.labeling.StudioState`.

    Attributes
    ----------
    state : StudioState
        The pure state (registry, snapshot, history).
    widget : ipywidgets.VBox
        The dashboard.

    Examples
    --------
    >>> studio = Studio(load_youtube_spam())  # doctest: +SKIP
    >>> @studio.lf(label=1)  # doctest: +SKIP
    ... def mentions_channel(x):
    ...     return "channel" in x.text.lower()
    >>> studio.add(keyword_lf("kw_free", ["free"], 1))  # doctest: +SKIP
    >>> studio.save_lfs(out_dir() / "labeling_functions.py")  # doctest: +SKIP
    """

    def __init__(self, dataset: Any, lfs: Sequence[Any] = (), *, train_split: str = "train", dev_split: str | None = "dev",
                 label_model: str = "dawid_skene", label_model_settings: dict | None = None, background: bool = True,
                 debounce: float = 0.5, page_size: int = 10, auto_refresh: bool = True, display: bool = True,
                 store: ProjectStore | str | Path | None = None, session: str | None = None, export_dir=None,
                 cache=None, progress_bar: bool | None = None):
        self.state = StudioState(dataset, train_split=train_split, dev_split=dev_split, label_model=label_model,
                                 label_model_settings=label_model_settings, background=background, debounce=debounce,
                                 cache=cache, progress_bar=progress_bar)
        self.class_names = self.state.class_names
        self._own_store = store is not None and not isinstance(store, ProjectStore)
        self.store = ProjectStore(store, class_names=self.class_names) if self._own_store else store
        self.session = session or self.state.dataset_name
        self.export_dir = Path(export_dir) if export_dir is not None else None
        self.restore_problems: list[str] = []
        self.preview: Preview | None = None  # the no-code form's current candidate, as last previewed
        self._cell_mark: dict[str, int] | None = None  # LF versions when the running cell started
        self._touched: list[str] = []  # LFs the running cell added, removed or switched
        self._lock = threading.RLock()
        self._quiet = False
        self._rows: dict[str, _TableRow] = {}
        self.sort_by: str | None = None  # None: the order LFs were added
        self.descending = False
        self.last_refresh_seconds = float("nan")
        self.page_size = page_size
        self._build()
        self.state.on_label_model(self._on_label_model)
        if self.store is not None:
            saved = self.store.load_studio(self.session)
            if saved is not None:
                self.restore_problems = self.state.restore_session(saved)
        for lf in lfs:
            self.state.add(lf)
        self.refresh()
        if self.restore_problems:
            self.message.value = ("<div class='wb-errors'><b>Not restored from the store</b><ul style='margin:2px 0'>"
                                  + "".join(f"<li>{_esc(p)}</li>" for p in self.restore_problems) + "</ul></div>")
        self._hook = None
        if auto_refresh:
            self._watch()
        if display:
            from IPython import get_ipython
            from IPython.display import display as show

            if get_ipython() is not None:
                show(self.widget)

    # -- public API -----------------------------------------------------------------------

    def add(self, *lfs: Any, enabled: bool | None = None) -> None:
        """Add LFs (an LF with an existing name replaces it) and refresh the dashboard."""
        if not lfs:
            raise TypeError("add() needs at least one LF")
        self._add(lfs, enabled=enabled, origin="code")

    def _add(self, lfs: Sequence[Any], enabled: bool | None, origin: str) -> None:
        for lf in lfs:
            self.state.add(lf, enabled=enabled, origin=origin)
            self._touch(lf_name(lf))
        self.refresh()

    def lf(self, label: Any = None, *, name: str | None = None, resources: dict | None = None) -> Callable:
        """Decorator registering a row-wise LF.

        With ``label=k`` the function returns True where the LF should vote ``k`` (False or
        None: abstain). Without ``label`` it returns the label itself or ``ABSTAIN``, as in
        Snorkel. Re-running the cell replaces the LF of the same name.
        """
        if callable(label) and name is None:  # used bare: @studio.lf
            return self.lf()(label)

        def register(func: Callable) -> Any:
            lf_label = name or func.__name__
            if label is None:
                from snorkel.labeling import labeling_function

                lf = labeling_function(name=lf_label, resources=resources)(func)
            else:
                lf = predicate_lf(lf_label, func, label)
            self.add(lf)
            return lf

        return register

    def remove(self, name: str) -> None:
        self.state.remove(name)
        self._touch(name)
        self.refresh()

    def enable(self, name: str) -> None:
        self.state.enable(name)
        self._touch(name)
        self.refresh()

    def disable(self, name: str) -> None:
        self.state.disable(name)
        self._touch(name)
        self.refresh()

    def refresh(self) -> Snapshot:
        """Re-apply changed LFs and update every panel in place; returns the snapshot."""
        with self._lock:
            t0 = time.perf_counter()
            snap = self.state.refresh()
            self._render(snap)
            self.last_refresh_seconds = time.perf_counter() - t0
            self._render_status(snap)
            self._render_preview()
            if self.store is not None:
                self.store.save_studio(self.session, self.state.to_session())
            return snap

    def save_lfs(self, path) -> Any:
        """Write the LFs as an importable module (see :meth:`StudioState.save_lfs`)."""
        return self.state.save_lfs(path)

    def export(self) -> Path:
        """What the Export button does: the LF module to ``export_dir / "labeling_functions.py"`` (verified,
        atomic), for the pipeline config's ``lfs:`` key or :func:`workbench.labeling.load_lf_module`."""
        folder = self.export_dir if self.export_dir is not None else out_dir() / "studio"
        path = self.save_lfs(folder / "labeling_functions.py")
        self.export_message.value = (f"<span class='wb-cell'>Exported {len(self.state.snapshot.names)} LFs to "
                                     f"<code>{_esc(path)}</code> (use it as <code>lfs:</code> in a pipeline config).</span>")
        return path

    @property
    def status_text(self) -> str:
        """The status line as plain text (``status`` is an HTML widget)."""
        return plain_text(self.status.value)

    @property
    def preview_text(self) -> str:
        """The no-code form's preview as plain text."""
        return plain_text(self.form_preview.value)

    def wait_label_model(self, timeout: float | None = 120) -> bool:
        """Block until the background label-model fit for the current LFs has landed."""
        return self.state.wait_label_model(timeout)

    @property
    def snapshot(self) -> Snapshot:
        return self.state.snapshot

    @property
    def summary(self) -> pd.DataFrame:
        return self.state.snapshot.summary

    @property
    def history(self) -> LFHistory:
        return self.state.history

    @property
    def lfs(self) -> list[Any]:
        return self.state.lfs

    def close(self) -> None:
        """Stop the background worker, the post-cell hook and the widgets."""
        if self._hook is not None:
            shell, callbacks = self._hook
            for event, callback in callbacks:
                shell.events.unregister(event, callback)
            self._hook = None
        self.state.close()
        self.widget.close()
        if self._own_store:
            self.store.close()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        self.status = W.HTML()
        self.errors = W.HTML()
        self.message = W.HTML()

        # No-code form
        self.form_kind = W.ToggleButtons(options=[("keywords", "keywords"), ("regex", "regex")], value="keywords",
                                         style={"button_width": "90px"})
        self.form_pattern = W.Text(placeholder="free, win, gift card", layout=W.Layout(width="260px"))
        self.form_label = W.Dropdown(options=[(n, i) for i, n in enumerate(self.class_names)], value=0,
                                     layout=W.Layout(width="110px"))
        self.form_name = W.Text(placeholder="name (optional)", layout=W.Layout(width="170px"))
        self.form_add = W.Button(description="Add LF", button_style="primary", icon="plus")
        self.form_copy = W.Button(description="Copy as code", tooltip="the Python that defines this LF, to paste in a cell")
        self.form_message = W.HTML()
        self.form_preview = W.HTML()
        self.form_code = W.Textarea(layout=W.Layout(width="100%", height="90px", display="none"))
        # Asked when the form's LF has the name of an existing LF: replace it, or add under a free name.
        self.form_ask = W.HTML()
        self.form_replace = W.Button(description="Replace it", button_style="warning")
        self.form_rename = W.Button(description="Add under a new name")
        self.form_cancel = W.Button(description="Cancel")
        self.form_question = W.HBox([self.form_ask, self.form_replace, self.form_rename, self.form_cancel],
                                    layout=W.Layout(flex_flow="row wrap", align_items="center", display="none"))
        self.form_kind.observe(self._on_form_kind, names="value")
        for w in (self.form_pattern, self.form_label, self.form_name, self.form_kind):
            w.observe(lambda _: self._guard(self._render_preview, self.form_preview), names="value")
        self.form_add.on_click(lambda _: self._guard(self._add_from_form, self.form_message))
        self.form_replace.on_click(lambda _: self._guard(lambda: self._add_from_form(collision="replace"), self.form_message))
        self.form_rename.on_click(lambda _: self._guard(lambda: self._add_from_form(collision="rename"), self.form_message))
        self.form_cancel.on_click(lambda _: self._ask(None))
        self.form_copy.on_click(lambda _: self._guard(self._copy_as_code, self.form_message))
        form = W.HBox([self.form_kind, self.form_pattern, W.HTML("<span class='wb-cell'>votes</span>"), self.form_label,
                       self.form_name, self.form_add, self.form_copy],
                      layout=W.Layout(flex_flow="row wrap", align_items="center"))
        self.export_button = W.Button(description="Export LFs", icon="download",
                                      tooltip="write the LF module (labeling_functions.py) for the pipeline")
        self.export_message = W.HTML()
        self.export_button.on_click(lambda _: self._guard(self.export, self.export_message))

        # Summary table
        self.table = W.GridBox(layout=W.Layout(grid_template_columns=f"28px repeat({len(TABLE_COLUMNS)}, auto) 36px",
                                                align_items="center", overflow="auto"))
        self.header_buttons = {}
        self._corners = (W.HTML(), W.HTML())
        for header, column, _ in TABLE_COLUMNS:
            button = W.Button(description=header, tooltip=f"sort by {header}", layout=W.Layout(width="auto", height="26px"))
            button.on_click(lambda _, c=column: self.sort_table(c))
            self.header_buttons[column] = button

        # Heatmaps and pair list
        empty = pd.DataFrame()
        self.overlap_fig = go.FigureWidget(lf_matrix_figure(empty, "Overlaps: both LFs vote", "Blues"))
        self.conflict_fig = go.FigureWidget(lf_matrix_figure(empty, "Conflicts: both vote, different labels", "Reds"))
        self.overlap_fig.layout.width = self.conflict_fig.layout.width = 560
        self.overlap_fig.data[0].on_click(lambda trace, points, state: self._on_matrix_click("overlap", points))
        self.conflict_fig.data[0].on_click(lambda trace, points, state: self._on_matrix_click("conflict", points))
        self.pair_a = W.Dropdown(description="LF", layout=W.Layout(width="230px"), style={"description_width": "24px"})
        self.pair_b = W.Dropdown(description="and", layout=W.Layout(width="230px"), style={"description_width": "30px"})
        self.pair_kind = W.ToggleButtons(options=[("overlap", "overlap"), ("conflict", "conflict")], value="conflict",
                                         style={"button_width": "80px"})
        for w in (self.pair_a, self.pair_b, self.pair_kind):
            w.observe(self._on_pair_change, names="value")
        self.pair_pager = _Pager(self._render_pair, self.page_size)
        self.pair_rows = W.HTML()

        # Label model panel
        self.lm_status = W.HTML()
        self.lm_metrics = W.HTML()
        self.confidence_fig = go.FigureWidget(confidence_figure())
        self.balance_fig = go.FigureWidget(balance_figure(self.class_names))
        self.confidence_fig.layout.width = self.balance_fig.layout.width = 560
        self.compare_button = W.Button(description="Compare label models", tooltip="fit auto's candidates side by side on dev")
        self.compare_button.on_click(lambda _: self.compare_label_models())
        self.compare_html = W.HTML()

        # Example browser
        self.browse_lf = W.Dropdown(description="LF", layout=W.Layout(width="260px"), style={"description_width": "24px"})
        self.browse_kind = W.ToggleButtons(options=BROWSE_KINDS, value="fires", style={"button_width": "100px"})
        self.browse_split = W.ToggleButtons(options=[("pool", "train"), ("dev", "dev")], value="train",
                                            style={"button_width": "60px"})
        for w in (self.browse_lf, self.browse_kind, self.browse_split):
            w.observe(self._on_browse_change, names="value")
        self.browse_pager = _Pager(self._render_browser, self.page_size)
        self.browse_rows = W.HTML()

        # History
        self.history_lf = W.Dropdown(description="LF", layout=W.Layout(width="260px"), style={"description_width": "24px"})
        self.history_lf.observe(lambda _: self._quiet or self._render_history(), names="value")
        self.history_html = W.HTML()

        def section(title: str) -> W.HTML:
            return W.HTML(f"<h4>{title}</h4>")

        self.widget = W.VBox([
            W.HTML(CSS + "<h3 style='margin:4px 0'>LF Studio</h3>"), self.status, self.errors, self.message,
            section("Add a keyword or regex LF (no code)"),
            W.VBox([form, self.form_question, self.form_message, self.form_preview, self.form_code]),
            section("Labeling functions (click a header to sort; untick to switch an LF off)"), self.table,
            section("Overlaps and conflicts on the pool (click a cell to list its rows)"),
            W.HBox([self.overlap_fig, self.conflict_fig], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.pair_a, self.pair_b, self.pair_kind, self.pair_pager.widget], layout=W.Layout(flex_flow="row wrap")),
            self.pair_rows,
            section("Label model"), self.lm_status, self.lm_metrics,
            W.HBox([self.confidence_fig, self.balance_fig], layout=W.Layout(flex_flow="row wrap")),
            self.compare_button, self.compare_html,
            section("Examples"),
            W.HBox([self.browse_lf, self.browse_kind, self.browse_split, self.browse_pager.widget],
                   layout=W.Layout(flex_flow="row wrap")),
            self.browse_rows,
            section("Version history"), self.history_lf, self.history_html,
            section("Export"), W.HBox([self.export_button, self.export_message], layout=W.Layout(align_items="center")),
        ])
        self.widget.add_class("wb-studio")
        self._on_form_kind({"new": "keywords"})

    # -- callbacks ------------------------------------------------------------------------

    def _guard(self, action: Callable[[], Any], target: W.HTML | None = None) -> None:
        """Run a widget callback; show its error in the dashboard instead of losing it in a log."""
        target = target if target is not None else self.message
        target.value = ""
        try:
            action()
        except Exception as exc:  # a dashboard callback must never die silently
            target.value = f"<div class='wb-errors'>{_esc(type(exc).__name__)}: {_esc(exc)}</div>"

    def _on_checkbox(self, name: str, value: bool) -> None:
        if not self._quiet:
            self._guard(lambda: self.enable(name) if value else self.disable(name))

    def _on_form_kind(self, change: dict) -> None:
        self.form_pattern.placeholder = "free, win, gift card" if change["new"] == "keywords" else r"check\s+(out|my)"

    def _form_lf(self, name: str | None = None) -> Any:
        return form_lf(self.form_kind.value, self.form_pattern.value, int(self.form_label.value),
                       self.form_name.value if name is None else name)

    def _ask(self, question: str | None) -> None:
        self.form_ask.value = "" if question is None else f"<span class='wb-cell'>{question}</span>"
        self.form_question.layout.display = "none" if question is None else "flex"

    def _add_from_form(self, collision: str | None = None) -> None:
        """Add the form's LF. A name taken by another LF asks first: ``collision`` "replace" or "rename" answers."""
        lf = self._form_lf()
        name = lf.name
        if name in self.state.names and collision is None:
            where = "written in code" if self.state.origin(name) == "code" else "made with this form"
            self._ask(f"An LF named <b>{_esc(name)}</b> already exists ({where}). Replace it, or add this one as "
                      f"<b>{_esc(self.state.free_name(name))}</b>?")
            return
        self._ask(None)
        if collision == "rename":
            name = self.state.free_name(name)
            lf = self._form_lf(name)
        replaced = name in self.state.names
        self._add([lf], enabled=None, origin="form")
        self._quiet_form(lambda: setattr(self.form_pattern, "value", "") or setattr(self.form_name, "value", ""))
        self.form_message.value = f"<span class='wb-cell'>{'Replaced' if replaced else 'Added'} <b>{_esc(name)}</b>.</span>"

    def _quiet_form(self, action: Callable[[], Any]) -> None:
        """Change form fields without previewing each intermediate state."""
        self._quiet = True
        try:
            action()
        finally:
            self._quiet = False
        self._render_preview()

    def _copy_as_code(self) -> None:
        """Show the Python for the form's LF (the one LF module writer's), ready to copy into a cell."""
        self.form_code.value = lf_to_code(self._form_lf())
        self.form_code.layout.display = "block"

    def _render_preview(self) -> None:
        """Preview the form's candidate LF on the pool and dev set (nothing is added)."""
        if self._quiet:
            return
        self.form_code.layout.display = "none"
        if not self.form_pattern.value.strip():
            self.preview = None
            self.form_preview.value = ("<span class='wb-cell wb-off'>Type keywords or a regex to see what it would "
                                       "label before adding it.</span>")
            return
        try:
            lf = self._form_lf()
        except ValueError as exc:
            self.preview = None
            self.form_preview.value = f"<div class='wb-cell wb-err'>{_esc(exc)}</div>"
            return
        self.preview = preview = self.state.preview(lf)
        self.form_preview.value = self._preview_html(preview)

    def _preview_html(self, p: Preview) -> str:
        if p.error is not None:
            return f"<div class='wb-cell wb-err'>Preview of <b>{_esc(p.name)}</b>: {_esc(p.error)}</div>"
        lines = [f"<b>Preview of {_esc(p.name)}</b> (not added yet): fires on <b>{p.pool_hits:,}</b> of {p.n_pool:,} "
                 f"pool rows ({_pct(p.coverage)})"]
        if p.dev_votes is None:
            lines.append("no dev labels")
        elif not p.dev_votes:
            lines.append("no dev votes, so no precision yet")
        else:
            low, high = p.dev_interval
            lines.append(f"dev precision <b>{_pct(p.dev_precision)}</b> ({p.dev_correct}/{p.dev_votes} right, "
                         f"95% interval {_pct(low)}–{_pct(high)})")
        if p.pool_hits:
            top = ", ".join(f"{_esc(r.LF)} {r.overlap:,}" + (f" ({r.conflict:,} conflict)" if r.conflict else "")
                            for r in p.by_lf.head(3).itertuples())
            lines.append(f"{p.new_rows:,} rows no LF covers yet; overlaps active LFs on {p.overlap_rows:,} rows "
                         f"({p.conflict_rows:,} conflicting)" + (f": {top}" if top else ""))
        examples = "".join(f"<li>{text_html(t, 160)}</li>" for t in p.examples.get(self.state.text_column, []))
        return (f"<div class='wb-cell' style='white-space:normal'>{' · '.join(lines)}</div>"
                + (f"<ul class='wb-cell' style='margin:2px 0;white-space:normal'>{examples}</ul>" if examples else ""))

    def sort_table(self, column: str) -> None:
        """Sort the summary table by ``column`` (a summary column or "LF"); again reverses it."""
        if column == self.sort_by:
            self.descending = not self.descending
        else:
            self.sort_by, self.descending = column, column not in ("LF", "Kind", "Polarity")
        self._render_table(self.state.snapshot)

    def _on_matrix_click(self, kind: str, points) -> None:
        if not points.xs:
            return
        self.show_pair(str(points.ys[0]), str(points.xs[0]), kind)

    def show_pair(self, a: str, b: str, kind: str = "conflict") -> None:
        """List the pool rows where LFs ``a`` and ``b`` overlap or conflict (what a heatmap click does)."""
        self._quiet = True
        try:
            self.pair_a.value, self.pair_b.value, self.pair_kind.value = a, b, kind
        finally:
            self._quiet = False
        self.pair_pager.page = 0
        self._render_pair()

    def _on_pair_change(self, _change) -> None:
        if not self._quiet:
            self.pair_pager.page = 0
            self._render_pair()

    def _on_browse_change(self, change) -> None:
        if not self._quiet:
            if change["owner"] is self.browse_kind and change["new"] == "wrong":
                self._quiet = True  # "wrong" is a dev-set question: show the dev split
                try:
                    self.browse_split.value = "dev"
                finally:
                    self._quiet = False
            self.browse_pager.page = 0
            self._render_browser()

    def _on_label_model(self, snap: Snapshot) -> None:
        with self._lock:
            if snap is self.state.snapshot:
                self._render_label_model(snap)
                self._render_table(snap)
                self._render_browser()
                self._render_pair()

    def _watch(self) -> None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            return

        def before_cell(_info=None) -> None:
            self._mark_cell()

        def after_cell(_result=None) -> None:
            if self.state.needs_refresh():
                self._guard(self.refresh)
            self._print_cell_results()

        shell.events.register("pre_run_cell", before_cell)
        shell.events.register("post_run_cell", after_cell)
        self._hook = (shell, [("pre_run_cell", before_cell), ("post_run_cell", after_cell)])

    def _touch(self, name: str) -> None:
        if self._cell_mark is not None:  # only a running cell reports what it changed
            self._touched.append(name)

    def _mark_cell(self) -> None:
        """Remember each LF's version as a cell starts (what its result lines compare with)."""
        self._cell_mark = {}
        for name in self.state.names:
            latest = self.state.history.latest(name)
            if latest is not None:
                self._cell_mark[name] = latest.version
        self._touched = []

    def cell_results(self) -> list[str]:
        """One line per LF the running cell added, edited, switched or removed (see
        :meth:`StudioState.result_line`); printed under the cell when it ends."""
        mark = self._cell_mark
        if mark is None:
            return []
        changed = [n for n in self.state.names
                   if self.state.history.latest(n) is not None and self.state.history.latest(n).version != mark.get(n)]
        return [self.state.result_line(n, since=mark.get(n)) for n in dict.fromkeys(self._touched + changed)]

    def _print_cell_results(self) -> None:
        for line in self.cell_results():
            print(line)  # post_run_cell runs inside the cell's execution: this lands in its output
        self._cell_mark, self._touched = None, []

    # -- rendering ------------------------------------------------------------------------

    def _render(self, snap: Snapshot) -> None:
        self._render_errors(snap)
        self._render_table(snap)
        self._render_options(snap)
        update_lf_matrix(self.overlap_fig, snap.overlap)
        update_lf_matrix(self.conflict_fig, snap.conflict)
        self._render_label_model(snap)
        self._render_pair()
        self._render_browser()
        self._render_history()

    def _render_status(self, snap: Snapshot) -> None:
        summary = snap.summary
        counts = summary["Status"].value_counts()
        applied = f" · re-applied: {', '.join(snap.applied)}" if snap.applied else ""
        self.status.value = (
            f"<span class='wb-cell'><b>{len(summary)}</b> LFs ({counts.get('on', 0)} on, {counts.get('off', 0)} off, "
            f"{counts.get('error', 0)} failing) · pool {len(snap.L_train):,} rows, coverage <b>{_pct(snap.total_coverage)}</b>, "
            f"conflict rate {_pct(snap.conflict_rate)} · refreshed in {self.last_refresh_seconds * 1000:.0f} ms{_esc(applied)}</span>")

    def _render_errors(self, snap: Snapshot) -> None:
        if not snap.errors:
            self.errors.value = ""
            return
        items = "".join(f"<li>{_esc(err.message())}</li>" for err in snap.errors)
        self.errors.value = f"<div class='wb-errors'><b>LF errors</b><ul style='margin:2px 0'>{items}</ul></div>"

    def _sorted_names(self, summary: pd.DataFrame) -> list[str]:
        if self.sort_by is None:
            return list(summary.index)
        if self.sort_by == "LF":
            keys = pd.Series(summary.index, index=summary.index)
        elif self.sort_by == "Polarity":
            keys = summary["Polarity"].map(lambda p: str(p) if isinstance(p, list) else "")
        else:
            keys = summary[self.sort_by]
        return list(keys.sort_values(ascending=not self.descending, na_position="last", kind="stable").index)

    def _render_table(self, snap: Snapshot) -> None:
        summary = snap.summary
        for name in list(self._rows):
            if name not in summary.index:
                for w in self._rows.pop(name).widgets:
                    w.close()
        children: list[W.Widget] = [self._corners[0]]
        for header, column, _ in TABLE_COLUMNS:
            button = self.header_buttons[column]
            arrow = (" ▼" if self.descending else " ▲") if column == self.sort_by else ""
            button.description = header + arrow
            children.append(button)
        children.append(self._corners[1])
        self._quiet = True
        try:
            for name in self._sorted_names(summary):
                row = self._rows.get(name) or self._rows.setdefault(name, _TableRow(self, name))
                stats = summary.loc[name]
                row.checkbox.value = self.state.enabled(name)
                css = {"error": "wb-err", "off": "wb-off"}.get(stats["Status"], "")
                for cell, (_, column, fmt) in zip(row.cells, TABLE_COLUMNS):
                    cell.value = f"<div class='wb-cell {css}'>{self._cell(name, stats, column, fmt)}</div>"
                children.extend(row.widgets)
        finally:
            self._quiet = False
        if list(self.table.children) != children:
            self.table.children = children

    def _cell(self, name: str, stats: pd.Series, column: str, fmt: str | None) -> str:
        if column == "LF":
            flag = {"error": " ⚠ failing", "off": " (off)"}.get(stats["Status"], "")
            return f"<b>{_esc(name)}</b>{flag}"
        if column == "Polarity":
            polarity = stats["Polarity"]
            return _esc(", ".join(self.class_names[p] for p in polarity)) if isinstance(polarity, list) else "–"
        if column == "Version":
            return f"v{int(stats['Version'])}"
        if fmt == "acc":
            if pd.isna(stats["Dev Acc."]):
                return "–"
            correct = int(stats["Dev Correct"])
            return f"{_pct(stats['Dev Acc.'])} ({correct}/{correct + int(stats['Dev Incorrect'])})"
        if fmt == "ci":
            return "–" if pd.isna(stats["Dev Acc. Low"]) else f"{_pct(stats['Dev Acc. Low'])}–{_pct(stats['Dev Acc. High'])}"
        if fmt == "pct":
            return _pct(stats[column])
        return _esc(stats[column])

    def _render_options(self, snap: Snapshot) -> None:
        names = snap.names
        self._quiet = True
        try:
            for dropdown in (self.pair_a, self.pair_b, self.browse_lf):
                current = dropdown.value
                if list(dropdown.options) != names:
                    dropdown.options = names
                dropdown.value = current if current in names else (names[0] if names else None)
            if self.pair_b.value == self.pair_a.value and len(names) > 1:
                self.pair_b.value = names[1]
            history_names = self.state.history.names
            current = self.history_lf.value
            if list(self.history_lf.options) != history_names:
                self.history_lf.options = history_names
            last = snap.applied[-1] if snap.applied else current
            self.history_lf.value = last if last in history_names else (history_names[0] if history_names else None)
        finally:
            self._quiet = False

    def _render_label_model(self, snap: Snapshot) -> None:
        with self._lock:
            mv, lm = snap.majority, snap.label_model
            current = snap.label_model_current
            title = self._label_model_title()
            if not self.state.fits_label_model:
                lm_name = "label model: off"
            else:
                lm_name = title + ("" if current else " (stale)" if lm is not None else " (fitting)")
            title = _esc(title)
            status = snap.label_model_status
            if mv is None:
                self.lm_status.value = "<span class='wb-cell'>Add labeling functions to see the label model.</span>"
            elif not self.state.fits_label_model:
                self.lm_status.value = "<span class='wb-cell'>Showing <b>majority vote</b> (live).</span>"
            elif current:
                self.lm_status.value = (f"<span class='wb-cell'>Showing the <b>{title}</b>: <b>up to date</b> with these LFs "
                                        f"(fitted on {lm.settings.get('n_rows', 0):,} pool rows in {lm.fit_seconds:.1f} s). "
                                        "Majority vote is drawn beside it.</span>")
            elif status == "refitting":
                self.lm_status.value = (f"<span class='wb-cell'>Showing <b>majority vote</b> (live). The {title} is "
                                        "<b>refitting</b> for the current LFs in the background"
                                        + (" (faded bars: its previous fit, for other LFs)" if lm is not None else "") + ".</span>")
            else:
                self.lm_status.value = (f"<span class='wb-cell'>Showing <b>majority vote</b> (live). The {title}: "
                                        f"{_esc(status)}.</span>")
            self.lm_metrics.value = self._metrics_table(snap)
            dev_balance = None
            if snap.Y_dev is not None and len(snap.Y_dev):
                dev_balance = np.bincount(snap.Y_dev, minlength=len(self.class_names)) / len(snap.Y_dev)
            update_confidence(self.confidence_fig, None if mv is None else (mv.hist_counts, mv.hist_edges),
                              None if lm is None else (lm.hist_counts, lm.hist_edges), lm_name, current)
            update_balance(self.balance_fig, dev_balance, None if mv is None else mv.balance,
                           None if lm is None else lm.balance, lm_name, current)

    def _metrics_table(self, snap: Snapshot) -> str:
        rows = []
        models = [("Majority vote", snap.majority, "live")]
        if self.state.fits_label_model:
            lm_state = "up to date" if snap.label_model_current else snap.label_model_status
            models.append((_esc(self._label_model_title()), snap.label_model if snap.label_model_current else None, lm_state))
        for title, out, state in models:
            scores = out.dev_scores if out is not None and out.dev_scores else {}
            rows.append(f"<tr><td><b>{title}</b></td><td>{_pct(scores.get('accuracy'))}</td>"
                        f"<td>{_pct(scores.get('f1_macro'))}</td><td>{_pct(scores.get('coverage'))}</td><td>{_esc(state)}</td></tr>")
        return ("<table class='wb-rows' style='width:auto'><tr><th></th><th>dev accuracy</th><th>dev macro-F1</th>"
                "<th>dev coverage</th><th>status</th></tr>" + "".join(rows) + "</table>"
                f"<div class='wb-cell'>Dev scores on the dev rows at least one LF covers (ties broken at random, the same for both). "
                f"Pool: total coverage <b>{_pct(snap.total_coverage)}</b>, conflict rate {_pct(snap.conflict_rate)}.</div>")

    def _rows_html(self, rows: pd.DataFrame, model_name: str) -> str:
        if rows.empty:
            return "<div class='wb-cell'>No rows.</div>"
        vote_cols = [c for c in rows.columns if c.startswith(VOTE_PREFIX)]
        prob_cols = [c for c in rows.columns if c.startswith(PROBA_PREFIX)]
        has_gold = "gold" in rows.columns
        head = ("<tr><th>id</th><th>text</th><th>LF votes</th>" + ("<th>gold</th>" if has_gold else "")
                + (f"<th>P ({_esc(model_name)})</th>" if prob_cols else "") + "</tr>")
        body = []
        for _, r in rows.iterrows():
            votes = " ".join(
                f"<span class='wb-vote' style='background:{VOTE_COLORS[int(r[c]) % len(VOTE_COLORS)]}'>"
                f"{_esc(c[len(VOTE_PREFIX):])}→{_esc(self.class_names[int(r[c])])}</span>"
                for c in vote_cols if int(r[c]) != ABSTAIN) or "<i>none</i>"
            gold = f"<td>{_esc(self.class_names[int(r['gold'])])}</td>" if has_gold else ""
            probs = ("<td class='wb-nowrap'>" + "<br>".join(f"{_esc(c[len(PROBA_PREFIX):])} {float(r[c]):.2f}" for c in prob_cols)
                     + "</td>") if prob_cols else ""
            body.append(f"<tr><td class='wb-nowrap'>{_esc(r.get('example_id', ''))}</td><td>{text_html(r.get('text', ''), TEXT_WIDTH)}</td>"
                        f"<td>{votes}</td>{gold}{probs}</tr>")
        return f"<table class='wb-rows'>{head}{''.join(body)}</table>"

    def compare_label_models(self):
        """Fit ``auto``'s candidates on the current LFs and show them side by side (dev accuracy,
        fit time, status) with auto's choice and reason; returns the fitted ``AutoLabelModel``."""
        self.compare_html.value = "<span class='wb-cell'>Fitting the candidates…</span>"
        try:
            auto = self.state.compare_label_models()
        except ValueError as exc:
            self.compare_html.value = f"<span class='wb-cell'>{_esc(str(exc))}</span>"
            return None
        rows = "".join(f"<tr><td><b>{_esc(name)}</b></td><td>{_pct(r['accuracy'])}</td><td>{r['fit_seconds']:.2f} s</td>"
                       f"<td>{_esc(r['status'])}</td></tr>" for name, r in auto.comparison_.iterrows())
        self.compare_html.value = ("<table class='wb-rows' style='width:auto'><tr><th>candidate</th><th>dev accuracy</th>"
                                   "<th>fit</th><th>status</th></tr>" + rows + "</table>"
                                   f"<div class='wb-cell'>{_esc(auto.reason_)}.</div>")
        return auto

    def _label_model_title(self) -> str:
        """The chosen label model as the dashboard names it: its name in ``LABEL_MODELS``."""
        return f"{self.state.label_model} label model"

    def _model_name(self, snap: Snapshot) -> str:
        return self._label_model_title() if snap.label_model_current else "majority vote"

    def _render_pair(self) -> None:
        snap = self.state.snapshot
        a, b = self.pair_a.value, self.pair_b.value
        if a is None or b is None:
            self.pair_rows.value = "<div class='wb-cell'>Choose two LFs, or click a heatmap cell.</div>"
            self.pair_pager.set_total(0)
            return
        kind = self.pair_kind.value
        total, rows = _fetch_page(self.pair_pager, lambda page: self.state.browse(
            kind, lf=a, other=b, split="train", page=page, page_size=self.pair_pager.page_size))
        what = "both vote" if kind == "overlap" else "both vote and disagree"
        self.pair_rows.value = (f"<div class='wb-cell'><b>{total:,}</b> pool rows where <b>{_esc(a)}</b> and <b>{_esc(b)}</b> "
                                f"{what}.</div>" + self._rows_html(rows, self._model_name(snap)))

    def _render_browser(self) -> None:
        snap = self.state.snapshot
        kind, split, lf = self.browse_kind.value, self.browse_split.value, self.browse_lf.value
        if kind == "wrong":
            split = "dev"
        if lf is None and kind in ("fires", "wrong"):
            self.browse_rows.value = "<div class='wb-cell'>No LF is switched on.</div>"
            self.browse_pager.set_total(0)
            return
        try:
            total, rows = _fetch_page(self.browse_pager, lambda page: self.state.browse(
                kind, lf=lf if kind != "abstain" else None, split=split, page=page, page_size=self.browse_pager.page_size))
        except (KeyError, ValueError) as exc:
            self.browse_rows.value = f"<div class='wb-cell'>{_esc(exc)}</div>"
            self.browse_pager.set_total(0)
            return
        where = {"train": "pool", "dev": "dev"}[split]
        what = {"fires": f"where {_esc(lf)} votes", "wrong": f"where {_esc(lf)} disagrees with the gold label",
                "conflict": f"where {_esc(lf)} conflicts with another LF", "abstain": "where no LF votes"}[kind]
        self.browse_rows.value = (f"<div class='wb-cell'><b>{total:,}</b> {where} rows {what}.</div>"
                                  + self._rows_html(rows, self._model_name(snap)))

    def _render_history(self) -> None:
        name = self.history_lf.value
        if name is None:
            self.history_html.value = ""
            return
        versions = self.state.history.versions(name)
        rows, previous = [], None
        for v in versions:
            s = v.stats or {}
            acc = s.get("dev_accuracy")
            delta = "–" if acc is None or previous is None else f"{acc - previous:+.1%}"
            previous = acc if acc is not None else previous
            error = f"<span class='wb-err'>{_esc(s['error'])}</span>" if "error" in s else ""
            rows.append(
                f"<tr><td>v{v.version}</td><td>{_esc(v.created_at)}</td><td>{_esc(v.kind)}</td><td>{_pct(s.get('coverage'))}</td>"
                f"<td>{_pct(s.get('dev_coverage'))}</td><td>{_pct(acc)}</td><td>{delta}</td>"
                f"<td>{_pct(s.get('set_majority_dev_accuracy'))}</td>"
                f"<td>{error}<details><summary>source</summary><pre style='font-size:11px'>{_esc(v.source)}</pre></details></td></tr>")
        self.history_html.value = (
            "<table class='wb-rows'><tr><th>version</th><th>saved (UTC)</th><th>kind</th><th>pool coverage</th><th>dev coverage</th>"
            "<th>dev accuracy</th><th>Δ dev acc.</th><th>majority vote dev acc. (all LFs)</th><th></th></tr>"
            + "".join(reversed(rows)) + "</table>")
