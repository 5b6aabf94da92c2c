"""Every location the compendium reads or writes, defined once.

The project root is taken from the ``COMPENDIUM_ROOT`` environment variable
(the Makefile sets it), else found by walking up from the working directory to
the folder holding ``pyproject.toml`` and ``data/synthetic``; this lets a test
or ``make verify`` build a temporary copy without touching the working tree.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["root", "Paths", "paths"]


def root() -> Path:
    """Return the compendium's root folder."""
    env = os.environ.get("COMPENDIUM_ROOT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "data" / "synthetic").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


class Paths:
    """Named locations below one root folder."""

    def __init__(self, base: Path | None = None) -> None:
        self.root = Path(base) if base is not None else root()
        r = self.root
        # inputs (never written by the pipeline)
        self.data = r / "data" / "synthetic"
        self.participants = self.data / "participants.csv"
        self.coding = self.data / "coding.csv"
        self.memos = self.data / "memos.csv"
        self.codebook = self.data / "codebook.yaml"
        self.datapackage = self.data / "datapackage.json"
        self.transcripts = self.data / "transcripts"
        self.allowlist = self.data / "anonymisation_allowlist.yaml"
        self.notebooks = r / "notebooks"
        self.template = r / "manuscript" / "template.md"
        self.bibliography = r / "manuscript" / "references.bib"
        self.manifest = r / "manifest.sha256"
        # reference material: the QDA-XML schemas shipped with the package (nothing is read beside the repository)
        self.package_schemas = Path(__file__).resolve().parent / "schemas"
        # outputs
        self.build = r / "build"
        self.executed = self.build / "notebooks"
        self.validated = self.build / "validated.json"
        self.figures = r / "figures"
        self.tables = r / "manuscript" / "tables"
        self.case_tables = self.tables / "cases"
        self.values = r / "manuscript" / "values"
        self.output = r / "manuscript" / "output"
        self.supplement = r / "manuscript" / "supplement"
        self.student_work = r / "student_work"

    def transcript(self, participant_id: str) -> Path:
        """Path of one participant's transcript."""
        return self.transcripts / f"{participant_id}.txt"

    def case_table(self, participant_id: str, ext: str = "csv") -> Path:
        return self.case_tables / f"case_{participant_id}.{ext}"

    def generated_dirs(self) -> list[Path]:
        """Folders whose files are all generated (what ``make clean`` removes)."""
        return [self.build, self.tables, self.values, self.output, self.supplement]

    def artefacts(self) -> list[Path]:
        """Every generated artefact a reviewer compares (sorted, relative paths resolved)."""
        found: list[Path] = []
        for folder in (self.tables, self.values, self.output, self.supplement, self.executed):
            if folder.is_dir():
                found += [p for p in folder.rglob("*") if p.is_file()]
        if self.figures.is_dir():
            found += [p for p in self.figures.iterdir() if p.suffix in {".svg", ".png"}]
        return sorted(found)


def paths() -> Paths:
    """Paths for the current root (re-read each call, so tests can switch roots)."""
    return Paths()
