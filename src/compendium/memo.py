"""A notebook step's memory of its last run: make asks by date, this answers by content.

make re-runs a step when one of its prerequisites has a newer date than the
step's outputs, even when its bytes are those the step last read. That happens
on every transcript edit: the case step of that participant runs again and
rewrites its case table, often byte for byte as before (an edit that changes
no coded passage and moves none, such as a line added after the last), and the new date
alone would send the cross-case step, its kernel and its figures, onto the
critical path of the edit.

So the Makefile hands each notebook step its rule's prerequisites (``$^``: the
notebook, the step's input digest, the case tables for the cross-case step,
the package's modules) in ``COMPENDIUM_STEP_INPUTS``. After a successful run
with the notebook's own parameters, :func:`remember` keeps, in
``build/memo/<label>.json``, the SHA-256 of each of those prerequisites as they
were when the run started, and of each output the run wrote (its executed
notebook, its provenance record and every file the provenance record names).
When make runs the step again, :func:`kept` compares: if the command is the
same, every prerequisite has the recorded bytes and every output is still the
file that run wrote, running it again would write the same bytes (the build is
byte-for-byte reproducible, checked by ``make verify``), so the outputs are
kept and given a new date, and no kernel starts. Anything else (another
prerequisite, another parameter, an output changed or missing, a record that
cannot be read) and the step runs as usual. Any run that is not the pipeline's
own (a hand run, other parameters) forgets the record first.

What this trusts is what make trusts: that a step's prerequisites are all it
depends on. It only turns make's "newer" into "different". The outputs it
dates anew are all of the rule's targets: ``tests/test_step_outputs.py`` checks
that the Makefile declares exactly what provenance saw each step write.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .client import ENV_STEP_INPUTS as ENV
from .files import write_json
from .paths import Paths
from .provenance import record_path, sha256

__all__ = ["ENV", "memo_path", "inputs_from_make", "digests_of", "kept", "remember", "forget", "touch"]

VERSION = 1


def memo_path(p: Paths, label: str) -> Path:
    """Where a step's memory of its last run is kept."""
    return p.build / "memo" / f"{label}.json"


def inputs_from_make() -> list[str]:
    """The prerequisites make handed this step, as make spells them (relative to the folder make runs in)."""
    return os.environ.get(ENV, "").split()


def digests_of(names: Sequence[str], root: Path = Path()) -> dict[str, str] | None:
    """SHA-256 of each named file (relative names under ``root``); None if one cannot be read."""
    try:
        return {name: sha256(root / name) for name in names}
    except OSError:
        return None


def _outputs(p: Paths, label: str) -> list[str] | None:
    """What the last run wrote, relative to the compendium's root (a copied tree is another tree): the
    executed notebook, its provenance record and the files that record names."""
    record = record_path(p, label)
    try:
        written = json.loads(record.read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(written, list) or not all(isinstance(name, str) for name in written):
        return None
    own = [os.path.relpath(path, p.root) for path in (p.executed / f"{label}.ipynb", record)]
    return [*own, *written]


def _inside(name: object) -> bool:
    """An output named relative to the root and inside it (a record edited by hand could name any file)."""
    return isinstance(name, str) and not os.path.isabs(name) and ".." not in Path(name).parts


def kept(p: Paths, label: str, command: Any, inputs: dict[str, str]) -> list[Path] | None:
    """The outputs of the last run, if ``command`` and the prerequisites' bytes are those it ran with and
    its outputs are untouched since; None when the step must run."""
    try:
        record = json.loads(memo_path(p, label).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != VERSION:
        return None
    if record.get("command") != command or record.get("inputs") != inputs:
        return None
    outputs = record.get("outputs")
    if not isinstance(outputs, dict) or not outputs or not all(map(_inside, outputs)):
        return None
    if digests_of(list(outputs), p.root) != outputs:
        return None
    return [p.root / name for name in outputs]


def remember(p: Paths, label: str, command: Any, inputs: dict[str, str]) -> None:
    """After a successful run: keep ``inputs`` (as they were when it started) and what it wrote."""
    names = _outputs(p, label)
    outputs = digests_of(names, p.root) if names else None
    if outputs is None:
        forget(p, label)
        return
    write_json(memo_path(p, label), {"version": VERSION, "command": command, "inputs": inputs, "outputs": outputs})


def forget(p: Paths, label: str) -> None:
    memo_path(p, label).unlink(missing_ok=True)


def touch(outputs: list[Path]) -> bool:
    """Give the kept outputs a new date, so that make sees them up to date; False if one cannot be
    (then the step simply runs, and writes them anew)."""
    try:
        for path in outputs:
            os.utime(path)
    except OSError:
        return False
    return True
