"""Reading a ``.qdpx``: the bounded archive, the project XML read as QDA-XML 1.0, and its parts.

:class:`QdpxReader` opens one archive (with the caps of
:mod:`compendium.refiqda.archive`), finds and parses ``project.qde`` (with an
element cap), reads the draft namespaces ``urn:QDA-XML:project:0:4`` and
``urn:QDA-XML:codebook:0:4`` as QDA-XML 1.0, drops optional user and date
attributes whose values the standard does not allow, and hands out the parts
import needs: users, codes (matched to our themes), notes, cases and the text
of each source. What it had to read generously goes into ``messages``.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from lxml import etree

from ..paths import Paths
from ..text import numbered, plural
from .archive import Archive
from .schema import (
    CODEBOOK_NAMESPACES,
    FIX_EXPORT_AGAIN,
    PROJECT_NAMESPACES,
    PROJECT_NS,
    check_xml,
    error,
    guid,
    norm_guid,
    parse_xml,
)

__all__ = ["QdpxReader", "Note", "Code", "norm_name", "clean_text", "first_few", "lf_position", "source_text"]

_USER_ATTRIBUTES = ("creatingUser", "modifyingUser", "creatingUserGUID", "modifyingUserGUID")
_DATE_ATTRIBUTES = ("creationDateTime", "modifiedDateTime")
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")
_DATETIME = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
# Curly quotes and dashes as tools retype them, mapped to their plain forms.
_PLAIN_PUNCTUATION = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


@dataclass
class Note:
    """A note of the project: its name, its text and, for an annotation, the span it is on."""

    name: str
    text: str
    span: tuple[int, int] | None = None  # an annotation's span in its source (QualCoder's form)


@dataclass
class Code:
    """A code of the project's codebook, and what it is in our study (a theme, a case link or neither)."""

    guid: str
    name: str
    path: str
    codable: bool
    theme: str | None = None  # our theme id, if matched
    case: bool = False  # a case-link code (its GUID is a case's GUID)


def norm_name(name: str) -> str:
    """Names compare ignoring case, spacing, Unicode forms and curly quotes (tools retype labels)."""
    text = unicodedata.normalize("NFKC", name)
    text = text.translate(_PLAIN_PUNCTUATION)
    return " ".join(text.casefold().split())


def clean_text(text: str | None) -> str:
    """A text with LF line breaks and no surrounding whitespace ("" for None)."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def first_few(items: list[str], limit: int = 10) -> str:
    """The first ``limit`` items joined by commas, then how many more there are."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


