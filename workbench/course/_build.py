"""``make course``: an executed, readable HTML copy of the notebook series, for handouts and reading
without a kernel.

Each notebook is executed headless (in a scratch output folder, so a learner's own saved LFs do not
leak into the handout), then made static: plotly figures become HTML with plotly.js inlined once
per page (no CDN: the machine may be offline), and widgets become snapshots of their last state
(HTML as shown, figure widgets as static figures, controls as disabled look-alikes) under a note
saying they are interactive in JupyterLab. Without that, a reader sees "Error displaying widget:
model not found".
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import nbformat
import plotly.io as pio
from nbclient import NotebookClient
from nbconvert import HTMLExporter

from workbench._internal.atomic import atomic_write
from workbench._internal.paths import out_dir

NOTEBOOKS_DIR = Path("notebooks")  # of the current folder: the checkout's root, where `make course` runs
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
BOXES = {"VBoxModel": "column", "BoxModel": "column", "GridBoxModel": "column", "AccordionModel": "column",
         "TabModel": "column", "StackModel": "column", "HBoxModel": "row"}
SNAPSHOT_NOTE = ("Snapshot of an interactive widget as it was when the notebook finished; "
                 "open the notebook in JupyterLab to use it.")


# Run after the notebook: a figure widget updated in place (as the studio's are) keeps its first
# data in the saved widget state, so its snapshot would show that; re-sending the current figure
# records what the reader would have seen. The cell is removed again before export.
SYNC_FIGURE_WIDGETS = """
import gc as _gc, json as _json
import plotly.io as _pio
from plotly.basewidget import BaseFigureWidget as _FigureWidget
for _w in [_o for _o in _gc.get_objects() if isinstance(_o, _FigureWidget)]:
    _fig = _json.loads(_pio.to_json(_w, validate=False))
    _w._widget_data, _w._widget_layout = _fig.get("data", []), _fig.get("layout", {})
"""


def course_notebooks(folder: str | os.PathLike = NOTEBOOKS_DIR) -> list[Path]:
    """The series in reading order (the primer sorts first); solutions are not part of the handout."""
    found = sorted(Path(folder).glob("*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no notebooks in {Path(folder).resolve()}: run from the workbench checkout's root "
                                "(the notebooks are not part of the installed package), or name the notebooks to build")
    return found


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables for the kernels started inside (they inherit the process's)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Page:
    """Static HTML for one notebook's rich outputs; plotly.js is inlined with the first figure only."""

    def __init__(self, widget_state: dict):
        self.state = widget_state
        self.has_plotly = False

    def figure(self, fig: dict) -> str:
        out = pio.to_html(fig, include_plotlyjs=not self.has_plotly, full_html=False, validate=False,
                          config={"displaylogo": False})
        self.has_plotly = True
        return out

    def widget(self, model_id: str) -> str:
        model = self.state.get(model_id)
        if model is None:
            return '<div class="wb-widget-missing"><em>[an interactive widget; its state was not saved]</em></div>'
        name, s = model["model_name"], model["state"]
        if name in BOXES:
            children = "".join(self.widget(ref.removeprefix("IPY_MODEL_")) for ref in s.get("children", []))
            columns = self._layout(s).get("grid_template_columns")
            if name == "GridBoxModel" and columns:
                return f'<div style="display:grid;grid-template-columns:{html.escape(columns)};gap:2px 8px">{children}</div>'
            return f'<div style="display:flex;flex-direction:{BOXES[name]};gap:6px;flex-wrap:wrap">{children}</div>'
        if "_widget_data" in s:  # plotly FigureWidget
            return self.figure({"data": s.get("_widget_data") or [], "layout": s.get("_widget_layout") or {}})
        if name in ("HTMLModel", "HTMLMathModel"):
            return f"<div>{s.get('value', '')}</div>"
        if name == "LabelModel":
            return f"<span>{html.escape(str(s.get('value', '')))}</span>"
        if name == "OutputModel":
            return "".join(self.output(o) for o in s.get("outputs", []))
        if name in ("FloatProgressModel", "IntProgressModel"):
            return (f"<span>{html.escape(str(s.get('description', '')))} "
                    f"<progress value=\"{s.get('value', 0)}\" max=\"{s.get('max', 100)}\"></progress></span>")
        if name in ("ButtonModel", "ToggleButtonModel"):
            return f"<button disabled>{html.escape(str(s.get('description', '')))}</button>"
        if name == "CheckboxModel":
            return f"<span><input type=\"checkbox\" disabled{' checked' if s.get('value') else ''}> " \
                   f"{html.escape(str(s.get('description', '')))}</span>"
        if name in ("TextModel", "TextareaModel"):
            return (f"<span>{html.escape(str(s.get('description', '')))} <input disabled "
                    f"value=\"{html.escape(str(s.get('value', '')))}\" placeholder=\"{html.escape(str(s.get('placeholder', '')))}\"></span>")
        if "_options_labels" in s:  # dropdowns, toggle buttons, radio buttons: the chosen option
            labels, index = s["_options_labels"], s.get("index")
            chosen = labels[index] if isinstance(index, int) and 0 <= index < len(labels) else ""
            return f'<span class="wb-control">{html.escape(str(s.get("description", "")))} <code>{html.escape(chosen)}</code></span>'
        label = html.escape(str(s.get("description", "")))
        if "value" in s:
            return f'<span class="wb-control">{label} <code>{html.escape(json.dumps(s["value"]))}</code></span>'
        return f"<em>[{html.escape(name.removesuffix('Model'))}: interactive in JupyterLab]</em>"

    def _layout(self, state: dict) -> dict:
        ref = state.get("layout")
        model = self.state.get(ref.removeprefix("IPY_MODEL_")) if isinstance(ref, str) else None
        return model["state"] if model else {}

    def output(self, output: dict) -> str:
        data = output.get("data", {})
        if WIDGET_VIEW_MIME in data:
            return self.widget(data[WIDGET_VIEW_MIME]["model_id"])
        if PLOTLY_MIME in data:
            return self.figure(data[PLOTLY_MIME])
        if "text/html" in data:
            return "".join(data["text/html"])
        if output.get("output_type") == "stream":
            return f"<pre>{html.escape(''.join(output.get('text', '')))}</pre>"
        return f"<pre>{html.escape(''.join(data.get('text/plain', '')))}</pre>"


