"""QDA-XML vocabulary: namespaces, GUIDs, the build date, schema validation and safe XML parsing.

Everything here is shared by export, import and comparison. The schemas are
the package's own copy (``compendium/schemas``): the build never reads outside
the repository.
"""

from __future__ import annotations

import re
import time
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from ..errors import CompendiumError, Problem
from ..paths import Paths, paths
from ..reproducible import ZIP_EARLIEST, build_epoch, zip_timestamp
from ..schema import TableSchema, table_schema

__all__ = [
    "PROJECT_NS",
    "CODEBOOK_NS",
    "PROJECT_NAMESPACES",
    "CODEBOOK_NAMESPACES",
    "GUID_NAMESPACE",
    "ORIGIN",
    "coding_table",
    "SHARED_ATTRIBUTES",
    "NOTE_KINDS",
    "PALETTE",
    "FIX_EXPORT_AGAIN",
    "MAX_XML_ELEMENTS",
    "RefiQdaError",
    "error",
    "guid",
    "norm_guid",
    "build_datetime",
    "schema_dir",
    "schemas_available",
    "check_xml",
    "parse_xml",
    "zip_date",
    "schema_candidates",
    "combine_notes",
    "split_notes",
    "note_heading_in",
]

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
# Namespaces real programs write: MAXQDA 24 puts its codebook inside the project
# in the draft codebook:0:4 namespace, NVivo writes codebook:1:0, most others
# 1.0. Import reads any of them as 1.0.
PROJECT_NAMESPACES = (PROJECT_NS, "urn:QDA-XML:project:1:0", "urn:QDA-XML:project:0:4", "urn:QDA-XML:project:0.4")
CODEBOOK_NAMESPACES = (CODEBOOK_NS, "urn:QDA-XML:codebook:1:0", "urn:QDA-XML:codebook:0:4", "urn:QDA-XML:codebook:0.4")
# Never change this: every GUID in every export is derived from it, and tools
# match codes and sources across exports by GUID.
GUID_NAMESPACE = uuid.UUID("55f525dd-8c48-5364-a504-8585871341b1")
ORIGIN = "compendium (reproducible research compendium, synthetic IPA study)"

# Only the attributes published in the paper's Table 1 may leave the project.
# Background, parent mental illness, own mental health, member check and
# voucher were reported in aggregate only and must never be exported per person.
SHARED_ATTRIBUTES = {
    "age_band": ("Age band", "Age band of the clinician (Table 1)."),
    "gender": ("Gender", "Gender of the clinician (Table 1)."),
    "qualification": ("Qualification", "Professional qualification (Table 1)."),
    "frameworks": ("Predominant framework(s)", "Therapeutic frameworks the clinician mainly uses (Table 1)."),
    "years_with_population": (
        "Years with population",
        "Years of work with children and adult children of parents with mental illness (Table 1).",
    ),
}
NOTE_KINDS = {
    "note_descriptive": "Descriptive note",
    "note_linguistic": "Linguistic note",
    "note_conceptual": "Conceptual note",
}
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#CC79A7", "#0072B2", "#D55E00", "#F0E442")
FIX_EXPORT_AGAIN = "export the project again from your QDA program (REFI-QDA project, .qdpx) and import that file"
MAX_XML_ELEMENTS = 2_000_000  # a project.qde with more elements is refused (a hostile file, not a study)


class RefiQdaError(CompendiumError):
    """A ``.qdpx`` or ``.qdc`` file that cannot be read or written as QDA-XML."""


def error(file: str, message: str, fix: str, line: int | None = None) -> RefiQdaError:
    return RefiQdaError(str(Problem(file, message, fix, line=line)))


def guid(kind: str, key: str) -> str:
    """The GUID of one of our items: UUID5 of ``"kind:key"`` in :data:`GUID_NAMESPACE`.

    Examples
    --------
    >>> guid("code", "1.1") == guid("code", "1.1") != guid("code", "1.2")
    True
    """
    return str(uuid.uuid5(GUID_NAMESPACE, f"{kind}:{key}"))


def norm_guid(value: str | None) -> str:
    """GUIDs compare without braces and case (the schema allows ``{...}`` and upper case)."""
    return (value or "").strip().strip("{}").lower()


def build_datetime() -> str:
    """The build's date as ``xsd:dateTime``: ``SOURCE_DATE_EPOCH`` if set, else 1980-01-01 (the zip epoch).

    Every date the export writes that the data does not supply comes from here,
    so two builds give the same bytes.
    """
    stamp = time.gmtime(max(build_epoch() or ZIP_EARLIEST, ZIP_EARLIEST))
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp)


zip_date = zip_timestamp  # the date of every entry in our archives (see compendium.reproducible)


def coding_table(p: Paths | None = None) -> TableSchema:
    """The coding table an import writes: the ``coding`` resource of ``p``'s ``datapackage.json``.

    Its columns and types come from there (the compendium's own data folder when
    ``p`` is not given), so an import always produces a table ``load_coding()`` reads.
    """
    return table_schema("coding", p)


# ---------------------------------------------------------------- schemas


def schema_candidates(p: Paths) -> list[Path]:
    return [p.package_schemas]


