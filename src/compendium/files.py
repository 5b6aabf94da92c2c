"""All file writing goes through here, atomically (temporary file, then rename).

A reader never sees a half-written table, figure or manuscript: either the old
file or the complete new one.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from functools import partial
from pathlib import Path
from typing import Any
from collections.abc import Callable

import pandas as pd

from . import study as _study
from .paths import paths
from .provenance import record

__all__ = [
    "atomic_write",
    "write_text",
    "write_bytes",
    "write_json",
    "write_table",
    "write_figure",
    "read_csv_rows",
    "csv_text",
    "load_yaml",
    "compose_yaml",
]


def atomic_write(path: Path, writer: Callable[[Path], object], *, recorded: bool = True) -> Path:
    """Call ``writer(tmp)`` then rename ``tmp`` onto ``path`` (same folder); what ``writer`` returns is ignored.

    ``recorded=False``: a cache of the build's own, not an output; provenance does not list it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        writer(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        if recorded:
            record("write", path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text with LF line endings."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub-style pipe table (what pandoc reads as a real table)."""
    # Cells are written as they are (no number parsing: "1.10" stays "1.10"); a pipe inside a
    # cell is escaped so it cannot split the row.
    text = df.astype(str).map(lambda v: v.replace("|", "\\|"))
    return text.to_markdown(index=False, tablefmt="pipe", disable_numparse=True) + "\n"


def write_table(df: pd.DataFrame, folder: Path, stem: str) -> tuple[Path, Path]:
    """Write ``stem.csv`` and its Markdown rendering ``stem.md``."""
    csv = write_text(Path(folder) / f"{stem}.csv", df.to_csv(index=False, lineterminator="\n"))
    md = write_text(Path(folder) / f"{stem}.md", _study.mark_table(to_markdown(df), paths()))  # restricted: footer
    return csv, md


def write_figure(fig: Any, folder: Path, stem: str) -> tuple[Path, Path]:
    """Save a matplotlib figure as SVG and PNG with deterministic bytes."""
    import matplotlib as mpl

    mpl.rcParams["svg.hashsalt"] = "compendium"
    _study.mark_figure(fig, paths())  # restricted builds print the notice on the figure
    out = []
    for ext, unset in (("svg", "Date"), ("png", "Software")):
        target = Path(folder) / f"{stem}.{ext}"
        # no date or software version in the bytes; restricted: the mark in the image's metadata too
        meta: dict[str, str | None] = {unset: None, **_study.figure_metadata(paths())}
        atomic_write(target, partial(fig.savefig, format=ext, metadata=meta, dpi=150))
        out.append(target)
    return out[0], out[1]


def read_csv_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file's column names and rows, every value kept as the text it is (no type guessing)."""
    reader = csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8")))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def csv_text(columns: list[str], rows: list[dict[str, str]]) -> str:
    """Rows as CSV text with LF line endings, the format of the data folder's tables."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def load_yaml(text: str) -> Any:
    """Parse YAML text safely (no Python objects), with libyaml's parser when PyYAML has it.

    The same documents and the same errors (``yaml.YAMLError``, with the line in
    ``problem_mark``) as ``yaml.safe_load``, about fifteen times faster: the
    codebook is read by every notebook and the manuscript.
    """
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def compose_yaml(text: str) -> Any:
    """The YAML text's node tree (each node with its line), safely and with libyaml's parser when
    PyYAML has it: what the checks use to name the line of a codebook entry."""
    import yaml

    return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
