"""Anonymisation gate: scan text for direct identifiers before anything is shared.

Categories: e-mail address, URL, phone number (Australian and international
formats), street address, postcode, date (possible date of birth), and personal
names that are not one of the study's pseudonyms. Names come from the first-name
dictionary shipped with the ``gender-guesser`` package (about 60,000 names from
many countries); a capitalised word from that list in the middle of a sentence
is reported (after a lower-case word). Sentence-initial words are not checked for names, because most
name-words there ("Will", "May", "Hope") are ordinary English; that limit is
stated in the README.

False positives go in ``data/synthetic/anonymisation_allowlist.yaml``, each
with a reason. A hit names file, line, category and the offending text.
"""
from __future__ import annotations

import html.parser
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import CompendiumError
from .paths import Paths, paths

__all__ = ["Hit", "scan_text", "scan_files", "audit", "AnonymisationError", "load_allowlist", "first_names"]

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
PATTERNS: dict[str, re.Pattern[str]] = {
    "e-mail address": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "URL": re.compile(r"\bhttps?://[^\s<>\"')]+|\bwww\.[^\s<>\"')]+|\b[\w-]+\.(?:com|org|net|edu|gov)(?:\.au)?\b", re.I),
    "phone number": re.compile(
        r"(?<![\w+])(?:\+?61[\s-]?\(?0?[2-478]\)?|\(0[2378]\)|0[2-478])(?:[\s-]?\d){8}\b"
        r"|(?<![\w+])1[38]00(?:[\s-]?\d){6}\b|(?<![\w+])13(?:[\s-]?\d){4}\b(?![\s-]?\d)"
        r"|(?<![\w])\+\d{1,3}(?:[\s-]?\d){7,12}\b"),
    "street address": re.compile(
        r"\b\d{1,5}[A-Za-z]?\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Drive|Dr|Lane|Ln|Court|Ct"
        r"|Crescent|Cres|Place|Pl|Parade|Pde|Terrace|Tce|Highway|Hwy|Boulevard|Blvd|Way|Close|Grove)\b\.?"),
    "postcode": re.compile(
        r"\b(?:NSW|VIC|Vic|QLD|Qld|SA|WA|TAS|Tas|NT|ACT|New South Wales|Victoria|Queensland|South Australia"
        r"|Western Australia|Tasmania|Northern Territory|Australian Capital Territory)\s+\d{4}\b"
        r"|\bpost\s?code:?\s*\d{4}\b", re.I),
    "date (possible date of birth)": re.compile(
        rf"\b(?:born on|date of birth|d\.?o\.?b\.?|birthday)\b[^.\n]{{0,30}}\d"
        rf"|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:19|20)?\d{{2}}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS}),?\s+(?:19|20)\d{{2}}\b"
        rf"|\b(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b", re.I),
}
MONTH_NAMES = frozenset(MONTHS.split("|"))
WORD = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
# A name-word counts as mid-sentence when the text before it ends in a
# lower-case word (optionally with a comma and a space): "my client Sarah".
MID_SENTENCE = re.compile(r"[a-z](?:,)?\s+$")


@dataclass(frozen=True)
class Hit:
    file: str
    line: int
    category: str
    text: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.category}: {self.text!r}"


class AnonymisationError(CompendiumError):
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        lines = [f"Anonymisation gate: {len(hits)} possible direct identifier(s) found."]
        lines += [f"  - {h}" for h in hits]
        lines.append("    fix: remove or replace the identifying text (the data folder is the only place it could "
                     "come from); if it is a false positive, add it to data/synthetic/anonymisation_allowlist.yaml "
                     "with a reason.")
        super().__init__("\n".join(lines))


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Lower-case first names from gender-guesser's dictionary."""
    import gender_guesser.detector as detector

    return frozenset(detector.Detector(case_sensitive=False).names)


