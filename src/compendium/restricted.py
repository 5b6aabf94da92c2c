"""What a restricted build leaves behind for the pre-commit guard: the mark and the fingerprints.

Every output of a restricted build carries :data:`MARK` (``compendium.study``
adds it), and ``compendium validate`` on a restricted study records the
transcripts as fingerprints (truncated SHA-256 of every run of :data:`SHINGLE`
words, never the text) in ``<git dir>/compendium-restricted/``, a folder git
never commits or pushes. ``COMPENDIUM_GUARD_REGISTRY`` names another registry
file (the tests use it).

The pre-commit hook (``compendium.maintenance.guard``) checks staged files
against the same mark and fingerprints. This module is the one place both read
them from: the installed hook carries a copy of this file inline, which is why
it uses the standard library only and no ``from __future__`` import (the
hook's own comes first).
"""

import hashlib
import os
import re
import subprocess
from pathlib import Path

# Built from two halves so that the sentence itself never sits in a tracked source file.
MARK = "RESTRICTED: built from identifiable data; " + "do not share"
SHINGLE = 12
REGISTRY_ENV = "COMPENDIUM_GUARD_REGISTRY"
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def fingerprints(text: str, size: int = SHINGLE) -> set[str]:
    """Truncated hashes of every run of ``size`` consecutive words."""
    w = words(text)
    return {
        hashlib.sha256(" ".join(w[i : i + size]).encode("utf-8")).hexdigest()[:16] for i in range(len(w) - size + 1)
    }


def run_git(args: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True).stdout.decode("utf-8", "replace")


def registry(cwd: Path | None = None) -> Path | None:
    """The fingerprint file of the repository holding ``cwd`` (None outside git)."""
    env = os.environ.get(REGISTRY_ENV, "").strip()
    if env:
        return Path(env)
    try:
        common = run_git(["rev-parse", "--path-format=absolute", "--git-common-dir"], cwd).strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(common) / "compendium-restricted" / "fingerprints.txt"


def register(texts: list[str], cwd: Path | None = None) -> int:
    """Add the fingerprints of ``texts`` to the registry; returns how many are now stored (0: no repository)."""
    path = registry(cwd)
    if path is None:
        return 0
    known = set(path.read_text(encoding="ascii").split()) if path.is_file() else set()
    new = set().union(*(fingerprints(t) for t in texts)) if texts else set()
    if not new - known:
        return len(known)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(sorted(known | new)) + "\n", encoding="ascii")
    os.replace(tmp, path)
    return len(known | new)
