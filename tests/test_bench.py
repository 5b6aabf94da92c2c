"""`make bench`'s measuring parts: CPU accounting with the detached build server, the edits it makes."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from compendium.maintenance import bench
from compendium.paths import Paths, paths

REPO = paths().root


def test_timed_adds_the_build_servers_cpu_and_reads_its_commands() -> None:
    # Stands in for a make run whose build server reports as src/compendium/server.py does.
    script = (
        "import os\n"
        "with open(os.environ['COMPENDIUM_SERVER_CPU'], 'a') as fh:\n"
        "    fh.write('job 1.250 run 02_analyse_case --participant P01\\nself 0.150 321.0\\n'\n"
        "             'job 0.500 manuscript\\nself 0.100 200.0\\n')\n"
    )
    run = bench._timed([sys.executable, "-c", script])
    assert run.code == 0
    assert run.server == 2.0
    assert run.cpu >= 2.0  # the server's CPU is added to the command's own
    assert run.peak_mb >= 321.0
    assert run.jobs == [(1.25, "run 02_analyse_case --participant P01"), (0.5, "manuscript")]
    where = bench._where(run)
    assert "build server and zygote warm-up and bookkeeping 0.2" in where
    assert "02_analyse_case 1.2" in where and "manuscript 0.5" in where


def test_timed_does_not_wait_when_no_server_started() -> None:
    run = bench._timed([sys.executable, "-c", "pass"])
    assert run.code == 0 and run.server == 0.0 and run.jobs == []


def test_timed_runs_stand_alone_from_the_calling_make(monkeypatch) -> None:
    monkeypatch.setenv("MAKEFLAGS", "-j2 --jobserver-auth=3,4")
    monkeypatch.setenv("COMPENDIUM_MAKE_PID", "1")
    script = "import os; print(os.environ.get('MAKEFLAGS'), os.environ.get('COMPENDIUM_MAKE_PID'))"
    assert bench._timed([sys.executable, "-c", script]).output.strip() == "None None"


def test_edit_duration_changes_one_cell_and_can_be_undone(tmp_path: Path) -> None:
    shutil.copytree(REPO / "data", tmp_path / "data")
    p = Paths(tmp_path)
    before = p.participants.read_text(encoding="utf-8")
    bench._edit_duration(tmp_path, +1)
    after = p.participants.read_text(encoding="utf-8")
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 1 and changed[0][0].split(",")[0] == "P01"
    bench._edit_duration(tmp_path, -1)
    assert p.participants.read_text(encoding="utf-8") == before


def test_naive_loop_runs_every_notebook_once(tmp_path: Path) -> None:
    shutil.copytree(REPO / "data", tmp_path / "data")
    cmds = bench._naive_cmds(tmp_path, Path(sys.prefix))
    stems = [Path(c[1]).stem for c in cmds]
    assert stems[0] == "01_read_corpus" and stems[-2:] == ["03_analyse_across_cases", "04_describe_sample"]
    assert stems.count("02_analyse_case") == 8


@pytest.mark.heavy  # runs the real Makefile in a copy (through bench's helpers, so the hint search cannot see it)
def test_scale_row_builds_a_generated_study_through_the_real_pipeline(tmp_path: Path) -> None:
    # The scale rows copy only what a build needs next to a generated study; a file the
    # Makefile's recipes run (tools/build_lock.py once went missing) fails the build here.
    editable = sorted(Path(sys.prefix).glob("lib/python*/site-packages/__editable__*compendium*"))
    before = [f.read_bytes() for f in editable]
    run = bench._scale(paths(), Path(sys.prefix), tmp_path / "scale8", 8)
    assert run.code == 0, run.output[-2000:]
    # The generated study's pyproject.toml is newer than the environment: it must not be reinstalled from there.
    assert [f.read_bytes() for f in editable] == before
    assert "setup:" not in run.output
    built = Paths(tmp_path / "scale8")
    assert len(list(built.case_tables.glob("case_P*.csv"))) == 8
    assert (built.root / "build" / "all.done").is_file()
    # Its build server (and a zygote started for its copy of the code) ends with the make run, instead
    # of lingering ten minutes in a folder pytest keeps.
    deadline = time.monotonic() + 30
    while (left := _working_in(built.root)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes still working in the scale folder: {left}"


def _working_in(folder: Path) -> list[str]:
    """The processes (pid and command line) whose working folder is ``folder`` or inside it."""
    folder, found = folder.resolve(), []
    for proc in Path("/proc").iterdir():
        try:
            cwd = Path(os.readlink(proc / "cwd"))
            if cwd == folder or folder in cwd.parents:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{proc.name}: {command[:120]}")
        except (OSError, ValueError):
            continue
    return found


def test_the_notes_name_the_notebooks_a_build_ran_and_those_it_kept() -> None:
    output = (
        "notebook: 01_read_corpus\n"
        "notebook: 01_read_corpus done in 0.3 s\n"
        "notebook: 02_analyse_case (participant=P03)\n"
        "notebook: 03_analyse_across_cases: its inputs have the bytes of its last run, so its outputs are kept\n"
    )
    note = bench._reran(bench._Timed(1.0, 1.0, 1.0, 0, output))
    assert note == (
        "re-ran: 01_read_corpus, 02_analyse_case_P03; kept by content (the same bytes in, "
        "src/compendium/memo.py): 03_analyse_across_cases (and the manuscript)."
    )
    assert bench._reran(bench._Timed(1.0, 1.0, 1.0, 0, "")) == "re-ran: no notebook (and the manuscript)."
