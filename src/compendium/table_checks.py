"""The tables checked against their Frictionless Table Schemas, and frictionless' findings in words.

:func:`check_tables` validates the data folder's CSV files against
``datapackage.json`` (types, allowed values, required cells, unique and primary
keys, foreign keys); :func:`check_csv` checks one CSV file against a schema (a
student's ``coding.csv``, say). Both report through :func:`table_problems`, the
one translation of frictionless' errors into problems naming file, row, column
and fix, so a student's error reads like ``make validate``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import CompendiumError, Problem
from .paths import Paths
from .schema import TableSchema, load_schema

__all__ = ["check_tables", "check_csv", "table_problems", "rel_path"]


def rel_path(path: Path, p: Paths) -> str:
    """``path`` as the problems name it: relative to the compendium's root when inside it."""
    try:
        return str(path.relative_to(p.root))
    except ValueError:
        return str(path)


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
        return [Problem(rel_path(p.datapackage, p), err.message.split(": ", 1)[-1], err.fix)]
    problems: list[Problem] = []
    report = frictionless.validate(str(p.datapackage))
    for error in report.errors:  # problems with the descriptor itself
        problems.append(
            Problem(
                rel_path(p.datapackage, p),
                f"{error.title.lower()}: {error.note}.",
                "compare with the committed datapackage.json",
            )
        )
    for task in report.tasks:
        problems += table_problems(task.errors, rel_path(p.data / task.place, p), schema.table_at(task.place))
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
