"""No answer above its exercise: every tutorial, run in exercise mode, holds the study's answer only behind its reveal.

Each tutorial is executed with Papermill (default parameters, exercise mode, a new
kernel each) in a temporary copy of the repository. Every string of the executed notebook (cell
sources, outputs, widget state) is searched for the study's own text for the
exercise: the notes of T2's passage, the statement of T3's passage, the
statements of the student's case in T4, the analyst's memo on the next case in
T5, the stricter rule's result in T6, and the interpretations woven into the
model paragraph in T7. The same strings are checked to be in the model answers,
so the test would catch a leak rather than look for text that is never there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from compendium.data import Study, load_study
from compendium.transcripts import line_span
from compendium.paths import Paths, paths
from compendium.teaching import exercises as x
from compendium.teaching.lab import solution_copy
from compendium.teaching.text import TutorialError
from compendium.themes import quote_bank

pytestmark = pytest.mark.slow


def _norm(text: str) -> str:
    return " ".join(text.replace("\\", "").split()).lower()


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    return []


def _secrets(study: Study) -> dict[str, tuple[list[str], str]]:
    """Per tutorial: the study's text that answers its exercise, and the model answer that must hold it."""
    c = study.coding.set_index("segment_id")
    text = study.transcripts["P01"]
    lines: set[int] = set()
    for s, e in zip(*(study.coding.loc[study.coding["participant_id"] == "P01", k] for k in ("start", "end"))):
        a, b = line_span(text, s, e)
        lines.update(range(a, b + 1))
    bank = quote_bank(x.all_case_tables(study), study.participants, per_theme=2)
    picks = bank.loc[bank["theme_id"] == "3.1.2", "segment_id"].tolist()
    memo = study.memos[(study.memos["participant_id"] == "P02") & (study.memos["kind"] == "reflexive")]["text"]
    return {
        "T1_read_transcript": (["lines " + ", ".join(map(str, sorted(lines)))], x.answer_lines(study, "P01")),
        "T2_write_notes": (
            [c.loc["P01-S05", k] for k in ("note_descriptive", "note_linguistic", "note_conceptual")],
            x.answer_notes(study, "P01-S05"),
        ),
        "T3_write_statements": ([c.loc["P01-S11", "experiential_statement"]], x.answer_statement(study, "P01-S11")),
        "T4_cluster_statements": (
            study.coding.loc[study.coding["participant_id"] == "P01", "experiential_statement"].tolist(),
            x.answer_clusters(study, "P01"),
        ),
        "T5_bracket_case": ([memo.iloc[0][:120]], x.answer_next_case(study, "P01", "P02")),
        "T6_compare_cases": (["present in at least 6 of 8 cases"], x.answer_recurrence(study, 0.75)),
        "T7_write_up": ([c.loc[p, "note_conceptual"][1:80] for p in picks], x.answer_quotes(study, "3.1.2")),
    }


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    real = paths()
    copy = tmp_path_factory.mktemp("leaks") / "repo"
    shutil.copytree(real.data, copy / "data" / "synthetic")
    shutil.copytree(
        real.notebooks / "tutorial",
        copy / "notebooks" / "tutorial",
        ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
    )
    shutil.copy2(real.root / "pyproject.toml", copy / "pyproject.toml")
    out = {}
    # In this process, one tutorial after another, through the function behind the headers' teacher
    # command (`compendium tutorial T3 --mode exercise`): Papermill is imported once, not seven times.
    # Each tutorial still runs in a new kernel of its own, started the classic way, which reads the copy.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COMPENDIUM_ROOT", str(copy))
        env.setenv("PYTHONPATH", str(real.root / "src"))
        env.setenv("MPLBACKEND", "Agg")
        for source in sorted((copy / "notebooks" / "tutorial").glob("T*.ipynb")):
            try:
                target = solution_copy(source.name[:2], "exercise", Paths(copy))
            except TutorialError as err:
                pytest.fail(f"{source.name} failed in exercise mode: {err}")
            out[source.stem] = json.loads(target.read_text(encoding="utf-8"))
    assert not (copy / "student_work").exists(), "a default run wrote student work"
    return out


def test_every_tutorial_is_checked(executed: dict[str, dict]) -> None:
    assert sorted(executed) == sorted(_secrets(load_study()))


@pytest.mark.parametrize(
    "stem",
    [
        "T1_read_transcript",
        "T2_write_notes",
        "T3_write_statements",
        "T4_cluster_statements",
        "T5_bracket_case",
        "T6_compare_cases",
        "T7_write_up",
    ],
)
def test_no_answer_appears_outside_its_reveal(executed: dict[str, dict], stem: str) -> None:
    study = load_study()
    secrets, answer = _secrets(study)[stem]
    shown = _norm("\n".join(_strings(executed[stem])))
    for secret in secrets:
        assert _norm(secret) in _norm(answer), f"{stem}: the model answer should hold {secret[:60]!r}"
        assert _norm(secret) not in shown, f"{stem}: the answer {secret[:60]!r} is visible in exercise mode"
    assert "tutorial-reveal" in json.dumps(executed[stem]) or re.search(
        "Show the model answer", json.dumps(executed[stem])
    )


def test_the_headers_teacher_command_renders_the_model_answers(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`.venv/bin/python -m compendium tutorial T3 --mode solution`, as the header gives it, shows the answer."""
    real = paths()
    copy = tmp_path_factory.mktemp("solution") / "repo"
    shutil.copytree(real.data, copy / "data" / "synthetic")
    shutil.copytree(real.notebooks / "tutorial", copy / "notebooks" / "tutorial")
    shutil.copy2(real.root / "pyproject.toml", copy / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(real.root / "src"), "MPLBACKEND": "Agg"}
    env.pop("COMPENDIUM_ROOT", None)  # found from the working directory, as when a teacher types it
    done = subprocess.run(
        [sys.executable, "-m", "compendium", "tutorial", "T3", "--mode", "solution"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    target = copy / "build" / "tutorial" / "T3_write_statements_solution.ipynb"
    assert done.stdout.strip() == "tutorial: wrote build/tutorial/T3_write_statements_solution.ipynb"
    statement = load_study().coding.set_index("segment_id").loc["P01-S11", "experiential_statement"]
    assert _norm(statement) in _norm("\n".join(_strings(json.loads(target.read_text(encoding="utf-8")))))
    bad = subprocess.run(
        [sys.executable, "-m", "compendium", "tutorial", "T9"], cwd=copy, env=env, capture_output=True, text=True
    )
    assert (
        bad.returncode == 1 and bad.stderr.startswith("error: 'T9' is not a tutorial") and "Traceback" not in bad.stderr
    )
