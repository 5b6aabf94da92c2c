"""Anonymisation gate: scan every input and generated file for direct identifiers before anything is shared.

Each file is read as text in its own format (HTML, DOCX, PDF, notebooks,
REFI-QDA archives; :func:`scan_files`) and checked by the detectors of
:mod:`compendium.identifiers` (each hit names file, line, category and the
offending text). False positives go in
``data/synthetic/anonymisation_allowlist.yaml``, each with a reason.
:func:`audit` can write a log of what was checked (files, rules, counts,
allow-listed items and why) for the data repository.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import html.parser
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import CompendiumError
from .files import atomic_write, load_yaml
from .identifiers import PATTERNS, RULES, Hit, first_names, known_names, load_allowlist, load_tables, scan_text
from .paths import Paths, paths

# Hit, PATTERNS, scan_text, load_allowlist, known_names and first_names are also used from here
# (compendium.share, tests/test_generate.py); they live in compendium.identifiers.
__all__ = [
    "scan_files",
    "audit",
    "AnonymisationError",
    "input_files",
    "output_files",
    "Scan",
    "Hit",
    "PATTERNS",
    "RULES",
    "scan_text",
    "load_allowlist",
    "known_names",
    "first_names",
]


class AnonymisationError(CompendiumError):
    """The gate found possible direct identifiers (listed, with any generated files it removed)."""

    def __init__(self, hits: list[Hit], removed: Sequence[str] = ()) -> None:
        self.hits = hits
        lines = [f"Anonymisation gate: {len(hits)} possible direct identifier(s) found."]
        lines += [f"  - {h}" for h in hits]
        if removed:
            lines.append("    removed the generated file(s) that contained them: " + ", ".join(removed))
        super().__init__(
            "\n".join(lines),
            fix="remove or replace the identifying text (the data folder is the only place it could "
            "come from); if it is a false positive, add it to data/synthetic/anonymisation_allowlist.yaml "
            "with a reason.",
        )


# --------------------------------------------------------------------------- reading files as text
class _TextOnly(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in ("p", "div", "tr", "li", "h1", "h2", "h3", "h4", "br", "td", "th", "blockquote", "pre", "span"):
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _html_text(text: str) -> str:
    parser = _TextOnly()
    parser.feed(text)
    return "".join(parser.parts)


def _xml_text(data: bytes) -> str:
    """Text and attribute values of an XML document, one per line (QDA exports, DOCX parts)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    root = etree.fromstring(data, parser)
    lines: list[str] = []
    for element in root.iter():
        lines += [str(v) for v in element.attrib.values()]
        if element.text and element.text.strip():
            lines.append(element.text)
        if element.tail and element.tail.strip():
            lines.append(element.tail)
    return "\n".join(lines)


def _docx_text(path: Path) -> str:
    """Paragraph text of a DOCX, one paragraph per line (runs of a paragraph joined)."""
    from lxml import etree

    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    lines: list[str] = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("word/") and name.endswith(".xml"):
                root = etree.fromstring(archive.read(name), etree.XMLParser(resolve_entities=False, no_network=True))
                for para in root.iter(f"{ns}p"):
                    lines.append("".join(t.text or "" for t in para.iter(f"{ns}t")))
    return "\n".join(lines)


