"""Direct identifiers in text: the detectors of the anonymisation gate, and what passes them.

Detectors (each hit names file, line, category and the offending text):

- phone numbers: Google's libphonenumber rules through the ``phonenumbers``
  package (region AU; any national or international format, including
  ``+61 (0)4..`` and ``0061 ..``), plus the Australian 13/1300/1800 service
  numbers written in short groups;
- Medicare card numbers (check digit), tax file numbers and ABNs (check digits
  through ``python-stdnum``);
- e-mail addresses; URLs with a scheme or ``www.``; bare domains and short
  links (``bit.ly/..``, ``someone.io``), recognised against the public suffix
  list bundled with ``tldextract`` (read offline, never fetched);
- street addresses (full and abbreviated street types, any case for the
  abbreviations), postcodes after a state or in an address;
- dates of birth (``born in July 1983``, ``DOB``, ``date of birth``), ISO and
  numeric dates (except the build's own date, from ``SOURCE_DATE_EPOCH``);
- personal names: a first name (the ``gender-guesser`` dictionary, about
  60,000 names) mid-sentence, a title with a surname (``Dr Okonkwo``), and a
  first name followed by a capitalised surname at the start of a sentence
  (``Sarah Jones told me``). The study's pseudonyms and cited authors pass. A
  single first name at the start of a sentence is not reported (most such
  words there, "Will", "May", "Hope", are ordinary English); that limit is
  stated in the README.

False positives go in ``data/synthetic/anonymisation_allowlist.yaml``, each
with a reason (:func:`load_allowlist`); pseudonyms and cited authors are
:func:`known_names`. :mod:`compendium.anonymise` runs these detectors over the
input and output files.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import CompendiumError
from .files import load_yaml
from .paths import Paths

__all__ = ["Hit", "scan_text", "load_allowlist", "known_names", "first_names", "load_tables", "PATTERNS", "RULES"]

MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
MONTH_NAMES = frozenset(MONTHS.split("|"))
STATES = (
    "NSW|VIC|Vic|QLD|Qld|SA|WA|TAS|Tas|NT|ACT|New South Wales|Victoria|Queensland|South Australia"
    "|Western Australia|Tasmania|Northern Territory|Australian Capital Territory"
)
STREET_WORDS = (
    "Street|Road|Avenue|Drive|Lane|Court|Crescent|Place|Parade|Terrace|Highway|Boulevard|Way|Close|Grove"
    "|Circuit|Esplanade|Square|Walk|Rise"
)
# Abbreviations are matched in any case ("19 beach rd"); "Dr" only capitalised, since "the dr" is a doctor.
STREET_ABBREVIATIONS = "St|Rd|Ave|Av|Ln|Ct|Cres|Cr|Pl|Pde|Tce|Hwy|Blvd|Cct|Esp|Sq|Gr|Cl"
TITLES = "Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Professor|Doctor|Sister|Nurse|Father|Rev|Sir|Dame"
SURNAME = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)*|[A-Z]'[A-Z][a-z]+|Mc[A-Z][a-z]+"

PATTERNS: dict[str, re.Pattern[str]] = {
    "e-mail address": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "URL": re.compile(r"\b(?:https?|ftp)://[^\s<>\"')]+|\bwww\.[^\s<>\"')]+", re.I),
    "street address": re.compile(
        rf"\b\d{{1,5}}[A-Za-z]?(?:/\d{{1,5}})?\s+(?:[A-Z][a-z']+\s+){{1,3}}(?:{STREET_WORDS}|{STREET_ABBREVIATIONS}|Dr)\b\.?"
        rf"|\b\d{{1,5}}[A-Za-z]?(?:/\d{{1,5}})?\s+(?:[A-Za-z][a-z']+\s+){{1,3}}(?i:{STREET_ABBREVIATIONS})\b\.?"
    ),
    "postcode": re.compile(rf"\b(?:{STATES})\s+\d{{4}}\b|\bpost\s?code:?\s*\d{{4}}\b", re.I),
    "date (possible date of birth)": re.compile(
        rf"\b(?:born on|date of birth|d\.?o\.?b\.?|birthday)\b[^.\n]{{0,30}}\d"
        rf"|\bborn\s+(?:in|on|during|around|about)?\s*(?:(?:early|late|mid)[- ]?)?"
        rf"(?:(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?)?(?:{MONTHS}),?\s+)?(?:19|20)\d{{2}}\b"
        rf"|\b(?:19|20)\d{{2}}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b"
        rf"|\b\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:19|20)?\d{{2}}\b"
        rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTHS}),?\s+(?:19|20)\d{{2}}\b"
        rf"|\b(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{{2}}\b",
        re.I,
    ),
}
# A suburb and postcode after a street type: "7 Banksia Rd, Fitzroy 3065" (group 1).
ADDRESS_POSTCODE = re.compile(
    rf"\b(?:(?i:{STREET_ABBREVIATIONS})|{STREET_WORDS}|Dr)\.?,?\s+((?:[A-Z][a-z]+\s+){{1,3}}\d{{4}})\b"
)
# Short service numbers libphonenumber does not find in running text ("13 24 68", "1300 123 456").
SERVICE_NUMBER = re.compile(r"(?<![\w+])1[38]00(?:[\s.-]?\d){6}\b|(?<![\w+])13(?:[\s.-]?\d){4}\b(?![\s.-]?\d)")
# Generated ids (a QDA export's GUIDs): their hex groups are no one's phone number or ID number.
GUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
DIGIT = re.compile(r"\d")
# The fewest digits a phone number libphonenumber calls valid can have: 5 for an Australian
# national number, 6 with a country code (tests/test_identifiers.py reads this off its metadata).
# A line with fewer digits is not handed to its matcher at all; the service numbers have 6 or 10.
PHONE_MIN_DIGITS = 5
ID_NUMBER_MIN_DIGITS = 8  # DIGIT_RUN: a tax file number, Medicare number or ABN has 8 to 11 digits
DIGIT_RUN = re.compile(r"(?<![\w./-])\d(?:[\s-]?\d){7,10}(?![\w/-]|[.,]\d)")
BARE_DOMAIN = re.compile(
    r"(?<![\w@./:-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}"
    r"(?:/[^\s<>\"')]*)?(?![\w@-])",
    re.I,
)
# Suffixes that are also the file types this project writes about ("template.md", "cli.py").
FILE_SUFFIXES = frozenset({"md", "py", "sh", "zip", "in", "pl", "rs", "so", "ps", "cfg", "lock", "json", "yml"})
WORD = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")
# A name-word counts as mid-sentence when the text before it ends in a
# lower-case word (optionally with a comma and a space): "my client Sarah".
MID_SENTENCE = re.compile(r"(?:^|[^\w'-])[a-z][a-z'-]*,?\s+$")
# Closed-class English words (articles, pronouns, prepositions, conjunctions, auxiliaries) that the
# first-name dictionary also lists: at the start of a sentence they are never a given name ("The American").
FUNCTION_WORDS = frozenset(
    """
