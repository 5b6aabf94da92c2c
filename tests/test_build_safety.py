"""Builds that can be trusted: identifiers caught at input and output, one build at a time,
paths with spaces, stale outputs marked, Ctrl-C and a full disk ending with one line.

Each test maps to a numbered failure of issue 13 (2: the gate, 3: concurrent builds,
4: paths with spaces, 5: stale outputs after a failure, 7: interrupts and a full disk).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import data_restored
from compendium import cli, files
from compendium.maintenance import reproduce
from compendium.anonymise import AnonymisationError, audit, output_files
from compendium.paths import Paths
from compendium.maintenance.reproduce import artefact_hashes

Runner = Callable[..., subprocess.CompletedProcess]
Copy = Callable[[str], Paths]
REPO = Path(__file__).resolve().parents[1]
BUILD_TIMEOUT = 1200


# ============================================================ 2. identifiers in every input and output
def _append_to_cell(path: Path, row: int, column: str, text: str) -> None:
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows[row - 1][column] = f"{rows[row - 1][column]} {text}"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


@pytest.mark.parametrize(
    ("where", "plant", "expected"),
    [
        (
            "participants",
            lambda p: _append_to_cell(p.participants, 2, "qualification", "(ask lee.h@example.com)"),
            "data/synthetic/participants.csv, line 3: e-mail address: 'lee.h@example.com'",
        ),
        (
            "codebook",
            lambda p: p.codebook.write_text(
                p.codebook.read_text(encoding="utf-8").replace(
                    "definition: ", "definition: Ring 0412 345 678 first. ", 1
                ),
                encoding="utf-8",
            ),
            "phone number: '0412 345 678'",
        ),
        (
            "allowlist reason",
            lambda p: p.allowlist.write_text(
                p.allowlist.read_text(encoding="utf-8") + "  - text: nothing\n    reason: card 2123 45670 1\n",
                encoding="utf-8",
            ),
            "anonymisation_allowlist.yaml, line",
        ),
        (
            "memo",
            lambda p: _append_to_cell(p.memos, 1, "text", "She lives at 19 beach rd."),
            "street address: '19 beach rd",
        ),
    ],
)
@pytest.mark.slow
def test_every_input_file_is_scanned_before_anything_is_written(
    unbuilt_copy: Paths, run_make: Runner, where: str, plant, expected: str
) -> None:
    p = unbuilt_copy
    with data_restored(p):
        plant(p)
        result = run_make(p.root, "all")
    assert result.returncode != 0
    assert "Anonymisation gate" in result.stdout and expected in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stdout
    for folder in (p.tables, p.values, p.output, p.supplement, p.executed):
        assert not folder.exists() or not any(f.is_file() for f in folder.rglob("*")), f"{folder} was written"
    assert not (p.build / "all.done").exists()


@pytest.fixture(scope="module")
def unbuilt_copy(fresh_copy: Copy) -> Paths:
    """One copy of the sources, never built, for every planted identifier in turn (its data restored after each)."""
    return fresh_copy("plant")


def _docx(path: Path, text: str) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(path)


def _pdf(path: Path, text: str) -> None:
    import typst

    source = path.with_suffix(".typ")
    source.write_text(f"#set page(width: 12cm, height: 4cm)\n{text}\n", encoding="utf-8")
    typst.compile(str(source), output=str(path))
    source.unlink()


def test_every_output_format_is_scanned_and_offending_outputs_are_removed(fresh_copy: Copy) -> None:
    p = fresh_copy("outputs")
    planted = {
        p.supplement / "codebook.qdc": "qdc",
        p.supplement / "project.qdpx": "qdpx",
        p.output / "manuscript.docx": "docx",
        p.output / "manuscript.pdf": "pdf",
        p.output / "manuscript.html": "html",
        p.output / "notebooks" / "01_read_corpus.html": "notebook page",
        p.tables / "table1_sample.csv": "table",
        p.values / "cross_case.json": "values",
    }
    p.supplement.mkdir(parents=True)
    (p.supplement / "codebook.qdc").write_text(
        '<?xml version="1.0"?><CodeBook><Codes><Code name="x" guid="1"><Description>mail '
        "k.ray@example.org</Description></Code></Codes></CodeBook>",
        encoding="utf-8",
    )
    with zipfile.ZipFile(p.supplement / "project.qdpx", "w") as archive:
        archive.writestr("project.qde", '<?xml version="1.0"?><Project name="p"/>')
        archive.writestr("sources/a.txt", "Amy: ring me on 0423 987 654 tonight\n")
    _docx(p.output / "manuscript.docx", "We thank Dr Okonkwo for the referral.")
    _pdf(p.output / "manuscript.pdf", "She grew up at 118 old coach hwy.")
    (p.output / "manuscript.html").write_text(
        "<html><body><p>See someone.io today.</p></body></html>", encoding="utf-8"
    )
    (p.output / "notebooks").mkdir()
    (p.output / "notebooks" / "01_read_corpus.html").write_text(
        "<html><body><pre>born in July 1983</pre></body></html>", encoding="utf-8"
    )
    p.tables.mkdir(parents=True)
    (p.tables / "table1_sample.csv").write_text("a,b\nMedicare,4260 18159 1\n", encoding="utf-8")
    p.values.mkdir(parents=True)
    (p.values / "cross_case.json").write_text('{"abn": "31 387 837 576"}\n', encoding="utf-8")
    (p.tables / "clean.md").write_text("| theme | n |\n|---|---|\n| kindness | 3 |\n", encoding="utf-8")

    log = p.build / "anonymisation_log.json"
    with pytest.raises(AnonymisationError) as err:
        audit(p, outputs=True, log=log, remove=True)
    hit_files = {h.file for h in err.value.hits}
    assert hit_files == {str(f.relative_to(p.root)) for f in planted}, err.value
    for path in planted:
        assert not path.exists(), f"{path.name} contains an identifier and was kept"
    assert (p.tables / "clean.md").exists()
    record = json.loads(log.read_text(encoding="utf-8"))
    assert len(record["hits"]) == len(err.value.hits)
    assert {f["file"] for f in record["files"] if f["stage"] == "output"} >= hit_files


@pytest.mark.slow
def test_the_build_writes_an_anonymisation_log(built_copy: Paths) -> None:
    log = json.loads((built_copy.build / "anonymisation_log.json").read_text(encoding="utf-8"))
    checked = {f["file"] for f in log["files"]}
    outputs = {str(f.relative_to(built_copy.root)) for f in output_files(built_copy)}
    assert outputs <= checked
    assert any(f.startswith("manuscript/supplement/") for f in checked)
    assert {
        "manuscript/output/manuscript.pdf",
        "manuscript/output/manuscript.docx",
        "data/synthetic/participants.csv",
        "data/synthetic/codebook.yaml",
    } <= checked
    assert log["hits"] == [] and log["rules"]
    assert all(item["reason"] for item in log["allowlisted"])
    assert sum(entry["times_used"] for entry in log["allowlist"]) == len(log["allowlisted"])


# ============================================================ 3. one build at a time
def _build_env() -> dict[str, str]:
    """The environment of conftest's builds (source commit and date of the working tree, no parent make)."""
    from conftest import _base_env

    return {k: v for k, v in _base_env().items() if k != "COMPENDIUM_LOCKED"}


