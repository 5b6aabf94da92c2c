"""Running one pipeline notebook by hand without desynchronising the build.

``python -m compendium run STEM -p key=value`` is how an author tries a
parameter. If the values differ from the notebook's own defaults (its
``parameters`` cell, which is what ``make all`` uses), the run goes to a scratch
copy under ``build/scratch/`` and the pipeline's tables, values and figures are
left alone: otherwise the manuscript would describe one parameter while
``make all`` believed everything was up to date with another.

With ``--into-pipeline`` the author asks for the pipeline's own outputs to be
overwritten; the run then marks that step out of date, so the next ``make all``
notices the outputs no longer follow the sources and redoes the step (and all
that depends on it) with the notebook's defaults.
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

from .errors import CompendiumError
from .paths import Paths

__all__ = ["declared_parameters", "check_parameters", "scratch_paths", "mark_out_of_date", "SCRATCH"]

SCRATCH = "scratch"
# Parameters the pipeline itself varies from run to run (one case notebook per participant).
PIPELINE_VARIED = {"participant", "write_outputs"}
TYPES: dict[str, tuple[type, ...]] = {"float": (int, float), "int": (int,), "bool": (bool,), "str": (str,)}


def declared_parameters(notebook: Path) -> dict[str, tuple[str | None, object]]:
    """``name -> (declared type, default)`` from the notebook's cell tagged ``parameters``.

    Read with papermill's own parser (``papermill.inspect_notebook``), the one that
    injects the values, so the names and types checked here are the ones it sees.
    """
    import papermill as pm

    found: dict[str, tuple[str | None, object]] = {}
    for name, spec in pm.inspect_notebook(str(notebook)).items():
        kind = spec.get("inferred_type_name")
        found[name] = (None if kind in (None, "None") else str(kind), ast.literal_eval(str(spec["default"])))
    return found


def _check_range(name: str, value: object) -> None:
    """The range check the notebook itself makes for ``name`` (the same function), run before a kernel starts."""
    if name == "recurrence_threshold":
        from .themes import check_threshold

        check_threshold(value)
    elif name == "small_group_threshold":
        from .descriptives import check_small_group_threshold

        check_small_group_threshold(value)


def check_parameters(notebook: Path, given: dict[str, object]) -> dict[str, object]:
    """Check names, types and ranges against the notebook's declaration; return those that differ from its defaults."""
    declared = declared_parameters(notebook)
    changed: dict[str, object] = {}
    for name, value in given.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise CompendiumError(
                f"{notebook.name} has no parameter {name!r}.", fix=f"use one of its parameters ({known})"
            )
        kind, default = declared[name]
        allowed = TYPES.get(kind or "")
        if allowed and (not isinstance(value, allowed) or (kind != "bool" and isinstance(value, bool))):
            raise CompendiumError(
                f"{notebook.name}: parameter {name} must be a {kind} (its default is {default!r}), not {value!r}.",
                fix=f"write it as in the notebook, e.g. -p {name}={default!r}",
            )
        _check_range(name, value)
        if name not in PIPELINE_VARIED and value != default:
            changed[name] = value
    return changed


def scratch_paths(p: Paths, stem: str, changed: dict[str, object]) -> Paths:
    """A scratch root under ``build/scratch/`` that reads the real inputs and writes only inside itself.

    The data, notebooks, template and bibliography are linked (read only by the run);
    the pipeline's current tables and values are copied in, so a later step finds what
    earlier steps made.
    """
    label = stem + "".join(f"__{k}={v}" for k, v in sorted(changed.items()))
    target = p.build / SCRATCH / "".join(c if c.isalnum() or c in "._=-" else "_" for c in label)
    if target.exists():
        shutil.rmtree(target)
    (target / "manuscript").mkdir(parents=True)
    for rel in ("data", "notebooks", "pyproject.toml", "manuscript/template.md", "manuscript/references.bib"):
        if (p.root / rel).exists():
            os.symlink(p.root / rel, target / rel)
    for folder in (p.tables, p.values):
        if folder.is_dir():
            shutil.copytree(folder, target / folder.relative_to(p.out_root))
    if p.validated.is_file():
        (target / "build").mkdir(parents=True, exist_ok=True)
        shutil.copy2(p.validated, target / p.validated.relative_to(p.out_root))
    return Paths(target)


def mark_out_of_date(p: Paths, executed: Path) -> None:
    """Make ``make all`` redo the step that wrote ``executed`` (and everything after it)."""
    os.utime(executed, (0, 0))  # older than every source: the step's rule runs again
    for stamp in (p.build / "analysis.done", p.build / "all.done"):
        stamp.unlink(missing_ok=True)
