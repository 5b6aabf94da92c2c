"""Working copies of the tutorials for ``make lab``, so students never edit the tracked notebooks.

``student_work/notebooks/`` (git-ignored) holds one copy of each tutorial. A
copy is made when missing, and refreshed when its source in
``notebooks/tutorial/`` changed *and* the student has not touched the copy
since it was made. A copy the student has worked in is never overwritten
without asking: ``make lab REFRESH=T2`` takes the new version and keeps the
student's copy beside it (``T2_write_notes.mine-1.ipynb``). What was copied is
recorded in ``student_work/notebooks/.sources.json`` (SHA-256 of the source and
of the copy as written).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from ..files import write_bytes, write_text
from ..paths import Paths, paths
from .text import TutorialError

__all__ = ["working_copies", "solution_copy"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def working_copies(p: Paths | None = None, replace: list[str] | None = None) -> list[str]:
    """Bring ``student_work/notebooks/`` up to date; returns one line per tutorial saying what happened."""
    p = p or paths()
    sources = sorted((p.notebooks / "tutorial").glob("T*.ipynb"))
    wanted = {r.strip().upper() for r in (replace or []) if r.strip()}
    known = {s.name[:2].upper() for s in sources}
    unknown = sorted(wanted - known)
    if unknown:
        raise TutorialError(
            f"REFRESH={','.join(unknown)} names no tutorial. fix: use tutorial numbers such as "
            f"REFRESH=T2 (one of {', '.join(sorted(known))})"
        )
    folder = p.student_work / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / ".sources.json"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = {}  # the record is ours, not the student's: an unreadable one is rebuilt
    said = []
    for source in sources:
        target = folder / source.name
        new = _sha(source)
        seen = record.get(source.name, {})
        if not target.is_file():
            write_bytes(target, source.read_bytes())
            said.append(f"{source.stem}: new working copy")
        elif seen.get("source") == new:
            continue  # up to date (whatever the student did with it)
        elif seen.get("copy") == _sha(target):
            write_bytes(target, source.read_bytes())
            said.append(f"{source.stem}: refreshed (a newer version; you had not changed your copy)")
        elif source.name[:2].upper() in wanted:
            k = 1
            while (kept := folder / f"{source.stem}.mine-{k}.ipynb").exists():
                k += 1
            shutil.copy2(target, kept)
            write_bytes(target, source.read_bytes())
            said.append(f"{source.stem}: replaced by the new version; your copy is kept as {kept.name}")
        else:
            said.append(
                f"{source.stem}: a newer version exists; your copy (with your work) is kept. To take the new "
                f"one: make lab REFRESH={source.name[:2]} (your copy is kept beside it)"
            )
            continue
        record[source.name] = {"source": new, "copy": _sha(target)}
    write_text(record_path, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return said


def solution_copy(tutorial: str, mode: str = "solution", p: Paths | None = None) -> Path:
    """Run one tutorial with Papermill in the given mode into ``build/tutorial/``; returns the executed copy."""
    import papermill as pm

    from ..kernels import KERNEL_MANAGER

    p = p or paths()
    number = tutorial.strip().upper()
    found = [s for s in sorted((p.notebooks / "tutorial").glob("T*.ipynb")) if s.name[:2].upper() == number]
    if not re.fullmatch(r"T\d", number) or not found:
        raise TutorialError(f"{tutorial!r} is not a tutorial. fix: use a number such as T4")
    source = found[0]
    target = p.build / "tutorial" / f"{source.stem}_{mode}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(source),
            str(target),
            parameters={"mode": mode},
            cwd=str(source.parent),
            kernel_name="python3",
            progress_bar=False,
            kernel_manager_class=KERNEL_MANAGER,
        )
    except pm.PapermillExecutionError as err:
        raise TutorialError(
            f"{source.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}. fix: the "
            f"partly run copy with the traceback is {target}"
        ) from None
    return target
