"""Every location the compendium reads or writes, defined once.

The project root (code, notebooks, manuscript template) is taken from the
``COMPENDIUM_ROOT`` environment variable (the Makefile sets it), else found by
walking up from the working directory to the folder holding ``pyproject.toml``
and ``data/synthetic``; this lets a test or ``make verify`` build a temporary
copy without touching the working tree.

The data root and the output root are separate: ``COMPENDIUM_DATA`` (``make
DATA=...``) names the study folder, ``data/synthetic`` by default, and
``COMPENDIUM_OUT`` (``make OUT=...``) the folder that receives ``build/``,
``figures/`` and ``manuscript/{tables,values,output,supplement}``. Outputs of
the repository's own synthetic data go into the repository (the published
layout); outputs of any other data folder default to a folder beside it,
``<study>-outputs``. A study declared restricted (see :mod:`compendium.study`)
is refused when its data or its outputs would sit inside a git work tree.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["root", "Paths", "paths", "data_root", "out_root", "work_tree_of", "DEFAULT_DATA"]

DEFAULT_DATA = Path("data") / "synthetic"


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


def _absolute(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return (path if path.is_absolute() else base / path).resolve()


def data_root(base: Path) -> Path:
    """The study folder: ``COMPENDIUM_DATA`` (relative to the root) or ``data/synthetic``."""
    env = os.environ.get("COMPENDIUM_DATA", "").strip()
    return _absolute(env, base) if env else (base / DEFAULT_DATA)


def out_root(data: Path, base: Path) -> Path:
    """Where outputs go: ``COMPENDIUM_OUT``, else the root for its own data, else ``<data>-outputs`` beside the data."""
    env = os.environ.get("COMPENDIUM_OUT", "").strip()
    if env:
        return _absolute(env, base)
    if data.resolve() == (base / DEFAULT_DATA).resolve():
        return base
    return data.resolve().parent / f"{data.resolve().name}-outputs"


def work_tree_of(path: Path) -> Path | None:
    """The git work tree holding ``path`` (a folder with ``.git``, a directory or a worktree's file), or None."""
    path = Path(path).resolve()
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


class Paths:
    """Named locations: code below the root, inputs below the data root, outputs below the output root.

    ``Paths(base)`` is a self-contained compendium copy (its own ``data/synthetic``,
    outputs inside it); ``Paths()`` follows the environment (``COMPENDIUM_ROOT``,
    ``COMPENDIUM_DATA``, ``COMPENDIUM_OUT``) and refuses a restricted study whose
    data or outputs would land in a git work tree.
    """

    def __init__(self, base: Path | None = None) -> None:
        explicit = base is not None
        self.root = Path(base) if base is not None else root()
        r = self.root
        # inputs (never written by the pipeline)
        self.data = (r / DEFAULT_DATA) if explicit else data_root(r)
        self.out_root = r if explicit else out_root(self.data, r)
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
        o = self.out_root
        self.build = o / "build"
        self.executed = self.build / "notebooks"
        self.validated = self.build / "validated.json"
        self.figures = o / "figures"
        self.tables = o / "manuscript" / "tables"
        self.case_tables = self.tables / "cases"
        self.values = o / "manuscript" / "values"
        self.output = o / "manuscript" / "output"
        self.supplement = o / "manuscript" / "supplement"
        self.student_work = r / "student_work"
        if not explicit and self.data.resolve() != (r / DEFAULT_DATA).resolve():
            from .study import check_locations

            check_locations(self)

    @property
    def kind(self) -> str:
        """What the data folder declares itself to be: synthetic, restricted or deidentified."""
        from .study import kind

        return kind(self.data)

    @property
    def restricted(self) -> bool:
        return self.kind == "restricted"

    def shown(self, path: Path) -> str:
        """A path for messages: relative to the root when inside it, else absolute."""
        path = Path(path)
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

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


def _main(argv: list[str]) -> int:
    """``python -m compendium.paths``: print the output root for the Makefile (or the refusal, exit 2)."""
    from .errors import CompendiumError

    try:
        p = Paths()
    except CompendiumError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(p.out_root)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
