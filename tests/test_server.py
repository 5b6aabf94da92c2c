"""The build server and forked kernels: every notebook still runs in a fresh kernel; Ctrl-C cleans up.

Each test builds a tiny compendium in its own temporary folder (notebooks
only), points ``TMPDIR`` there so the server's and kernels' sockets are ours
alone, and stands in for ``make`` with a ``sleep`` process whose pid is the
``COMPENDIUM_MAKE_PID`` the Makefile would export. Killing it ends the server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from compendium import digests
from compendium.paths import Paths, paths

REPO = paths().root

# Sets a global, changes matplotlib's rcParams and a compendium module attribute, and keeps a file open.
NOTEBOOK_A = [
    "import matplotlib, compendium.plots\n"
    "LEAK = 'set by the first notebook'\n"
    "matplotlib.rcParams['lines.linewidth'] = 9.5\n"
    "compendium.plots.STYLE['font.size'] = 99\n"
    "kept_open = open('a_was_here.txt', 'w')\n"
    "import os; print(json_pid := os.getpid())",
]
# Reports what it can see of the first notebook, and whether the stack was already imported.
NOTEBOOK_B = [
    "import sys\npreloaded = sorted(m for m in ('pandas', 'matplotlib', 'compendium.data') if m in sys.modules)",
    """import json, os, matplotlib, compendium.plots
SHELL_NAMES = {'In', 'Out', 'get_ipython', 'exit', 'quit', 'open', 'write_outputs', 'preloaded',
               'sys', 'json', 'os', 'matplotlib', 'compendium', 'SHELL_NAMES', 'fds'}
