"""``compendium validate`` on deliberately broken copies of the data.

Each case in ``tests/broken/*.yaml`` describes small changes to a temporary
copy of ``data/synthetic`` and the problems that must be reported (see
``tests/broken/README.md``). Every case runs twice: through
:func:`compendium.validate.validate` and through the command line's entry point
(``compendium validate``; for a few cases also ``python -m compendium validate``
in a process of its own). Each must fail with the expected file, row or line,
wording and fix, print no traceback, and leave the input files as they were.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import Run
from compendium import cli
from compendium.errors import DataError, Problem
from compendium.paths import Paths
from compendium.validate import validate

REPO = Path(__file__).resolve().parents[1]
CASES_DIR = Path(__file__).resolve().parent / "broken"
CASES = sorted(CASES_DIR.glob("*.yaml"))
DATA = "data/synthetic"

ACTIONS = {"replace", "truncate_after", "encoding", "line_endings", "add_bom", "empty", "delete", "append"}
MUTATION_KEYS = ACTIONS | {"file", "with", "count"}
CASE_KEYS = {"description", "mutations", "expect", "max_problems", "not_in_message", "not_files"}
EXPECT_KEYS = {"file", "row", "line", "column", "message", "fix"}


# --------------------------------------------------------------------------- building a broken copy


def copy_compendium(dest: Path) -> Path:
    """A minimal compendium in ``dest``: pyproject.toml and data/ (what validate reads)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(REPO / "data", dest / "data")
    return dest


def load_case(path: Path) -> dict:
    """Read one case and check its shape, so a mistyped key fails loudly instead of testing nothing."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(case) <= CASE_KEYS, f"{path.name}: unknown keys {set(case) - CASE_KEYS}"
    assert case.get("description") and case.get("mutations") and case.get("expect"), path.name
    for m in case["mutations"]:
        assert set(m) <= MUTATION_KEYS, f"{path.name}: unknown mutation keys {set(m) - MUTATION_KEYS}"
        assert len(set(m) & ACTIONS) == 1, f"{path.name}: each mutation needs exactly one action: {m}"
    for e in case["expect"]:
        assert set(e) <= EXPECT_KEYS, f"{path.name}: unknown expect keys {set(e) - EXPECT_KEYS}"
        assert e.get("file") and e.get("message") and e.get("fix"), f"{path.name}: incomplete expectation {e}"
    return case


def apply_mutation(data: Path, m: dict) -> None:
    """Apply one mutation to ``data`` (the copy's data/synthetic folder)."""
    path = data / m["file"]
    if m.get("delete"):
        path.unlink()
        return
    raw = path.read_bytes()
    if m.get("empty"):
        raw = b""
    elif m.get("add_bom"):
        raw = b"\xef\xbb\xbf" + raw
    elif "encoding" in m:
        raw = raw.decode("utf-8").encode(m["encoding"])
    elif m.get("line_endings") == "crlf":
        raw = raw.replace(b"\n", b"\r\n")
    else:
        text = raw.decode("utf-8")
        if "replace" in m:
            old, new = m["replace"], m["with"]
            found = text.count(old)
            count = m.get("count")
            if count is None:
                assert found == 1, f"{m['file']}: {old!r} occurs {found} times; it must occur exactly once"
                count = 1
            else:
                assert found >= count, f"{m['file']}: {old!r} occurs {found} times, fewer than {count}"
            text = text.replace(old, new, count)
        elif "truncate_after" in m:
            at = text.find(m["truncate_after"])
            assert at >= 0, f"{m['file']}: {m['truncate_after']!r} not found"
            text = text[: at + len(m["truncate_after"])]
        elif "append" in m:
            text += m["append"]
        else:
            raise AssertionError(f"unknown mutation {m}")
        raw = text.encode("utf-8")
    assert raw != path.read_bytes(), f"mutation changed nothing: {m}"
    path.write_bytes(raw)


def build_case(case: dict, dest: Path) -> Path:
    root = copy_compendium(dest)
    for m in case["mutations"]:
        apply_mutation(root / DATA, m)
    return root


def checksums(root: Path) -> dict[str, str]:
    """SHA-256 of every file under data/ (new or removed files show up as a changed key set)."""
    data = root / "data"
    return {
        str(f.relative_to(data)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(data.rglob("*"))
        if f.is_file()
    }


# --------------------------------------------------------------------------- matching problems


def _has_all(text: str, fragments: list[str]) -> bool:
    return all(str(f).lower() in text.lower() for f in fragments)


def matches(problem: Problem, e: dict) -> bool:
    if problem.file != f"{DATA}/{e['file']}":
        return False
    for key in ("row", "line", "column"):
        if key in e and getattr(problem, key) != e[key]:
            return False
    return _has_all(problem.message, e["message"]) and _has_all(problem.fix, e["fix"])


def describe(problems: list[Problem]) -> str:
    return "\n".join(f"  {p!r}" for p in problems)


def check_problems(case: dict, problems: list[Problem]) -> None:
    """Every expectation met, no forbidden wording or file, not too many reports, a fix on each."""
    for e in case["expect"]:
        assert any(matches(p, e) for p in problems), (
            f"expected problem not reported: {e}\nreported:\n{describe(problems)}"
        )
    for p in problems:
        assert p.fix.strip(), f"problem without a fix: {p!r}"
    for fragment in case.get("not_in_message", []):
        bad = [p for p in problems if fragment.lower() in p.message.lower()]
        assert not bad, f"wording {fragment!r} must not appear:\n{describe(bad)}"
    for name in case.get("not_files", []):
        bad = [p for p in problems if p.file == f"{DATA}/{name}"]
        assert not bad, f"{name} is not broken but is blamed:\n{describe(bad)}"
    if "max_problems" in case:
        assert len(problems) <= case["max_problems"], (
            f"{len(problems)} problems reported, at most {case['max_problems']} expected:\n{describe(problems)}"
        )


def cli_blocks(stderr: str) -> list[str]:
    """The problem entries of the CLI's error output, one string per problem (with its fix line)."""
    blocks: list[str] = []
    for line in stderr.splitlines():
        if line.startswith("  - "):
            blocks.append(line[4:])
        elif blocks and line.startswith("    "):
            blocks[-1] += "\n" + line.strip()
    return blocks


def cli_matches(block: str, e: dict) -> bool:
    where = f"{DATA}/{e['file']}"
    if "row" in e:
        where += f", row {e['row']}"
    if "line" in e:
        where += f", line {e['line']}"
    if not block.startswith(where) or block[len(where) : len(where) + 1] not in (",", ":"):
        return False  # "row 2" must not match "row 21"
    message, _, fix = block.partition("\nfix:")
    return bool(fix.strip()) and _has_all(message, e["message"]) and _has_all(fix, e["fix"])


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMPENDIUM_ROOT": str(root), "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "compendium", *args], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )


