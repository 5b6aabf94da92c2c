"""The tables' schema, read from the data folder's ``datapackage.json``: the only place it is written.

``datapackage.json`` declares each table (a Frictionless *tabular data
resource*): its columns in order, each column's type and constraints, its
primary and foreign keys. Validation hands the file to frictionless; every
other module asks this one which columns a table has and which are integers or
booleans, and reads a table through :func:`read_table`, so that adding or
renaming a column in ``datapackage.json`` is all it takes for the loaders to
follow.

The schema is parsed once per file version (path, modification time, size) and
every request records a read of ``datapackage.json`` in the provenance log,
like any other input a loader reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import CompendiumError
from .paths import Paths, paths
from .provenance import record

__all__ = ["Column", "TableSchema", "DataSchema", "load_schema", "table_schema", "typed", "read_table"]

BOOL = {"true": True, "false": False}  # how a boolean cell reads (case-insensitive), as validation accepts it


@dataclass(frozen=True)
class Column:
    """One field of a table schema: its name, Frictionless type and constraints."""

    name: str
    type: str
    constraints: Mapping[str, Any]


@dataclass(frozen=True)
class TableSchema:
    """One table (resource) of ``datapackage.json``."""

    name: str
    path: str
    fields: tuple[Column, ...]
    descriptor: Mapping[str, Any]  # the resource as written, for frictionless

    @property
    def columns(self) -> list[str]:
        """The column names in their declared order."""
        return [f.name for f in self.fields]

    @property
    def types(self) -> dict[str, str]:
        """Column name -> Frictionless type (``string``, ``integer``, ``boolean``, ``yearmonth``, ...)."""
        return {f.name: f.type for f in self.fields}

    def of_type(self, *kinds: str) -> list[str]:
        """The columns of the given types, in declared order."""
        return [f.name for f in self.fields if f.type in kinds]

    @property
    def integers(self) -> list[str]:
        return self.of_type("integer")

    @property
    def booleans(self) -> list[str]:
        return self.of_type("boolean")

    @property
    def primary_key(self) -> list[str]:
        key = self.descriptor.get("schema", {}).get("primaryKey", [])
        return [key] if isinstance(key, str) else list(key)

    @property
    def foreign_keys(self) -> list[dict[str, Any]]:
        return list(self.descriptor.get("schema", {}).get("foreignKeys", []))

    def empty(self) -> pd.DataFrame:
        """A table with no rows, these columns and the types :func:`typed` gives them."""
        kind = {"integer": int, "boolean": bool, "number": float}
        return pd.DataFrame({f.name: pd.Series(dtype=kind.get(f.type, object)) for f in self.fields})


@dataclass(frozen=True)
class DataSchema:
    """Every table declared in one ``datapackage.json``."""

    path: Path
    tables: Mapping[str, TableSchema]

    def table(self, name: str) -> TableSchema:
        """The table called ``name``; a researcher-facing error when the data package lacks it."""
        if name not in self.tables:
            raise CompendiumError(
                f"{self.path}: declares no table {name!r} (it declares {', '.join(self.tables) or 'none'}).",
                fix=f"restore the {name!r} resource in datapackage.json (`git checkout -- datapackage.json`)",
            )
        return self.tables[name]

    def table_at(self, path: str) -> TableSchema | None:
        """The table stored at ``path`` (relative to the data folder), or None."""
        return next((t for t in self.tables.values() if t.path == path), None)


@lru_cache(maxsize=16)
def _parse(path: str, mtime_ns: int, size: int) -> DataSchema:
    """Parse one version of a ``datapackage.json`` (the cache key includes its date and size)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CompendiumError(
            f"{path}: cannot be read as JSON ({err}).", fix="restore it from git (`git checkout -- datapackage.json`)"
        ) from None
    tables: dict[str, TableSchema] = {}
    for resource in doc.get("resources", []) if isinstance(doc, dict) else []:
        fields = resource.get("schema", {}).get("fields", []) if isinstance(resource, dict) else []
        if not fields or "name" not in resource:
            continue
        columns = tuple(
            Column(str(f["name"]), str(f.get("type", "string")), dict(f.get("constraints", {}))) for f in fields
        )
        tables[str(resource["name"])] = TableSchema(
            str(resource["name"]), str(resource.get("path", "")), columns, resource
        )
    return DataSchema(Path(path), tables)


def load_schema(p: Paths | None = None) -> DataSchema:
    """The schema of ``p``'s data folder (the compendium's own by default), recorded as a read input."""
    p = p or paths()
    path = p.datapackage
    try:
        stat = path.stat()
    except OSError:
        raise CompendiumError(
            f"{path}: file not found.",
            fix="restore it from git (`git checkout -- datapackage.json`): it declares the "
            "columns and types of every table",
        ) from None
    record("read", path)
    return _parse(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def table_schema(name: str, p: Paths | None = None) -> TableSchema:
    """One table's schema from ``p``'s ``datapackage.json`` (``participants``, ``coding``, ``memos``)."""
    return load_schema(p).table(name)


def typed(df: pd.DataFrame, table: TableSchema) -> pd.DataFrame:
    """A table read as text, with its integer, number and boolean columns converted; other columns stay text.

    Dates and months (``date``, ``yearmonth``) stay as written (``2021-03``).
    Columns the schema does not declare are left as they are.

    >>> t = TableSchema("t", "t.csv", (Column("n", "integer", {}), Column("ok", "boolean", {}),
    ...                                Column("when", "yearmonth", {})), {})
    >>> row = typed(pd.DataFrame({"n": ["3"], "ok": ["TRUE"], "when": ["2021-03"]}), t).iloc[0]
    >>> int(row["n"]) + 1, bool(row["ok"]), row["when"]
    (4, True, '2021-03')
    """
    out = df.copy()
    for f in table.fields:
        if f.name not in out.columns:
            continue
        if f.type == "integer":
            out[f.name] = out[f.name].astype(int)
        elif f.type == "number":
            out[f.name] = out[f.name].astype(float)
        elif f.type == "boolean":
            out[f.name] = out[f.name].str.lower().map(BOOL)
    return out


def read_table(path: Path, table: TableSchema) -> pd.DataFrame:
    """Read a CSV file of ``table`` (UTF-8; empty cells stay empty text) into a typed DataFrame.

    The caller checks that the file exists and records the read (see :mod:`compendium.data`).
    """
    encoding = str(table.descriptor.get("encoding", "utf-8"))
    return typed(pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding), table)