def schemas_available(p: Paths | None = None) -> bool:
    """Whether the QDA-XML schemas can be found (see :func:`schema_dir`)."""
    p = p or paths()
    return any((f / "Project.xsd").is_file() and (f / "Codebook.xsd").is_file() for f in schema_candidates(p))


def schema_dir(p: Paths | None = None) -> Path:
    """Folder holding ``Project.xsd`` and ``Codebook.xsd`` (the package's ``compendium/schemas``)."""
    p = p or paths()
    candidates = schema_candidates(p)
    for folder in candidates:
        if (folder / "Project.xsd").is_file() and (folder / "Codebook.xsd").is_file():
            return folder
    raise RefiQdaError(
        "The REFI-QDA schemas (Project.xsd, Codebook.xsd) were not found in "
        + " or ".join(str(c) for c in candidates)
        + ".",
        fix="restore src/compendium/schemas from git (`git checkout -- src/compendium/schemas`).",
    )


@lru_cache(maxsize=4)
def _schema(path: str) -> Any:
    import xmlschema

    return xmlschema.XMLSchema(path)


def check_xml(
    document: bytes | etree._Element, kind: str, name: str, p: Paths | None = None, fix: str | None = None
) -> None:
    """Validate a QDA-XML 1.0 document (``kind`` ``"project"`` or ``"codebook"``); raise :class:`RefiQdaError`."""
    root = parse_xml(document, name) if isinstance(document, bytes) else document
    schema = _schema(str(schema_dir(p) / f"{kind.title()}.xsd"))
    problems = []
    for err in schema.iter_errors(root.getroottree()):
        reason = re.sub(r"\s+", " ", str(err.reason or err.message))
        if len(reason) > 160:
            reason = reason[:157] + "..."
        where = f"line {err.sourceline}" if getattr(err, "sourceline", None) else "?"
        problems.append(f"  - {where} ({err.path}): {reason}")
        if len(problems) == 5:
            problems.append("  - (further problems not shown)")
            break
    if problems:
        fix = fix or (
            f"{FIX_EXPORT_AGAIN}; if the program wrote it this way, correct the lines above by hand "
            "(the order of elements matters) and import again"
        )
        raise RefiQdaError(
            f"{name}: does not follow the QDA-XML 1.0 {kind.title()}.xsd schema:\n" + "\n".join(problems), fix=f"{fix}."
        )


def parse_xml(data: bytes, name: str, max_elements: int = MAX_XML_ELEMENTS) -> etree._Element:
    """Parse untrusted XML: no entities, no network, no DTD, and at most ``max_elements`` elements."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        remove_blank_text=False,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
    )
    try:
        # Count elements in a streaming pass that keeps nothing, before building a tree of unknown size.
        count = 0
        for _event, element in etree.iterparse(
            _BytesReader(data),
            events=("end",),
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
        ):
            count += 1
            if count > max_elements:
                raise error(
                    name,
                    f"holds more than {max_elements:,} XML elements, more than this import reads.",
                    "this is not an export of a study of interviews; check the file came from your QDA program",
                )
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        line = err.lineno if err.lineno else None
        raise error(name, f"is not well-formed XML ({err.msg}).", FIX_EXPORT_AGAIN, line=line) from None


class _BytesReader:
    """A file-like view of bytes for ``iterparse`` (no copy)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = memoryview(data), 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size is None or size < 0 else self.pos + size
        chunk = bytes(self.data[self.pos : end])
        self.pos += len(chunk)
        return chunk


# ---------------------------------------------------------------- exploratory notes as one text

_NOTE_HEAD = re.compile(r"(?m)^(?P<kind>Descriptive|Linguistic|Conceptual) note: ?")


def combine_notes(cells: dict[str, str]) -> str:
    """A segment's three exploratory notes as one text, each paragraph headed by its kind.

    One note per segment is what QualCoder can hold as an annotation (it allows
    one annotation per span and coder); the headings let import put each
    paragraph back into its column.

    Examples
    --------
    >>> combine_notes({"note_descriptive": "Says A.", "note_linguistic": "", "note_conceptual": "Means B."})
    'Descriptive note: Says A.\\n\\nConceptual note: Means B.'
    """
    return "\n\n".join(
        f"{label}: {cells[column].strip()}"
        for column, label in NOTE_KINDS.items()
        if str(cells.get(column) or "").strip()
    )


def split_notes(text: str) -> dict[str, str] | None:
    """The columns of a text written by :func:`combine_notes`; ``None`` if it has no kind headings.

    Examples
    --------
    >>> split_notes("Descriptive note: Says A.\\n\\nConceptual note: Means B.")["note_conceptual"]
    'Means B.'
    >>> split_notes("A note of another program") is None
    True
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    heads = list(_NOTE_HEAD.finditer(text))
    if not heads or text[: heads[0].start()].strip():
        return None
    cells = {column: "" for column in NOTE_KINDS}
    for head, following in zip(heads, [*heads[1:], None]):
        column = f"note_{head['kind'].lower()}"
        body = text[head.end() : following.start() if following else len(text)].strip()
        cells[column] = "\n\n".join(part for part in (cells[column], body) if part)
    return cells


def note_heading_in(text: str) -> bool:
    """Whether a note's own text has a line that would read as a kind heading (it could not come back whole)."""
    return _NOTE_HEAD.search(text) is not None
