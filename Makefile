# Synthetic Labels Workbench: `make demo` runs the main job, `make test` the tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo lab test test-fast bench explorer studio course clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: a bare `torch` requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

install: $(STAMP)

## Run the quickstart pipeline headless on the bundled data; writes out/.
demo: $(STAMP)
	$(BIN)/python -m workbench run configs/youtube_spam.yaml

## Open JupyterLab on the notebooks.
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

## Run the whole test suite (notebooks and browser tests included).
test: $(STAMP)
	$(BIN)/python -m pytest

## Tests without notebooks, browsers, subprocesses or end-to-end runs (the doctests are included).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	$(BIN)/python -m bench

## Serve the threshold explorer as a web app on http://127.0.0.1:8866 (Voila, loopback only). Its settings are in
## apps/voila/explorer/voila.json: the workbench template (apps/voila/templates: Voila's lab template without its CDN
## stylesheets), two kernels that have already run the notebook waiting for the next pages, and only the JupyterLab
## extensions the app uses (plotly's own would send the page another 4.8 MB of plotly.js).
explorer: $(STAMP)
	JUPYTER_PATH=$(CURDIR)/apps $(BIN)/voila apps/explorer.ipynb --Voila.config_file_paths=apps/voila/explorer --no-browser --Voila.ip=127.0.0.1 --port=8866

## Serve the LF Studio as a web app on http://127.0.0.1:8867 (Voila, loopback only); LFs are kept in out/workbench.sqlite.
## Settings in apps/voila/studio/voila.json: the workbench template and the extensions the app uses. No kernel runs the
## notebook before a page asks: it would show the LFs of the store as they were then.
studio: $(STAMP)
	JUPYTER_PATH=$(CURDIR)/apps $(BIN)/voila apps/studio.ipynb --Voila.config_file_paths=apps/voila/studio --no-browser --Voila.ip=127.0.0.1 --port=8867

## Execute the whole notebook series into a readable HTML copy in out/course/ (figures static, plotly.js inline: no
## kernel or network needed to read it; widgets shown as snapshots). Takes a few minutes.
course: $(STAMP)
	$(BIN)/python -m workbench.course --out out/course

clean:
	rm -rf $(VENV) out .pytest_cache