def _make_process(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["make", "-C", str(root), "COMPENDIUM_ENV_READY=1", "all"],
        env=_build_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_two_concurrent_builds_give_the_same_result_as_one(built_copy: Paths, clone_built: Copy) -> None:
    p = clone_built("concurrent")
    # The case, the cross-case step and the manuscript are due again. (Inputs are compared by content,
    # so a merely touched transcript would not make its case due; a missing output does.)
    (p.executed / "02_analyse_case_P03.ipynb").unlink()
    first, second = _make_process(p.root), _make_process(p.root)
    outputs = [proc.communicate(timeout=BUILD_TIMEOUT)[0] for proc in (first, second)]
    assert [proc.returncode for proc in (first, second)] == [0, 0], outputs
    assert any("another build is running in this folder" in out for out in outputs), outputs
    assert artefact_hashes(p) == artefact_hashes(built_copy)
    record = json.loads((p.build / "provenance" / "03_analyse_across_cases.json").read_text(encoding="utf-8"))
    assert record.get("inputs"), "the cross-case step's provenance lists no inputs"
    again = subprocess.run(["make", "-C", str(p.root), "-q", "all"], env=_build_env())
    assert again.returncode == 0


# ============================================================ 4. paths with spaces and non-ASCII
# (`make all` and `make verify` from such a folder: tests/test_reproduce.py, with verify's tampered manifest.)
def test_verify_and_bench_pass_no_venv_path_to_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "my compendium ü" / ".venv"
    venv.mkdir(parents=True)
    root = tmp_path / "copy"
    root.mkdir()
    calls = []
    monkeypatch.setattr(
        reproduce.subprocess,
        "run",
        lambda args, **kw: calls.append(args) or subprocess.CompletedProcess(args, 0, "", ""),
    )
    reproduce._make(root, venv, "all")
    assert calls == [["make", "-C", str(root), "COMPENDIUM_ENV_READY=1", "all"]]
    assert (root / ".venv").is_symlink() and (root / ".venv").resolve() == venv.resolve()


def test_a_copy_using_a_shared_environment_never_reinstalls_it(fresh_copy: Copy) -> None:
    # A copy whose pyproject.toml is newer than the shared environment's stamp (an edit, or a generated
    # study) must not run setup there: `pip install -e .` would point the environment at the copy.
    p = fresh_copy("env_ready")
    reproduce._link_venv(p.root, Path(sys.prefix))
    (p.root / "pyproject.toml").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "COMPENDIUM_LOCKED"}

    def dry_run(*extra: str) -> str:
        return subprocess.run(
            ["make", "-C", str(p.root), "-n", *extra, "all"], env=env, capture_output=True, text=True
        ).stdout

    assert "pip install" in dry_run()  # without it make would reinstall: the check below can fail
    assert "pip install" not in dry_run("COMPENDIUM_ENV_READY=1")


