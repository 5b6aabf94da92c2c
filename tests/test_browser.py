"""A student works bottom-up through the tutorials in JupyterLab, in headless Chromium.

The repository is copied to a temporary folder that is made a git repository
(``data/``, ``notebooks/``, ``pyproject.toml``, ``.gitignore``, committed). The
student, ana, has already written experiential statements for two cases (her
``coding.csv`` from ``tests/fixtures/students``, and her name in
``student_work/profile``). ``make lab``'s working copies are made in the copy's
``student_work/notebooks/`` and JupyterLab serves them (``COMPENDIUM_ROOT``
points at the copy, ``PYTHONPATH`` at the real ``src/``). In the browser (T1 opened
by its address, the later tutorials from JupyterLab's file browser) she

1. codes a passage in T1's workspace and compares it with the study;
2. names her own personal experiential theme in T4 from two of her statements,
   then asks for the comparison with the study's reading;
3. names a theme for the next case in T5;
4. builds a group theme from the two in T6 and compares it with the study's;

and afterwards ``git status`` in the copy is clean: her work and her working
copies are all below the git-ignored ``student_work/``. The server listens on a
free loopback port with a one-off token. Chromium comes from the system
(``apt-get install chromium``); a missing Chromium fails the test, it is never
skipped. A screenshot of the T4 workspace is saved to
``build/screenshots/widget.png`` of the real repository.
"""

from __future__ import annotations

import csv
import json
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

from compendium.files import write_bytes, write_json
from compendium.paths import Paths, paths
from compendium.teaching.lab import working_copies

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STUDENT = "ana"
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "students" / STUDENT / "coding.csv"
PET, NEXT_PET, GROUP = "Rest is a betrayal of mum", "Kindness is unsafe at home", "Kindness costs the family"
TIMEOUT_MS = 90_000


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


@pytest.fixture
def chromium() -> str:
    """The Chromium `make test` found or installed (tools/chromium.sh); its absence fails, never skips."""
    exe = os.environ.get("COMPENDIUM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(exe).is_file():
        pytest.fail(
            "Chromium is not installed, so the browser test cannot run.\n"
            "    fix: run the tests with `make test`, which finds or installs Chromium "
            "(tools/chromium.sh), or set COMPENDIUM_CHROMIUM=/path/to/chromium",
            pytrace=False,
        )
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
    """JupyterLab serving the copy's working copies; yields its URL, token, copy root and log."""
    real = paths()
    copy = tmp_path / "repo"
    shutil.copytree(real.root / "data", copy / "data")
    shutil.copytree(real.notebooks, copy / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy2(real.root / "pyproject.toml", copy / "pyproject.toml")
    shutil.copy2(real.root / ".gitignore", copy / ".gitignore")
    _git(copy, "init", "-q")
    _git(copy, "add", "-A")
    _git(copy, "commit", "-qm", "copy")
    # the student's earlier work (T1-T3 and T5's coding) and her name, set once
    shutil.copy2(FIXTURE, (copy / "student_work" / STUDENT).mkdir(parents=True) or copy / "student_work" / STUDENT)
    (copy / "student_work" / "profile").write_text(STUDENT + "\n", encoding="utf-8")
    working_copies(Paths(copy))
    jupyter = tmp_path / "jupyter"
    # No "official news?" prompt over the page.
    write_json(
        jupyter / "config" / "labconfig" / "page_config.json",
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}},
    )
    token, port = secrets.token_hex(16), _free_port()
    src = Path(__file__).resolve().parents[1] / "src"
    env = {
        **os.environ,
        "COMPENDIUM_ROOT": str(copy),
        "PYTHONPATH": str(src),
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(jupyter / "config"),
        "JUPYTER_DATA_DIR": str(jupyter / "data"),
        "JUPYTER_RUNTIME_DIR": str(jupyter / "runtime"),
        "IPYTHONDIR": str(jupyter / "ipython"),
        "JUPYTERLAB_SETTINGS_DIR": str(jupyter / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(jupyter / "workspaces"),
        "MPLBACKEND": "Agg",
    }
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={copy / 'student_work' / 'notebooks'}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = tmp_path / "jupyterlab.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    pytest.fail(
                        f"JupyterLab exited with code {proc.returncode}:\n"
                        f"{log_path.read_text(errors='replace')[-3000:]}",
                        pytrace=False,
                    )
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                        break
                except (urllib.error.URLError, OSError):
                    if time.monotonic() > deadline:
                        pytest.fail(
                            f"JupyterLab did not answer within 60 s:\n{log_path.read_text(errors='replace')[-3000:]}",
                            pytrace=False,
                        )
                    time.sleep(0.3)
            yield {"base": base, "token": token, "copy": copy, "log": log_path}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: it and its kernels
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _open(page, lab: dict, notebook: str, title: str, ready: str):
    """Open a working copy, run all its cells, wait for its workspace; return the notebook's panel.

    The first comes from its address; the others from the file browser beside it, as a student opens
    the next tutorial (one load of JupyterLab for the whole session)."""
    if page.url.startswith(lab["base"]):
        page.locator(".jp-DirListing-itemText").get_by_text(notebook, exact=True).dblclick()
    else:
        page.goto(f"{lab['base']}/lab/tree/{notebook}?token={lab['token']}")
    nb = page.locator(".jp-NotebookPanel").filter(has=page.locator(f"h1:has-text('{title}')"))
    nb.locator(f"h1:has-text('{title}')").wait_for()
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('Idle')")  # the kernel is up
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    nb.locator(ready).wait_for()
    nb.locator(ready).scroll_into_view_if_needed()
    return nb


