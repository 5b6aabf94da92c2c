"""A student's own folder and coded passages (the name, set once; coding.csv); themes and answers: saved.py.

Everything lives below ``student_work/`` (git-ignored), one folder per student::

    student_work/profile               the name of the student using this copy (set once, for every tutorial)
    student_work/<name>/coding.csv     passages, notes and experiential statements (the columns of coding.csv)
    student_work/<name>/pets.json      personal experiential themes, named by the student, per case
    student_work/<name>/groups.json    group experiential themes built from the student's PETs
    student_work/<name>/answers.json   exercise answers and memos, per tutorial

Files are written atomically through :mod:`compendium.files` and checked when
read back; a file that cannot be used raises :class:`StudentWorkError` naming
the file, the row or entry, and the fix.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..cases import check_participant
from ..data import Study
from ..errors import DataError, Problem
from ..files import write_text
from ..paths import Paths, paths
from ..schema import TableSchema, table_schema, typed
from ..themes import theme_key
from ..transcripts import check_spans
from .text import TutorialError

__all__ = [
    "coding_table",
    "student_table",
    "StudentWorkError",
    "check_student",
    "read_profile",
    "set_profile",
    "resolve_student",
    "student_folder",
    "student_file",
    "adopt_earlier_coding",
    "empty_coding",
    "new_segment",
    "next_segment_id",
    "add_segment",
    "remove_segment",
    "save_student_coding",
    "load_student_coding",
    "codable_themes",
    "list_students",
]

STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
RESERVED = {"notebooks", "profile"}


class StudentWorkError(DataError):
    """A student's saved file cannot be read back; names the file, the row and the fix."""


# ------------------------------------------------------------------ who the student is
def check_student(student: str) -> str:
    """A student name usable as a folder name: letters, digits, '-' and '_' (at most 40)."""
    name = str(student).strip()
    if not STUDENT_NAME.match(name) or name.lower() in RESERVED:
        raise TutorialError(
            f"student name {student!r} cannot be used as a folder name. fix: use letters, digits, '-' or '_' "
            'only, starting with a letter or digit (for example "ana_lopez" or "s1234567")'
        )
    return name


def read_profile(p: Paths | None = None) -> str:
    """The student name saved in ``student_work/profile`` ("" when none is set or it is unusable)."""
    p = p or paths()
    f = p.student_work / "profile"
    if not f.is_file():
        return ""
    lines = f.read_text(encoding="utf-8", errors="replace").split()
    try:
        return check_student(lines[0]) if lines else ""
    except TutorialError:
        return ""


def set_profile(student: str, p: Paths | None = None) -> str:
    """Save the student's name once, for every tutorial; returns the checked name."""
    p = p or paths()
    name = check_student(student)
    write_text(p.student_work / "profile", name + "\n")
    return name


def resolve_student(student: str = "", p: Paths | None = None) -> str:
    """The name given, else the one in the profile, else "" (nothing is saved until a name is set)."""
    if str(student).strip():
        return check_student(student)
    return read_profile(p)


def student_folder(student: str, p: Paths | None = None) -> Path:
    """``<root>/student_work/<student>/``."""
    p = p or paths()
    return p.student_work / check_student(student)


def student_file(student: str, p: Paths | None = None) -> Path:
    """Where a student's coding is kept: ``student_work/<student>/coding.csv`` (git-ignored)."""
    return student_folder(student, p) / "coding.csv"


def adopt_earlier_coding(student: str, p: Paths | None = None) -> Path | None:
    """Copy an earlier version's ``student_work/<student>.csv`` to ``<student>/coding.csv`` (once; the old file stays).

    Returns the new path when something was copied, else None.
    """
    p = p or paths()
    old, new = p.student_work / f"{check_student(student)}.csv", student_file(student, p)
    if not old.is_file() or new.exists():
        return None
    write_text(new, old.read_text(encoding="utf-8", errors="strict"))
    return new