a an the this that these those there here it its he she his her him they them their we our you your i me my
in on at of to for from by with without about into onto over under after before since until during through
and or but nor so yet if then than when while where why how what who whom which whose as because although
is are was were be been being am do does did done have has had can could will would shall should may might
must not no yes all any each every some many much more most few both either neither one other another such
also just only even still very too well okay ok oh so now
""".split()
)
TITLE_SURNAME = re.compile(rf"\b(?:{TITLES})\.?\s+({SURNAME})\b")
SENTENCE_START_NAME = re.compile(rf"(?:^|[.!?:;]\s+|[\"'“(]\s*)([A-Z][a-z]+)\s+({SURNAME})\b")

RULES: dict[str, str] = {
    "e-mail address": "local@domain (regular expression)",
    "URL": "a scheme (http, https, ftp) or www.; a bare domain or short link whose suffix is on the public "
    "suffix list (tldextract's bundled copy), except suffixes that are file types (.md, .py, ...)",
    "phone number": "phonenumbers (libphonenumber) matcher, region AU, valid numbers in any format; 00-prefixed "
    "international numbers; 13/1300/1800 service numbers",
    "Medicare number": "10 or 11 digits starting 2-6 whose 9th digit is the Medicare check digit",
    "tax file number": "8 or 9 digits with a valid TFN check digit (python-stdnum)",
    "ABN": "11 digits with a valid ABN checksum (python-stdnum)",
    "street address": "house number, 1-3 words and a street type (full or abbreviated, abbreviations in any case)",
    "postcode": "4 digits after a state, after 'postcode', or after the suburb of a street address",
    "date (possible date of birth)": "born in/on + (day, month) year; DOB / date of birth; ISO, numeric and "
    "written-out full dates",
    "personal name": "a dictionary first name mid-sentence; a title with a surname (Dr Okonkwo); a first name "
    "and a capitalised surname at the start of a sentence; pseudonyms and cited authors pass",
}


@dataclass(frozen=True)
class Hit:
    file: str
    line: int
    category: str
    text: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.category}: {self.text!r}"


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Lower-case first names from gender-guesser's dictionary (its ``data/nam_dict.txt``).

    Read here for the names alone: gender-guesser's own ``Detector`` also parses every name's
    frequency in 55 countries, which takes more than twice as long in every process that runs
    the gate. tests/test_identifiers.py checks that both give exactly the same names.
    """
    import gender_guesser

    text = (Path(gender_guesser.__file__).parent / "data" / "nam_dict.txt").read_text(encoding="utf-8")
    names: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if line and line[0] not in "#=":
            names.update(_spellings(line.split(None, 2)[1].lower()))
    return frozenset(names)