def _save_theme(nb, kind: str, items: list[str], name: str, saved: str) -> None:
    """In a theme workspace (``pw``: a case's themes, ``gw``: the group's), tick the items, name the theme, save."""
    from playwright.sync_api import expect

    for item in items:
        nb.locator(f".{kind}-item-{item} input[type=checkbox]").check()
    nb.locator(f".{kind}-name input").fill(name)
    nb.locator(f".{kind}-save").click()
    expect(nb.locator(f".{kind}-status")).to_contain_text(saved)


def _compare(nb, kind: str, *shown: str) -> None:
    """Ask a theme workspace for the comparison with the study's reading; each text must be in it."""
    from playwright.sync_api import expect

    nb.locator(f".{kind}-compare").click()
    for text in shown:
        expect(nb.locator(f".{kind}-compare-view")).to_contain_text(text)


def test_student_names_her_own_themes_builds_a_group_theme_and_git_stays_clean(
    chromium: str, lab: dict, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    real = paths()
    real_work_before = _snapshot(real.student_work)
    copy = lab["copy"]
    work = copy / "student_work" / STUDENT
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 2200})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            # T1: code one passage (no list of themes to pick from), compare with the study
            nb = _open(page, lab, "T1_read_transcript.ipynb", "T1. Reading and re-reading", ".cw-save")
            # Each box is typed in once the kernel has answered the change before, as a student sees the form
            # settle: a box the kernel redraws while it is typed in keeps its old value in front ("1", "36": "136").
            first, last = nb.locator(".cw-first input"), nb.locator(".cw-last input")
            first.fill("36")
            first.press("Enter")
            expect(last).to_have_value("36")  # the kernel moved the last line up to the first
            last.fill("36")
            last.press("Enter")
            expect(nb.locator(".cw-preview")).to_contain_text("Passage, line 36:")
            nb.locator(".cw-statement input").fill("Warmth before the word")
            nb.locator(".cw-save").click()
            expect(nb.locator(".cw-status")).to_contain_text("Saved P01-U04 (line 36) to student_work/ana/coding.csv")
            nb.locator(".cw-compare").click()
            expect(nb.locator(".cw-compare-view")).to_contain_text("both read this")
            nb.locator(".cw-new").click()
            expect(nb.locator(".cw-statement input")).to_have_value("")

            # T4: her own statements, her own theme, then the study's reading
            nb = _open(page, lab, "T4_cluster_statements.ipynb", "T4. From statements", ".pw-save")
            _save_theme(nb, "pw", ["P01-U01", "P01-U02"], PET, f"Saved your theme '{PET}' (2 statements)")
            expect(nb.locator(".pw-list")).to_contain_text(f"{PET}: P01-U01, P01-U02")
            # the study's statement comes after hers
            _compare(nb, "pw", PET, "One analyst's reading", "A night off felt like abandoning mum")
            nb.locator(".pw-root").scroll_into_view_if_needed()
            shot = nb.locator(".pw-root").screenshot()

            # T5: a theme of the next case
            nb = _open(page, lab, "T5_bracket_case.ipynb", "T5. Moving to the next case", ".pw-save")
            _save_theme(nb, "pw", ["P02-U01"], NEXT_PET, f"Saved your theme '{NEXT_PET}'")

            # T6: a group theme from the two cases' themes, compared with the study's
            nb = _open(page, lab, "T6_compare_cases.ipynb", "T6. Group experiential themes", ".gw-save")
            _save_theme(nb, "gw", ["P01-1", "P02-1"], GROUP, f"Saved your group theme '{GROUP}' (from 2 cases)")
            _compare(nb, "gw", GROUP, "recurs in 2 of the 2 cases you analysed", "study's group experiential themes")
            page.keyboard.press("Control+s")  # a student saves her working copy
            page.wait_for_timeout(500)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            print(
                f"screenshot of the failure: {tmp_path / 'failure.png'}\nJupyterLab log (end):\n"
                + lab["log"].read_text(errors="replace")[-3000:]
            )
            raise
        finally:
            browser.close()

    pets = json.loads((work / "pets.json").read_text(encoding="utf-8"))
    assert pets == {
        "P01": [{"name": PET, "segments": ["P01-U01", "P01-U02"]}],
        "P02": [{"name": NEXT_PET, "segments": ["P02-U01"]}],
    }
    groups = json.loads((work / "groups.json").read_text(encoding="utf-8"))
    assert groups == [{"name": GROUP, "pets": [["P01", PET], ["P02", NEXT_PET]]}]
    with open(work / "coding.csv", encoding="utf-8", newline="") as fh:
        rows = {r["segment_id"]: r for r in csv.DictReader(fh)}
    assert rows["P01-U04"]["experiential_statement"] == "Warmth before the word" and rows["P01-U04"]["theme_id"] == ""
    assert _git(copy, "status", "--porcelain") == "", "the student's work changed tracked files"
    target = write_bytes(real.build / "screenshots" / "widget.png", shot)
    assert target.stat().st_size > 10_000 and shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert _snapshot(real.student_work) == real_work_before, "the test wrote into the real student_work/"
