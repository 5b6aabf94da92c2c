"""A student codes one passage in the tutorial workspace, in JupyterLab, in headless Chromium.

JupyterLab runs on a temporary copy of the repository (``data/``, ``notebooks/``,
``pyproject.toml``; ``COMPENDIUM_ROOT`` points at the copy, ``PYTHONPATH`` at the
real ``src/``), so the student's file lands in the copy's ``student_work/`` and
the real one is never touched. The server listens on a free loopback port with
a one-off token. Chromium comes from the system (``apt-get install chromium``);
Playwright's own browser download is not used. A missing Chromium fails the
test: it is never skipped.

The screenshot of the workspace after coding and comparing is saved to
``build/screenshots/widget.png`` of the real repository.
"""
from __future__ import annotations

import csv
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from compendium.data import load_study
from compendium.files import write_bytes, write_json
from compendium.paths import paths
from compendium.teaching.text import lines_to_span

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
NOTEBOOK = "T1_read_transcript.ipynb"
TITLE = "T1. Reading and re-reading"
PARTICIPANT, STUDENT = "P01", "student"  # the notebook's default parameters
LINE, PHRASE, THEME = 14, "she deserved a night off", "1.2"
STUDY_SEGMENT = "P01-S02"  # the study's passage on that line, coded to the same theme
NOTES = {
    "descriptive": "A teenage client will not take an evening off for fear of what happens at home.",
    "linguistic": "'deserved' frames rest as something earned.",
    "conceptual": "Perhaps rest reads to her as leaving her mother unguarded.",
}
STATEMENT = "A night off felt like desertion"
TIMEOUT_MS = 90_000


@pytest.fixture
def chromium() -> str:
    """The system's Chromium; its absence fails the test (CI installs it), it is never a skip."""
    exe = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).is_file():
        pytest.fail("Chromium is not installed, so the browser test cannot run.\n"
                    "    fix: `apt-get update && apt-get install -y chromium` (CI's .ci/run installs it)",
                    pytrace=False)
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot(folder: Path) -> dict[str, float]:
    """Files below a folder with their modification times (empty if the folder does not exist)."""
    return {str(f): f.stat().st_mtime for f in folder.rglob("*") if f.is_file()} if folder.is_dir() else {}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[dict]:
    """JupyterLab serving the copy's ``notebooks/tutorial``; yields its URL, token, copy root and log."""
    real = paths()
    copy = tmp_path / "repo"
    shutil.copytree(real.root / "data", copy / "data")
    shutil.copytree(real.notebooks, copy / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy2(real.root / "pyproject.toml", copy / "pyproject.toml")
    jupyter = tmp_path / "jupyter"
    # No "official news?" prompt over the page.
    write_json(jupyter / "config" / "labconfig" / "page_config.json",
               {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    token, port = secrets.token_hex(16), _free_port()
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "COMPENDIUM_ROOT": str(copy), "PYTHONPATH": str(src), "JUPYTER_PLATFORM_DIRS": "1",
           "JUPYTER_CONFIG_DIR": str(jupyter / "config"), "JUPYTER_DATA_DIR": str(jupyter / "data"),
           "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"), "IPYTHONDIR": str(jupyter / "ipython"),
           "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces"), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--port-retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={copy / 'notebooks' / 'tutorial'}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = tmp_path / "jupyterlab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"JupyterLab exited with code {proc.returncode}:\n"
                                f"{log_path.read_text(errors='replace')[-3000:]}", pytrace=False)
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                        break
                except (urllib.error.URLError, OSError):
                    if time.monotonic() > deadline:
                        pytest.fail(f"JupyterLab did not answer within 60 s:\n"
                                    f"{log_path.read_text(errors='replace')[-3000:]}", pytrace=False)
                    time.sleep(0.3)
            yield {"base": base, "token": token, "copy": copy, "log": log_path}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: it and its kernels
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def test_student_codes_a_passage_and_sees_it_in_the_comparison(chromium: str, lab: dict, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    real = paths()
    real_work_before = _snapshot(real.student_work)
    study = load_study()
    start, end = lines_to_span(study.transcripts[PARTICIPANT], LINE, LINE, PHRASE)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2200})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{lab['base']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
            page.wait_for_selector(f"h1:has-text('{TITLE}')")
            page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')")  # the kernel is up
            page.click(".lm-MenuBar-itemLabel:text-is('Run')")
            page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
            page.wait_for_selector(".cw-save")
            page.locator(".cw-root").scroll_into_view_if_needed()

            # choose the passage: line 14, narrowed to a phrase
            for name, value in (("first", LINE), ("last", LINE)):
                box = page.locator(f".cw-{name} input")
                box.fill(str(value))
                box.press("Enter")
            page.locator(".cw-phrase input").fill(PHRASE)
            expect(page.locator(".cw-preview")).to_contain_text(f"line {LINE}: {PHRASE}")
            for kind, note in NOTES.items():
                page.locator(f".cw-{kind} textarea").fill(note)
            page.locator(".cw-statement input").fill(STATEMENT)
            label = {tid: text for text, tid in theme_choices(study.codebook)}[THEME]
            page.locator(".cw-theme select").select_option(label=label)
            page.click(".cw-save")
            expect(page.locator(".cw-status")).to_contain_text(f"Saved {PARTICIPANT}-U01 (line {LINE}, theme {THEME})")
            expect(page.locator(".cw-transcript mark")).to_have_text(PHRASE)

            # the student's own file, in the copy
            saved = lab["copy"] / "student_work" / f"{STUDENT}.csv"
            assert saved.is_file(), f"no student file at {saved}"
            with open(saved, encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
            assert len(rows) == 1
            row = rows[0]
            assert (row["segment_id"], row["participant_id"], row["theme_id"]) == (f"{PARTICIPANT}-U01", PARTICIPANT,
                                                                                 THEME)
            assert (int(row["start"]), int(row["end"]), row["excerpt"]) == (start, end, PHRASE)
            assert [row[f"note_{k}"] for k in NOTES] == list(NOTES.values())
            assert (row["experiential_statement"], row["analyst"]) == (STATEMENT, STUDENT)

            # the comparison view shows the passage beside the study's
            page.click(".cw-compare")
            view = page.locator(".cw-compare-view")
            expect(view).to_contain_text("same theme")
            first_row = view.locator("tr", has_text=f"{PARTICIPANT}-U01")
            expect(first_row).to_contain_text(STUDY_SEGMENT)
            expect(first_row).to_contain_text("same theme")
            expect(view).to_contain_text("only the study")

            page.locator(".cw-transcript mark").scroll_into_view_if_needed()  # the coded words in the picture
            page.locator(".cw-root").scroll_into_view_if_needed()
            shot = page.locator(".cw-root").screenshot()
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            print(f"screenshot of the failure: {tmp_path / 'failure.png'}\nJupyterLab log (end):\n"
                  + lab["log"].read_text(errors="replace")[-3000:])
            raise
        finally:
            browser.close()

    target = write_bytes(real.build / "screenshots" / "widget.png", shot)
    assert target.stat().st_size > 10_000
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert _snapshot(real.student_work) == real_work_before, "the test wrote into the real student_work/"