def _spellings(name: str) -> tuple[str, ...]:
    """The dictionary writes a joint in a name as "+": "abdel+aziz" is "abdelaziz", "abdel aziz" and "abdel-aziz"."""
    return tuple(name.replace("+", joint) for joint in ("", " ", "-")) if "+" in name else (name,)


@lru_cache(maxsize=1)
def _tld_extract() -> Callable:
    import tldextract

    # The public suffix list shipped inside the package; nothing is fetched or cached on disk.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=False)


def load_tables() -> None:
    """Load what the detectors read, once per process: the first names, the public suffix list
    (its first lookup reads and indexes it) and libphonenumber. Called before forking processes
    that scan (the build server, the gate's scanners), so that they share one copy."""
    first_names()
    _tld_extract()("example.org")
    import phonenumbers  # noqa: F401  # its metadata, imported once


def load_allowlist(p: Paths) -> list[dict]:
    """Allow-list entries: ``text`` (exact) or ``pattern`` (regex), ``category``, ``reason``."""
    if not p.allowlist.is_file():
        return []
    name = p.allowlist.name
    try:
        doc = load_yaml(p.allowlist.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CompendiumError(f"{name}: not valid YAML ({err}).", fix="check the indentation and quoting") from None
    entries = doc.get("allow", []) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise CompendiumError(f"{name}: expected a list under 'allow:'.", fix="see the comment at the top of the file")
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not ({"text", "pattern"} & set(entry)):
            raise CompendiumError(
                f"{name}: entry {i} ({entry!r}) is not a mapping with 'text' or 'pattern'.",
                fix="write it as `- text: ...` (or `pattern: ...`) with a `reason: ...`",
            )
        if not str(entry.get("reason") or "").strip():
            raise CompendiumError(f"{name}: entry {i} has no reason.", fix="say why the text is not identifying")
        if "pattern" in entry:
            try:
                re.compile(entry["pattern"])
            except re.error as err:
                raise CompendiumError(
                    f"{name}: entry {i} has an invalid pattern {entry['pattern']!r} ({err}).",
                    fix="correct the regular expression, or use `text:` for an exact match",
                ) from None
    return entries


def _allowed_by(category: str, text: str, allow: Sequence[dict]) -> dict | None:
    for entry in allow:
        if entry.get("category") not in (None, category):
            continue
        if "text" in entry and entry["text"] == text:
            return entry
        if "pattern" in entry and re.fullmatch(entry["pattern"], text):
            return entry
    return None


def _allowed(category: str, text: str, allow: Sequence[dict]) -> bool:
    return _allowed_by(category, text, allow) is not None


# --------------------------------------------------------------------------- detectors
Span = tuple[str, int, int]  # category, start, end


def _phones(line: str) -> Iterator[Span]:
    import phonenumbers

    if len(DIGIT.findall(line)) < PHONE_MIN_DIGITS:
        return
    # "0061 4.." is the international form dialled from Europe: read 00 as "+", keeping offsets.
    probe = re.sub(r"(?<![\d+])00(?=[1-9]\d)", " +", line)
    for match in phonenumbers.PhoneNumberMatcher(probe, "AU", leniency=phonenumbers.Leniency.VALID):
        if "–" in match.raw_string or "—" in match.raw_string:
            continue  # an en or em dash joins a range (pages 133–141, years), never the digits of a phone number
        start = match.start
        if probe[start] == "+" and line[start] == "0":
            start -= 1  # the "00" of the original text
        yield "phone number", start, match.end
    for service in SERVICE_NUMBER.finditer(line):
        yield "phone number", service.start(), service.end()


def _medicare_ok(digits: str) -> bool:
    if len(digits) not in (10, 11) or digits[0] not in "23456":
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9)
    return sum(int(d) * w for d, w in zip(digits, weights)) % 10 == int(digits[8])


