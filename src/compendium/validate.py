"""Validation of ``data/synthetic``: every problem reported at once, in words.

Layers, each reporting file, row or line, column, what was expected and a fix:

1. bytes: each file exists, is UTF-8 without a byte-order mark, uses LF line
   endings; transcripts are non-empty and every line has a speaker label;
2. tables: the Frictionless Table Schemas in ``datapackage.json`` (types,
   allowed values, required cells, unique and primary keys, foreign keys),
   checked and put in words by :mod:`compendium.table_checks`;
3. codebook: a JSON Schema for the YAML structure, then its hierarchy;
4. cross-file rules: coding -> theme (codable), spans inside the transcript and
   ``transcript[start:end] == excerpt``, one transcript per participant.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .data import SPEAKER_INTERVIEWER, read_pseudonyms
from .errors import CompendiumError, DataError, Problem
from .files import compose_yaml, load_yaml
from .paths import Paths, paths
from .schema import load_schema
from .table_checks import check_csv, check_tables, table_problems
from .table_checks import rel_path as _rel
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


def _codebook_lines(text: str) -> list[dict[str, int]]:
    """For each theme entry, the 1-based line of the entry and of each of its keys."""
    try:
        root = compose_yaml(text)
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
        doc = load_yaml(text)
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