# --------------------------------------------------------------------------- the tests


def test_there_are_broken_cases() -> None:
    required = {
        "truncated_csv",
        "wrong_types",
        "duplicate_ids",
        "unknown_theme",
        "unknown_participant",
        "span_past_end",
        "excerpt_edited",
        "span_shifted",
        "non_utf8_table",
        "non_utf8_transcript",
        "crlf_line_endings",
        "empty_transcript",
        "missing_transcript",
        "missing_table",
        "malformed_codebook",
        "codebook_missing_parent",
        "bom_in_transcript",
        "several_problems",
    }
    assert required <= {c.stem for c in CASES}


def test_unbroken_copy_is_valid(tmp_path: Path) -> None:
    """Control: the copy itself passes, so every failure below comes from its mutations."""
    root = copy_compendium(tmp_path / "clean")
    assert validate(Paths(root)) == {"transcripts": 8, "themes": 12}


@pytest.mark.parametrize("case_path", CASES, ids=[c.stem for c in CASES])
def test_validate_reports_broken_case(case_path: Path, tmp_path: Path) -> None:
    case = load_case(case_path)
    root = build_case(case, tmp_path / "compendium")
    before = checksums(root)
    with pytest.raises(DataError) as caught:
        validate(Paths(root))
    assert checksums(root) == before, "validate changed the input files"
    problems = caught.value.problems
    assert problems, "DataError without problems"
    assert f"{len(problems)} problem" in str(caught.value)
    check_problems(case, problems)


