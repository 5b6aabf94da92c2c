"""A notebook step keeps its outputs only when every prerequisite and output has the bytes of its last run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from compendium import memo
from compendium.paths import Paths

LABEL = "03_analyse_across_cases"
COMMAND = [LABEL, {}]
PREREQUISITES = ["notebooks/03_analyse_across_cases.ipynb", "manuscript/tables/cases/case_P01.csv"]
WRITTEN = ["manuscript/tables/table2_themes.csv", "figures/recurrence_heatmap.svg"]


def _step(root: Path) -> Paths:
    """A compendium folder as a finished run of the step leaves it: prerequisites, outputs, provenance."""
    p = Paths(root)
    for name in PREREQUISITES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"the bytes of {name}\n", encoding="utf-8")
    for name in WRITTEN:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"written: {name}\n", encoding="utf-8")
    p.executed.mkdir(parents=True, exist_ok=True)
    (p.executed / f"{LABEL}.ipynb").write_text("{}\n", encoding="utf-8")
    (p.build / "provenance").mkdir(parents=True, exist_ok=True)
    record = {"notebook": LABEL, "inputs": [], "outputs": WRITTEN}
    (p.build / "provenance" / f"{LABEL}.json").write_text(json.dumps(record), encoding="utf-8")
    return p


def _remembered(root: Path) -> tuple[Paths, dict[str, str]]:
    p = _step(root)
    os.chdir(root)  # make's prerequisites are named relative to the folder make runs in
    inputs = memo.digests_of(PREREQUISITES)
    assert inputs is not None
    memo.remember(p, LABEL, COMMAND, inputs)
    return p, inputs


@pytest.fixture
def step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Paths, dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    return _remembered(tmp_path / "compendium")


def test_same_bytes_keep_every_output_and_give_them_a_new_date(step: tuple[Paths, dict[str, str]]) -> None:
    p, inputs = step
    outputs = memo.kept(p, LABEL, COMMAND, inputs)
    expected = {p.executed / f"{LABEL}.ipynb", p.build / "provenance" / f"{LABEL}.json"}
    expected |= {p.root / name for name in WRITTEN}
    assert outputs is not None and set(outputs) == expected
    for path in outputs:
        os.utime(path, (1_000_000, 1_000_000))
    assert memo.touch(outputs)
    assert all(path.stat().st_mtime > 1_000_000 for path in outputs)
    assert not memo.touch([p.root / "gone.csv"])  # a file that cannot be dated: the step runs instead


def test_a_prerequisite_with_other_bytes_makes_the_step_run(step: tuple[Paths, dict[str, str]]) -> None:
    p, _ = step
    table = p.root / PREREQUISITES[1]
    table.write_text(table.read_text(encoding="utf-8") + "one more row\n", encoding="utf-8")
    now = memo.digests_of(PREREQUISITES)
    assert now is not None
    assert memo.kept(p, LABEL, COMMAND, now) is None


def test_another_prerequisite_list_or_other_parameters_make_the_step_run(step: tuple[Paths, dict[str, str]]) -> None:
    p, inputs = step
    fewer = {k: v for k, v in inputs.items() if k != PREREQUISITES[1]}
    assert memo.kept(p, LABEL, COMMAND, fewer) is None
    assert memo.kept(p, LABEL, [LABEL, {"recurrence_threshold": 0.5}], inputs) is None


def test_a_missing_prerequisite_cannot_be_compared() -> None:
    assert memo.digests_of(["no/such/file.csv"]) is None


@pytest.mark.parametrize("how", ["changed", "missing"])
def test_an_output_changed_or_deleted_since_makes_the_step_run(step: tuple[Paths, dict[str, str]], how: str) -> None:
    p, inputs = step
    output = p.root / WRITTEN[0]
    if how == "changed":
        output.write_text("edited by hand\n", encoding="utf-8")
    else:
        output.unlink()
    assert memo.kept(p, LABEL, COMMAND, inputs) is None


@pytest.mark.parametrize(
    "damage",
    [
        "",
        "{not json",
        "[]",
        '{"version": 1}',
        '{"version": 99, "command": [], "inputs": {}, "outputs": {}}',
        "outside",  # a record (edited by hand) naming an output outside the compendium
    ],
)
def test_a_record_that_cannot_be_read_makes_the_step_run(step: tuple[Paths, dict[str, str]], damage: str) -> None:
    p, inputs = step
    record = p.build / "memo" / f"{LABEL}.json"
    if damage == "outside":
        (p.root.parent / "elsewhere.txt").write_text("not ours\n", encoding="utf-8")
        kept = json.loads(record.read_text(encoding="utf-8"))
        outside = memo.digests_of(["elsewhere.txt"], p.root.parent)
        assert outside is not None
        kept["outputs"]["../elsewhere.txt"] = outside["elsewhere.txt"]
        damage = json.dumps(kept)
    record.write_text(damage, encoding="utf-8")
    assert memo.kept(p, LABEL, COMMAND, inputs) is None


def test_forgotten_after_another_run_and_never_recorded_without_provenance(
    step: tuple[Paths, dict[str, str]],
) -> None:
    p, inputs = step
    memo.forget(p, LABEL)
    assert memo.kept(p, LABEL, COMMAND, inputs) is None
    (p.build / "provenance" / f"{LABEL}.json").unlink()
    memo.remember(p, LABEL, COMMAND, inputs)  # nothing says what the run wrote: nothing is kept
    assert not (p.build / "memo" / f"{LABEL}.json").exists()


def test_a_copied_tree_keeps_its_own_outputs_never_the_originals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _remembered(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = Paths(tmp_path / "b")
    os.chdir(copy.root)
    inputs = memo.digests_of(PREREQUISITES)
    assert inputs is not None
    outputs = memo.kept(copy, LABEL, COMMAND, inputs)
    assert outputs is not None
    assert all(path.is_relative_to(copy.root) for path in outputs)
