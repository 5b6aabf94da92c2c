"""Validation of ``data/synthetic``: every problem reported at once, in words.

Layers, each reporting file, row or line, column, what was expected and a fix:

1. bytes: each file exists, is UTF-8 without a byte-order mark, uses LF line
   endings; transcripts are non-empty and every line has a speaker label;
2. tables: the Frictionless Table Schemas in ``datapackage.json`` (types,
   allowed values, required cells, unique and primary keys, foreign keys);
3. codebook: a JSON Schema for the YAML structure, then its hierarchy;
4. cross-file rules: coding -> theme (codable), spans inside the transcript and
   ``transcript[start:end] == excerpt``, one transcript per participant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .data import SPEAKER_INTERVIEWER, read_pseudonyms
from .errors import CompendiumError, DataError, Problem
from .paths import Paths, paths
from .schema import TableSchema, load_schema
from .transcripts import check_spans

__all__ = [
    "validate",
    "check_bytes",
    "check_tables",
    "table_problems",
    "check_csv",
    "check_codebook",
    "check_cross",
    "CODEBOOK_SCHEMA",
]

LEVEL_PARENT = {"superordinate": None, "subordinate": "superordinate", "minor": "subordinate"}
SPEAKER = re.compile(r"^(?P<speaker>[A-Z][A-Za-z' -]{0,40}): \S")

CODEBOOK_SCHEMA = {
    "type": "object",
    "required": ["themes"],
    "additionalProperties": False,
    "properties": {
        "themes": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "level", "parent", "codable", "label", "definition", "include", "exclude"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+){0,2}$"},
                    "level": {"enum": list(LEVEL_PARENT)},
                    "parent": {"type": ["string", "null"]},
                    "codable": {"type": "boolean"},
                    "label": {"type": "string", "minLength": 1},
                    "definition": {"type": "string", "minLength": 1},
                    "include": {"type": "string"},
                    "exclude": {"type": "string"},
                },
            },
        }
    },
}


def _rel(path: Path, p: Paths) -> str:
    try:
        return str(path.relative_to(p.root))
    except ValueError:
        return str(path)


def _read_text(path: Path, p: Paths, problems: list[Problem]) -> str | None:
    """Read a file as strict UTF-8 with LF endings; record problems, return None if unusable."""
    name = _rel(path, p)
    if not path.is_file():
        problems.append(Problem(name, "file not found.", "restore it from git, or remove every reference to it"))
        return None
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append(Problem(name, "starts with a UTF-8 byte-order mark.", "save the file as UTF-8 without BOM"))
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        problems.append(
            Problem(
                name,
                f"is not valid UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}).",
                "re-save the file with UTF-8 encoding (e.g. in your editor: Save with encoding > UTF-8)",
                line=line,
            )
        )
        return None
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        problems.append(
            Problem(
                name,
                "uses Windows (CRLF) or old Mac (CR) line endings; character offsets assume LF.",
                "convert line endings to LF (e.g. `dos2unix FILE`)",
                line=line,
            )
        )
        return None
    return text


def check_bytes(p: Paths, participant_ids: list[str] | None = None) -> tuple[list[Problem], dict[str, str], set[str]]:
    """Encoding and shape of every file.

    Returns the problems, the transcripts that are readable, and the names of the
    table files that could not be read (the table-schema layer skips them).
    """
    problems: list[Problem] = []
    unreadable: set[str] = set()
    for path in (p.participants, p.coding, p.memos, p.codebook, p.datapackage):
        if _read_text(path, p, problems) is None:
            unreadable.add(path.name)
    transcripts: dict[str, str] = {}
    names = read_pseudonyms(p)
    ids = participant_ids if participant_ids is not None else sorted(f.stem for f in p.transcripts.glob("*.txt"))
    for pid in ids:
        path = p.transcript(pid)
        text = _read_text(path, p, problems)
        if text is None:
            continue
        name = _rel(path, p)
        if not text.strip():
            problems.append(Problem(name, "is empty.", "add the transcript text, one speaker turn per line"))
            continue
        if not text.endswith("\n"):
            problems.append(
                Problem(name, "does not end with a newline.", "add a final line break", line=text.count("\n") + 1)
            )
        allowed = {SPEAKER_INTERVIEWER, names[pid]} if pid in names else None
        expected = (
            f"'Interviewer: ' or '{names[pid]}: '" if pid in names else "'Interviewer: ' or the pseudonym and ': '"
        )
        for number, line in enumerate(text.split("\n")[:-1], start=1):
            match = SPEAKER.match(line)
            if not match:
                problems.append(
                    Problem(
                        name,
                        f"line does not start with a speaker label: {line[:40]!r}.",
                        f"start every line with {expected}",
                        line=number,
                    )
                )
            elif allowed is not None and match.group("speaker") not in allowed:
                problems.append(
                    Problem(
                        name,
                        f"unknown speaker {match.group('speaker')!r}.",
                        f"a turn belongs to the interviewer or to this participant: start the line with {expected}",
                        line=number,
                    )
                )
        transcripts[pid] = text
    return problems, transcripts, unreadable


_FRICTIONLESS_FIX = {
    "type-error": "write a value of the column's type",
    "constraint-error": "use one of the allowed values / respect the column's limits (see datapackage.json)",
    "unique-error": "give each row its own id",
    "primary-key": "give each row its own id",
    "foreign-key": "use an id that exists in the referenced table, or add that row there",
    "missing-cell": "the row is shorter than the header: check for a truncated line or a missing comma",
    "extra-cell": "the row is longer than the header: quote cells that contain commas",
    "blank-row": "delete the empty row",
    "missing-label": "restore the column header",
    "incorrect-label": "rename the column to the name in datapackage.json",
    "extra-label": "remove the column or add it to datapackage.json",
    "duplicate-label": "give each column a unique name",
    "encoding-error": "re-save the file as UTF-8",
    "source-error": "check that the file exists and is a well-formed CSV",
    "scheme-error": "check that the file exists",
}
_TYPE_FIX = {
    "integer": "write a whole number with digits only (e.g. 59)",
    "number": "write a number with digits and a decimal point (e.g. 59.5)",
    "boolean": "write true or false",
    "date": "write the date as YYYY-MM-DD (e.g. 2021-03-09)",
    "yearmonth": "write the month as YYYY-MM (e.g. 2021-03)",
    "string": "write text",
}


def _position_to_row(note: str) -> str:
    """Frictionless counts the header as row 1; our rows count data only."""
    return re.sub(
        r'(?:in )?the row at position "?(\d+)"?|[Rr]ow at position "?(\d+)"?',
        lambda m: f"data row {int(m.group(1) or m.group(2)) - 1}",
        note,
    )


def table_problems(
    errors: Iterable[Any], file: str, table: TableSchema | None, fixes: Mapping[str, str] | None = None
) -> list[Problem]:
    """One table's frictionless errors as problems naming ``file``, the data row, the column and a fix.

    The one translation of frictionless' reports into the compendium's words, used
    by :func:`check_tables` and by the tutorials' check of a student's coding.
    ``table`` gives the column types (for the fix of a type error); ``fixes``
    replaces the fix of an error type where the reader needs another one.
    """
    errors = list(errors)
    types = table.types if table is not None else {}
    fix_of = {**_FRICTIONLESS_FIX, **(fixes or {})}
    problems: list[Problem] = []
    short_rows: dict[int, list[str]] = {}
    for err in errors:
        row = getattr(err, "row_number", None)
        # A row cut short shows up as missing cells (or as "required" cells whose value is None).
        if row and (
            err.type == "missing-cell"
            or (
                err.type == "constraint-error"
                and getattr(err, "cell", "") in (None, "None")
                and "required" in (getattr(err, "note", "") or "")
            )
        ):
            short_rows.setdefault(row, []).append(err.field_name)
    for row, columns in sorted(short_rows.items()):
        columns = list(dict.fromkeys(columns))
        problems.append(
            Problem(
                file,
                f"the row is missing {len(columns)} cell(s): {', '.join(columns)}.",
                fix_of["missing-cell"],
                row=row - 1,
            )
        )
    # rows whose key problem is already said by the key column's unique constraint, or by being blank
    said_rows = {getattr(err, "row_number", None) for err in errors if err.type in ("unique-error", "blank-row")}
    for err in errors:
        row = getattr(err, "row_number", None)
        column = getattr(err, "field_name", None)
        cell = getattr(err, "cell", None)
        if err.type == "missing-cell" or (row in short_rows and cell in (None, "", "None")):
            continue  # said once per short row above
        if err.type == "primary-key" and row in said_rows:
            continue
        note = _position_to_row(getattr(err, "note", "") or err.message)
        fix = fix_of.get(err.type, "see datapackage.json for what this table must hold")
        if err.type == "type-error":
            kind = types.get(column or "", "")
            fix = f"this column's type is {kind}: {_TYPE_FIX[kind]}" if kind in _TYPE_FIX else fix
            message = f"expected {'an' if kind[:1] in 'aeiou' else 'a'} {kind or 'typed'} value"
        elif err.type == "unique-error":
            message = f"{column} must be unique, but this value also appears in {re.sub(r'^the same as ', '', note)}"
        elif err.type == "constraint-error" and cell in (None, "") and '"required"' in note:
            message, fix = "the cell is empty, but this column needs a value", "fill in the cell"
        elif err.type == "foreign-key":
            names, cells = list(getattr(err, "field_names", [])), list(getattr(err, "field_cells", []))
            column = names[0] if len(names) == 1 else None
            message = (
                f"{', '.join(names)} {', '.join(map(repr, cells))} is not in the "
                f"{getattr(err, 'reference_name', '') or 'referenced'} table"
            )
        else:
            message = f"{err.title.lower()}: {note}"
        if cell not in (None, ""):
            message += f" (found {str(cell)[:60]!r})"
        problems.append(Problem(file, message.rstrip(".") + ".", fix, row=(row - 1) if row else None, column=column))
    return problems


def check_tables(p: Paths, unreadable: set[str] | None = None) -> list[Problem]:
    """Validate the CSV tables against the Frictionless Table Schemas.

    Skipped when a table file is missing or not UTF-8: those are reported by
    :func:`check_bytes`, and the schema checks would only repeat them (and blame
    the tables that refer to it).
    """
    import frictionless

    if unreadable:
        return []
    try:
        schema = load_schema(p)
    except CompendiumError as err:
        return [Problem(_rel(p.datapackage, p), err.message.split(": ", 1)[-1], err.fix)]
    problems: list[Problem] = []
    report = frictionless.validate(str(p.datapackage))
    for error in report.errors:  # problems with the descriptor itself
        problems.append(
            Problem(
                _rel(p.datapackage, p),
                f"{error.title.lower()}: {error.note}.",
                "compare with the committed datapackage.json",
            )
        )
    for task in report.tasks:
        problems += table_problems(task.errors, _rel(p.data / task.place, p), schema.table_at(task.place))
    return problems


def check_csv(
    path: Path,
    table: TableSchema,
    lookups: Mapping[str, list[dict[str, str]]],
    file: str,
    fixes: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Validate one CSV file against a table's schema (a resource of ``datapackage.json``) with frictionless.

    ``table.descriptor`` holds the columns, types, constraints and keys; foreign keys
    are checked against ``lookups``, the referenced tables given as rows
    (``{"participants": [{"participant_id": "P01"}, ...]}``). Problems name ``file``
    (see :func:`table_problems`).
    """
    import frictionless

    resources: list[dict[str, Any]] = []
    for name, rows in lookups.items():
        columns = list(rows[0]) if rows else []
        resources.append(
            {
                "name": name,
                "data": [columns] + [[r[c] for c in columns] for r in rows],
                "schema": {"fields": [{"name": c, "type": "string"} for c in columns]},
            }
        )
    resources.append({**table.descriptor, "name": table.name, "path": path.name})
    package = frictionless.Package({"name": "check", "resources": resources}, basepath=str(path.parent))
    report = package.validate()
    problems = [Problem(file, f"{e.title.lower()}: {e.note}.", "compare with datapackage.json") for e in report.errors]
    for task in report.tasks:
        if task.name == table.name:
            problems += table_problems(task.errors, file, table, fixes)
    return problems


