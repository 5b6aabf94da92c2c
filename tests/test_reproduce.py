"""End-to-end tests of reproducibility: determinism, the manifest, `make verify`, `make diff`,
failure behaviour and incremental builds, each in a temporary copy of the compendium."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from compendium.paths import Paths
from compendium.maintenance import reproduce
from compendium.maintenance.reproduce import artefact_hashes, compare, read_manifest

pytestmark = pytest.mark.slow  # every test here runs make at least once

Runner = Callable[..., subprocess.CompletedProcess]  # run_make from conftest.py
Copy = Callable[[str], Paths]  # fresh_copy / clone_built from conftest.py

FAILING = "04_describe_sample"
PLANTED = 'raise RuntimeError("planted failure")'
# What the Makefile declares for notebook 04 (DESC_OUT) plus its executed copy.
FAILING_OUTPUTS = [
    "manuscript/tables/table1_sample.csv",
    "manuscript/tables/table1_sample.md",
    "manuscript/tables/sample_aggregates.csv",
    "manuscript/tables/sample_aggregates.md",
    "figures/interview_durations.svg",
    "figures/interview_durations.png",
    "manuscript/values/descriptives.json",
    f"build/notebooks/{FAILING}.ipynb",
]
TAMPERED = "manuscript/tables/table1_sample.csv"


def data_hashes(p: Paths) -> dict[str, str]:
    """SHA-256 of every file under data/."""
    folder = p.root / "data"
    return {
        str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    table = compare(a, b)
    return [f"{r.artefact} ({r.status})" for r in table.itertuples() if r.status != "identical"]


# ---------------------------------------------------------------- determinism, the manifest and make verify
# Each clean build costs seconds, so one `make verify` proves three things: it works from a folder whose path
# has a space and an umlaut, the clean rebuild it makes in a folder of its own gives the same bytes as the first
# clean build (`built_copy`), as its printed table shows, and a manifest entry that does not match is named.
# The VERIFIED verdict and its report are checked on that comparison's other outcome, without a rebuild.
def verify_rows(stdout: str) -> dict[str, tuple[str, str, str]]:
    """``make verify``'s printed table: artefact -> (status, expected, rebuilt), hashes cut to 12 digits."""
    rows = {}
    for line in stdout.splitlines():
        m = re.match(
            r"^\s*(\S+)\s+(identical|changed|missing|unexpected)\s+([0-9a-f]{12}|)\s*([0-9a-f]{12}|)\s*$", line
        )
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3), m.group(4))
    return rows


def test_committed_manifest_matches_a_fresh_build(repo: Paths, built_copy: Paths) -> None:
    manifest = read_manifest(repo.manifest)
    assert manifest, "manifest.sha256 is missing or empty"
    assert differing(manifest, artefact_hashes(built_copy)) == [], (
        "the committed manifest.sha256 does not match a build from clean; run `make manifest` and commit it"
    )


def test_verify_in_a_folder_with_a_space_and_umlaut_rebuilds_the_same_bytes_and_names_a_tampered_artefact(
    built_copy: Paths, tmp_path: Path, run_make: Runner
) -> None:
    root = tmp_path / "my compendium ü" / "compendium"
    shutil.copytree(built_copy.root, root, symlinks=True)
    (root / "data" / "synthetic" / "transcripts" / "P02.txt").touch()
    built = run_make(root, "all")
    assert built.returncode == 0 and "warning" not in built.stdout.lower(), built.stdout[-3000:]
    p = Paths(root)
    manifest = read_manifest(p.manifest)
    first = artefact_hashes(built_copy)
    assert len(first) > 50  # tables, figures, values, manuscript, exports, executed notebooks
    # Only meaningful if the artefact is otherwise reproduced exactly.
    assert manifest.get(TAMPERED) == first[TAMPERED]
    manifest[TAMPERED] = "0" * 64
    p.manifest.write_text("".join(f"{h}  {name}\n" for name, h in sorted(manifest.items())), encoding="utf-8")

    result = run_make(p.root, "verify")
    assert result.returncode != 0
    rows = verify_rows(result.stdout)
    # The rebuild, made from clean in a folder of its own, has every artefact of the first clean build, byte for byte.
    assert set(rows) == set(first), result.stdout[-3000:]
    assert {name: rebuilt for name, (_, _, rebuilt) in rows.items()} == {n: h[:12] for n, h in first.items()}
    # ... and verify says which manifest entry does not match, and nothing else.
    assert {name for name, (status, _, _) in rows.items() if status != "identical"} == {TAMPERED}
    assert f"NOT VERIFIED: 1 changed of {len(first)} artefacts" in result.stdout, result.stdout[-3000:]
    assert re.search(rf"^\s*{re.escape(TAMPERED)}\s+changed\s+0{{12}}\s", result.stdout, re.M), result.stdout[-3000:]
    report = (p.build / "verify" / "reviewer-report.md").read_text(encoding="utf-8")
    assert TAMPERED in report and "**Verdict:** NOT VERIFIED" in report
    # The rebuild must use the test environment (linked as the copy's .venv), not set up a new one in the copy.
    assert (p.root / ".venv").is_symlink(), "make verify installed a new .venv in the copy instead of using the link"
    assert not (root.parent / ".venv").exists() and not (tmp_path / "my").exists()


