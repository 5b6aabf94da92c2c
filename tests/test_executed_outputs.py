"""The pipeline notebooks' stored key results against the copies the build executed.

nbval (in ``make test``) re-runs a notebook in a new kernel and compares the
cells marked ``# NBVAL_CHECK_OUTPUT`` with the outputs stored in the source.
For the pipeline notebooks the build has just executed every one of them
(each case notebook for every participant), so re-running them would only
repeat that work: this test makes the same comparison against the executed
copies of the session's clean build, with nbval's own sanitising rules
(``tests/nbval_sanitize.cfg``). The tutorials, which the build does not run,
stay with nbval.
"""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import pytest

from compendium.notebooks import CHECK_MARK
from compendium.paths import Paths, paths

pytestmark = pytest.mark.slow  # needs the session's clean build (conftest.built_copy)

REPO = paths().root
PIPELINE = sorted((REPO / "notebooks").glob("0*.ipynb"))


def _sanitisers() -> list[tuple[re.Pattern, str]]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "tests" / "nbval_sanitize.cfg", encoding="utf-8")
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def _text(outputs: list[dict], rules: list[tuple[re.Pattern, str]]) -> list[str]:
    """What nbval compares in lax mode: stdout streams and text/plain results, sanitised."""
    out = []
    for o in outputs:
        if o.get("output_type") == "stream" and o.get("name") == "stdout":
            text = "".join(o["text"])
        elif o.get("output_type") in ("execute_result", "display_data") and "text/plain" in o.get("data", {}):
            text = "".join(o["data"]["text/plain"])
        else:
            continue
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        out.append(text)
    return out


def _checked_cells(nb: dict) -> dict[str, list[dict]]:
    """Checked code cells by their source (the injected parameters cell has none)."""
    return {
        "".join(c["source"]): c.get("outputs", [])
        for c in nb["cells"]
        if c["cell_type"] == "code" and CHECK_MARK in "".join(c["source"])
    }


@pytest.mark.parametrize("source", PIPELINE, ids=lambda p: p.stem)
def test_stored_key_results_match_the_executed_copy(source: Path, built_copy: Paths) -> None:
    rules = _sanitisers()
    stored = _checked_cells(json.loads(source.read_text(encoding="utf-8")))
    assert stored, f"{source.name} has no checked cell"
    label = f"{source.stem}_P01" if source.stem.startswith("02_") else source.stem
    executed = _checked_cells(json.loads((built_copy.executed / f"{label}.ipynb").read_text(encoding="utf-8")))
    for cell, outputs in stored.items():
        assert cell in executed, f"{source.name}: checked cell not in the executed copy:\n{cell}"
        assert _text(executed[cell], rules) == _text(outputs, rules), (
            f"{source.name}: the key result changed (accept it on purpose with `make accept`):\n{cell}"
        )


def test_every_case_notebook_ran_in_the_build(built_copy: Paths) -> None:
    """What nbval's extra run of the last participant's case used to show: the notebook runs for every case."""
    from compendium.data import load_participants

    for pid in load_participants(built_copy)["participant_id"]:
        nb = json.loads((built_copy.executed / f"02_analyse_case_{pid}.ipynb").read_text(encoding="utf-8"))
        errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"case {pid}: {errors[0]['ename']}"
        printed = "".join(
            t
            for c in nb["cells"]
            if CHECK_MARK in "".join(c.get("source", ""))
            for t in _text(c.get("outputs", []), [])
        )
        assert "coded segments in" in printed, f"case {pid} printed no summary"


def test_a_changed_key_result_would_be_caught(built_copy: Paths) -> None:
    """The comparison is not vacuous: a different count in the executed copy makes it differ."""
    source = next(p for p in PIPELINE if p.stem.startswith("04_"))
    stored = _checked_cells(json.loads(source.read_text(encoding="utf-8")))
    executed = _checked_cells(json.loads((built_copy.executed / f"{source.stem}.ipynb").read_text(encoding="utf-8")))
    cell = next(iter(stored))
    tampered = json.loads(json.dumps(executed[cell]).replace("N = 8", "N = 9"))
    assert _text(tampered, _sanitisers()) != _text(stored[cell], _sanitisers())
