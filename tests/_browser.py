"""Real-browser test support: JupyterLab or Voila on 127.0.0.1, driven by Debian's Chromium.

Usage::

    with jupyter_lab(root) as lab, chromium_page() as page:
        page.goto(lab.url("lab/tree/notebook.ipynb"))
        run_all_cells(page)

    with voila(notebook_path) as app, chromium_page() as page:
        page.goto(app.url())

Servers and browsers are stopped by their process ids when the block ends. Tests using this
are marked ``browser`` and skip only when Chromium is not installed (CI installs it).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
APPS = Path(__file__).resolve().parents[1] / "apps"  # holds voila/templates/workbench and voila/<app>/

# The threshold explorer app is ready: its three figures drawn and the kept count shown ('error' if a cell raised).
EXPLORER_READY = """() => {
    if (document.body.innerText.includes('There was an error when executing cell')
        || document.querySelector('[data-mime-type="application/vnd.jupyter.error"]')) return 'error';
    const views = [...document.querySelectorAll('.workbench-plotly')];
    return views.length === 3 && views.every(v => v.dataset.revision && v.querySelector('.main-svg'))
        && document.querySelector('.explorer-kept .kept-count') !== null;
}"""

requires_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base: str
    token: str
    process: subprocess.Popen

    def url(self, path: str = "") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}{path}{sep}token={self.token}"


def _wait_until_up(server: Server, probe: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.url(probe), timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"server did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def _serve(cmd: list[str], probe: str, env_extra: dict[str, str], workdir: Path, token: str, port: int):
    log = workdir / "server.log"
    env = {**os.environ, **env_extra}
    with open(log, "w") as fh:
        process = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True)
    server = Server(base=f"http://127.0.0.1:{port}/", token=token, process=process)
    try:
        _wait_until_up(server, probe, log)
        yield server
    finally:
        _stop(process)


@contextmanager
def jupyter_lab(root: Path):
    """JupyterLab on 127.0.0.1 with a token, serving ``root``; news popup switched off."""
    root = Path(root)
    settings = root / ".lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False", "--allow-root", "--LabApp.news_url=", f"--LabServerApp.user_settings_dir={settings}",
        f"--LabServerApp.workspaces_dir={root / '.lab-workspaces'}",
    ]
    env = {"JUPYTER_CONFIG_DIR": str(root / ".jupyter-config"), "JUPYTERLAB_SETTINGS_DIR": str(settings)}
    with _serve(cmd, "api/status", env, root, token, port) as server:
        yield server


@contextmanager
def voila(notebook: Path, workdir: Path):
    """Voila serving one notebook as a web app on 127.0.0.1 with a token, as ``make explorer`` / ``make studio`` do:
    with the app's settings (``apps/voila/<notebook name>/voila.json``) and the repository's templates."""
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1", f"--port={port}",
        f"--token={token}", f"--Voila.config_file_paths={APPS / 'voila' / Path(notebook).stem}",
        "--show_tracebacks=True",
    ]
    # probe a static file: asking for the app's page would start (and execute) a kernel per probe
    with _serve(cmd, "voila/static/voila-style.js", {"JUPYTER_PATH": str(APPS)}, Path(workdir), token,
                port) as server:
        yield server


@contextmanager
def chromium_page(width: int = 1400, height: int = 1000):
    """A headless Debian Chromium page through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def run_all_cells(page, timeout_ms: int = 600_000) -> None:
    """In an open JupyterLab notebook: Run > Run All Cells, then wait until every code cell ran.

    Fails at once, with the traceback, if a cell raises; on a time-out a screenshot of the
    page is saved as ``test-artifacts/run_all_cells_timeout.png``.
    """
    page.wait_for_selector(".jp-Notebook", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached", timeout=120_000)
    started = ("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    for attempt in range(3):
        # A Run All clicked while JupyterLab is still wiring the kernel up can be dropped: check it started.
        page.click(".jp-Notebook")
        page.keyboard.press("Escape")
        page.locator("div.lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
        try:
            page.wait_for_function(started, timeout=30_000)
            break
        except Exception:
            if attempt == 2:
                screenshot(page, "run_all_cells_not_started")
                raise
    try:
        page.wait_for_function(
            "() => { const c = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];"
            " const errored = document.querySelector('.jp-RenderedText[data-mime-type=\"application/vnd.jupyter.error\"]');"
            " return errored !== null || (c.length > 0 && c.every(p => /\\[\\d+\\]/.test(p.textContent))); }",
            timeout=timeout_ms,
        )
    except Exception:
        screenshot(page, "run_all_cells_timeout")
        raise
    error = page.locator('.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')
    if error.count():
        screenshot(page, "run_all_cells_error")
        raise AssertionError(f"a notebook cell raised in the browser:\n{error.first.inner_text()[-3000:]}")


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