def test_verify_says_verified_when_every_artefact_matches(
    built_copy: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other outcome of the comparison above: the rebuild (here the first clean build itself) has every
    artefact the manifest names, with its bytes."""
    root = tmp_path / "verified"
    shutil.copytree(built_copy.root, root, symlinks=True)
    monkeypatch.setenv("COMPENDIUM_ROOT", str(root))
    monkeypatch.setattr(reproduce, "build_copy", lambda p, target: (built_copy, 9.5, ""))
    assert reproduce.verify_command(argparse.Namespace()) == 0
    out = capsys.readouterr().out
    n = len(artefact_hashes(built_copy))
    assert re.search(rf"^VERIFIED: all {n} artefacts are byte-identical to the manifest$", out, re.M), out[-3000:]
    report = (Paths(root).build / "verify" / "reviewer-report.md").read_text(encoding="utf-8")
    assert "**Verdict:** VERIFIED" in report and "NOT VERIFIED" not in report


# ---------------------------------------------------------------- make diff
def _diff_lines(run_make: Runner, p: Paths) -> str:
    result = run_make(p.root, "diff")
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def _set_default(notebook: Path, name: str, value: str) -> None:
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = re.sub(rf"^({name}: \w+ = )\S+", rf"\g<1>{value}", cell.source, flags=re.M)
    assert f"= {value}" in cell.source
    nbformat.write(nb, notebook)


def test_make_diff_names_values_quotes_parameters_and_moved_segments(clone_built: Copy, run_make: Runner) -> None:
    """One change after another in one copy, each diff against the results accepted first: (a) a
    duration, (b) a re-spanned segment that changes a shown quote, (c) a parameter, (d) a segment
    moved to another theme."""
    p = clone_built("diff")
    accepted = run_make(p.root, "manifest")  # accept this copy's results, so the diff shows only our changes
    assert accepted.returncode == 0, accepted.stdout[-3000:]
    assert "notebook:" not in accepted.stdout

    # (a) the shortest interview gets shorter: its value and the mean change
    people = pd.read_csv(p.participants, dtype=str, keep_default_na=False)
    shortest = people["duration_min"].astype(int).idxmin()
    old_min = int(people.loc[shortest, "duration_min"])
    people.loc[shortest, "duration_min"] = str(old_min - 4)
    p.participants.write_text(people.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    out = _diff_lines(run_make, p)
    assert (
        f"value shortest interview (minutes) (descriptives.json: durations.min): {old_min} -> {old_min - 4}" in out
    ), out
    assert re.search(
        r"value mean interview duration \(minutes\) \(descriptives.json: durations.mean\): "
        r"59.5 -> 59.0",
        out,
    ), out

    # (b) the first quote shown for a theme is cut below the quote bank's minimum length
    shown = json.loads((p.build / "manuscript" / "quotes_shown.json").read_text(encoding="utf-8"))
    first = shown[0]
    coding = pd.read_csv(p.coding, dtype=str, keep_default_na=False)
    row = coding.index[coding["segment_id"] == first["segment_id"]][0]
    text = p.transcript(coding.loc[row, "participant_id"]).read_text(encoding="utf-8")
    start = int(coding.loc[row, "start"])
    excerpt = coding.loc[row, "excerpt"]
    cut = start + len(" ".join(excerpt.split(" ")[:6]))
    coding.loc[row, ["end", "excerpt"]] = [str(cut), text[start:cut]]
    p.coding.write_text(coding.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    out = _diff_lines(run_make, p)
    assert f"segment {first['segment_id']}: span changed from characters" in out, out
    changed = re.search(
        rf"manuscript quote 1 of theme {re.escape(first['theme_id'])}: "
        rf"{re.escape(first['pseudonym'])}, lines? [0-9-]+ \({first['segment_id']}\) -> (\w+), ",
        out,
    )
    assert changed, out

    # (c) the recurrence threshold's default changes in the notebook
    _set_default(p.notebooks / "03_analyse_across_cases.ipynb", "recurrence_threshold", "0.5")
    out = _diff_lines(run_make, p)
    assert "parameter recurrence_threshold of notebook 03_analyse_across_cases: 0.3333 -> 0.5" in out, out
    assert (
        "value recurrence threshold (share of participants) (cross_case.json: recurrence.threshold): "
        "0.3333 -> 0.5" in out
    ), out

    # (d) a segment moves from theme 3.1 to 3.2; its participant has several 3.1 segments and keeps
    # the theme, so the data stay valid
    coding = pd.read_csv(p.coding, dtype=str, keep_default_na=False)
    in_31 = coding[coding["theme_id"] == "3.1"]
    pid = in_31["participant_id"].value_counts().index[0]
    segment = in_31.loc[in_31["participant_id"] == pid, "segment_id"].iloc[0]
    coding.loc[coding["segment_id"] == segment, "theme_id"] = "3.2"
    p.coding.write_text(coding.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    out = _diff_lines(run_make, p)
    assert f"segment {segment}: moved from theme 3.1 to 3.2" in out, out[-3000:]
    assert len(re.findall(r"moved from theme", out)) == 1, out[-3000:]
    cells = re.findall(r"^\s+- table \w+, row \d+ \(.*\), column '.+': '.*' -> '.*'$", out, re.M)
    assert cells, f"no changed table cell reported:\n{out[-3000:]}"
    assert re.search(r"^diff: [1-9]\d* of \d+ artefacts differ", out, re.M)


# ---------------------------------------------------------------- running a notebook by hand
def test_a_hand_run_with_other_parameters_leaves_the_pipeline_alone(
    clone_built: Copy, run_make: Runner, run_cli: Callable[..., subprocess.CompletedProcess]
) -> None:
    p = clone_built("hand_run")
    before = artefact_hashes(p)
    result = run_cli(p.root, "run", "03_analyse_across_cases", "-p", "recurrence_threshold=0.5")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "build/scratch/03_analyse_across_cases__recurrence_threshold=0.5/" in result.stdout
    scratch = p.build / "scratch" / "03_analyse_across_cases__recurrence_threshold=0.5"
    assert (
        json.loads((scratch / "manuscript" / "values" / "cross_case.json").read_text())["recurrence"]["threshold"]
        == 0.5
    )
    assert differing(before, artefact_hashes(p)) == []
    assert run_make(p.root, "-q", "all").returncode == 0, "make all should still be up to date"

    bad = run_cli(p.root, "run", "03_analyse_across_cases", "-p", "recurrence_threshold=half")
    assert bad.returncode == 1 and "Traceback" not in bad.stdout
    assert "parameter recurrence_threshold must be a float" in bad.stdout

    # Asked for explicitly, the run overwrites the pipeline's outputs and marks the step out of date.
    forced = run_cli(p.root, "run", "03_analyse_across_cases", "-p", "recurrence_threshold=0.5", "--into-pipeline")
    assert forced.returncode == 0, forced.stdout[-3000:]
    assert json.loads((p.values / "cross_case.json").read_text())["recurrence"]["threshold"] == 0.5
    assert run_make(p.root, "-q", "all").returncode != 0, "make all must notice the outputs no longer follow"
    rebuilt = run_make(p.root, "all")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    assert differing(before, artefact_hashes(p)) == []


def test_the_colophon_is_dated_by_the_source_commit(repo: Paths, built_copy: Paths) -> None:
    from compendium.source import source_date_epoch

    import datetime as dt

    day = dt.datetime.fromtimestamp(source_date_epoch(repo.root), dt.UTC).strftime("%Y-%m-%d")
    text = (built_copy.build / "manuscript" / "manuscript.md").read_text(encoding="utf-8")
    assert day in text, f"the manuscript does not carry the source commit's date {day}"


# ---------------------------------------------------------------- a failing notebook
@dataclass
class FailureRun:
    p: Paths
    failed: subprocess.CompletedProcess  # the failing `make all`
    fixed: subprocess.CompletedProcess  # `make all` after the planted cell is removed
    code_cells: int  # code cells in the planted notebook (the planted one is the last)
    cells: int  # all cells in the planted notebook
    planted_mtime: int
    after_failure: dict[str, int | None] = field(default_factory=dict)  # output -> mtime (None: absent)
    still_due: int = 0  # exit status of `make -q` on the step's outputs after the failure
    kept_failed_copy: bool = False  # the partly executed notebook was kept for the researcher
    data: list[dict[str, str]] = field(default_factory=list)  # data/ hashes: before, after failure, after fix


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


@pytest.fixture(scope="module")
def failure(clone_built: Copy, run_make: Runner) -> FailureRun:
    """Plant a failing cell in notebook 04 of a built clone, build, then remove it and build again."""
    p = clone_built("failing")
    before = data_hashes(p)
    source = p.notebooks / f"{FAILING}.ipynb"
    original = source.read_bytes()
    nb = nbformat.read(source, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PLANTED))
    nbformat.write(nb, source)
    nbformat.validate(nbformat.read(source, as_version=4))
    planted_mtime = source.stat().st_mtime_ns
    failed = run_make(p.root, "all")
    after_failure = {rel: _mtime(p.root / rel) for rel in FAILING_OUTPUTS}
    still_due = run_make(p.root, "-q", *FAILING_OUTPUTS[:-1]).returncode
    kept_failed_copy = (p.build / "failed" / f"{FAILING}.ipynb").is_file()
    data_after_failure = data_hashes(p)
    source.write_bytes(original)
    fixed = run_make(p.root, "all")
    return FailureRun(
        p=p,
        failed=failed,
        fixed=fixed,
        code_cells=sum(c.cell_type == "code" for c in nb.cells),
        cells=len(nb.cells),
        planted_mtime=planted_mtime,
        after_failure=after_failure,
        still_due=still_due,
        kept_failed_copy=kept_failed_copy,
        data=[before, data_after_failure, data_hashes(p)],
    )


def test_a_failing_notebook_stops_the_build_with_a_clear_message(failure: FailureRun) -> None:
    out = failure.failed.stdout
    assert failure.failed.returncode != 0
    assert f"Notebook notebooks/{FAILING}.ipynb failed in cell" in out, out[-3000:]
    # Papermill injects one parameters cell, so the planted cell is the last code cell run and
    # its index in the executed notebook is one more than in the source.
    assert f"failed in cell {failure.code_cells + 1} (cell index {failure.cells})" in out, out[-3000:]
    assert "RuntimeError: planted failure" in out
    assert "Traceback (most recent call last)" not in out, out[-3000:]
    assert f"build/failed/{FAILING}.ipynb" in out
    assert failure.kept_failed_copy, "the partly executed notebook named in the message was not kept"


def test_a_failed_step_does_not_leave_its_outputs_looking_current(failure: FailureRun) -> None:
    current = [
        rel for rel, mtime in failure.after_failure.items() if mtime is not None and mtime >= failure.planted_mtime
    ]
    assert current == [], f"outputs newer than the failing notebook: {current}"
    assert failure.still_due != 0, "make -q considers the failed step's outputs up to date"


def test_the_build_recovers_once_the_notebook_is_fixed(failure: FailureRun) -> None:
    assert failure.fixed.returncode == 0, failure.fixed.stdout[-3000:]
    assert f"notebook: {FAILING}" in failure.fixed.stdout
    source_mtime = (failure.p.notebooks / f"{FAILING}.ipynb").stat().st_mtime_ns
    for rel in FAILING_OUTPUTS:
        path = failure.p.root / rel
        assert path.is_file() and path.stat().st_mtime_ns >= source_mtime, rel
    assert not (failure.p.build / "failed" / f"{FAILING}.ipynb").exists()


def test_source_data_are_never_modified(repo: Paths, built_copy: Paths, failure: FailureRun) -> None:
    before, after_failure, after_fix = failure.data
    assert len(before) >= 15  # tables, codebook, datapackage, allow-list, eight transcripts
    assert after_failure == before, "the failing build changed data/"
    assert after_fix == before, "the succeeding build changed data/"
    assert data_hashes(built_copy) == data_hashes(repo), "the clean build changed data/"


# ---------------------------------------------------------------- incremental builds
def test_noop_build_and_one_transcript_change(clone_built: Copy, run_make: Runner) -> None:
    p = clone_built("incremental")
    noop = run_make(p.root, "all")
    assert noop.returncode == 0, noop.stdout[-3000:]
    assert not re.search(r"^notebook:", noop.stdout, re.M), noop.stdout
    assert "manuscript: wrote" not in noop.stdout

    cross = [p.executed / "03_analyse_across_cases.ipynb", p.figures / "recurrence_heatmap.svg"]
    before = {path: (path.read_bytes(), path.stat().st_mtime_ns) for path in cross}
    transcript = p.transcript("P03")
    transcript.write_text(transcript.read_text(encoding="utf-8") + "Interviewer: Thank you.\n", encoding="utf-8")
    one = run_make(p.root, "all")
    out = one.stdout
    assert one.returncode == 0, out[-3000:]
    assert set(re.findall(r"participant=(P\d+)", out)) == {"P03"}, out
    for step in (
        "notebook: 01_read_corpus",
        "manuscript: wrote manuscript/output/manuscript.html",
    ):
        assert step in out, f"{step!r} did not run:\n{out}"
    assert FAILING not in out, "the sample notebook does not read transcripts and should not rerun"
    # The added line moved no coded segment: P03's case table has its old bytes, so the cross-case
    # step keeps its outputs (same bytes, a new date) instead of starting a kernel.
    assert "notebook: 03_analyse_across_cases: its inputs have the bytes of its last run" in out, out
    assert "notebook: 03_analyse_across_cases\n" not in out, out
    for path, (data, date) in before.items():
        assert path.read_bytes() == data and path.stat().st_mtime_ns > date, path

    # The steps whose digest kept its date (the other cases, the descriptives) did not run, and the
    # next make has nothing left to do: validation does not run again at every later make.
    again = run_make(p.root, "all")
    assert again.returncode == 0, again.stdout[-3000:]
    assert not re.search(r"^(validate|notebook|manuscript):", again.stdout, re.M), again.stdout
    assert run_make(p.root, "-q", "all").returncode == 0, "make -q must see the build up to date, as make does"

    # A digest deleted by hand is written again by validation, and only its step runs.
    (p.build / "inputs" / "case_P05.sha256").unlink()
    healed = run_make(p.root, "all")
    assert healed.returncode == 0, healed.stdout[-3000:]
    assert "validate: inputs changed for 1 step(s): case_P05" in healed.stdout, healed.stdout
    assert set(re.findall(r"--participant (P\d+)", healed.stdout)) == {"P05"}, healed.stdout
    assert (p.build / "inputs" / "case_P05.sha256").is_file()
    settled = run_make(p.root, "all")
    assert not re.search(r"^(validate|notebook|manuscript):", settled.stdout, re.M), settled.stdout

    # A case table with other bytes (here edited by hand) makes the cross-case step run for real.
    table = p.tables / "cases" / "case_P03.csv"
    table.write_text(table.read_text(encoding="utf-8").replace("Amy", "Amy ", 1), encoding="utf-8")
    rerun = run_make(p.root, "all")
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert "notebook: 03_analyse_across_cases\n" in rerun.stdout, rerun.stdout