def load_allowlist(p: Paths) -> list[dict]:
    """Allow-list entries: ``text`` (exact) or ``pattern`` (regex), ``category``, ``reason``."""
    if not p.allowlist.is_file():
        return []
    name = p.allowlist.name
    try:
        doc = yaml.safe_load(p.allowlist.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CompendiumError(f"{name}: not valid YAML ({err}).\n    fix: check the indentation and quoting") from None
    entries = doc.get("allow", []) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise CompendiumError(f"{name}: expected a list under 'allow:'.\n    fix: see the comment at the top of the file")
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not ({"text", "pattern"} & set(entry)):
            raise CompendiumError(f"{name}: entry {i} ({entry!r}) is not a mapping with 'text' or 'pattern'.\n"
                                  "    fix: write it as `- text: ...` (or `pattern: ...`) with a `reason: ...`")
        if not str(entry.get("reason") or "").strip():
            raise CompendiumError(f"{name}: entry {i} has no reason.\n    fix: say why the text is not identifying")
        if "pattern" in entry:
            try:
                re.compile(entry["pattern"])
            except re.error as err:
                raise CompendiumError(f"{name}: entry {i} has an invalid pattern {entry['pattern']!r} ({err}).\n"
                                      "    fix: correct the regular expression, or use `text:` for an exact match") from None
    return entries


def _allowed(category: str, text: str, allow: list[dict]) -> bool:
    for entry in allow:
        if entry.get("category") not in (None, category):
            continue
        if "text" in entry and entry["text"] == text:
            return True
        if "pattern" in entry and re.fullmatch(entry["pattern"], text):
            return True
    return False


def scan_text(text: str, file: str, allow: list[dict] = (), known: set[str] = frozenset()) -> list[Hit]:
    """Every identifier-like string in ``text``; ``known`` are allowed names (pseudonyms, cited authors)."""
    hits: list[Hit] = []
    names = first_names()
    for number, line in enumerate(text.splitlines(), start=1):
        taken: list[tuple[int, int]] = []  # spans already reported: an e-mail's domain is not also a URL
        for category, pattern in PATTERNS.items():
            for match in pattern.finditer(line):
                if any(a <= match.start() and match.end() <= b for a, b in taken):
                    continue
                taken.append(match.span())
                if not _allowed(category, match.group(0), allow):
                    hits.append(Hit(file, number, category, match.group(0)))
        for match in WORD.finditer(line):
            word = match.group(0)
            if word in known or word.lower() not in names or len(word) < 3:
                continue
            if not MID_SENTENCE.search(line[max(0, match.start() - 3): match.start()]):
                continue
            if word in MONTH_NAMES and (re.match(r"\s+(?:19|20)\d{2}\b", line[match.end():])
                                        or re.search(r"\b(?:in|since|until|till|from|by|of|last|next|early|late|mid)\s+$",
                                                     line[: match.start()], flags=re.I)):
                continue  # "May 2021", "in March": a month, not a person
            if not _allowed("personal name", word, allow):
                hits.append(Hit(file, number, "personal name", word))
    return hits


class _TextOnly(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in ("p", "div", "tr", "li", "h1", "h2", "h3", "h4", "br", "td", "th", "blockquote"):
            self.parts.append("\n")

    def handle_data(self, data):  # noqa: ANN001
        if not self._skip:
            self.parts.append(data)


def _text_of(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".html":
        parser = _TextOnly()
        parser.feed(text)
        return "".join(parser.parts)
    return text


def known_names(p: Paths) -> set[str]:
    """Pseudonyms and the surnames/given names of cited authors (from the bibliography)."""
    from .data import read_pseudonyms

    known: set[str] = set(read_pseudonyms(p).values())
    if p.bibliography.is_file():
        for authors in re.findall(r"(?:author|editor)\s*=\s*\{(.+?)\},?\s*\n", p.bibliography.read_text(encoding="utf-8")):
            known |= set(re.findall(r"[A-Z][a-z]+", authors))
    return known


def scan_files(files: list[Path], p: Paths) -> list[Hit]:
    allow = load_allowlist(p)
    known = known_names(p)
    hits: list[Hit] = []
    for path in files:
        rel = str(path.relative_to(p.root)) if path.is_relative_to(p.root) else str(path)
        hits += scan_text(_text_of(path), rel, allow, known)
    return hits


def input_files(p: Paths) -> list[Path]:
    return [*sorted(p.transcripts.glob("*.txt")), p.coding, p.memos]


def output_files(p: Paths) -> list[Path]:
    found: list[Path] = []
    for folder in (p.tables, p.output):
        if folder.is_dir():
            found += sorted(f for f in folder.rglob("*") if f.suffix in {".md", ".csv", ".html", ".txt"})
    return found


def audit(p: Paths | None = None, outputs: bool = False) -> int:
    """Scan the inputs (and generated outputs); raise :class:`AnonymisationError` on any hit."""
    p = p or paths()
    files = input_files(p) + (output_files(p) if outputs else [])
    hits = scan_files([f for f in files if f.is_file()], p)
    if hits:
        raise AnonymisationError(hits)
    return len(files)
