"""``make share``: a package a repository could accept, written from a restricted study.

From the restricted data folder (never modified) it makes, in memory:

* de-identified transcripts: every identifier the anonymisation gate finds,
  and every entry of the study's optional ``deidentify.yaml`` (names, places,
  workplaces the author knows of), is replaced by a category tag such as
  ``[NAME 2]`` (the same original gets the same tag throughout);
  participants who did not consent to archiving keep only the shape of their
  transcript (see :func:`compendium.consent.withhold_text`);
* coding with offsets moved onto the new text (``transcript[start:end] ==
  excerpt`` is checked for every segment), memos and notes de-identified the
  same way, per-person attributes without consent written as ``withheld``;
* an anonymisation log: the rules, counts per category, the allow-listed
  items with their reasons, and what a person must still check by hand.

The gate then scans all of it; only when it passes is anything written, to
``<share>/data`` (declared ``deidentified``) and ``<share>/anonymisation_log.md``.
The replacement table (original -> tag) is restricted: it is written beside
the package, never inside it. ``make share`` then builds the manuscript from the
de-identified data and ``share --check`` gates those outputs before copying
them into ``<share>/manuscript``.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import anonymise, consent
from ..errors import CompendiumError
from ..files import csv_text, load_yaml, read_csv_rows, write_bytes, write_json, write_text
from ..restricted import MARK
from ..paths import Paths, paths

__all__ = ["make_share", "check_share", "deidentify_text", "Replacer", "command"]

TAGS = {
    "e-mail address": "EMAIL",
    "URL": "URL",
    "phone number": "PHONE",
    "street address": "ADDRESS",
    "postcode": "POSTCODE",
    "date (possible date of birth)": "DATE",
    "personal name": "NAME",
}
MANUAL_CHECKS = (
    "Names at the start of a sentence, nicknames and names in other scripts (the gate checks capitalised words "
    "after a lower-case word only).",
    "Indirect identifiers: workplaces, services, towns and suburbs, schools, rare professions or roles, ages, "
    "dates of events, family composition, diagnoses told as a story.",
    "Combinations that single someone out in a small professional community (a profession plus a place plus "
    "years of experience).",
    "Each category tag reads sensibly in its sentence, and no tag hides a word that was not identifying.",
    "The per-person attributes in participants.csv: only those with consent_attributes = true are shown.",
)


@dataclass
class Replacer:
    """Consistent tags: the same original text gets the same ``[CATEGORY n]`` everywhere."""

    extra: list[dict] = field(default_factory=list)  # entries of deidentify.yaml: text, category
    table: dict[tuple[str, str], str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def tag(self, category: str, original: str) -> str:
        key = (category, original)
        if key not in self.table:
            n = sum(1 for c, _ in self.table if c == category) + 1
            self.table[key] = f"[{category} {n}]"
        self.counts[category] = self.counts.get(category, 0) + 1
        return self.table[key]


def _spans(text: str, replacer: Replacer, allow: list[dict], known: set[str]) -> list[tuple[int, int, str]]:
    """(start, end, tag) for every identifier in ``text``, non-overlapping, in order."""
    found: list[tuple[int, int, str, str]] = []
    for entry in replacer.extra:
        for m in re.finditer(rf"(?<!\w){re.escape(entry['text'])}(?!\w)", text):
            found.append((m.start(), m.end(), str(entry.get("category", "IDENTIFIER")).upper(), m.group(0)))
    offset = 0
    for line in text.split("\n"):
        for hit in anonymise.scan_text(line, "", allow, known):
            pattern = rf"(?<!\w){re.escape(hit.text)}(?!\w)" if hit.category == "personal name" else re.escape(hit.text)
            for m in re.finditer(pattern, line):
                found.append((offset + m.start(), offset + m.end(), TAGS.get(hit.category, "IDENTIFIER"), m.group(0)))
        offset += len(line) + 1
    spans: list[tuple[int, int, str]] = []
    last = -1
    for start, end, category, original in sorted(set(found), key=lambda s: (s[0], -s[1])):
        if start < last:
            continue
        spans.append((start, end, replacer.tag(category, original)))
        last = end
    return spans


def deidentify_text(text: str, replacer: Replacer, allow: list[dict], known: set[str]):
    """The text with identifiers replaced, and a function mapping an old offset to the new one."""
    spans = _spans(text, replacer, allow, known)
    parts, position, shifts = [], 0, []
    delta = 0
    for start, end, tag in spans:
        parts += [text[position:start], tag]
        shifts.append((start, end, delta, len(tag)))
        delta += len(tag) - (end - start)
        position = end
    parts.append(text[position:])

    def moved(offset: int, is_end: bool = False) -> int:
        shift = 0
        for start, end, before, length in shifts:
            if offset >= end:
                shift = before + length - (end - start)
            elif offset > start:  # inside a replaced span: a start moves to the tag's start, an end to its end
                return start + before + (length if is_end else 0)
            else:
                break
        return offset + shift

    return "".join(parts), moved


def _extra(p: Paths) -> list[dict]:
    path = p.data / "deidentify.yaml"
    if not path.is_file():
        return []
    try:
        doc = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CompendiumError(f"{path}: not valid YAML ({err}).", fix="check the indentation and quoting") from None
    entries = doc.get("replace", []) if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and str(e.get("text") or "").strip() for e in entries
    ):
        raise CompendiumError(
            f"{path}: expected `replace:` with entries `- text: ...` and `category: ...`.",
            fix="list each identifier the gate cannot know (a workplace, a town) with its category",
        )
    return sorted(entries, key=lambda e: -len(str(e["text"])))


def make_share(target: Path | str, p: Paths | None = None) -> dict:
    """Write the de-identified data and the anonymisation log to ``target``; returns the log as a dict."""
    p = p or paths()
    target = Path(target).resolve()
    if not p.restricted:
        raise CompendiumError(
            f"{p.shown(p.data)} is {p.kind}, not restricted: there is nothing to de-identify.",
            fix="run `make share DATA=/path/to/restricted/study`",
        )
    if target.is_relative_to(p.data.resolve()):
        raise CompendiumError(
            f"{target}: the share package may not be written inside the data folder.",
            fix="leave the target unset (it goes to OUT/share)",
        )
    allow, known = anonymise.load_allowlist(p), anonymise.known_names(p)
    replacer = Replacer(extra=_extra(p))
    pcols, participants = read_csv_rows(p.participants)
    ccols, coding = read_csv_rows(p.coding)
    mcols, memos = read_csv_rows(p.memos)
    no_archive = {r["participant_id"] for r in participants if r.get("consent_archive", "true").lower() != "true"}
    no_attributes = {r["participant_id"] for r in participants if r.get("consent_attributes", "true").lower() != "true"}
    transcripts: dict[str, str] = {}
    movers = {}
    for row in participants:
        pid = row["participant_id"]
        text = p.transcript(pid).read_text(encoding="utf-8")
        if pid in no_archive:
            transcripts[pid], movers[pid] = consent.withhold_text(text), (lambda o, is_end=False: o)
        else:
            transcripts[pid], movers[pid] = deidentify_text(text, replacer, allow, known)
    text_columns = [
        c
        for c in ccols
        if c not in ("segment_id", "participant_id", "start", "end", "theme_id", "analyst", "coding_round", "excerpt")
    ]
    bad: list[str] = []
    for row in coding:
        pid = row["participant_id"]
        start = movers[pid](int(row["start"]))
        end = movers[pid](int(row["end"]), is_end=True)
        row["start"], row["end"], row["excerpt"] = str(start), str(end), transcripts[pid][start:end]
        for col in text_columns:
            row[col] = deidentify_text(row[col], replacer, allow, known)[0]
        if not row["excerpt"].strip():
            bad.append(row["segment_id"])
    if bad:
        raise CompendiumError(
            f"make share: segments {', '.join(bad[:10])} would be empty after de-identification.",
            fix="check deidentify.yaml (an entry may cover a whole excerpt)",
        )
    for row in memos:
        row["text"] = deidentify_text(row["text"], replacer, allow, known)[0]
    for row in participants:
        if row["participant_id"] in no_attributes:
            for col in consent.ATTRIBUTES:
                if col in row:
                    row[col] = "withheld"
    package = json.loads(p.datapackage.read_text(encoding="utf-8"))
    package["compendium"] = {"kind": "deidentified", "note": "written by make share from a restricted study"}
    package["name"] = str(package.get("name", "study")) + "-deidentified"
    for resource in package.get("resources", []):
        if resource.get("path") == "participants.csv":
            for fld in resource.get("schema", {}).get("fields", []):
                enum = fld.get("constraints", {}).get("enum")
                if no_attributes and fld["name"] in consent.ATTRIBUTES and enum is not None and "withheld" not in enum:
                    enum.append("withheld")
    # The gate, over everything the package will hold, before anything is written.
    hits: list[anonymise.Hit] = []
    for pid, text in transcripts.items():
        hits += anonymise.scan_text(text, f"transcripts/{pid}.txt", allow, known)
    for name, cols, rows in (("coding.csv", ccols, coding), ("memos.csv", mcols, memos)):
        hits += anonymise.scan_text(csv_text(cols, rows), name, allow, known)
    if hits:
        raise anonymise.AnonymisationError(hits)
    mismatched = [
        r["segment_id"]
        for r in coding
        if transcripts[r["participant_id"]][int(r["start"]) : int(r["end"])] != r["excerpt"]
    ]
    if mismatched:  # cannot happen by construction; checked because a wrong offset would misattribute a quote
        raise CompendiumError(f"make share: offsets of {', '.join(mismatched[:10])} do not match; nothing written.")
    log = {
        "source": "a restricted study (path not recorded)",
        "rules": {
            category: anonymise.PATTERNS[category].pattern
            if category in anonymise.PATTERNS
            else "a capitalised first name (gender-guesser dictionary) after a lower-case word, not a pseudonym"
            for category in TAGS
        },
        "author_entries": len(replacer.extra),
        "replacements_per_category": dict(sorted(replacer.counts.items())),
        "distinct_identifiers_per_category": {
            c: sum(1 for k in replacer.table if k[0] == c) for c in sorted(replacer.counts)
        },
        "allowlisted": [{k: str(v) for k, v in e.items()} for e in allow],
        "withheld": {
            "transcripts_not_archived": sorted(no_archive),
            "attributes_withheld": sorted(no_attributes),
            "quotation_declined": sorted(
                r["participant_id"] for r in participants if r.get("consent_quotes", "true").lower() != "true"
            ),
        },
        "check_by_hand": list(MANUAL_CHECKS),
        "segments": len(coding),
        "offsets_checked": len(coding),
    }
    data = target / "data"
    if target.exists():
        shutil.rmtree(target)
    for pid, text in transcripts.items():
        write_text(data / "transcripts" / f"{pid}.txt", text)
    write_text(data / "participants.csv", csv_text(pcols, participants))
    write_text(data / "coding.csv", csv_text(ccols, coding))
    write_text(data / "memos.csv", csv_text(mcols, memos))
    write_text(data / "datapackage.json", json.dumps(package, indent=2, ensure_ascii=False) + "\n")
    for source in (p.codebook, p.allowlist):
        if source.is_file():
            write_text(data / source.name, source.read_text(encoding="utf-8"))
    write_json(target / "anonymisation_log.json", log)
    write_text(target / "anonymisation_log.md", _log_markdown(log))
    table = "original,tag\n" + "".join(
        f"{json.dumps(o, ensure_ascii=False)},{t}\n" for (c, o), t in sorted(replacer.table.items())
    )
    write_text(target.parent / f"{target.name}-replacements.csv", f"# {MARK}. Keep with the restricted data.\n" + table)
    return log


def _log_markdown(log: dict) -> str:
    lines = [
        "# Anonymisation log",
        "",
        "Written by `make share` before anything was published. Identifiers were "
        "replaced by category tags (`[NAME 1]`); the replacement table is kept with the restricted data, "
        "not in this package.",
        "",
        "## Rules",
        "",
    ]
    lines += [f"- {c}: `{r}`" for c, r in log["rules"].items()]
    lines += [
        "",
        f"Author-supplied entries (deidentify.yaml): {log['author_entries']}",
        "",
        "## Replacements",
        "",
        "| Category | Replacements | Distinct identifiers |",
        "|---|---|---|",
    ]
    lines += [
        f"| {c} | {n} | {log['distinct_identifiers_per_category'][c]} |"
        for c, n in log["replacements_per_category"].items()
    ]
    if not log["replacements_per_category"]:
        lines.append("| (none) | 0 | 0 |")
    lines += ["", "## Allow-listed (let through, with reasons)", ""]
    lines += [f"- `{e.get('text') or e.get('pattern')}`: {e.get('reason', '')}" for e in log["allowlisted"]] or [
        "- (none)"
    ]
    w = log["withheld"]
    lines += [
        "",
        "## Consent",
        "",
        f"- transcripts not archived (shape only): {', '.join(w['transcripts_not_archived']) or 'none'}",
        f"- per-person attributes withheld: {', '.join(w['attributes_withheld']) or 'none'}",
        f"- quotation declined (counted, never quoted): {', '.join(w['quotation_declined']) or 'none'}",
        "",
        f"Offsets checked: {log['offsets_checked']} of {log['segments']} segments match their transcripts.",
        "",
        "## Still to check by hand",
        "",
    ]
    lines += [f"- [ ] {item}" for item in log["check_by_hand"]]
    return "\n".join(lines) + "\n"


def check_share(target: Path | str) -> int:
    """Gate the manuscript built from the de-identified data, then copy it into ``<share>/manuscript``."""
    target = Path(target).resolve()
    import os

    env = {k: os.environ.get(k) for k in ("COMPENDIUM_DATA", "COMPENDIUM_OUT")}
    os.environ["COMPENDIUM_DATA"], os.environ["COMPENDIUM_OUT"] = (
        str(target / "data"),
        str(target.parent / f"{target.name}-build"),
    )
    try:
        built = Paths()
    finally:
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    files = anonymise.input_files(built) + anonymise.output_files(built)
    hits = anonymise.scan_files([f for f in files if f.is_file()], built)
    if hits:
        raise anonymise.AnonymisationError(hits)
    from .guard import _texts

    marked = [
        str(f)
        for f in [*target.rglob("*"), *built.out_root.rglob("*")]
        if f.is_file() and any(MARK in t for t in _texts(f.read_bytes()))
    ]
    if marked:
        raise CompendiumError(
            f"make share: {marked[0]} carries the restricted mark; nothing copied.",
            fix="the share build must read the de-identified data folder only",
        )
    copied = 0
    for folder, name in (
        (built.output, "output"),
        (built.tables, "tables"),
        (built.figures, "figures"),
        (built.supplement, "supplement"),
    ):
        for f in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if f.is_file() and not f.name.startswith("."):
                write_bytes(target / "manuscript" / name / f.relative_to(folder), f.read_bytes())
                copied += 1
    return copied


def command(args) -> None:
    target = Path(args.target) if args.target else paths().out_root / "share"
    if args.check:
        n = check_share(target)
        print(
            f"share: the gate passed on the de-identified data and the manuscript built from them; "
            f"{n} files copied to {target / 'manuscript'}"
        )
        return
    log = make_share(target)
    total = sum(log["replacements_per_category"].values())
    print(
        f"share: wrote de-identified data to {target / 'data'} ({total} identifiers replaced, "
        f"{log['offsets_checked']} offsets checked) and {target / 'anonymisation_log.md'}; "
        f"replacement table kept outside the package: {target.parent / (target.name + '-replacements.csv')}"
    )
