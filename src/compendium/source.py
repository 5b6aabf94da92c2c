"""Which sources a build comes from: the source commit and its date (standard library only).

Reproducible-builds practice: a build is dated by its sources, not by the clock.
The colophon, the reviewer report and every embedded timestamp
(``SOURCE_DATE_EPOCH``: DOCX, PDF, figures, zip entries) name the **last commit
that changed a build input** (:data:`BUILD_INPUTS`), so committing tests,
documentation or the manifest changes neither the artefacts nor their date.
Outside a git checkout (an archive of the repository) both values come from the
committed ``manifest-snapshot.json``, which ``make manifest`` writes.

The Makefile calls this file directly, before the virtual environment exists::

    python3.11 src/compendium/source.py epoch    # seconds since 1970, for SOURCE_DATE_EPOCH
    python3.11 src/compendium/source.py commit   # the source commit (12 hex digits)
    python3.11 src/compendium/source.py stamp    # both, as "<epoch> <commit>"
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = [
    "BUILD_INPUTS",
    "NOT_BUILD_INPUTS",
    "pathspec",
    "MANIFEST_FILES",
    "COMMIT_DIGITS",
    "source_commit",
    "source_date_epoch",
    "head_commit",
]

MANIFEST_FILES = ("manifest.sha256", "manifest-snapshot.json")
# What a build reads: the colophon names the last commit that changed any of these,
# so commits to tests or documentation do not change the artefacts.
BUILD_INPUTS = (
    "data",
    "src",
    "notebooks",
    "manuscript",  # template, bibliographies, the pandoc filters and the notebook pages' renderer
    "CITATION.cff",  # the compendium's title, version, date and identifier, cited in the manuscript
    "Makefile",
    "requirements.lock",
    "pyproject.toml",
)
# Inside those, what `make all` never reads (the Makefile's SRC leaves them out too): the
# tutorials and their code, and the code that checks, measures or generates studies.
# Committing to them must not re-date the artefacts (README, "Layout").
NOT_BUILD_INPUTS = (
    "src/compendium/teaching",
    "src/compendium/maintenance",
    "notebooks/tutorial",
)
# A fixed length, not git's automatic one: the abbreviation must not depend on how many
# objects a particular clone holds, or two clones would print different colophons.
COMMIT_DIGITS = 12
UNKNOWN = "unknown (not a git checkout)"


def pathspec() -> list[str]:
    """The git pathspec of the build inputs: :data:`BUILD_INPUTS` less :data:`NOT_BUILD_INPUTS`."""
    return [*BUILD_INPUTS, *(f":(exclude){path}" for path in NOT_BUILD_INPUTS)]


def _git(root: Path, *args: str) -> str | None:
    """Output of a git command in ``root``, or None when ``root`` is not the top of its own checkout."""
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        # An archive unpacked inside some other repository must not take that repository's history.
        if not top or Path(top).resolve() != Path(root).resolve():
            return None
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _recorded(root: Path) -> dict:
    import json  # only outside git: the Makefile runs this file before every build

    snapshot = Path(root) / MANIFEST_FILES[1]
    try:
        return json.loads(snapshot.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def source_commit(root: Path) -> str:
    """The source commit the colophon names.

    ``COMPENDIUM_COMMIT`` wins (``make verify`` passes the working tree's value to its
    temporary copy); else the last commit that changed a build input; else the commit
    recorded with the manifest.
    """
    env = os.environ.get("COMPENDIUM_COMMIT")
    if env:
        return env
    out = _git(root, "log", "-1", "--format=%H", "--", *pathspec())
    if out:
        return out[:COMMIT_DIGITS]
    return _recorded(root).get("commit") or UNKNOWN


def source_date_epoch(root: Path) -> int:
    """Commit time (seconds since 1970) of :func:`source_commit`, the build's one timestamp.

    Falls back to the value recorded with the manifest, then to 2022-06-01 (the study's
    year of publication) for a bare copy with neither.
    """
    out = _git(root, "log", "-1", "--format=%ct", "--", *pathspec())
    if out and out.isdigit():
        return int(out)
    recorded = _recorded(root).get("source_date_epoch")
    return int(recorded) if isinstance(recorded, int) else 1654041600


def head_commit(root: Path) -> str | None:
    """The checked-out commit (HEAD), abbreviated like :func:`source_commit`; None outside git."""
    out = _git(root, "rev-parse", "HEAD")
    return out[:COMMIT_DIGITS] if out else None


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else ""
    root = Path(argv[2]) if len(argv) > 2 else Path(__file__).resolve().parents[2]
    if what == "epoch":
        print(source_date_epoch(root))
    elif what == "commit":
        print(source_commit(root))
    elif what == "stamp":  # what the artefacts embed: "<epoch> <commit>" (an epoch already set wins)
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip() or str(source_date_epoch(root))
        print(f"{epoch} {source_commit(root)}")
    else:
        print("usage: source.py epoch|commit|stamp [ROOT]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
