"""Notebooks: canonical form, the house structure, the nbval regression check and the runner's guards.

The subprocess tests run side by side (module fixtures start them together) so
the file stays fast; each uses its own temporary folder and never writes into
the working tree.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from compendium.data import load_participants
from compendium.notebooks import CHECK_MARK, canonical, check_canonical, normalise
from compendium.paths import Paths, paths

REPO = paths().root
NOTEBOOKS = REPO / "notebooks"
PIPELINE = sorted(NOTEBOOKS.glob("0*.ipynb"))
ALL_NOTEBOOKS = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def dumps(nb: dict) -> str:
    """The stored form of a notebook (what ``check_canonical`` compares against)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def env_for(root: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COMPENDIUM_PROVENANCE", "PYTEST_ADDOPTS", "PYTEST_CURRENT_TEST")
    }
    env["COMPENDIUM_ROOT"] = str(root)
    env["PYTHONPATH"] = str(REPO / "src")
    return env


# ---------------------------------------------------------------------------- canonical()


def executed_notebook() -> dict:
    """A notebook as Jupyter/Papermill leave it: counts, outputs, timings, random ids, extra metadata."""
    return {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {
            "kernelspec": KERNELSPEC,
            "language_info": {
                "name": "python",
                "version": "3.11.9",
                "file_extension": ".py",
                "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython"},
            },
            "papermill": {"start_time": "2022-06-01T10:00:00", "duration": 3.2, "parameters": {"x": 2}},
            "widgets": {"application/vnd.jupyter.widget-state+json": {}},
            "celltoolbar": "Tags",
        },
        "cells": [
            {"cell_type": "markdown", "id": "a1b2c3", "metadata": {"collapsed": True}, "source": "# Title\nWords"},
            {
                "cell_type": "code",
                "id": "9f8e7d",
                "execution_count": 5,
                "metadata": {"tags": ["parameters"], "execution": {"iopub.status.busy": "2022-06-01"}},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "not kept\n"}],
                "source": "x: int = 1\ny: str = 'a'\n",
            },
            {
                "cell_type": "code",
                "id": "zzz",
                "execution_count": 9,
                "metadata": {"papermill": {"duration": 1.5, "status": "completed"}},
                "outputs": [
                    {
                        "output_type": "execute_result",
                        "execution_count": 9,
                        "metadata": {"x": 1},
                        "data": {"text/plain": ["42"], "text/html": ["<b>42</b>"]},
                    },
                    {"output_type": "stream", "name": "stderr", "text": "a warning\n"},
                    {"output_type": "stream", "name": "stdout", "text": "total 3\n"},
                    {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/plain": ["<Figure>"], "image/png": "iVBORw0KGgo="},
                    },
                ],
                "source": [f"{CHECK_MARK}\n", "print(3)\n", "42"],
            },
            {"cell_type": "code", "id": "q", "execution_count": 10, "metadata": {}, "outputs": [], "source": ["z = 3"]},
        ],
    }


def test_canonical_known_answer() -> None:
    out = canonical(executed_notebook())
    assert (out["nbformat"], out["nbformat_minor"]) == (4, 5)
    assert out["metadata"] == {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"},
    }
    md, params, checked, plain = out["cells"]
    assert md == {"cell_type": "markdown", "id": "cell-01", "metadata": {}, "source": ["# Title\n", "Words"]}
    assert params == {
        "cell_type": "code",
        "id": "cell-02",
        "execution_count": None,
        "metadata": {"tags": ["parameters"]},
        "outputs": [],
        "source": ["x: int = 1\n", "y: str = 'a'\n"],
    }
    # the checked cell keeps text/plain and stdout only, with its ordinal among code cells (2) as a stable count
    assert checked == {
        "cell_type": "code",
        "id": "cell-03",
        "execution_count": 2,
        "metadata": {},
        "source": [f"{CHECK_MARK}\n", "print(3)\n", "42"],
        "outputs": [
            {"output_type": "execute_result", "execution_count": 2, "metadata": {}, "data": {"text/plain": ["42"]}},
            {"output_type": "stream", "name": "stdout", "text": "total 3\n"},
            {
                "output_type": "execute_result",
                "execution_count": 2,
                "metadata": {},
                "data": {"text/plain": ["<Figure>"]},
            },
        ],
    }
    assert plain == {
        "cell_type": "code",
        "id": "cell-04",
        "execution_count": None,
        "metadata": {},
        "outputs": [],
        "source": ["z = 3"],
    }


