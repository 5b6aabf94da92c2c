"""Provenance: which notebook read which inputs and wrote which artefacts.

While the pipeline runs a notebook, it sets ``COMPENDIUM_PROVENANCE`` to a log
file; the loaders in :mod:`compendium.data` record each file they read and
:mod:`compendium.files` each file it writes. After a successful run the log
becomes ``build/provenance/<notebook>.json``. The manuscript's supplementary
provenance table is assembled from those records, so it reflects what really
happened rather than a hand-kept list.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from . import source
from .paths import Paths, paths
from .source import BUILD_INPUTS, MANIFEST_FILES

__all__ = [
    "record",
    "record_path",
    "collect",
    "sha256",
    "provenance_table",
    "source_commit",
    "ENV",
    "MANIFEST_FILES",
    "BUILD_INPUTS",
]

ENV = "COMPENDIUM_PROVENANCE"


def record(kind: str, path: Path) -> None:
    """Append a read or write to the active log (no-op outside the pipeline)."""
    log = os.environ.get(ENV)
    if not log:
        return
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"kind": kind, "path": str(Path(path).resolve())}) + "\n")


def record_path(p: Paths, label: str) -> Path:
    """Where a notebook run's record of what it read and wrote is kept (``label``: see notebooks.label_of)."""
    return p.build / "provenance" / f"{label}.json"


def collect(log: Path, label: str, p: Paths) -> dict:
    """Turn a run's log into a record of relative input and output paths."""
    reads: set[str] = set()
    writes: set[str] = set()
    if log.is_file():
        for line in log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            rel = os.path.relpath(entry["path"], p.root)
            (reads if entry["kind"] == "read" else writes).add(rel)
    return {"notebook": label, "inputs": sorted(reads - writes), "outputs": sorted(writes)}


def source_commit(p: Paths) -> str:
    """The commit the sources come from, as printed in the manuscript's colophon (see :mod:`compendium.source`)."""
    return source.source_commit(p.root)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def provenance_table(p: Paths | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, inputs): each table/figure with its notebook and the SHA-256 of its inputs.

    ``summary`` has one row per artefact with a combined digest of its inputs
    (SHA-256 over the sorted "sha256  path" lines); ``inputs`` lists every input
    file with its own SHA-256.
    """
    p = p or paths()

    def shown(rel: str) -> str:
        """How a path is printed: as recorded inside the repository; by its role outside it, so that an
        outside data or output folder's location (an author's own folders) never reaches an artefact."""
        if not rel.startswith(".."):
            return rel
        path = (p.root / rel).resolve()
        for folder, name in ((p.data, "<data folder>"), (p.out_root, "<output folder>")):
            if path.is_relative_to(folder.resolve()):
                return f"{name}/{path.relative_to(folder.resolve()).as_posix()}"
        return f"<outside the repository>/{path.name}"

    rows, inputs = [], []
    records = sorted((p.build / "provenance").glob("*.json"))
    for rec_path in records:
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
        lines = []
        for rel in rec["inputs"]:
            digest = sha256(p.root / rel)
            lines.append(f"{digest}  {shown(rel)}")
            inputs.append({"notebook": rec["notebook"], "input": shown(rel), "sha256": digest})
        combined = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
        for out in rec["outputs"]:
            if out.endswith(".md") and out.replace(".md", ".csv") in rec["outputs"]:
                continue  # the Markdown rendering shares its CSV's row
            name = "/" + shown(out)
            kind = "figure" if "/figures/" in name else ("values" if "/values/" in name else "table")
            if kind == "figure" and out.endswith(".png"):
                continue
            rows.append(
                {
                    "artefact": shown(out),
                    "kind": kind,
                    "notebook": rec["notebook"],
                    "inputs": len(rec["inputs"]),
                    "inputs_sha256": combined,
                }
            )
    summary = pd.DataFrame(rows, columns=["artefact", "kind", "notebook", "inputs", "inputs_sha256"])
    return summary.sort_values("artefact").reset_index(drop=True), pd.DataFrame(inputs)