class QdpxReader:
    """Reads one ``.qdpx`` (bounded); collects messages."""

    def __init__(self, path: Path, p: Paths) -> None:
        self.path, self.p = path, p
        self.messages: list[str] = []
        self.archive = Archive(path)
        try:
            self._load()
        except BaseException:
            self.archive.close()
            raise

    def _load(self) -> None:
        self.members = self.archive.members
        self.qde = self._project_member()
        self.where = f"{self.path}, {self.qde}"
        self.root = parse_xml(self.archive.read(self.qde), self.where)
        namespace = etree.QName(self.root).namespace
        if etree.QName(self.root).localname != "Project" or namespace not in PROJECT_NAMESPACES:
            raise error(
                self.where,
                f"the root element is <{etree.QName(self.root).localname}> in namespace "
                f"{namespace!r}; a REFI-QDA project starts with <Project "
                f'xmlns="{PROJECT_NS}">.',
                FIX_EXPORT_AGAIN,
                line=self.root.sourceline,
            )
        self._normalise_namespaces()
        self._drop_bad_optional_attributes()
        check_xml(self.root, "project", self.where, self.p)

    def _normalise_namespaces(self) -> None:
        """Read the draft namespaces (0:4) and a codebook namespace inside the project as QDA-XML 1.0."""
        variants: Counter[str] = Counter()
        for element in self.root.iter():
            if not isinstance(element.tag, str):
                continue
            name = etree.QName(element)
            if name.namespace != PROJECT_NS and name.namespace in (*PROJECT_NAMESPACES, *CODEBOOK_NAMESPACES):
                variants[name.namespace] += 1
                element.tag = f"{{{PROJECT_NS}}}{name.localname}"
        if variants:
            etree.cleanup_namespaces(self.root)
            self.messages.append(
                f"{self.path}: read the namespace(s) {', '.join(sorted(variants))} (an older draft "
                "of the standard, or a codebook namespace inside the project) as QDA-XML 1.0."
            )

    def _drop_bad_optional_attributes(self) -> None:
        """Ignore optional user and date attributes whose values the schema does not allow.

        Real exports write ``creatingUser=""`` for a user missing from
        ``<Users>``, or a date without its date part; import reads neither, so
        they are dropped (and counted) rather than failing the whole file.
        """
        dropped: Counter[str] = Counter()
        for element in self.root.iter():
            if not isinstance(element.tag, str):
                continue
            for attribute in _USER_ATTRIBUTES + _DATE_ATTRIBUTES:
                value = element.get(attribute)
                if value is None:
                    continue
                pattern = _GUID if attribute in _USER_ATTRIBUTES else _DATETIME
                if not pattern.fullmatch(value.strip()):
                    del element.attrib[attribute]
                    dropped[f"{attribute}={value!r}"] += 1
        if dropped:
            n = sum(dropped.values())
            self.messages.append(
                f"{self.path}: {numbered(n, 'optional attribute')} with a value the standard does "
                f"not allow {plural(n, 'was')} ignored (import does not use them): "
                f"{first_few([f'{k} ({v}x)' for k, v in dropped.most_common()], 4)}."
            )

    def _project_member(self) -> str:
        top = [name for name in self.members if "/" not in name and name.lower().endswith(".qde")]
        exact = [name for name in top if name.lower() == "project.qde"]
        if exact:
            return exact[0]
        if len(top) == 1:
            self.messages.append(
                f"{self.path}: the project file is named {top[0]!r} instead of 'project.qde'; read it anyway."
            )
            return top[0]
        nested = [name for name in self.members if name.lower().endswith(".qde")]
        found = first_few(sorted(self.members), 8) or "nothing"
        fix = (
            f"the archive holds {nested[0]!r} inside a folder: zip the folder's contents, not the folder, so "
            "that project.qde is at the top"
            if nested
            else FIX_EXPORT_AGAIN
        )
        raise error(str(self.path), f"has no project.qde at the top of the archive (it holds: {found}).", fix)

    def text(self, reference: str) -> tuple[str, bool] | None:
        """The text a path points to (decoded; whether it had a BOM), or ``None`` if not in the archive."""
        member = self.archive.resolve(reference)
        if member is None:
            return None
        return self._decode(self.archive.read(member), f"{self.path}, {member}")

    def _decode(self, raw: bytes, where: str) -> tuple[str, bool]:
        bom = raw.startswith(codecs.BOM_UTF8)
        try:
            return raw[3:].decode("utf-8") if bom else raw.decode("utf-8"), bom
        except UnicodeDecodeError as err:
            raise error(
                where,
                f"is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}).",
                "save the source as UTF-8 plain text in the QDA program (or re-import it as UTF-8) and export again",
            ) from None

    # -- parts of the project
    def q(self, tag: str) -> str:
        return f"{{{PROJECT_NS}}}{tag}"

    def users(self) -> dict[str, str]:
        return {
            norm_guid(u.get("guid")): (u.get("name") or u.get("id") or "").strip()
            for u in self.root.iterfind(f"{self.q('Users')}/{self.q('User')}")
        }

    def codes(self, codebook: pd.DataFrame, case_guids: set[str]) -> dict[str, Code]:
        """Every code in the project, matched to our themes by GUID, else by name; case links marked."""
        by_guid = {guid("code", tid): tid for tid in codebook["id"]}
        by_name: dict[str, str] = {}
        for theme in codebook.to_dict("records"):
            by_name[norm_name(theme["label"])] = theme["id"]
            by_name[norm_name(f"{theme['id']} {theme['label']}")] = theme["id"]
        labels = dict(zip(codebook["id"], codebook["label"]))
        codes: dict[str, Code] = {}
        renamed, named = [], []

        def walk(element: etree._Element, trail: list[str]) -> None:
            for item in element.iterfind(self.q("Code")):
                name = item.get("name", "")
                code = Code(
                    norm_guid(item.get("guid")),
                    name,
                    " > ".join([*trail, name]),
                    item.get("isCodable", "true").strip() not in ("false", "0"),
                )
                if code.guid in case_guids:
                    code.case = True
                elif code.guid in by_guid:
                    code.theme = by_guid[code.guid]
                    if norm_name(name) != norm_name(labels[code.theme]):
                        renamed.append(f"{name!r} is our theme {code.theme} {labels[code.theme]!r}")
                elif norm_name(name) in by_name:
                    code.theme = by_name[norm_name(name)]
                    named.append(f"{name!r} -> {code.theme}")
                codes[code.guid] = code
                walk(item, [*trail, name])

        codes_element = self.root.find(f"{self.q('CodeBook')}/{self.q('Codes')}")
        if codes_element is not None:
            walk(codes_element, [])
        if named:
            self.messages.append(
                f"{numbered(len(named), 'code')} matched to our themes by name, not by GUID "
                f"(usual for codes created in another program): {first_few(named, 12)}."
            )
        if renamed:
            self.messages.append(
                f"{numbered(len(renamed), 'code')} renamed in the QDA program, matched by GUID: "
                f"{first_few(renamed, 12)}."
            )
        return codes

    def notes(self) -> dict[str, Note]:
        """Note GUID -> its name, text and (for annotations) the span it holds."""
        found: dict[str, Note] = {}
        for note in self.root.iterfind(f"{self.q('Notes')}/{self.q('Note')}"):
            content = note.find(self.q("PlainTextContent"))
            text = content.text if content is not None else None
            reference = note.get("plainTextPath")
            if text is None and reference:
                read = self.text(reference)
                text = read[0] if read else ""
            span = None
            selection = note.find(self.q("PlainTextSelection"))
            if selection is not None:
                span = (int(selection.get("startPosition")), int(selection.get("endPosition")))
            found[norm_guid(note.get("guid"))] = Note(note.get("name") or "", clean_text(text), span)
        return found

    def cases(self, resolve: Callable[[str], str | None]) -> tuple[dict[str, str], dict[str, str | None]]:
        """(source GUID -> participant id from the cases' SourceRefs, case GUID -> participant id or None)."""
        linked: dict[str, str] = {}
        case_guids: dict[str, str | None] = {}
        for case in self.root.iterfind(f"{self.q('Cases')}/{self.q('Case')}"):
            pid = resolve(case.get("name") or "")
            case_guids[norm_guid(case.get("guid"))] = pid
            if pid is None:
                continue
            for ref in case.iterfind(self.q("SourceRef")):
                linked.setdefault(norm_guid(ref.get("targetGUID")), pid)
        return linked, case_guids