def test_canonical_is_idempotent_valid_and_leaves_its_input_alone() -> None:
    nb = executed_notebook()
    before = copy.deepcopy(nb)
    once = canonical(nb)
    assert nb == before
    assert canonical(copy.deepcopy(once)) == once
    nbformat.validate(nbformat.from_dict(once))


# ---------------------------------------------------------------------------- normalise()


def test_normalise_removes_papermill_timings() -> None:
    nb = executed_notebook()
    nb["metadata"]["papermill"] = {
        "start_time": "t0",
        "end_time": "t1",
        "duration": 3.2,
        "input_path": "in",
        "output_path": "out",
        "environment_variables": {},
        "version": "2.6.0",
        "parameters": {"participant": "P01"},
        "exception": None,
    }
    out = normalise(nb)
    assert out["metadata"]["papermill"] == {"parameters": {"participant": "P01"}, "exception": None}
    assert "widgets" not in out["metadata"]
    assert out["metadata"]["language_info"] == {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"}
    assert [c["metadata"] for c in out["cells"]] == [{}, {"tags": ["parameters"]}, {}, {}]
    assert [c["id"] for c in out["cells"]] == ["cell-01", "cell-02", "cell-03", "cell-04"]
    # an executed copy keeps its outputs and counts: only volatile metadata goes
    assert out["cells"][2]["execution_count"] == 9 and len(out["cells"][2]["outputs"]) == 5


def test_normalise_drops_an_all_volatile_papermill_block() -> None:
    nb = executed_notebook()
    nb["metadata"]["papermill"] = {"start_time": "t0", "end_time": "t1", "duration": 3.2}
    assert "papermill" not in normalise(nb)["metadata"]


def test_cell_ids_are_stable_across_runs() -> None:
    a, b = executed_notebook(), executed_notebook()
    for i, cell in enumerate(b["cells"]):
        cell["id"] = f"random-{i * 7919}"
    assert dumps(canonical(a)) == dumps(canonical(b))
    assert [c["id"] for c in normalise(b)["cells"]] == ["cell-01", "cell-02", "cell-03", "cell-04"]


# ---------------------------------------------------------------------------- the stored notebooks


def test_the_four_pipeline_notebooks_exist() -> None:
    assert [p.name for p in PIPELINE] == [
        "01_read_corpus.ipynb",
        "02_analyse_case.ipynb",
        "03_analyse_across_cases.ipynb",
        "04_describe_sample.ipynb",
    ]
    tutorial = NOTEBOOKS / "tutorial"
    if tutorial.is_dir():
        assert {p for p in ALL_NOTEBOOKS if p.parent == tutorial} == set(tutorial.glob("*.ipynb"))


def test_every_stored_notebook_is_canonical() -> None:
    assert len(ALL_NOTEBOOKS) >= len(PIPELINE) == 4
    assert check_canonical(Paths(REPO)) == []
    for path in ALL_NOTEBOOKS:  # the same, file by file, so a failure names the notebook
        assert path.read_text(encoding="utf-8") == dumps(canonical(load(path))), path.relative_to(REPO)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_notebook_is_valid_and_stripped(path: Path) -> None:
    nb = load(path)
    nbformat.validate(nbformat.from_dict(nb))
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}
    for index, cell in enumerate(nb["cells"], start=1):
        assert cell["id"] == f"cell-{index:02d}"
        assert isinstance(cell["source"], list)
        if cell["cell_type"] == "code" and CHECK_MARK not in "".join(cell["source"]):
            assert cell["outputs"] == [] and cell["execution_count"] is None


# ---------------------------------------------------------------------------- check_canonical on a copy


@pytest.fixture()
def copied(tmp_path: Path) -> Paths:
    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    return Paths(tmp_path)


def spoil(path: Path) -> None:
    """Save a notebook the way an editor might: counts, a random id, two-space indent."""
    nb = load(path)
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 3
    code["id"] = "4f2a9c"
    path.write_text(json.dumps(nb, indent=2), encoding="utf-8")


