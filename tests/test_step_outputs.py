"""Each pipeline step's outputs, as declared in the Makefile, the notebook's own "Outputs" line, the
README's map and the failure tests, agree with what provenance observed the step write.

Provenance is the ground truth: ``build/provenance/<notebook>.json`` lists every file the
notebook really wrote in a clean build. A step that starts writing a new file, or stops,
fails here until every declaration says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from compendium.paths import Paths

pytestmark = pytest.mark.slow  # reads a clean build

VARS = {
    "$(TABLES)": "manuscript/tables",
    "$(FIGURES)": "figures",
    "$(VALUES)": "manuscript/values",
    "$(EXEC)": "build/notebooks",
}


def _expand(word: str) -> str:
    for var, value in VARS.items():
        word = word.replace(var, value)
    return word


def _make_variable(root: Path, name: str) -> list[str]:
    """A Makefile variable as make itself expands it (relative paths)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE")}
    env["COMPENDIUM_LOCKED"] = str(root)  # only reading the rules: no build lock needed
    out = subprocess.run(
        ["make", "-s", "-C", str(root), "--no-print-directory", "--eval", f"print-var: ; @echo $({name})", "print-var"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def _rule_targets(makefile: str, first_target: str) -> list[str]:
    """The targets of the rule whose first target is ``first_target`` (grouped ``&:`` or pattern ``:``)."""
    for line in makefile.splitlines():
        if line.startswith(first_target + " "):
            return [_expand(w) for w in re.split(r"\s*&?:\s", line, maxsplit=1)[0].split()]
    raise AssertionError(f"no rule starting with {first_target} in the Makefile")


def _observed(p: Paths, label: str) -> set[str]:
    record = json.loads((p.build / "provenance" / f"{label}.json").read_text(encoding="utf-8"))
    return set(record["outputs"])


def _outputs_line(notebook: Path) -> str:
    cell = json.loads(notebook.read_text(encoding="utf-8"))["cells"][0]
    text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    line = next((x for x in text.splitlines() if x.startswith("**Outputs")), "")
    assert line, f"{notebook.name}: its first cell has no **Outputs** line"
    return line


def _readme_row(readme: str, notebook: str) -> str:
    row = next((x for x in readme.splitlines() if x.startswith("|") and f"`notebooks/{notebook}.ipynb`" in x), "")
    assert row, f"README.md: the map has no row for notebooks/{notebook}.ipynb"
    return row


STEPS = {  # notebook -> (provenance label, how the Makefile names the outputs)
    "01_read_corpus": ("01_read_corpus", "rule:$(EXEC)/01_read_corpus.ipynb"),
    "02_analyse_case": ("02_analyse_case_P01", "rule:$(EXEC)/02_analyse_case_%.ipynb"),
    "03_analyse_across_cases": ("03_analyse_across_cases", "var:CROSS_OUT"),
    "04_describe_sample": ("04_describe_sample", "var:DESC_OUT"),
}


@pytest.mark.parametrize("notebook", sorted(STEPS))
def test_declared_outputs_match_what_the_step_wrote(notebook: str, built_copy: Paths) -> None:
    label, declared_by = STEPS[notebook]
    observed = _observed(built_copy, label)
    assert observed, f"provenance recorded no outputs for {label}"
    kind, name = declared_by.split(":", 1)
    if kind == "var":
        declared = set(_make_variable(built_copy.root, name))
    else:
        makefile = (built_copy.root / "Makefile").read_text(encoding="utf-8")
        targets = [t.replace("%", "P01") for t in _rule_targets(makefile, name)]
        declared = {t for t in targets if not t.startswith("build/notebooks/")}
    assert declared == observed, (
        f"{notebook}: the Makefile declares {sorted(declared - observed)} that it does not "
        f"write, and misses {sorted(observed - declared)}"
    )

    stems = {Path(o).name.split(".")[0].replace("P01", "PXX") for o in observed}
    outputs_line = _outputs_line(built_copy.notebooks / f"{notebook}.ipynb").replace("P01", "PXX")
    readme = _readme_row((built_copy.root / "README.md").read_text(encoding="utf-8"), notebook)
    for stem in sorted(stems):
        generic = stem.replace("case_PXX", "case_")
        assert stem in outputs_line or generic in outputs_line, f"{notebook}: its Outputs line does not name {stem}"
        assert stem in readme or generic in readme, f"README.md map: the row of {notebook} does not name {stem}"


def test_the_failure_tests_name_the_outputs_of_their_step(built_copy: Paths) -> None:
    from test_reproduce import FAILING, FAILING_OUTPUTS

    assert set(FAILING_OUTPUTS) == _observed(built_copy, FAILING) | {f"build/notebooks/{FAILING}.ipynb"}