def make_static(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Replace plotly and widget outputs by static HTML, in place; drop the widget state."""
    widgets = nb.metadata.pop("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state", {})
    page = _Page(widgets)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW_MIME in data:
                body = page.widget(data[WIDGET_VIEW_MIME]["model_id"])
                output["data"] = {"text/html": f'<div class="wb-snapshot" title="{SNAPSHOT_NOTE}">'
                                               f'<p style="color:#6b7280;font-size:90%">{SNAPSHOT_NOTE}</p>{body}</div>'}
            elif PLOTLY_MIME in data:
                output["data"] = {"text/html": page.figure(data[PLOTLY_MIME])}
    return nb


def build_notebook(path: str | os.PathLike, out: str | os.PathLike, *, timeout: int = 900,
                   kernel_name: str = "python3") -> Path:
    """Execute one notebook and write its static HTML as ``out/<name>.html``; a failing cell raises."""
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(SYNC_FIGURE_WIDGETS))
    with tempfile.TemporaryDirectory(prefix="course-") as scratch, _environment(WORKBENCH_OUT=scratch):
        NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    nb.cells.pop()
    make_static(nb)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    # With require.js on the page, the inlined plotly.js registers as an AMD module instead of
    # window.Plotly and no figure draws; nothing static here needs require.js.
    body = re.sub(r'<script[^>]*src="[^"]*require[^"]*"[^>]*>\s*</script>', "", body)
    target = Path(out) / f"{path.stem}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, body)
    return target


def _title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            return cell.source.lstrip().splitlines()[0].lstrip("# ").strip()
    return path.stem


def build_course(out: str | os.PathLike | None = None, notebooks: Sequence[str | os.PathLike] | None = None, *,
                 timeout: int = 900, verbose: bool = True) -> list[Path]:
    """Build every notebook (default: the whole series) into ``out`` (default ``out/course/``) plus an ``index.html``."""
    out = Path(out) if out is not None else out_dir("course")
    paths = [Path(p) for p in notebooks] if notebooks is not None else course_notebooks()
    built = []
    for path in paths:
        if verbose:
            print(f"building {path.name}", flush=True)
        built.append(build_notebook(path, out, timeout=timeout))
    items = "".join(f'<li><a href="{html.escape(p.name)}">{html.escape(_title(src))}</a> '
                    f"<small>({html.escape(src.name)})</small></li>" for p, src in zip(built, paths))
    atomic_write(out / "index.html", "<!doctype html><meta charset='utf-8'><title>Synthetic Labels Workbench: the course"
                 f"</title><h1>Synthetic Labels Workbench: the course</h1><ol>{items}</ol>")
    return built