# ============================================================ 5. a failed build leaves nothing that looks current
@pytest.mark.slow
def test_a_failed_build_marks_stale_outputs_and_the_next_build_redoes_only_them(
    clone_built: Copy, run_make: Runner
) -> None:
    p = clone_built("stale")
    template = p.root / "manuscript" / "template.md"
    original = template.read_text(encoding="utf-8")
    template.write_text(original + "\nWe thank Dr Okonkwo.\n", encoding="utf-8")  # the manuscript step fails
    (p.executed / "02_analyse_case_P04.ipynb").unlink()  # its case table and the cross-case tables are rewritten first
    failed = run_make(p.root, "all")
    assert failed.returncode != 0
    assert not (p.build / "all.done").exists(), "build/all.done survived a failed build"
    stale = (p.build / "STALE.txt").read_text(encoding="utf-8")
    assert "stale   manuscript/output/manuscript.pdf" in stale
    assert "stale   manuscript/output/manuscript.html" in stale
    assert "manuscript/tables/cases/case_P04.csv" not in stale  # rebuilt before the failure: current
    assert "make: " in failed.stdout and "build/STALE.txt" in failed.stdout

    template.write_text(original, encoding="utf-8")
    fixed = run_make(p.root, "all")
    assert fixed.returncode == 0, fixed.stdout[-3000:]
    assert "notebook:" not in fixed.stdout, "the notebooks ran again although their outputs were current"
    assert "manuscript: wrote manuscript/output/manuscript.pdf" in fixed.stdout
    assert (p.build / "all.done").exists() and not (p.build / "STALE.txt").exists()


