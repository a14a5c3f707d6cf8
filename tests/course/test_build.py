"""`make course`: executed notebooks as static HTML whose figures draw without a kernel or a network."""

import re

import nbformat
import pytest

from tests._browser import chromium_page, requires_chromium
from tests._helpers import REPO
from workbench.course import build_course, course_notebooks


def widget_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A widget page"),
        nbformat.v4.new_code_cell("import plotly.graph_objects as go, ipywidgets as w\n"
                                  "fig = go.Figure(go.Bar(x=['a', 'b'], y=[3, 5], name='bars in a widget'))\n"
                                  "w.VBox([w.HTML('<b>dashboard status</b>'), go.FigureWidget(fig),"
                                  " w.IntSlider(4, description='threshold'), w.Button(description='Add'),"
                                  " w.Dropdown(options=['ham', 'spam'], value='spam', description='votes'),"
                                  " w.GridBox([w.Checkbox(True), w.HTML('kw_song')],"
                                  " layout=w.Layout(grid_template_columns='30px 1fr'))])"),
        nbformat.v4.new_code_cell("fig.show()"),
        nbformat.v4.new_code_cell("import numpy as np\n"
                                  "heat = go.FigureWidget(go.Heatmap(z=np.zeros((2, 2))))\nheat"),
        nbformat.v4.new_code_cell("heat.data[0].z = np.array([[1.5, 2.5], [3.5, 4.5]])  # updated in place, as the studio does\n"
                                  "heat.layout.title = 'updated after display'"),
    ]
    nbformat.write(nb, path)
    return path


def test_the_series_is_built_in_reading_order_primer_first_without_solutions(monkeypatch):
    monkeypatch.chdir(REPO)  # the default folder is notebooks/ of the current folder
    names = [p.name for p in course_notebooks()]
    assert names[:2] == ["00_primer.ipynb", "00_quickstart.ipynb"]
    assert names == sorted(names) and not any("solutions" in n for n in names)


def test_outside_a_checkout_the_missing_notebooks_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no notebooks in .*run from the workbench checkout's root"):
        course_notebooks()


@pytest.mark.slow
def test_primer_builds_with_its_figure_embedded_and_plotly_inlined_once(tmp_path):
    built = build_course(tmp_path, [REPO / "notebooks" / "00_primer.ipynb"], verbose=False)
    assert [p.name for p in built] == ["00_primer.html"]
    html = built[0].read_text()
    assert html.count("Plotly.newPlot") >= 1 and "LF accuracy: the truth and what agreement reveals" in html
    assert len(re.findall(r"\* plotly\.js v\d", html)) == 1  # the library, inline, once
    assert not re.search(r'<script[^>]+src="[^"]*(plotly|require)', html)  # no CDN for what draws the figures
    assert "application/vnd.jupyter.widget-state+json" not in html
    assert "00_primer.html" in (tmp_path / "index.html").read_text()


@pytest.mark.slow
def test_widgets_become_snapshots_with_their_figures_static(tmp_path):
    built = build_course(tmp_path / "html", [widget_notebook(tmp_path / "page.ipynb")], verbose=False)
    html = built[0].read_text()
    assert "Snapshot of an interactive widget" in html and "<b>dashboard status</b>" in html
    assert html.count("Plotly.newPlot") == 3 and "bars in a widget" in html  # two FigureWidgets and fig.show()
    assert '"title":{"text":"updated after display"}' in html  # the widget as it was at the end, not as first shown
    assert re.search(r"<button disabled[^>]*>Add</button>", html) and "threshold <code>4</code>" in html
    assert "votes <code>spam</code>" in html  # a dropdown shows its choice
    grid = re.search(r"display:grid;grid-template-columns:30px 1fr[^>]*><span><input ([^>]*)>", html)
    assert grid and "checked" in grid.group(1) and "disabled" in grid.group(1)  # a ticked checkbox, in its grid
    assert "widget-view+json" not in html and "Error displaying widget" not in html


@requires_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_built_figures_draw_offline_in_a_browser(tmp_path):
    built = build_course(tmp_path / "html", [widget_notebook(tmp_path / "page.ipynb")], verbose=False)
    with chromium_page() as page:
        page.route("http*://**", lambda route: route.abort())  # no network: everything must be in the file
        page.goto(built[0].as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=30_000)
        assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 3