def _pdf_text(path: Path) -> str:
    """Text of every page, read with PDFium (pypdfium2: about twelve times faster than pure-Python
    pypdf, and the gate reads the manuscript's PDF after every change). A word the typesetter
    hyphenated at a line's end comes back whole (PDFium marks the break with U+FFFE), and a link
    the layout broke across lines is joined again."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as err:
        raise ValueError(f"not a readable PDF ({err})") from None
    try:
        pages = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        document.close()
    text = "\n".join(pages).replace("\r\n", "\n").replace("\ufffe", "")
    return re.sub(r"((?:https?://|www\.)\S*)\n(?=\S)", r"\1", text)


def _qdpx_text(path: Path) -> str:
    parts: list[str] = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            if name.endswith((".qde", ".xml")):
                parts.append(_xml_text(data))
            elif name.endswith(".txt"):
                parts.append(data.decode("utf-8", errors="replace"))
    return "\n".join(parts)


def _allowlist_reasons(path: Path) -> str:
    doc = load_yaml(path.read_text(encoding="utf-8")) or {}
    entries = doc.get("allow", []) if isinstance(doc, dict) else []
    return "\n".join(str(e.get("reason", "")) for e in entries if isinstance(e, dict))


def _ipynb_text(path: Path) -> str:
    import json

    nb = json.loads(path.read_text(encoding="utf-8"))
    lines: list[str] = []
    for cell in nb.get("cells", []):
        lines.append("".join(cell.get("source", [])))
        for out in cell.get("outputs", []):
            if "text" in out:
                lines.append("".join(out["text"]))
            data = out.get("data", {})
            for kind in ("text/plain", "text/markdown"):
                if kind in data:
                    lines.append("".join(data[kind]))
            if "text/html" in data:
                lines.append(_html_text("".join(data["text/html"])))
    return "\n".join(lines)


READERS: dict[str, Callable[[Path], str]] = {
    ".html": lambda path: _html_text(path.read_text(encoding="utf-8")),
    ".docx": _docx_text,
    ".pdf": _pdf_text,
    ".qdpx": _qdpx_text,
    ".qdc": lambda path: _xml_text(path.read_bytes()),
    ".ipynb": _ipynb_text,
}
TEXT_SUFFIXES = frozenset({".md", ".csv", ".txt", ".json", ".yaml", ".typ", ".bib"})


def _text_of(path: Path, p: Paths | None = None) -> str:
    if p is not None and path == p.allowlist:
        return _allowlist_reasons(path)
    reader = READERS.get(path.suffix)
    return reader(path) if reader else path.read_text(encoding="utf-8")


def _rel(path: Path, p: Paths) -> str:
    return str(path.relative_to(p.root)) if path.is_relative_to(p.root) else str(path)


@dataclass
class Scan:
    """What one run of the gate checked and found (the anonymisation log's content)."""

    files: list[dict] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    allowed: list[tuple[Hit, dict]] = field(default_factory=list)

    def log(self, allow: list[dict]) -> dict:
        return {
            "what": "Anonymisation gate of the compendium (src/compendium/anonymise.py): every input file and every "
            "generated output scanned for direct identifiers before the build is marked complete.",
            "rules": RULES,
            "files_checked": len(self.files),
            "files": self.files,
            "hits": [h.__dict__ for h in self.hits],
            "hits_by_category": dict(sorted(Counter(h.category for h in self.hits).items())),
            "allowlisted_by_category": dict(sorted(Counter(h.category for h, _ in self.allowed).items())),
            "allowlisted": [{**h.__dict__, "reason": entry["reason"]} for h, entry in self.allowed],
            "allowlist": [{**entry, "times_used": sum(used == entry for _, used in self.allowed)} for entry in allow],
        }


class Passed:
    """Files the gate has already found clean under the same rules: ``build/anonymisation_cache.json``.

    A file is looked up by the SHA-256 of its bytes (with its suffix, which picks its reader). The
    cache is valid for one set of rules only: the allow-list, the known names, the gate's own code
    and the versions of the libraries it reads and matches with; when any of them changes, every file
    is scanned again. Only clean files are kept (with what the allow-list let pass, for the log), so
    a file with a hit is always scanned and reported afresh.

    Under the same rules, ``build/anonymisation_lines.bin`` keeps the lines (as 16-byte digests of
    the line and the build's date, never their text) in which the pattern detectors found nothing:
    when a file changes, its unchanged lines skip those detectors (about half of the gate's time
    on an edit); the name detector still reads every line. ``make clean`` deletes both.
    """

    LIBRARIES = ("gender-guesser", "phonenumbers", "tldextract", "pypdfium2")
    # Lines kept in build/anonymisation_lines.bin (16 bytes each): the newest, at most this many.
    MAX_LINES = 1 << 20

    def __init__(self, p: Paths, allow: list[dict], known: set[str]) -> None:
        self.path = p.build / "anonymisation_cache.json"
        self.lines_path = p.build / "anonymisation_lines.bin"
        self.rules = self._rules(allow, known)
        self.changed = False
        self.files: dict[str, dict] = {}
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and doc.get("rules") == self.rules and isinstance(doc.get("files"), dict):
                self.files = doc["files"]
        except (OSError, ValueError):
            pass
        # And the lines in which the pattern detectors found nothing, under the same rules (a
        # changed file's unchanged lines are not run through them again; see identifiers.scan_text).
        self.line_order: list[bytes] = []
        self.new_lines: list[bytes] = []  # each scanned file's new keys, joined
        with contextlib.suppress(OSError):
            header, _, body = self.lines_path.read_bytes().partition(b"\n")
            if header == self.rules.encode() and len(body) % 16 == 0:
                self.line_order = [body[i : i + 16] for i in range(0, len(body), 16)]
        self.clean_lines = set(self.line_order)

    @classmethod
    def _rules(cls, allow: list[dict], known: set[str]) -> str:
        from importlib import metadata

        from . import identifiers

        digest = hashlib.sha256(json.dumps([allow, sorted(known)], sort_keys=True, default=str).encode())
        for module in (identifiers.__file__, __file__):
            digest.update(Path(module).read_bytes())
        for library in cls.LIBRARIES:
            with contextlib.suppress(metadata.PackageNotFoundError):
                digest.update(f"{library}=={metadata.version(library)}".encode())
        return digest.hexdigest()

    def save(self) -> None:
        if self.changed and self.path.parent.is_dir():
            doc = {"rules": self.rules, "files": dict(sorted(self.files.items()))}
            with contextlib.suppress(OSError):
                atomic_write(self.path, lambda tmp: tmp.write_text(json.dumps(doc), encoding="utf-8"), recorded=False)
        joined = b"".join(self.new_lines)
        keys = (joined[i : i + 16] for i in range(0, len(joined), 16))
        new = [key for key in dict.fromkeys(keys) if key not in self.clean_lines]
        if new and self.lines_path.parent.is_dir():
            data = self.rules.encode() + b"\n" + b"".join((self.line_order + new)[-self.MAX_LINES :])
            with contextlib.suppress(OSError):
                atomic_write(self.lines_path, lambda tmp: tmp.write_bytes(data), recorded=False)


_FORKED: dict = {}  # what the scanning processes read (set just before they are forked)
PARALLEL_BYTES = 256 * 1024  # below this much to read, one process scans faster than starting more


# A scanned file: its number of lines, its hits, what the allow-list let pass (with the entry's
# index), and the keys of the lines the pattern detectors found nothing in, joined (see Passed:
# one bytes object crosses from a scanning process far faster than a list of them).
Scanned = tuple[int, list[Hit], list[tuple[Hit, int]], bytes]


def _scan_new(i: int) -> Scanned | str:
    """Read and scan ``_FORKED["todo"][i]``; a string is why it could not be read."""
    path, rel = _FORKED["todo"][i]
    p, allow, known, index = _FORKED["p"], _FORKED["allow"], _FORKED["known"], _FORKED["index"]
    try:
        text = _text_of(path, p)
    except (OSError, UnicodeDecodeError, ValueError, zipfile.BadZipFile, yaml.YAMLError) as err:
        return str(err)
    allowed: list[tuple[Hit, dict]] = []
    clean: list[bytes] = []
    found = scan_text(text, rel, allow, known, allowed, _FORKED["clean"], clean)
    return text.count("\n") + 1, found, [(hit, index[id(entry)]) for hit, entry in allowed], b"".join(clean)


def _scan_all(
    todo: list[tuple[Path, str]], p: Paths, allow: list[dict], known: set[str], clean: AbstractSet[bytes] = frozenset()
) -> list[Scanned | str]:
    """Scan the files not in the cache; on every core when there is enough to read (a PDF's text
    is the slowest part), each file in one process, results in the order given."""
    import os

    # How a kept file names the allow-list entries that let its lines pass: by their position.
    _FORKED.update(todo=todo, p=p, allow=allow, known=known, index={id(e): n for n, e in enumerate(allow)}, clean=clean)
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        sizes = [path.stat().st_size if path.is_file() else 0 for path, _ in todo]
        if cores < 2 or len(todo) < 2 or sum(sizes) < PARALLEL_BYTES or os.name != "posix":
            return [_scan_new(i) for i in range(len(todo))]
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        load_tables()  # once here, shared by the forked processes
        largest_first = sorted(range(len(todo)), key=lambda i: -sizes[i])
        with ProcessPoolExecutor(min(cores, len(todo)), mp_context=multiprocessing.get_context("fork")) as pool:
            results = dict(zip(largest_first, pool.map(_scan_new, largest_first)))
        return [results[i] for i in range(len(todo))]
    finally:
        _FORKED.clear()


def scan_files(files: list[Path], p: Paths, scan: Scan | None = None, stage: str = "input") -> list[Hit]:
    allow = load_allowlist(p)
    known = known_names(p)
    passed = Passed(p, allow, known)
    hits: list[Hit] = []
    keys: list[tuple[str, str, str]] = []  # (rel, sha256, cache key) of each file, in order
    for path in files:
        rel = _rel(path, p)
        try:
            sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise _unreadable(rel, err) from None
        keys.append((rel, sha256, f"{sha256}{path.suffix}{'+allowlist' if path == p.allowlist else ''}"))
    todo = [(path, rel) for path, (rel, _, key) in zip(files, keys) if key not in passed.files]
    scanned = dict(zip((rel for _, rel in todo), _scan_all(todo, p, allow, known, passed.clean_lines)))
    for rel, sha256, key in keys:
        clean = passed.files.get(key)
        if rel not in scanned and clean is not None:
            found: list[Hit] = []
            allowed = [
                (Hit(rel, line, category, text), allow[entry]) for line, category, text, entry in clean["allowed"]
            ]
            lines = int(clean["lines"])
        else:
            result = scanned[rel]
            if isinstance(result, str):
                raise _unreadable(rel, result)
            lines, found, indexed, clean_lines = result
            passed.new_lines.append(clean_lines)
            allowed = [(hit, allow[entry]) for hit, entry in indexed]
            if not found:
                passed.files[key] = {"lines": lines, "allowed": [[h.line, h.category, h.text, n] for h, n in indexed]}
                passed.changed = True
        hits += found
        if scan is not None:
            scan.hits += found
            scan.allowed += allowed
            scan.files.append(
                {
                    "file": rel,
                    "stage": stage,
                    "sha256": sha256,
                    "lines": lines,
                    "hits": len(found),
                    "allowlisted": len(allowed),
                }
            )
    passed.save()
    return hits


def _unreadable(rel: str, err: object) -> CompendiumError:
    return CompendiumError(
        f"{rel}: the anonymisation gate cannot read this file ({err}).",
        fix="rebuild it (`make all`) or restore it from git",
    )


def input_files(p: Paths) -> list[Path]:
    """Every data file a researcher writes (transcripts, tables, codebook, allow-list reasons)."""
    return [
        *sorted(p.transcripts.glob("*.txt")),
        p.participants,
        p.coding,
        p.memos,
        p.codebook,
        p.datapackage,
        p.allowlist,
    ]


OUTPUT_SUFFIXES = TEXT_SUFFIXES | frozenset(READERS)


def output_files(p: Paths) -> list[Path]:
    """Every generated file someone could share: tables, values, manuscript formats, notebook pages, QDA exports."""
    found: list[Path] = []
    for folder in (p.tables, p.values, p.output, p.supplement):
        if folder.is_dir():
            found += sorted(
                f
                for f in folder.rglob("*")
                if f.is_file() and f.suffix in OUTPUT_SUFFIXES and not f.name.startswith(".")
            )
    return found


def audit(p: Paths | None = None, outputs: bool = False, log: Path | None = None, remove: bool = False) -> int:
    """Scan the inputs (and generated outputs); raise :class:`AnonymisationError` on any hit.

    ``log``: write the anonymisation log (JSON) there, whatever the result. ``remove``: delete
    generated files that contain a hit (they must not be shared) before raising.
    """
    p = p or paths()
    scan = Scan()
    inputs = [f for f in input_files(p) if f.is_file()]
    scan_files(inputs, p, scan, "input")
    generated = output_files(p) if outputs else []
    scan_files(generated, p, scan, "output")
    if log is not None:
        from .files import write_json

        write_json(log, scan.log(load_allowlist(p)))
    if scan.hits:
        removed: list[str] = []
        if remove:
            bad = {h.file for h in scan.hits}
            for path in generated:
                if _rel(path, p) in bad:
                    path.unlink(missing_ok=True)
                    removed.append(_rel(path, p))
        raise AnonymisationError(scan.hits, removed)
    return len(inputs) + len(generated)
