"""What a data folder is, and what a restricted build must do differently.

A data folder declares its kind in ``datapackage.json``::

    "compendium": {"kind": "synthetic"}

``synthetic`` (written for publication, like ``data/synthetic``), ``restricted``
(real, identifiable transcripts: never shared, never in git) or
``deidentified`` (written by ``make share`` from a restricted study). A folder
that declares nothing, or whose declaration cannot be read, is treated as
restricted: the safe reading.

For a restricted study, :func:`check_locations` refuses data or outputs inside
a git work tree, and the marking helpers below add :data:`MARK` to the
manuscript header and metadata, figure captions and images, and Markdown table
footers. They return their input unchanged for any other kind, so synthetic
builds stay byte-identical.

This module uses the standard library only (the Makefile asks
``python -m compendium.paths`` for the output root before ``make setup``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from .errors import CompendiumError
from .restricted import MARK

__all__ = [
    "KINDS",
    "MARK",
    "CONSENT_FLAGS",
    "kind",
    "declared_kind",
    "check_locations",
    "is_restricted",
    "mark_table",
    "mark_figure",
    "mark_manuscript",
    "pandoc_args",
]

KINDS = ("synthetic", "restricted", "deidentified")
CONSENT_FLAGS = ("consent_quotes", "consent_archive", "consent_attributes")


def declared_kind(data: Path) -> str | None:
    """The kind written in ``data/datapackage.json`` (None when absent or unreadable)."""
    try:
        doc = json.loads((Path(data) / "datapackage.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = (
        doc.get("compendium", {}).get("kind")
        if isinstance(doc, dict) and isinstance(doc.get("compendium"), dict)
        else None
    )
    return value if value in KINDS else None


def kind(data: Path) -> str:
    """The declared kind, or ``restricted`` when nothing (valid) is declared."""
    return _kind(str(Path(data).resolve()), _stamp(Path(data) / "datapackage.json"))


def _stamp(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


@lru_cache(maxsize=16)
def _kind(data: str, _mtime: float) -> str:
    return declared_kind(Path(data)) or "restricted"


def is_restricted(p) -> bool:
    return kind(p.data) == "restricted"


def check_locations(p) -> None:
    """Refuse a restricted study whose data or outputs are inside a git work tree, or outputs inside the data."""
    from .paths import work_tree_of

    if kind(p.data) != "restricted":
        return
    data, out = p.data.resolve(), p.out_root.resolve()
    if not p.data.is_dir():
        raise CompendiumError(f"{p.data}: data folder not found.", fix="give the study folder with DATA=/path/to/study")
    tree = work_tree_of(data)
    if tree is not None:
        raise CompendiumError(
            f"{data} is a restricted study (datapackage.json declares kind 'restricted' or nothing) inside the git "
            f"work tree {tree}; one `git add` would publish it.",
            fix="move the study folder outside every git work tree (e.g. next to the clone) and pass DATA=/path/to/study",
        )
    if out == data or out.is_relative_to(data):
        raise CompendiumError(
            f"{out}: outputs would be written inside the data folder {data}.",
            fix="choose OUT=... outside the data folder (or leave OUT unset: <study>-outputs beside it)",
        )
    tree = work_tree_of(out)
    if tree is not None:
        raise CompendiumError(
            f"{out}: refusing to write outputs of the restricted study {data} inside the git work tree {tree}.",
            fix="choose OUT=... outside every git work tree, or leave OUT unset (outputs go beside the data "
            f"folder, to {data.parent / (data.name + '-outputs')})",
        )


# ------------------------------------------------------------------ marking (restricted builds only)
def mark_table(markdown: str, p) -> str:
    """A Markdown table with the restricted notice as its footer."""
    return f"{markdown.rstrip()}\n\n*{MARK}*\n" if is_restricted(p) else markdown


def mark_figure(fig, p) -> None:
    """Print the restricted notice on a matplotlib figure before it is saved."""
    if is_restricted(p):
        fig.text(0.5, 0.005, MARK, ha="center", va="bottom", fontsize=8, color="#b00020")


def figure_metadata(p) -> dict[str, str]:
    """Image metadata for a restricted figure (PNG text chunk, SVG description); empty otherwise."""
    return {"Description": MARK} if is_restricted(p) else {}


_NOTICE = re.compile(r"^::: \{\.synthetic-notice\}\n.*?^:::\n", re.M | re.S)
_FIGURE = re.compile(r"!\[(?P<caption>[^\]\n]*)\]\((?P<path>[^)\s]*)")


def mark_manuscript(markdown: str, p, withheld: tuple[int, int] = (0, 0)) -> str:
    """The rendered manuscript Markdown for a non-default data or output root.

    Restricted: the synthetic-data notice becomes the restricted notice, and each
    figure caption ends with the mark. Any kind: withheld quotations (``withheld`` =
    segments, participants) are reported. (Figures reach pandoc and typst from the
    output root's figures/ folder, so their addresses need no change here.)
    """
    segments, people = withheld
    note = ""
    if people:
        note = (
            f"**Quotations withheld.** {segments} coded segment{'s' if segments != 1 else ''} from {people} "
            f"participant{'s' if people != 1 else ''} who did not consent to quotation "
            f"{'are' if segments != 1 else 'is'} counted in every theme and table but never quoted.\n\n"
        )
    if is_restricted(p):
        # the title carries the mark into every format's metadata (DOCX core properties, PDF /Title, HTML <title>)
        markdown = re.sub(r'^title: "(.*)"$', lambda m: f'title: "{MARK}. {m[1]}"', markdown, count=1, flags=re.M)
        block = f"::: {{.restricted-notice}}\n**{MARK}.** {note}\n:::\n"
        markdown = _NOTICE.sub(lambda m: block, markdown, count=1) if _NOTICE.search(markdown) else block + markdown
        markdown = _FIGURE.sub(lambda m: f"![{m['caption']} ({MARK})]({m['path']}", markdown)
    elif note:
        markdown = _NOTICE.sub(lambda m: m.group(0)[:-4] + "\n" + note + ":::\n", markdown, count=1)
    return markdown


def pandoc_args(p) -> list[str]:
    """Extra pandoc metadata for a restricted build: the mark as subtitle (every format), subject and description (DOCX)."""
    if not is_restricted(p):
        return []
    return ["-M", f"subtitle={MARK}", "-M", f"subject={MARK}", "-M", f"description={MARK}"]


# ------------------------------------------------------------------ checks run by `compendium validate`
def check_study(p) -> str:
    """Consent flags present and boolean, kind declared; a restricted study's transcripts fingerprinted.

    Raises :class:`~compendium.errors.DataError`; returns a line for the console.
    """
    import csv
    import io

    from .errors import DataError, Problem

    name = p.shown(p.participants)
    problems: list[Problem] = []
    try:
        rows = list(csv.DictReader(io.StringIO(p.participants.read_text(encoding="utf-8"))))
        header = list(rows[0]) if rows else []
    except (OSError, UnicodeDecodeError, csv.Error):
        rows, header = [], []
    missing = [f for f in CONSENT_FLAGS if header and f not in header]
    if missing:
        problems.append(
            Problem(
                name,
                f"no consent column(s) {', '.join(missing)}.",
                "add one true/false column per flag (what each participant agreed to; see the README "
                "section 'For authors with the real data') and declare them in datapackage.json",
            )
        )
    for i, row in enumerate(rows, start=1):
        for flag in CONSENT_FLAGS:
            value = (row.get(flag) or "").strip().lower()
            if flag in header and value not in ("true", "false"):
                problems.append(
                    Problem(
                        name,
                        f"consent flag must be true or false (found {row.get(flag)!r}).",
                        "write true or false; when in doubt, false (nothing is quoted or shown)",
                        row=i,
                        column=flag,
                    )
                )
    if problems:
        raise DataError(problems, f"Consent flags of {p.shown(p.data)}")
    declared = declared_kind(p.data)
    what = kind(p.data)
    line = f"study: {p.shown(p.data)} is {what}" + ("" if declared else " (datapackage.json declares no kind)")
    no_quotes = sum((r.get("consent_quotes") or "").strip().lower() == "false" for r in rows)
    if no_quotes:
        line += f"; {no_quotes} participant(s) declined quotation (counted, never quoted)"
    if what == "restricted":
        from . import restricted

        texts = [path.read_text(encoding="utf-8") for path in sorted(p.transcripts.glob("*.txt"))]
        stored = restricted.register(texts, p.root)
        line += (
            f"; outputs in {p.out_root}, marked; {len(texts)} transcripts fingerprinted for the pre-commit guard"
            if stored
            else f"; outputs in {p.out_root}, marked"
        )
    return line


def report_gate(p) -> int:
    """For a restricted study: run the anonymisation gate over the inputs and report, without failing."""
    from . import anonymise

    files = [f for f in anonymise.input_files(p) if f.is_file()]
    hits = anonymise.scan_files(files, p)
    if hits:
        counts: dict[str, int] = {}
        for hit in hits:
            counts[hit.category] = counts.get(hit.category, 0) + 1
        print(
            f"anonymisation gate: {len(hits)} possible identifier(s) in the restricted inputs ("
            + ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
            + "); expected in real transcripts: the outputs stay restricted, and `make share` replaces them"
        )
    else:
        print(f"anonymisation gate: no direct identifiers in {len(files)} restricted input files")
    return len(files)
