#!/usr/bin/env python3
"""Git pre-commit guard: no restricted output or transcript text gets committed.

``make setup`` runs this file as a script (``src/compendium/maintenance/guard.py
--install``) and writes it, as one standard-library-only file that runs in any
clone or worktree with or without the virtual environment, to the
repository's ``hooks/pre-commit``. On every ``git commit`` it reads each staged file as
staged (also inside DOCX/QDPX/ZIP members and compressed PDF streams) and
refuses the commit when

* a file carries the restricted mark that restricted builds print on every
  output, or
* a file shares a run of :data:`SHINGLE` words with a restricted transcript.

The mark and the fingerprints (what a restricted build records, see
:mod:`compendium.restricted`) are read from that pipeline module, so the hook
and the build can never disagree; the installed hook carries a copy of it in
place of the import (:func:`hook_text`).

Skipping on purpose: ``COMPENDIUM_ALLOW_RESTRICTED_COMMIT=1 git commit ...``
(the hook prints what it let through), or git's own ``--no-verify``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

# <restricted>: the installed hook carries src/compendium/restricted.py here instead of these lines.
if not __package__:  # run as a script (make setup, or another hook): the package is two folders up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from compendium.restricted import MARK, SHINGLE, fingerprints, registry, run_git
# </restricted>

SKIP_ENV = "COMPENDIUM_ALLOW_RESTRICTED_COMMIT"
HOOK_TAG = "compendium-restricted-guard"  # identifies our hook when (re)installing


def _texts(data: bytes, depth: int = 0) -> list[str]:
    """The file as text, plus the text of zip members and compressed PDF streams."""
    out = [data.decode("utf-8", "replace")]
    if depth < 2 and data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                for info in archive.infolist():
                    out += _texts(archive.read(info), depth + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError):
            pass
    if data[:5] == b"%PDF-":
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, flags=re.S):
            try:
                out.append(zlib.decompress(stream).decode("utf-8", "replace"))
            except zlib.error:
                continue
    return out


def _plain(text: str) -> str:
    """Undo the escaping XML, HTML and PDF text use, so the mark is found in metadata and body."""
    text = re.sub(r"<[^>]+>", "", text)
    return (
        text.replace("&amp;", "&").replace("&#39;", "'").replace("&apos;", "'").replace("\\(", "(").replace("\\)", ")")
    )


def problems(name: str, data: bytes, known: set[str]) -> list[str]:
    """Why ``data`` (the staged content of ``name``) must not be committed."""
    found: list[str] = []
    texts = _texts(data)
    if any(MARK in t or MARK in _plain(t) or MARK.encode("utf-16-be").decode("latin-1") in t for t in texts):
        found.append(f"{name}: carries the restricted mark (an output of a restricted build)")
    if known:
        shared = set().union(*(fingerprints(_plain(t)) for t in texts)) & known
        if shared:
            found.append(f"{name}: shares {len(shared)} run(s) of {SHINGLE} words with a restricted transcript")
    return found


def staged(cwd: Path | None = None) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR"], cwd=cwd, capture_output=True, check=True
    ).stdout
    return [n.decode("utf-8", "surrogateescape") for n in out.split(b"\0") if n]


def check_staged(cwd: Path | None = None) -> list[str]:
    path = registry(cwd)
    known = set(path.read_text(encoding="ascii").split()) if path is not None and path.is_file() else set()
    found: list[str] = []
    for name in staged(cwd):
        blob = subprocess.run(["git", "show", f":{name}"], cwd=cwd, capture_output=True).stdout
        found += problems(name, blob, known)
    return found


def pre_commit() -> int:
    """The hook: exit 1 (commit refused) when a staged file is restricted."""
    try:
        found = check_staged()
    except (OSError, subprocess.CalledProcessError) as err:
        print(f"compendium pre-commit: could not read the staged files ({err}); commit refused.", file=sys.stderr)
        return 1
    if not found:
        return 0
    if os.environ.get(SKIP_ENV) == "1":
        print(f"compendium pre-commit: {SKIP_ENV}=1, letting through on purpose:", file=sys.stderr)
        print("\n".join(f"  - {f}" for f in found), file=sys.stderr)
        return 0
    print("compendium pre-commit: commit refused; restricted material is staged:", file=sys.stderr)
    print("\n".join(f"  - {f}" for f in found), file=sys.stderr)
    print(
        "    fix: unstage it (`git restore --staged FILE`) and keep restricted outputs outside the repository;\n"
        f"    if you are certain it may be published, commit with {SKIP_ENV}=1 (see README, 'For authors with the real data')",
        file=sys.stderr,
    )
    return 1


def hook_text() -> str:
    """This file as the installed hook: tagged, with ``compendium/restricted.py`` in place of its import."""
    source = Path(__file__).read_text(encoding="utf-8")
    rules = (Path(__file__).resolve().parents[1] / "restricted.py").read_text(encoding="utf-8")
    start = source.index("# <restricted>")
    end = source.index("# </restricted>\n", start) + len("# </restricted>\n")
    inlined = f"# <restricted>: a copy of src/compendium/restricted.py, made by make setup\n{rules}# </restricted>\n"
    text = source[:start] + inlined + source[end:]
    return text.replace(
        "#!/usr/bin/env python3\n", f"#!/usr/bin/env python3\n# {HOOK_TAG} (installed by make setup)\n", 1
    )


def install(repo: Path) -> str:
    """Install :func:`hook_text` as ``pre-commit`` in the hooks folder of ``repo``; returns what was done."""
    try:
        hooks = Path(run_git(["rev-parse", "--path-format=absolute", "--git-path", "hooks"], repo).strip())
    except (OSError, subprocess.CalledProcessError):
        return "not a git work tree: no pre-commit hook installed"
    target = hooks / "pre-commit"
    if target.exists() and HOOK_TAG not in target.read_text(encoding="utf-8", errors="replace"):
        return (
            f"{target} exists and is not the compendium's: left alone; add `python3 {Path(__file__).resolve()}` "
            "to it to guard restricted material"
        )
    hooks.mkdir(parents=True, exist_ok=True)
    text = hook_text()
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return f"pre-commit hook up to date ({target})"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, target)
    return f"installed the restricted-material pre-commit hook ({target})"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--install"]:
        print("setup: " + install(Path(sys.argv[2]) if len(sys.argv) > 2 else Path.cwd()))
        sys.exit(0)
    sys.exit(pre_commit())