def test_check_canonical_reports_and_fixes_a_copy(copied: Paths) -> None:
    assert check_canonical(copied) == []
    target = copied.notebooks / "01_read_corpus.ipynb"
    original = target.read_bytes()
    spoil(target)
    checkpoint = copied.notebooks / ".ipynb_checkpoints" / "01_read_corpus-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    checkpoint.write_text("{}", encoding="utf-8")  # Jupyter's checkpoints are never checked

    assert check_canonical(copied) == ["notebooks/01_read_corpus.ipynb"]
    assert check_canonical(copied) == ["notebooks/01_read_corpus.ipynb"]  # checking alone changes nothing
    assert check_canonical(copied, fix=True) == ["notebooks/01_read_corpus.ipynb"]
    assert check_canonical(copied) == []
    assert target.read_bytes() == original
    assert checkpoint.read_text(encoding="utf-8") == "{}"


def test_check_canonical_looks_into_subfolders(copied: Paths) -> None:
    sub = copied.notebooks / "tutorial"
    sub.mkdir(exist_ok=True)
    shutil.copy(copied.notebooks / "04_describe_sample.ipynb", sub / "extra.ipynb")
    spoil(sub / "extra.ipynb")
    assert check_canonical(copied) == ["notebooks/tutorial/extra.ipynb"]


def test_canonical_command_fails_then_fix_repairs(copied: Paths) -> None:
    spoil(copied.notebooks / "02_analyse_case.ipynb")
    cmd = [sys.executable, "-m", "compendium", "canonical"]
    env = env_for(copied.root)
    check = subprocess.run(cmd, env=env, cwd=copied.root, capture_output=True, text=True, timeout=60)
    assert check.returncode == 1
    assert "Notebooks not in canonical form: notebooks/02_analyse_case.ipynb" in check.stderr
    assert "make notebooks-canonical" in check.stderr and "Traceback" not in check.stderr
    fix = subprocess.run(cmd + ["--fix"], env=env, cwd=copied.root, capture_output=True, text=True, timeout=60)
    assert fix.returncode == 0, fix.stderr
    assert "canonical: rewrote notebooks/02_analyse_case.ipynb" in fix.stdout
    assert check_canonical(copied) == []
    assert (copied.notebooks / "02_analyse_case.ipynb").read_bytes() == (
        NOTEBOOKS / "02_analyse_case.ipynb"
    ).read_bytes()


# ---------------------------------------------------------------------------- house structure


def code_of(cell: dict) -> ast.Module:
    return ast.parse("".join(cell["source"]))


@pytest.mark.parametrize("path", PIPELINE, ids=lambda p: p.stem)
def test_first_cell_describes_the_notebook(path: Path) -> None:
    first = load(path)["cells"][0]
    assert first["cell_type"] == "markdown"
    text = "".join(first["source"])
    assert text.startswith("# ") and len(text.splitlines()[0]) > 3, "cell 1 starts with a title"
    for label in ("**Purpose:**", "**IPA step:**", "**Inputs:**", "**Outputs**"):
        assert label in text, f"cell 1 of {path.name} lacks {label}"


TYPES = {"str": str, "int": int, "float": float, "bool": bool}


@pytest.mark.parametrize("path", PIPELINE, ids=lambda p: p.stem)
def test_second_cell_holds_typed_literal_parameters(path: Path) -> None:
    cells = load(path)["cells"]
    second = cells[1]
    assert second["cell_type"] == "code"
    assert "parameters" in second["metadata"].get("tags", [])
    assert [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])] == [1]
    body = code_of(second).body
    assert body, "the parameters cell is empty"
    for stmt in body:
        assert isinstance(stmt, ast.AnnAssign), f"{path.name}: not an annotated assignment: {ast.unparse(stmt)}"
        assert isinstance(stmt.target, ast.Name) and stmt.value is not None
        value = ast.literal_eval(stmt.value)  # raises if the value is not a literal
        assert isinstance(stmt.annotation, ast.Name) and stmt.annotation.id in TYPES
        assert isinstance(value, TYPES[stmt.annotation.id]), ast.unparse(stmt)
    names = [s.target.id for s in body]
    assert "write_outputs" in names


@pytest.mark.parametrize("path", PIPELINE, ids=lambda p: p.stem)
def test_third_cell_imports_from_compendium(path: Path) -> None:
    third = load(path)["cells"][2]
    assert third["cell_type"] == "code"
    body = code_of(third).body
    assert body
    for stmt in body:
        if isinstance(stmt, ast.ImportFrom):
            assert stmt.module is not None and stmt.module.split(".")[0] == "compendium", ast.unparse(stmt)
        else:
            assert isinstance(stmt, ast.Import), ast.unparse(stmt)
            assert all(a.name.split(".")[0] == "compendium" for a in stmt.names), ast.unparse(stmt)