def _numbers(line: str) -> Iterator[Span]:
    from stdnum.au import abn, tfn

    if len(DIGIT.findall(line)) < ID_NUMBER_MIN_DIGITS:
        return
    for match in DIGIT_RUN.finditer(line):
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) == 11 and abn.is_valid(digits):
            yield "ABN", match.start(), match.end()
        elif _medicare_ok(digits):
            yield "Medicare number", match.start(), match.end()
        elif len(digits) in (8, 9) and tfn.is_valid(digits):
            yield "tax file number", match.start(), match.end()


def _domains(line: str) -> Iterator[Span]:
    if "." not in line:
        return
    extract = _tld_extract()
    for match in BARE_DOMAIN.finditer(line):
        host = match.group(0).split("/", 1)[0]
        last = host.rsplit(".", 1)[-1].lower()
        if (
            last in FILE_SUFFIXES
            or host.replace(".", "").isdigit()
            or line[match.end() : match.end() + 1] in ("(", "[")
        ):
            continue  # a file name, a number, a function call
        if re.search(r"\b(?:from|import)\s+$", line[: match.start()]) or re.match(r"\s+import\b", line[match.end() :]):
            continue  # a Python module path in a notebook page's code ("from compendium.data import ...")
        parts = extract(host)
        if parts.domain and parts.suffix:
            yield "URL", match.start(), match.end()


def _build_date() -> str | None:
    """The build's own date (SOURCE_DATE_EPOCH, printed in the manuscript's colophon): not a person's."""
    return _date_of_epoch(os.environ.get("SOURCE_DATE_EPOCH"))


@lru_cache(maxsize=8)
def _date_of_epoch(raw: str | None) -> str | None:  # once per value, not once per line
    from .manuscript_context import build_date

    date = build_date()
    return date if re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else None


@lru_cache(maxsize=1 << 16)
def _detected(line: str, epoch: str | None) -> tuple[Span, ...]:
    """What :data:`DETECTORS` find in ``line`` (GUIDs already blanked), remembered for the line:
    the same sentence reaches the gate in several files (the manuscript in five formats, a table as
    CSV and Markdown), and every detector is a function of the line and the build's date alone."""
    return tuple(span for detector in DETECTORS for span in detector(line))


def line_key(line: str, epoch: str | None) -> bytes:
    """A line and the build's date as 16 bytes (BLAKE2b): what the gate remembers of a line in which
    :data:`DETECTORS` found nothing, instead of the line itself."""
    return hashlib.blake2b(f"{epoch}\0{line}".encode(), digest_size=16).digest()


def _may_match(category: str, line: str, digit: bool) -> bool:
    """Whether ``PATTERNS[category]`` could match ``line`` at all, checked before it runs: the
    e-mail and URL patterns need their "@", "://" or "www."; every other pattern needs a digit."""
    if category == "e-mail address":
        return "@" in line
    if category == "URL":
        return "://" in line or "www." in line.lower()
    return digit


def _patterns(line: str) -> Iterator[Span]:
    build_date = _build_date()
    digit = DIGIT.search(line) is not None
    for category, pattern in PATTERNS.items():
        if not _may_match(category, line, digit):
            continue
        for match in pattern.finditer(line):
            if category.startswith("date") and match.group(0) == build_date:
                continue
            yield category, match.start(), match.end()
    for match in ADDRESS_POSTCODE.finditer(line) if _may_match("postcode", line, digit) else ():
        yield "postcode", match.start(1), match.end(1)


DETECTORS: tuple[Callable[[str], Iterator[Span]], ...] = (_patterns, _phones, _numbers, _domains)