def run_cli_here(root: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Run:
    """``compendium validate`` through the command line's own entry point, in this process (the formatting of
    the problems, the exit status and the streams are the command line's; a Python of its own is the only
    difference, and :data:`IN_A_PROCESS` keeps a few cases that start one)."""
    monkeypatch.setenv("COMPENDIUM_ROOT", str(root))
    capfd.readouterr()
    code = cli.main(["validate"], serve=False)
    out, err = capfd.readouterr()
    return Run(["compendium", "validate"], code, out, err)


def check_cli_output(case: dict, result: Run) -> None:
    assert result.returncode != 0, f"exit code 0 for broken data; stdout:\n{result.stdout}"
    assert "Traceback" not in result.stderr, result.stderr
    assert "is valid" not in result.stdout
    assert result.stderr.startswith("error: Validation of data/synthetic failed:"), result.stderr
    blocks = cli_blocks(result.stderr)
    assert blocks, result.stderr
    n = len(blocks)
    assert f"failed: {n} problem{'s' if n != 1 else ''} found." in result.stderr.splitlines()[0], result.stderr
    for e in case["expect"]:
        assert any(cli_matches(b, e) for b in blocks), f"expected problem not printed: {e}\nstderr:\n{result.stderr}"
    assert all("\nfix:" in b for b in blocks), f"a printed problem has no fix:\n{result.stderr}"


@pytest.mark.parametrize("case_path", CASES, ids=[c.stem for c in CASES])
def test_cli_reports_broken_case(
    case_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    case = load_case(case_path)
    root = build_case(case, tmp_path / "compendium")
    before = checksums(root)
    result = run_cli_here(root, monkeypatch, capfd)
    assert checksums(root) == before, "compendium validate changed the input files"
    check_cli_output(case, result)


# A Python of its own for each of these (about a second each: it imports pandas and frictionless): what a
# researcher types, so that nothing outside the command's entry point (an import's warning on stderr, the exit
# status as the shell sees it) differs from the in-process runs above. Several problems at once, and a file
# that is not UTF-8.
IN_A_PROCESS = ("several_problems", "non_utf8_transcript")


@pytest.mark.parametrize("stem", IN_A_PROCESS)
def test_the_command_reports_broken_data_in_a_process_of_its_own(stem: str, tmp_path: Path) -> None:
    case = load_case(CASES_DIR / f"{stem}.yaml")
    root = build_case(case, tmp_path / "compendium")
    before = checksums(root)
    result = run_cli(root, "validate")
    assert checksums(root) == before, "python -m compendium validate changed the input files"
    check_cli_output(case, result)


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    """Independent problems in different layers and files all appear in one DataError."""
    case = load_case(CASES_DIR / "several_problems.yaml")
    assert len(case["expect"]) >= 2
    root = build_case(case, tmp_path / "compendium")
    with pytest.raises(DataError) as caught:
        validate(Paths(root))
    problems = caught.value.problems
    for e in case["expect"]:
        assert sum(matches(p, e) for p in problems) == 1, f"{e} not reported exactly once:\n{describe(problems)}"
    assert {p.file for p in problems} == {f"{DATA}/{e['file']}" for e in case["expect"]}


def test_problem_text_names_place_and_fix() -> None:
    """The text a researcher reads: file, row, column, message and fix, in that order."""
    problem = Problem(
        "data/synthetic/coding.csv",
        "segment P01-S02 is coded to theme '4.1'.",
        "use a theme id",
        row=2,
        column="theme_id",
    )
    assert str(problem) == (
        "data/synthetic/coding.csv, row 2, column 'theme_id': segment P01-S02 is coded to "
        "theme '4.1'.\n    fix: use a theme id"
    )
    error = DataError([problem, Problem("data/synthetic/transcripts/P01.txt", "is empty.", "add text")])
    assert str(error).splitlines()[0] == "The input data: 2 problems found."


def test_cli_passes_clean_copy_without_writing_data(tmp_path: Path) -> None:
    root = copy_compendium(tmp_path / "clean")
    before = checksums(root)
    result = run_cli(root, "validate")
    assert result.returncode == 0, result.stderr
    assert "data/synthetic is valid (8 transcripts, 12 themes)" in result.stdout
    assert result.stderr == ""
    assert checksums(root) == before