@pytest.mark.parametrize("path", PIPELINE, ids=lambda p: p.stem)
def test_no_definitions_in_notebooks(path: Path) -> None:
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(code_of(cell)):
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)), (
                f"{path.name} {cell['id']}: define functions in src/compendium, not in a notebook"
            )


def test_structure_check_would_catch_a_computed_parameter() -> None:
    """The parameter check itself can fail: a derived value is not a literal."""
    stmt = ast.parse("n: int = len('abc')").body[0]
    assert isinstance(stmt, ast.AnnAssign)
    with pytest.raises(ValueError):
        ast.literal_eval(stmt.value)


# ---------------------------------------------------------------------------- nbval can fail

NBVAL_STEM = "04_describe_sample"


@pytest.fixture(scope="module")
def nbval_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess, str]]:
    """Run nbval on an unmodified and on a tampered copy of notebook 04, side by side."""
    base = tmp_path_factory.mktemp("nbval")
    nb = load(NOTEBOOKS / f"{NBVAL_STEM}.ipynb")
    tampered = copy.deepcopy(nb)
    changed = 0
    for cell in tampered["cells"]:
        if CHECK_MARK in "".join(cell["source"]):
            for out in cell["outputs"]:
                text = "".join(out.get("text", ""))
                if "mean 59.5" in text:
                    out["text"] = text.replace("mean 59.5", "mean 60.5")
                    changed += 1
    assert changed == 1, "the stored output of notebook 04 no longer says 'mean 59.5'"
    procs = {}
    for name, content in (("unmodified", nb), ("tampered", tampered)):
        folder = base / name
        folder.mkdir()
        target = folder / f"{NBVAL_STEM}.ipynb"
        target.write_text(dumps(content), encoding="utf-8")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "pytest", str(target), "--nbval-lax", "-p", "no:cacheprovider"],
            cwd=folder,
            env=env_for(REPO),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    results = {}
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        results[name] = (proc, out)
    return results


def test_nbval_passes_on_the_stored_notebook(nbval_runs: dict) -> None:
    proc, out = nbval_runs["unmodified"]
    assert proc.returncode == 0, out
    assert " passed" in out and " failed" not in out


def test_nbval_fails_when_a_checked_output_changes(nbval_runs: dict) -> None:
    proc, out = nbval_runs["tampered"]
    assert proc.returncode == 1, out
    assert "Cell outputs differ" in out
    assert "mean 60.5" in out and "mean 59.5" in out
    assert "1 failed" in out


# ---------------------------------------------------------------------------- the runner's guards


@pytest.fixture(scope="module")
def runner_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(REPO / "data", root / "data")
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    (root / "manuscript").mkdir()
    shutil.copy(REPO / "manuscript" / "template.md", root / "manuscript" / "template.md")
    return root


@pytest.fixture(scope="module")
def runner_results(runner_copy: Path) -> dict[str, subprocess.CompletedProcess]:
    commands = {
        "participant": ["run", "02_analyse_case", "--participant", "P99"],
        "threshold": ["run", "03_analyse_across_cases", "-p", "recurrence_threshold=1.5"],
    }
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "compendium", *args],
            cwd=runner_copy,
            env=env_for(runner_copy),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, args in commands.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def test_runner_refuses_an_unknown_participant(runner_results: dict, runner_copy: Path) -> None:
    run = runner_results["participant"]
    assert run.returncode == 1
    ids = load_participants(Paths(REPO))["participant_id"].tolist()
    assert len(ids) == 8
    assert "Unknown participant 'P99'" in run.stderr
    assert ", ".join(ids) in run.stderr  # every valid id, in order
    assert "Traceback" not in run.stderr + run.stdout
    assert "notebook:" not in run.stdout  # refused before a kernel started
    assert not (runner_copy / "build").exists()


def test_runner_refuses_a_bad_threshold(runner_results: dict, runner_copy: Path) -> None:
    run = runner_results["threshold"]
    assert run.returncode == 1
    assert "Recurrence threshold 1.5 is not a proportion" in run.stderr
    assert "fix: give a number above 0 and at most 1" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "notebook:" not in run.stdout
    assert not (runner_copy / "build").exists()