def _names(line: str, names: frozenset[str], known: AbstractSet[str], next_line: str = "") -> Iterator[Span]:
    """Name-like words in ``line``; ``next_line`` continues a sentence that a wrapped line (HTML, XML) breaks."""
    for match in TITLE_SURNAME.finditer(line):
        if match.group(1) not in known:
            yield "personal name", match.start(), match.end()
    for match in SENTENCE_START_NAME.finditer(line):
        given, surname = match.group(1), match.group(2)
        if (
            given in known
            or surname in known
            or given.lower() not in names
            or given in MONTH_NAMES
            or given.lower() in FUNCTION_WORDS
        ):
            continue
        yield "personal name", match.start(1), match.end(2)
    for match in WORD.finditer(line):
        word = match.group(0)
        if word in known or word.lower() not in names or len(word) < 3:
            continue
        if line[match.end() :].startswith(("...", "\u2026")) and any(name.startswith(word) for name in known):
            continue  # an allowed name cut short by a table's column width ("Patric..." for Patrick)
        following = re.match(r"\s+([A-Z][a-z]+)", line[match.end() :])
        if following and f"{word} {following.group(1)}" in known:
            continue  # a cited author's full name
        if not MID_SENTENCE.search(line[max(0, match.start() - 40) : match.start()]):
            continue
        rest = line[match.end() :]
        if not rest.strip():
            rest += " " + next_line  # "to April" at the end of a wrapped line, "2021" on the next
        if word in MONTH_NAMES and (
            re.match(r"\s+(?:19|20)\d{2}\b", rest)
            or re.search(
                r"\b(?:in|since|until|till|from|by|of|last|next|early|late|mid)\s+$", line[: match.start()], flags=re.I
            )
        ):
            continue  # "May 2021", "in March": a month, not a person
        yield "personal name", match.start(), match.end()


def scan_text(
    text: str,
    file: str,
    allow: Sequence[dict] = (),
    known: AbstractSet[str] = frozenset(),
    allowed_log: list[tuple[Hit, dict]] | None = None,
    clean_lines: AbstractSet[bytes] | None = None,
    new_clean_lines: list[bytes] | None = None,
) -> list[Hit]:
    """Every identifier-like string in ``text``; ``known`` are allowed names (pseudonyms, cited authors).

    Hits the allow-list suppresses are appended to ``allowed_log`` with their entry.

    ``clean_lines``: the :func:`line_key` of lines in which :data:`DETECTORS` found nothing before,
    under the same rules (the gate keeps them in build/, see :class:`compendium.anonymise.Passed`);
    those detectors are not run on such a line again. Lines they find nothing in now are added to
    ``new_clean_lines``. The name detector reads the next line and the known names too, so it runs
    on every line whatever was remembered.
    """
    hits: list[Hit] = []
    names = first_names()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")  # the build date the date detector lets pass
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        taken: list[tuple[int, int]] = []  # spans already reported: an e-mail's domain is not also a URL
        next_line = lines[number].lstrip() if number < len(lines) else ""
        numbers_only = GUID.sub(lambda m: " " * len(m.group(0)), line)  # same offsets, no GUIDs
        if clean_lines is None:
            spans = list(_detected(numbers_only, epoch))
        else:
            key = line_key(numbers_only, epoch)
            if key in clean_lines:
                spans = []
            else:
                spans = list(_detected(numbers_only, epoch))
                if not spans and new_clean_lines is not None:
                    new_clean_lines.append(key)
        spans += list(_names(line, names, known, next_line))
        for category, start, end in spans:
            if any(a <= start < b or a < end <= b or (start <= a and b <= end) for a, b in taken):
                continue
            taken.append((start, end))
            found = line[start:end].strip()
            entry = _allowed_by(category, found, allow)
            if entry is None:
                hits.append(Hit(file, number, category, found))
            elif allowed_log is not None:
                allowed_log.append((Hit(file, number, category, found), entry))
    return hits


def known_names(p: Paths) -> set[str]:
    """Pseudonyms and the surnames of cited authors (from the bibliography).

    An author's given name passes only before the surname ("Kristin Neff"): "Kristin"
    alone in a transcript is a person to check, whoever else is called that.
    """
    from .data import read_pseudonyms

    known: set[str] = set(read_pseudonyms(p).values())
    if p.bibliography.is_file():
        for authors in re.findall(
            r"(?:author|editor)\s*=\s*\{(.+?)\},?\s*\n", p.bibliography.read_text(encoding="utf-8")
        ):
            for person in re.split(r"\s+and\s+", authors):
                surname, _, given = person.partition(",") if "," in person else person.rpartition(" ")[::-1]
                surnames = re.findall(r"[A-Z][a-z]+", surname)
                known |= set(surnames)
                # "Kristin Neff" (a cited author's full name) passes; "Kristin" alone is checked.
                known |= {f"{g} {surnames[0]}" for g in re.findall(r"[A-Z][a-z]+", given) if surnames}
    return known