def _codebook_lines(text: str) -> list[dict[str, int]]:
    """For each theme entry, the 1-based line of the entry and of each of its keys."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    out: list[dict[str, int]] = []
    if not isinstance(root, yaml.MappingNode):
        return out
    for key, value in root.value:
        if key.value == "themes" and isinstance(value, yaml.SequenceNode):
            for item in value.value:
                lines = {"": item.start_mark.line + 1}
                if isinstance(item, yaml.MappingNode):
                    lines.update({k.value: k.start_mark.line + 1 for k, _ in item.value})
                out.append(lines)
    return out


def check_codebook(p: Paths) -> tuple[list[Problem], dict[str, dict]]:
    """Structure (JSON Schema) and hierarchy of the codebook; returns themes by id.

    Each problem names the theme by its id and the line of the offending key.
    """
    import jsonschema

    name = _rel(p.codebook, p)
    try:
        text = p.codebook.read_text(encoding="utf-8")
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        return [
            Problem(
                name,
                f"is not valid YAML ({getattr(err, 'problem', err)}).",
                "fix the indentation or quoting near this line",
                line=(mark.line + 1) if mark else None,
            )
        ], {}
    except (OSError, UnicodeDecodeError):
        return [], {}  # already reported by check_bytes
    lines = _codebook_lines(text)
    entries = doc.get("themes", []) if isinstance(doc, dict) else []

    def locate(index: int | None, key: str = "") -> tuple[str, int | None]:
        if index is None or index >= len(entries):
            return "", None
        entry = entries[index] if isinstance(entries[index], dict) else {}
        label = f"theme {entry['id']}" if "id" in entry else f"theme entry {index + 1}"
        where = lines[index] if index < len(lines) else {}
        return label, where.get(key, where.get(""))

    problems = []
    validator = jsonschema.Draft202012Validator(CODEBOOK_SCHEMA)
    for issue in sorted(validator.iter_errors(doc), key=lambda e: [str(x) for x in e.absolute_path]):
        path = list(issue.absolute_path)
        index = path[1] if len(path) > 1 and path[0] == "themes" and isinstance(path[1], int) else None
        key = str(path[2]) if len(path) > 2 else ""
        label, line = locate(index, key)
        what = f"{label}, '{key}'" if key else (label or "top level")
        problems.append(
            Problem(
                name,
                f"{what}: {issue.message}.",
                "see the codebook's header comment for the expected fields and their types",
                line=line,
            )
        )
    if problems:
        return problems, {}
    themes: dict[str, dict] = {}
    position: dict[str, int] = {}
    for i, theme in enumerate(entries):
        if theme["id"] in themes:
            problems.append(
                Problem(
                    name,
                    f"theme id {theme['id']!r} is used twice.",
                    "give each theme its own id",
                    line=locate(i, "id")[1],
                )
            )
        themes[theme["id"]] = theme
        position[theme["id"]] = i
    for tid, theme in themes.items():
        expected = LEVEL_PARENT[theme["level"]]
        parent = theme["parent"]
        line = locate(position[tid], "parent")[1]
        if expected is None and parent is not None:
            problems.append(
                Problem(
                    name,
                    f"theme {tid} is superordinate but has parent {parent!r}.",
                    "set parent: null for superordinate themes",
                    line=line,
                )
            )
        elif expected is not None:
            if parent not in themes:
                problems.append(
                    Problem(
                        name,
                        f"theme {tid} points to parent {parent!r}, which is not in the codebook.",
                        "add the parent theme or correct the parent id",
                        line=line,
                    )
                )
            elif themes[parent]["level"] != expected:
                problems.append(
                    Problem(
                        name,
                        f"theme {tid} is {theme['level']} but its parent {parent} is {themes[parent]['level']}.",
                        f"a {theme['level']} theme needs a {expected} parent",
                        line=line,
                    )
                )
    return problems, themes


def check_cross(p: Paths, themes: dict[str, dict], transcripts: dict[str, str]) -> list[Problem]:
    """Rules that span files: themes, spans and excerpts, transcripts per participant."""
    import pandas as pd

    problems: list[Problem] = []
    try:
        participants = pd.read_csv(p.participants, dtype=str, keep_default_na=False)
        coding = pd.read_csv(p.coding, dtype=str, keep_default_na=False)
    except Exception:
        return problems
    coding_name = _rel(p.coding, p)
    pids = set(participants.get("participant_id", []))
    for pid in sorted(pids):
        if not p.transcript(pid).is_file():
            problems.append(
                Problem(
                    _rel(p.transcript(pid), p),
                    f"transcript of participant {pid} not found.",
                    f"add {pid}.txt to data/synthetic/transcripts/",
                )
            )
    for path in sorted(p.transcripts.glob("*.txt")):
        if path.stem not in pids:
            problems.append(
                Problem(
                    _rel(path, p),
                    f"transcript for unknown participant {path.stem!r}.",
                    "add the participant to participants.csv or remove the file",
                )
            )
    try:
        declared = set(load_schema(p).table("coding").columns)
    except CompendiumError:
        return problems  # reported by check_tables
    if not declared <= set(coding.columns):
        return problems  # a missing column is reported by check_tables
    for i, (segment, theme) in enumerate(
        zip(coding["segment_id"].astype(str), coding["theme_id"].astype(str)), start=1
    ):
        if themes and theme not in themes:
            problems.append(
                Problem(
                    coding_name,
                    f"segment {segment} is coded to theme {theme!r}, which is not in codebook.yaml.",
                    "use a theme id from codebook.yaml or add the theme there",
                    row=i,
                    column="theme_id",
                )
            )
        elif themes and not themes[theme]["codable"]:
            problems.append(
                Problem(
                    coding_name,
                    f"segment {segment} is coded to {theme}, a grouping theme that is not codable.",
                    "code it to one of its subordinate or minor themes",
                    row=i,
                    column="theme_id",
                )
            )
    problems += check_spans(coding.itertuples(index=False), transcripts, coding_name)
    return problems


def validate(p: Paths | None = None) -> dict:
    """Run every check; raise :class:`DataError` listing all problems, else return a summary."""
    p = p or paths()
    problems, transcripts, unreadable = check_bytes(p)
    problems += check_tables(p, unreadable)
    codebook_problems, themes = check_codebook(p)
    problems += codebook_problems
    problems += check_cross(p, themes, transcripts)
    if problems:
        raise DataError(problems, f"Validation of {_rel(p.data, p)} failed")
    return {"transcripts": len(transcripts), "themes": len(themes)}