fds = [os.readlink(f'/proc/self/fd/{fd}') for fd in os.listdir('/proc/self/fd') if os.path.exists(f'/proc/self/fd/{fd}')]
print(json.dumps({
    'preloaded': preloaded,
    'leak': 'LEAK' in globals(),
    'user_names': sorted(k for k in globals() if not k.startswith('_') and k not in SHELL_NAMES),
    'linewidth': matplotlib.rcParams['lines.linewidth'],
    'font_size': compendium.plots.STYLE['font.size'],
    'open_files': [f for f in fds if 'a_was_here' in f],
    'pid': os.getpid(),
}))""",
]
SLOW = [
    "import pathlib, time\npathlib.Path('started.txt').write_text('yes')\ntime.sleep(120)",
]


def _notebook(cells: list[str]) -> dict:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    params = nbformat.v4.new_code_cell("write_outputs = False")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(c) for c in cells)]
    return nb


@pytest.fixture()
def mini(tmp_path: Path):
    """A folder with notebooks/, a private TMPDIR and a stand-in for the make process."""
    root = tmp_path / "c"
    (root / "notebooks").mkdir(parents=True)
    for name, cells in (("leak_a", NOTEBOOK_A), ("leak_b", NOTEBOOK_B), ("slow", SLOW)):
        nbformat.write(nbformat.from_dict(_notebook(cells)), root / "notebooks" / f"{name}.ipynb")
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="cs-"))  # short: Unix socket paths are limited to 107 bytes
    make = subprocess.Popen(["sleep", "300"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPENDIUM_", "PYTEST_"))}
    env.update(
        COMPENDIUM_ROOT=str(root),
        PYTHONPATH=str(REPO / "src"),
        TMPDIR=str(tmp),
        MPLBACKEND="Agg",
        COMPENDIUM_MAKE_PID=str(make.pid),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        IPYTHONDIR=str(tmp / "ipython"),  # as the Makefile sets it (inside the environment)
    )

    def run(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "compendium", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            **kw,
        )

    yield root, tmp, env, run
    make.kill()
    make.wait()
    deadline = time.monotonic() + 30
    while list(tmp.glob("compendium-server-*.sock")) and time.monotonic() < deadline:
        time.sleep(0.1)  # the server notices its make has gone and stops
    shutil.rmtree(tmp, ignore_errors=True)


def _as_in_a_terminal() -> None:
    """Ctrl-C as a terminal's foreground command gets it: a run started in the background (CI's shell,
    ``nohup``) inherits SIGINT *ignored*, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stream(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "".join(
        o.get("text", "")
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream"
    )


def test_a_later_notebook_sees_nothing_an_earlier_one_did(mini) -> None:
    root, tmp, _, run = mini
    first = run("run", "leak_a")
    assert first.returncode == 0, first.stdout + first.stderr
    assert list(tmp.glob("compendium-server-*.sock")), "the run did not go through a build server"
    second = run("run", "leak_b")
    assert second.returncode == 0, second.stdout + second.stderr
    seen = json.loads(_stream(root / "build" / "notebooks" / "leak_b.ipynb").strip().splitlines()[-1])
    a_pid = int(_stream(root / "build" / "notebooks" / "leak_a.ipynb").strip())
    # The kernel was forked from the warm server: the stack was imported before any cell ran ...
    assert seen["preloaded"] == ["compendium.data", "matplotlib", "pandas"]
    # ... and yet nothing the first notebook did is visible.
    assert seen["leak"] is False
    assert seen["user_names"] == []
    assert seen["linewidth"] == 1.5  # matplotlib's default
    assert seen["font_size"] == 9  # compendium.plots.STYLE as the module defines it
    assert seen["open_files"] == []
    assert seen["pid"] != a_pid
    # Like the kernels nbclient starts itself, a forked kernel keeps its history in memory: no notebook's
    # code lands in a history database (with no sqlite writes in the kernel either).
    assert (tmp / "ipython" / "profile_default").is_dir()
    assert list((tmp / "ipython").rglob("history.sqlite")) == []


def test_the_same_notebook_gives_the_same_bytes_with_and_without_the_server(mini) -> None:
    root, _, env, run = mini
    served = run("run", "leak_b")
    assert served.returncode == 0, served.stdout + served.stderr
    with_server = (root / "build" / "notebooks" / "leak_b.ipynb").read_text(encoding="utf-8")
    plain = subprocess.run(
        [sys.executable, "-m", "compendium", "run", "leak_b"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in env.items() if k != "COMPENDIUM_MAKE_PID"},
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    without = (root / "build" / "notebooks" / "leak_b.ipynb").read_text(encoding="utf-8")

    def strip(text: str) -> str:  # the kernel's pid and whether the stack was preloaded differ, by design
        out = json.loads(text)
        for cell in out["cells"]:
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream":
                    o["text"] = "(compared separately)"
        return json.dumps(out, sort_keys=True)

    assert strip(with_server) == strip(without)
    seen = json.loads(_stream(root / "build" / "notebooks" / "leak_b.ipynb").strip().splitlines()[-1])
    assert seen["preloaded"] == [] and seen["leak"] is False  # the classic path: a new interpreter


def test_ctrl_c_ends_with_one_line_and_cleans_up_the_kernel(mini) -> None:
    root, tmp, env, _ = mini
    client = subprocess.Popen(
        [sys.executable, "-m", "compendium", "run", "slow"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )
    started = root / "notebooks" / "started.txt"
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists(), "the slow notebook never started"
    pids = [int(p.read_text()) for p in tmp.glob("compendium-kernel-*.pid")]
    assert len(pids) == 1 and list(tmp.glob("compendium-kernel-*-1"))
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=60)
    assert client.returncode == 130
    assert "Traceback" not in out + err
    assert [line for line in err.splitlines() if line.strip()] == [
        "interrupted: `compendium run slow` stopped by Ctrl-C; its kernel and sockets are cleaned up, and its "
        "outputs were not updated (run `make all` to finish the build)"
    ]
    deadline = time.monotonic() + 30
    while list(tmp.glob("compendium-kernel-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp.glob("compendium-kernel-*")) == []
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
    assert not (root / "build" / "failed" / "slow.ipynb").exists()


def test_ctrl_c_without_the_server_is_one_line_too(mini) -> None:
    root, tmp, env, _ = mini
    plain = {k: v for k, v in env.items() if k != "COMPENDIUM_MAKE_PID"}
    (root / "notebooks" / "started.txt").unlink(missing_ok=True)
    client = subprocess.Popen(
        [sys.executable, "-m", "compendium", "run", "slow"],
        cwd=root,
        env=plain,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )
    started = root / "notebooks" / "started.txt"
    deadline = time.monotonic() + 120
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started.exists()
    client.send_signal(signal.SIGINT)
    out, err = client.communicate(timeout=60)
    assert client.returncode == 130
    assert "Traceback" not in out + err
    assert [line for line in err.splitlines() if line.strip()] == [
        "interrupted: `compendium run` stopped by Ctrl-C; its outputs were not updated (run `make all` to finish "
        "the build)"
    ]
    deadline = time.monotonic() + 30
    while list(tmp.glob("compendium-kernel-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp.glob("compendium-kernel-*")) == []


# ---------------------------------------------------------------------------- input digests
@pytest.fixture()
def data_copy(tmp_path: Path) -> Paths:
    import shutil

    shutil.copytree(REPO / "data", tmp_path / "data")
    return Paths(tmp_path)


def _changed(p: Paths, edit) -> set[str]:
    before = digests.digests(p)
    edit()
    after = digests.digests(p)
    return {k for k in before if before[k] != after[k]}


def _replace_cell(path: Path, row_id: str, column: str, value: str) -> None:
    import csv
    import io

    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    for row in rows:
        if row[reader.fieldnames[0]] == row_id:  # type: ignore[index]
            row[column] = value
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")  # type: ignore[arg-type]
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_a_duration_changes_only_the_descriptives_digest(data_copy: Paths) -> None:
    changed = _changed(data_copy, lambda: _replace_cell(data_copy.participants, "P02", "duration_min", "57"))
    assert changed == {"descriptives"}


def test_a_qda_attribute_changes_the_descriptives_and_the_export(data_copy: Paths) -> None:
    changed = _changed(data_copy, lambda: _replace_cell(data_copy.participants, "P02", "frameworks", "ACT"))
    assert changed == {"descriptives", "supplement"}


def test_a_pseudonym_changes_every_step_that_names_participants(data_copy: Paths) -> None:
    changed = _changed(data_copy, lambda: _replace_cell(data_copy.participants, "P04", "pseudonym", "Robin"))
    assert changed == {"corpus", "case_P04", "cross", "descriptives", "supplement", "manuscript"}


def test_one_transcript_changes_that_case_and_the_steps_reading_all_transcripts(data_copy: Paths) -> None:
    t = data_copy.transcript("P03")
    changed = _changed(
        data_copy, lambda: t.write_text(t.read_text(encoding="utf-8") + "Interviewer: Thanks.\n", encoding="utf-8")
    )
    assert changed == {"corpus", "case_P03", "supplement", "manuscript"}


def test_one_coding_row_changes_its_case_only_among_the_cases(data_copy: Paths) -> None:
    import csv

    with open(data_copy.coding, encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    changed = _changed(
        data_copy, lambda: _replace_cell(data_copy.coding, first["segment_id"], "note_descriptive", "A different note.")
    )
    assert changed == {"corpus", f"case_{first['participant_id']}", "cross", "supplement", "manuscript"}


def test_digest_files_are_rewritten_only_when_their_value_changes(data_copy: Paths) -> None:
    assert len(digests.write_digests(data_copy)) == len(digests.digests(data_copy))
    files = sorted((data_copy.build / "inputs").glob("*.sha256"))
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    assert digests.write_digests(data_copy) == []
    _replace_cell(data_copy.participants, "P02", "duration_min", "57")
    assert digests.write_digests(data_copy) == ["descriptives"]
    now = {f.name: f.stat().st_mtime_ns for f in files}
    assert {k for k in stamps if stamps[k] != now[k]} == {"descriptives.sha256"}


def test_the_makefile_names_a_digest_for_every_step() -> None:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    for step in ("corpus", "cross", "descriptives", "supplement", "manuscript"):
        assert f"$(DIGEST)/{step}.sha256" in text
    assert "$(DIGEST)/case_%.sha256" in text


def test_printed_text_is_one_stream_output_however_the_kernel_sent_it(mini) -> None:
    # A line's newline sometimes arrives as a message of its own on a loaded machine; the executed
    # notebook must hold the same single output either way (two clean builds once differed here).
    root, _, _, run = mini
    cell = (
        "import sys, time\n"
        "print('first part', end='')\nsys.stdout.flush()\ntime.sleep(0.3)\n"
        "print()\nsys.stdout.flush()\ntime.sleep(0.3)\nprint('second line')"
    )
    nbformat.write(nbformat.from_dict(_notebook([cell])), root / "notebooks" / "chunks.ipynb")
    done = run("run", "chunks")
    assert done.returncode == 0, done.stdout + done.stderr
    executed = json.loads((root / "build" / "notebooks" / "chunks.ipynb").read_text(encoding="utf-8"))
    outputs = executed["cells"][-1]["outputs"]
    assert [o["output_type"] for o in outputs] == ["stream"]
    assert "".join(outputs[0]["text"]) == "first part\nsecond line\n"


def test_everything_the_server_warms_exists_and_each_warm_call_runs() -> None:
    """The warm-up skips a module it cannot import (the children import it themselves): a name
    misspelt or gone from a library would go unnoticed but for this test."""
    import importlib.util

    from compendium import server

    missing = [name for name in server.WARM_MODULES if importlib.util.find_spec(name) is None]
    assert not missing
    assert len(set(server.WARM_MODULES)) == len(server.WARM_MODULES)
    for call in server.WARM_CALLS:
        call()  # raises if it no longer works (the server itself would ignore the failure)


def test_the_warm_server_keeps_the_formula_grammar_but_no_open_font_file() -> None:
    """Kernels forked side by side must never share an open file's read position: after the warm-up
    of matplotlib's formula grammar the server holds no font file open, and the grammar is built."""
    script = (
        "import os\n"
        "from compendium import server\n"
        "from compendium.zygote import import_all\n"
        "import_all(list(server.WARM_MODULES))\n"
        "for call in server.WARM_CALLS:\n"
        "    call()\n"
        "from matplotlib import mathtext\n"
        "assert mathtext.MathTextParser._parser is not None, 'the grammar was not built'\n"
        "fds = []\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n"
        "        fds.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
        "    except OSError:\n"
        "        pass\n"
        "fonts = [f for f in fds if f.lower().endswith(('.ttf', '.otf', '.afm', '.pfb'))]\n"
        "assert not fonts, fonts\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]


# ---------------------------------------------------------------- a server that stays warm between make runs
def _sockets(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("compendium-server-*.sock"))


def _gone(tmp: Path, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while _sockets(tmp) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _sockets(tmp)


def _stop(env: dict) -> None:
    subprocess.run([sys.executable, "-m", "compendium.server", "stop"], env=env, timeout=60, check=True)


def test_a_lingering_server_serves_the_next_make_run_fresh_kernels_and_all(mini) -> None:
    """With COMPENDIUM_SERVER_LINGER (as the Makefile sets it) the server outlives its make run and
    answers the next one at once; that run's notebooks still see nothing an earlier one did, and
    each run is told the CPU of its own commands and of the server since the last report."""
    root, tmp, env, run = mini
    env["COMPENDIUM_SERVER_LINGER"] = "60"
    cpu = [tmp / "cpu-first.txt", tmp / "cpu-second.txt"]
    first_make = subprocess.Popen(["sleep", "300"])
    env.update(COMPENDIUM_MAKE_PID=str(first_make.pid), COMPENDIUM_SERVER_CPU=str(cpu[0]))
    try:
        assert run("run", "leak_a").returncode == 0
        first_make.kill()
        first_make.wait()
        time.sleep(1)  # a server of one make run would have stopped by now
        [socket] = _sockets(tmp)
        env.update(COMPENDIUM_MAKE_PID=str(os.getpid()), COMPENDIUM_SERVER_CPU=str(cpu[1]))
        second = run("run", "leak_b")
        assert second.returncode == 0, second.stdout + second.stderr
        assert _sockets(tmp) == [socket]  # the same server: make's id and the CPU file are not in its key
        seen = json.loads(_stream(root / "build" / "notebooks" / "leak_b.ipynb").strip().splitlines()[-1])
        assert seen["preloaded"] == ["compendium.data", "matplotlib", "pandas"]
        assert seen["leak"] is False and seen["user_names"] == [] and seen["linewidth"] == 1.5
        reports = [path.read_text(encoding="utf-8").splitlines() for path in cpu]
        assert [line.split(" ", 2)[2] for line in reports[0] if line.startswith("job ")] == ["run leak_a"]
        assert [line.split(" ", 2)[2] for line in reports[1] if line.startswith("job ")] == ["run leak_b"]
        own = [sum(float(line.split()[1]) for line in lines if line.startswith("self ")) for lines in reports]
        assert own[1] < own[0]  # the first run paid the warm-up; the second found the server warm
    finally:
        _stop(env)
    assert _gone(tmp), "make clean's stop request did not stop the server"


def test_a_lingering_server_stops_when_its_code_changes_or_its_folder_goes(mini, tmp_path: Path) -> None:
    import shutil

    root, tmp, env, run = mini
    package = tmp_path / "src"
    shutil.copytree(REPO / "src" / "compendium", package / "compendium", ignore=shutil.ignore_patterns("__pycache__"))
    env.update(COMPENDIUM_SERVER_LINGER="60", PYTHONPATH=str(package), COMPENDIUM_MAKE_PID=str(os.getpid()))
    try:
        assert run("run", "leak_a").returncode == 0
        [first] = _sockets(tmp)
        module = package / "compendium" / "themes.py"
        module.write_text(module.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
        assert _gone(tmp), "the server kept running on code that has changed"
        assert run("run", "leak_a").returncode == 0
        [second] = _sockets(tmp)
        assert second != first  # a new server, for the new code
        shutil.rmtree(root)
        assert _gone(tmp), "the server kept running for a folder that is gone"
    finally:
        _stop(env)


def test_make_clean_stops_the_folders_warm_server(fresh_copy, tmp_path: Path) -> None:
    """`make validate` leaves its server warm; `make clean` in the same folder stops it."""
    from compendium.maintenance import reproduce

    copy = fresh_copy("clean-stops")
    reproduce._link_venv(copy.root, REPO / ".venv")
    tmp = Path(__import__("tempfile").mkdtemp(prefix="cs-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPENDIUM_", "PYTEST_", "MAKE"))}
    env.update(TMPDIR=str(tmp), COMPENDIUM_SERVER_LINGER="60")
    env.pop("MFLAGS", None)
    make = ["make", "-C", str(copy.root), "COMPENDIUM_ENV_READY=1"]
    built = subprocess.run([*make, "validate"], env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    assert len(_sockets(tmp)) == 1, "make validate left no warm server"
    cleaned = subprocess.run([*make, "clean"], env=env, capture_output=True, text=True, timeout=300)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert _gone(tmp), "make clean did not stop the server"


def test_a_lingering_servers_key_ignores_what_changes_between_builds_but_not_what_it_imported_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first build of a new clone runs through the version manager's shim (PYENV_*, its PATH),
    later ones through .venv's Python; make's own id and flags change every run. None of that
    may give a second server, but an environment the imports read (a matplotlib backend) must."""
    from compendium import client

    monkeypatch.setenv(client.ENV_LINGER, "600")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    key = client._key()
    monkeypatch.setenv("PATH", "/root/.pyenv/versions/3.11.7/bin:" + os.environ.get("PATH", ""))
    monkeypatch.setenv("PYENV_VERSION", "3.11.7")
    monkeypatch.setenv(client.ENV_MAKE, "12345")
    monkeypatch.setenv("MAKEFLAGS", "-j2 --jobserver-auth=5,6")
    assert client._key() == key
    monkeypatch.setenv("MPLBACKEND", "svg")
    assert client._key() != key
    monkeypatch.setenv(client.ENV_LINGER, "0")  # a server of one make run: make's id is its key
    one_run = client._key()
    monkeypatch.setenv(client.ENV_MAKE, "54321")
    assert client._key() != one_run


def test_the_client_imports_only_the_standard_library() -> None:
    """A recipe's command imports the client before anything else, once per recipe (hundreds of times
    in a large study): the command line, the server and the stack stay out of it."""
    probe = (
        "import sys, json; before = set(sys.modules); import compendium.client; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    loaded = json.loads(out.stdout)
    assert [m for m in loaded if m.startswith("compendium")] == ["compendium", "compendium.client"]
    stdlib = sys.stdlib_module_names
    assert [m for m in loaded if not m.startswith("compendium") and m.split(".")[0] not in stdlib] == []
    assert "subprocess" not in loaded and "pathlib" not in loaded  # imported only to start a server
    # Each of these cost a client a few milliseconds; none is needed to reach a server that listens.
    assert [m for m in ("tempfile", "typing", "contextlib", "random", "shutil") if m in loaded] == []


@pytest.mark.parametrize("tmpdir", ["writable", "missing", "relative", "unset"])
def test_the_sockets_folder_is_the_one_tempfile_would_choose(tmpdir: str, tmp_path: Path) -> None:
    """The client finds the temporary folder without importing tempfile; it must be tempfile's choice."""
    env = {k: v for k, v in os.environ.items() if k not in ("TMPDIR", "TEMP", "TMP")}
    env["PYTHONPATH"] = str(REPO / "src")
    (tmp_path / "here").mkdir()
    if tmpdir == "writable":
        env["TMPDIR"] = str(tmp_path)
    elif tmpdir == "missing":
        env["TMPDIR"], env["TEMP"] = str(tmp_path / "gone"), str(tmp_path)
    elif tmpdir == "relative":
        env["TMPDIR"] = "here"
    probe = (
        "import tempfile; from compendium.client import temporary_folder as t; print(t()); print(tempfile.gettempdir())"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, cwd=tmp_path
    )
    ours, theirs = out.stdout.splitlines()
    assert ours == theirs


# ---------------------------------------------------------------- servers forked from the environment's zygote
# Prints which compendium the kernel imported, and from where.
NOTEBOOK_WHICH = [
    "import json, compendium.themes as t\n"
    "print(json.dumps({'marked': getattr(t, 'FOLDER_B', False), 'file': t.__file__}))"
]


def _peer(path: Path) -> int:
    """The pid of the process listening on a Unix socket (the kernel's record of who bound it)."""
    import socket
    import struct

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        pid, _, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def _folder_b(tmp_path: Path, env: dict) -> tuple[Path, dict]:
    """A second folder with its own copy of the package, one module of it marked."""
    import shutil

    b = tmp_path / "b"
    (b / "notebooks").mkdir(parents=True)
    nbformat.write(nbformat.from_dict(_notebook(NOTEBOOK_WHICH)), b / "notebooks" / "which.ipynb")
    shutil.copytree(REPO / "src" / "compendium", b / "src" / "compendium", ignore=shutil.ignore_patterns("__pycache__"))
    module = b / "src" / "compendium" / "themes.py"
    module.write_text(module.read_text(encoding="utf-8") + "\nFOLDER_B = True\n", encoding="utf-8")
    return b, {**env, "COMPENDIUM_ROOT": str(b), "PYTHONPATH": str(b / "src")}


def test_a_second_folder_gets_a_server_forked_from_the_zygote_that_imports_its_own_code(mini, tmp_path: Path) -> None:
    root, tmp, env, run = mini
    env.update(COMPENDIUM_SERVER_LINGER="60", COMPENDIUM_MAKE_PID=str(os.getpid()))
    nbformat.write(nbformat.from_dict(_notebook(NOTEBOOK_WHICH)), root / "notebooks" / "which.ipynb")
    b, env_b = _folder_b(tmp_path, env)
    try:
        assert run("run", "which").returncode == 0
        cpu = tmp / "cpu-b.txt"  # as make bench names it: the zygote reports its own CPU there too
        done = subprocess.run(
            [sys.executable, "-m", "compendium", "run", "which"],
            cwd=b,
            env={**env_b, "COMPENDIUM_SERVER_CPU": str(cpu)},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        reports = [line.split() for line in cpu.read_text(encoding="utf-8").splitlines()]
        # The zygote's own (written as it forked the server: it had just imported the rest of the
        # stack for this second folder), then the command's, then the server's own.
        assert [r[0] for r in reports] == ["self", "job", "self"], reports
        assert float(reports[0][1]) > 0
        seen = {
            folder: json.loads(_stream(folder / "build" / "notebooks" / "which.ipynb").strip().splitlines()[-1])
            for folder in (root, b)
        }
        # Each folder's kernels import that folder's code, although both servers came from one process.
        assert seen[root] == {"marked": False, "file": str(REPO / "src" / "compendium" / "themes.py")}
        assert seen[b] == {"marked": True, "file": str(b / "src" / "compendium" / "themes.py")}
        [zygote] = tmp.glob("compendium-zygote-*.sock")
        servers = _sockets(tmp)
        assert len(servers) == 2, "each folder has a server of its own"
        zygote_pid = _peer(zygote)
        assert [_parent(_peer(s)) for s in servers] == [zygote_pid, zygote_pid]
    finally:
        _stop(env)
        _stop(env_b)
    assert _gone(tmp), "make clean's stop request did not stop the servers"
    assert not list(tmp.glob("compendium-zygote-*.sock")), "make clean's stop request did not stop the zygote"


def test_one_zygote_serves_every_folder_and_data_folder_of_an_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # make share builds the shared copy with DATA=... OUT=... on make's command line, which make puts
    # in the environment; a restricted study's build sets them too. Neither changes what a zygote imports.
    from compendium import zygote

    monkeypatch.delenv("DATA", raising=False)
    plain = zygote.socket_path()
    for name, value in (("DATA", "/elsewhere/study"), ("OUT", "/elsewhere/out"), ("COMPENDIUM_DATA", "/x")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PYTHONPATH", "/some/copy/src")
    assert zygote.socket_path() == plain
    monkeypatch.setenv("MPLBACKEND", "svg")  # what importing matplotlib reads: another zygote
    assert zygote.socket_path() != plain


def test_when_the_zygote_cannot_start_the_server_starts_as_a_new_python(mini) -> None:
    root, tmp, env, run = mini
    env.update(COMPENDIUM_SERVER_LINGER="60", COMPENDIUM_MAKE_PID=str(os.getpid()))
    where = subprocess.run(
        [sys.executable, "-c", "from compendium import zygote; print(zygote.socket_path())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    Path(where.stdout.strip()).mkdir()  # its socket's path is taken: no zygote can listen there
    try:
        first = run("run", "leak_a")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Traceback" not in first.stderr
        [server] = _sockets(tmp)
        command = Path(f"/proc/{_peer(server)}/cmdline").read_bytes().split(b"\0")
        assert command[1:3] == [b"-m", b"compendium.server"]
    finally:
        _stop(env)
    assert _gone(tmp)