def lf_position(crlf: list[int], position: int) -> int:
    r"""A position in CRLF text (``crlf`` lists where each CR stands) as a position in the same text with LF.

    Every CRLF wholly before the position counts one less; a position between
    CR and LF lands on the LF (the line break itself).

    Examples
    --------
    >>> text = "ab\r\ncd\r\n"
    >>> crlf = [2, 6]
    >>> [lf_position(crlf, i) for i in range(len(text) + 1)]
    [0, 1, 2, 2, 3, 4, 5, 5, 6]
    """
    return position - bisect_left(crlf, position)


def source_text(reader: QdpxReader, source: etree._Element, label: str) -> tuple[str, bool]:
    """The source text as the program saw it (line breaks untouched), and whether it had a BOM."""
    reference = source.get("plainTextPath")
    if reference:
        read = reader.text(reference)
        if read is None:
            raise error(
                reader.where,
                f"{label} refers to {reference!r}, which is not in the archive "
                "(expected as sources/<name> inside the .qdpx).",
                "export the project with its sources embedded (one .qdpx holding sources/)",
                line=source.sourceline,
            )
        return read
    content = source.find(reader.q("PlainTextContent"))
    if content is not None and content.text is not None:
        return content.text, False
    raise error(
        reader.where,
        f"{label} has coded selections but no plain text (neither plainTextPath nor PlainTextContent).",
        "convert the document to plain text in the program and export again",
        line=source.sourceline,
    )