# ============================================================ 7. Ctrl-C and a full disk
def test_a_full_disk_keeps_the_old_file_and_leaves_no_partial_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "table.csv"
    files.write_text(target, "old,complete\n")

    def half_write(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", half_write)
    with pytest.raises(OSError):
        files.write_text(target, "new,table,that,does,not,fit\n" * 10)
    assert target.read_text(encoding="utf-8") == "old,complete\n"
    assert sorted(f.name for f in tmp_path.iterdir()) == ["table.csv"]


def _cli(
    root: Path, argv: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    monkeypatch.setenv("COMPENDIUM_ROOT", str(root))
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_cli_ends_a_full_disk_with_one_message(
    fresh_copy: Copy, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = fresh_copy("full_disk")
    (p.build / "failed").mkdir(parents=True)
    (p.build / "failed" / "02_analyse_case_P01.ipynb").write_text('{"cells": [', encoding="utf-8")  # cut short

    def no_space(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))

    monkeypatch.setattr(Path, "write_bytes", no_space)
    code, err = _cli(p.root, ["validate", "--report", "build/validated.json"], capsys, monkeypatch)
    assert code == 1
    assert "No space left on device" in err and "fix: free some disk space" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2
    assert not p.validated.exists() and not list(p.build.glob(".*.tmp"))
    assert not (p.build / "failed" / "02_analyse_case_P01.ipynb").exists(), "a truncated notebook copy was kept"


def test_cli_ends_ctrl_c_with_one_line(
    fresh_copy: Copy, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = fresh_copy("ctrl_c")
    from compendium import validate

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(validate, "validate", interrupted)
    code, err = _cli(p.root, ["validate"], capsys, monkeypatch)
    assert code == 130
    assert err.startswith("interrupted: `compendium validate` stopped by Ctrl-C") and len(err.strip().splitlines()) == 1


SLEEPER = {
    "cells": [
        {
            "cell_type": "code",
            "id": "parameters",
            "execution_count": None,
            "metadata": {"tags": ["parameters"]},
            "outputs": [],
            "source": "write_outputs = True",
        },
        {
            "cell_type": "code",
            "id": "sleep",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import json, pathlib, time\n"
            "from ipykernel.connect import get_connection_info\n"
            "info = json.loads(get_connection_info())\n"
            "pathlib.Path('../build/sleeper.started').write_text(info['ip'])\n"
            "time.sleep(600)",
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.mark.slow
def test_ctrl_c_during_a_notebook_stops_the_kernel_and_removes_its_sockets(fresh_copy: Copy) -> None:
    p = fresh_copy("interrupt")
    (p.notebooks / "99_sleeper.ipynb").write_text(json.dumps(SLEEPER), encoding="utf-8")
    p.build.mkdir(exist_ok=True)
    started = p.build / "sleeper.started"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env.update(COMPENDIUM_ROOT=str(p.root), PYTHONPATH=str(p.root / "src"))
    process = subprocess.Popen(
        [sys.executable, "-m", "compendium", "run", "99_sleeper"],
        cwd=p.root,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # a terminal's Ctrl-C is not ignored
    try:
        while not started.exists() and process.poll() is None:
            try:
                process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
        assert process.poll() is None, process.communicate()
        prefix = started.read_text(encoding="utf-8")
        assert list(Path(prefix).parent.glob(Path(prefix).name + "*")), "the kernel's sockets were not found"
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert err.strip().splitlines() == [
        "interrupted: `compendium run` stopped by Ctrl-C; its outputs were not updated (run `make all` to finish "
        "the build)"
    ], err
    assert not list(Path(prefix).parent.glob(Path(prefix).name + "*")), "kernel sockets were left behind"
    assert not (p.executed / "99_sleeper.ipynb").exists()


@pytest.mark.slow
def test_ctrl_c_during_make_all_stops_every_step_and_marks_the_build_stale(clone_built: Copy) -> None:
    """Ctrl-C in a terminal reaches make, the locking wrapper's sub-make and the running notebook steps."""
    p = clone_built("ctrl_c_make")
    # Every case step is due and sleeps once it is running, so Ctrl-C lands while notebooks run.
    case = p.notebooks / "02_analyse_case.ipynb"
    nb = json.loads(case.read_text(encoding="utf-8"))
    nb["cells"].append(
        {
            "cell_type": "code",
            "id": "sleep",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import pathlib, time\npathlib.Path('../build/sleeping.txt').write_text('x')\ntime.sleep(600)",
        }
    )
    case.write_text(json.dumps(nb), encoding="utf-8")
    # conftest's environment: among others, the build server lingers 30 s after the interrupted run,
    # not the Makefile's ten minutes (a test session would keep a 200 MB process it never uses again).
    process = subprocess.Popen(
        ["make", "-C", str(p.root), "COMPENDIUM_ENV_READY=1", "all"],
        env=_build_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    running = p.build / "sleeping.txt"  # written by the planted cell: a case notebook is running
    try:
        while not running.exists() and process.poll() is None:
            try:
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
        assert process.poll() is None, process.communicate()[0]
        os.killpg(process.pid, signal.SIGINT)
        out, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0
    assert "interrupted: `compendium run" in out and "stopped by Ctrl-C" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "build complete" not in out
    assert not (p.build / "all.done").exists()
    assert "manuscript/output/manuscript.pdf" in (p.build / "STALE.txt").read_text(encoding="utf-8")


def test_the_gate_run_by_hand_accepts_the_colophon_date_as_make_does(repo: Paths) -> None:
    # `python -m compendium audit --outputs` outside make (no SOURCE_DATE_EPOCH): the build date printed
    # in the colophon is the source commit's date, as make sets it, not a possible date of birth.
    assert (repo.output / "manuscript.html").is_file(), "make test builds before the tests run"
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "COMPENDIUM_LOCKED")}
    env["PYTHONPATH"] = str(repo.root / "src")
    done = subprocess.run(
        [sys.executable, "-m", "compendium", "audit", "--outputs"],
        cwd=repo.root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no direct identifiers" in done.stdout