def list_students(folder: Path) -> list[str]:
    """Names of the student folders in a folder of student work (sorted)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        d.name for d in folder.iterdir() if d.is_dir() and STUDENT_NAME.match(d.name) and d.name.lower() not in RESERVED
    )


# ------------------------------------------------------------------ coded passages
def coding_table(p: Paths | None = None) -> TableSchema:
    """The columns and types of ``coding.csv``, as ``datapackage.json`` declares them (of ``p``'s data folder)."""
    return table_schema("coding", p)


def student_table(table: TableSchema) -> TableSchema:
    """The coding table's schema as a student's file must meet it.

    The same columns, types, limits and keys as ``coding.csv`` (each passage its own
    id, each one of a participant of the study), with two differences: a student's
    passages have ids of their own (``P01-U01``, so the study's id pattern does not
    apply), and their text may stay empty until it is written (themes are named
    later, notes are optional), so only the keys and the typed columns are required.
    Columns are matched by name: their order may differ and extra columns are ignored.
    """
    schema = copy.deepcopy(dict(table.descriptor.get("schema", {})))
    schema["fieldsMatch"] = "subset"
    keys = set(table.primary_key)
    for fk in table.foreign_keys:
        keys.update([fk["fields"]] if isinstance(fk["fields"], str) else fk["fields"])
    for field in schema.get("fields", []):
        constraints = field.setdefault("constraints", {})
        if field["name"] in table.primary_key:
            constraints.pop("pattern", None)
        if field.get("type", "string") == "string" and field["name"] not in keys:
            constraints.pop("required", None)
    return replace(table, descriptor={**table.descriptor, "schema": schema})


def codable_themes(codebook: pd.DataFrame) -> pd.DataFrame:
    """The study's themes a passage may be coded to, in codebook order (1.1 before 1.2 before 3.1.1)."""
    cb = codebook[codebook["codable"].astype(bool)]
    return cb.sort_values("id", key=lambda c: c.map(theme_key)).reset_index(drop=True)


def empty_coding(p: Paths | None = None) -> pd.DataFrame:
    """A coding table with no rows and the columns of ``coding.csv``."""
    return coding_table(p).empty()


def new_segment(
    study: Study,
    participant: str,
    start: int,
    end: int,
    theme_id: str | None = None,
    *,
    descriptive: str = "",
    linguistic: str = "",
    conceptual: str = "",
    statement: str = "",
    analyst: str = "student",
) -> dict:
    """One coded passage as a row of ``coding.csv`` (its ``segment_id`` is given by :func:`add_segment`).

    Students work bottom-up, so ``theme_id`` is normally empty: their own themes
    are named later, from their statements (:func:`compendium.teaching.saved.save_pet`).
    """
    check_participant(study, participant)
    text = study.transcripts[participant]
    if not 0 <= start < end <= len(text):
        raise TutorialError(
            f"span {start}-{end} is outside transcript {participant} (0-{len(text)} characters). "
            "fix: choose the passage by its line numbers"
        )
    theme = str(theme_id or "").strip()
    if theme and theme not in set(codable_themes(study.codebook)["id"]):
        raise TutorialError(
            f"theme {theme!r} is not a codable theme of the codebook. fix: leave it empty and "
            "name your own themes from your statements in T4"
        )
    row: dict[str, Any] = dict.fromkeys(coding_table().columns, "")  # a column the study adds starts empty
    row.update(
        {
            "segment_id": "",
            "participant_id": participant,
            "start": int(start),
            "end": int(end),
            "excerpt": text[start:end],
            "theme_id": theme,
            "note_descriptive": descriptive.strip(),
            "note_linguistic": linguistic.strip(),
            "note_conceptual": conceptual.strip(),
            "experiential_statement": " ".join(statement.split()),
            "analyst": analyst,
            "coding_round": 1,
        }
    )
    return row


def next_segment_id(coding: pd.DataFrame, participant: str) -> str:
    """The next free id for a student's passage: ``P01-U01``, ``P01-U02``, ... (U for 'yours').

    Examples
    --------
    >>> next_segment_id(pd.DataFrame({"segment_id": ["P01-U01", "P01-U04", "P02-U09"]}), "P01")
    'P01-U05'
    """
    pattern = re.compile(rf"^{re.escape(participant)}-U(\d+)$")
    used = [int(m.group(1)) for m in map(pattern.match, coding["segment_id"].astype(str)) if m]
    return f"{participant}-U{max(used, default=0) + 1:02d}"


def _ordered(coding: pd.DataFrame, p: Paths | None = None) -> pd.DataFrame:
    columns = coding_table(p).columns
    return coding.sort_values(["participant_id", "start", "end", "segment_id"]).reset_index(drop=True)[columns]


def add_segment(coding: pd.DataFrame, segment: dict) -> tuple[pd.DataFrame, str]:
    """Add a passage, or update it when the same span of the same transcript is already coded.

    Returns the new table and the passage's segment id.
    """
    same = (
        (coding["participant_id"] == segment["participant_id"])
        & (coding["start"] == segment["start"])
        & (coding["end"] == segment["end"])
    )
    row = dict(segment)
    if same.any():
        row["segment_id"] = str(coding.loc[same, "segment_id"].iloc[0])
        coding = coding[~same]
    else:
        row["segment_id"] = next_segment_id(coding, segment["participant_id"])
    table = coding_table()
    out = pd.concat([coding, pd.DataFrame([row], columns=table.columns)], ignore_index=True)
    for col in table.integers:
        out[col] = out[col].astype(int)
    return _ordered(out), row["segment_id"]


def remove_segment(coding: pd.DataFrame, segment_id: str) -> pd.DataFrame:
    """The table without one passage; an unknown id is an error."""
    if segment_id not in set(coding["segment_id"]):
        raise TutorialError(
            f"no passage {segment_id!r} in your coding. fix: choose one of "
            f"{', '.join(coding['segment_id']) or '(none yet)'}"
        )
    return _ordered(coding[coding["segment_id"] != segment_id])


def save_student_coding(path: Path, coding: pd.DataFrame) -> Path:
    """Write a student's coding atomically (a reader never sees half a file)."""
    return write_text(Path(path), _ordered(coding).to_csv(index=False, lineterminator="\n"))


def _aside(path: Path) -> str:
    return f"move the file aside (rename it to {path.stem}.broken{path.suffix}) to start a fresh file at your next save"


def load_student_coding(path: Path, study: Study, p: Paths | None = None) -> pd.DataFrame:
    """A student's saved coding, checked like ``make validate`` checks ``coding.csv``.

    The file is validated with frictionless against the coding table's schema in
    ``datapackage.json`` (see :func:`student_table`; the participants are the
    study's), its spans with :func:`compendium.transcripts.check_spans`, its themes
    against the codebook. A missing file is an empty coding (nothing saved yet). A
    file that cannot be used raises :class:`StudentWorkError` naming the file, the
    row, the column and the fix.
    """
    from ..table_checks import check_csv

    path = Path(path)
    table = coding_table(p)
    if not path.is_file():
        return table.empty()
    name, aside = str(path), _aside(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise StudentWorkError(
            [Problem(name, "is not UTF-8 text.", f"re-save it as UTF-8 in a text editor, or {aside}")],
            "Your saved coding cannot be read",
        ) from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise StudentWorkError(
            [
                Problem(
                    name,
                    f"is not a readable CSV table ({str(err).strip()}).",
                    f"repair it in a text editor, or {aside}",
                )
            ],
            "Your saved coding cannot be read",
        ) from None
    missing = [c for c in table.columns if c not in df.columns]
    if missing:
        raise StudentWorkError(
            [
                Problem(
                    name,
                    f"lacks the column(s) {', '.join(missing)} (expected the columns of "
                    f"coding.csv: {', '.join(table.columns)}).",
                    f"restore the header line, or {aside}",
                )
            ],
            "Your saved coding cannot be read",
        )
    cases = [pid for pid in study.participants["participant_id"].astype(str) if pid in study.transcripts]
    participants = [{"participant_id": pid} for pid in cases]
    problems = check_csv(
        path,
        student_table(table),
        {"participants": participants},
        name,
        fixes={"foreign-key": f"use a participant of the study ({', '.join(cases)})"},
    )
    codable = set(codable_themes(study.codebook)["id"])
    for i, theme in enumerate(df["theme_id"].astype(str), start=1):
        if theme and theme not in codable:
            problems.append(
                Problem(
                    name,
                    f"theme {theme!r} is not a codable theme of the codebook.",
                    "leave it empty (name your own themes in T4) or use a codable theme id",
                    row=i,
                    column="theme_id",
                )
            )
    problems += check_spans(df.itertuples(index=False), study.transcripts, name)
    if problems:
        ordered = sorted(problems, key=lambda q: q.row or 0)
        raise StudentWorkError(
            [replace(q, fix=f"{q.fix}, or {aside}") for q in ordered], "Your saved coding cannot be read"
        )
    return _ordered(typed(df, table), p)
