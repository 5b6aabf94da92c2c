"""Input digests: each pipeline step depends on the data it reads, not on whole files.

``make`` compares file dates, so a step that read ``participants.csv`` would
re-run whenever any cell of it changed, although a case analysis only uses the
participant's id and pseudonym. After the data pass validation,
:func:`write_digests` writes one small file per step to ``build/inputs/``
holding the SHA-256 of exactly what that step reads (columns of
``participants.csv``, the participant's rows of ``coding.csv``, whole files
where the step reads them whole). A digest file is rewritten only when its
value changes, and the Makefile makes each step depend on its digest file: so
changing one interview duration re-runs the descriptives and the manuscript,
and changing one participant's transcript re-runs that participant's case,
the corpus overview, the cross-case step, the QDA export and the manuscript.

The selections below are the contract between the steps and the Makefile.
A test changes a column a step does not read and checks that the step's
digest stays the same, and changes one it reads and checks that it moves.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json

from .files import write_text
from .paths import Paths, paths

__all__ = ["STEP_INPUTS", "digests", "write_digests", "IDENTITY"]

IDENTITY = ["participant_id", "pseudonym"]
# The Table 1 attributes the QDA export writes for each case (refiqda.SHARED_ATTRIBUTES).
QDA_ATTRIBUTES = ["age_band", "gender", "qualification", "frameworks", "years_with_population"]

# step -> what it reads. "participants": the columns used (None: all); "coding"/"memos": "all" rows,
# "case" (the participant's own rows) or absent; "transcripts": "all" or "case"; files: read whole.
STEP_INPUTS: dict[str, dict] = {
    "corpus": {"participants": IDENTITY, "coding": "all", "transcripts": "all", "files": ["codebook.yaml"]},
    "case": {"participants": IDENTITY, "coding": "case", "transcripts": "case", "files": ["codebook.yaml"]},
    "cross": {"participants": IDENTITY, "coding": "all", "files": ["codebook.yaml"]},
    "descriptives": {"participants": None},
    "supplement": {
        "participants": IDENTITY + QDA_ATTRIBUTES,
        "coding": "all",
        "memos": "all",
        "transcripts": "all",
        "files": ["codebook.yaml"],
    },
    "manuscript": {"participants": IDENTITY, "coding": "all", "transcripts": "all"},
}


def _rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader)


def _select(header: list[str], rows: list[dict[str, str]], columns: list[str] | None) -> list[list[str]]:
    cols = header if columns is None else [c for c in columns if c in header]
    return [cols] + [[r.get(c) or "" for c in cols] for r in rows]


def _by_participant(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Each participant's rows, in file order: one pass, so a study of n cases costs n, not n squared."""
    grouped: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        grouped.setdefault(r.get("participant_id") or "", []).append(r)
    return grouped


def digests(p: Paths | None = None) -> dict[str, str]:
    """Step label (``corpus``, ``case_P01``, ..., ``manuscript``) -> SHA-256 of what it reads."""
    p = p or paths()
    text = {
        name: (p.data / name).read_text(encoding="utf-8")
        for name in ("participants.csv", "coding.csv", "memos.csv", "codebook.yaml", "datapackage.json")
    }
    tables = {name: _rows(text[name]) for name in ("participants.csv", "coding.csv", "memos.csv")}
    grouped = {name: _by_participant(rows) for name, (_, rows) in tables.items()}
    ids = [r["participant_id"] for r in tables["participants.csv"][1]]
    transcripts = {pid: p.transcript(pid).read_text(encoding="utf-8") for pid in ids if p.transcript(pid).is_file()}

    def one(spec: dict, participant: str | None = None) -> str:
        # datapackage.json holds the table schemas every loader applies: always part of the inputs.
        parts: dict[str, object] = {"datapackage.json": text["datapackage.json"]}

        def rows_of(name: str, case: bool) -> list[dict[str, str]]:
            return grouped[name].get(participant or "", []) if case else tables[name][1]

        header = tables["participants.csv"][0]
        parts["participants"] = _select(
            header, rows_of("participants.csv", participant is not None), spec["participants"]
        )
        for table in ("coding", "memos"):
            if table in spec:
                name = f"{table}.csv"
                parts[table] = _select(tables[name][0], rows_of(name, spec[table] == "case"), None)
        if spec.get("transcripts") == "all":
            parts["transcripts"] = transcripts
        elif spec.get("transcripts") == "case":
            parts["transcripts"] = {participant: transcripts.get(participant or "")}
        for name in spec.get("files", []):
            parts[name] = text[name]
        return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    out = {}
    for step, spec in STEP_INPUTS.items():
        if step == "case":
            out.update({f"case_{pid}": one(spec, pid) for pid in ids})
        else:
            out[step] = one(spec)
    return out


def write_digests(p: Paths | None = None) -> list[str]:
    """Write ``build/inputs/<step>.sha256`` for every step, touching only those whose digest changed."""
    p = p or paths()
    folder = p.build / "inputs"
    changed = []
    for step, digest in digests(p).items():
        target = folder / f"{step}.sha256"
        line = f"{digest}\n"
        if not target.is_file() or target.read_text(encoding="utf-8") != line:
            write_text(target, line)
            changed.append(step)
    return changed
