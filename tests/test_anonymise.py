"""The anonymisation gate catches planted identifiers and lets the study's own names through.

Identifiers of every kind are planted into a temporary copy of the data: as new
turns in a transcript, as new memos, and into the exploratory notes of the
coding table. The gate must report each with its file, line and category; the
clean copy must pass; the allow-list must need a reason for every entry.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from compendium.anonymise import AnonymisationError, audit
from compendium.errors import CompendiumError
from compendium.identifiers import scan_text
from compendium.paths import Paths

REPO = Path(__file__).resolve().parents[1]
DATA = "data/synthetic"

# A tiny bibliography for the copies: cited authors may be named in the data.
BIB = """@book{neff2011,
  author = {Neff, Kristin D.},
  title = {Self-compassion: The proven power of being kind to yourself},
  publisher = {William Morrow}, year = {2011}}
@article{pietkiewicz2014,
  author = {Pietkiewicz, Igor and Smith, Jonathan A.},
  title = {A practical guide to using interpretative phenomenological analysis in qualitative research psychology},
  journal = {Psychological Journal}, year = {2014}, volume = {20}, number = {1}, pages = {7--14}}
"""

# (id, category, sentence to plant, text the hit must contain)
PLANTS = [
    (
        "email",
        "e-mail address",
        "you can write to me at jane.doe@example.com.au if you like",
        "jane.doe@example.com.au",
    ),
    (
        "url-https",
        "URL",
        "there is a handout at https://www.example.org/handouts/kindness for parents",
        "https://www.example.org/handouts/kindness",
    ),
    ("url-www", "URL", "the service is at www.example.org.au for families", "www.example.org.au"),
    ("url-bare-domain", "URL", "she runs mindfulfamilies.com.au these days", "mindfulfamilies.com.au"),
    ("mobile", "phone number", "my mobile is 0412 345 678 if the line drops", "0412 345 678"),
    ("mobile-unspaced", "phone number", "text her on 0412345678 after school", "0412345678"),
    ("landline-brackets", "phone number", "the clinic is on (03) 9876 5432 during the week", "(03) 9876 5432"),
    ("landline-plain", "phone number", "the clinic is on 02 9876 5432 during the week", "02 9876 5432"),
    ("number-1300", "phone number", "the service line is 1300 123 456 for bookings", "1300 123 456"),
    ("number-1800", "phone number", "the free line is 1800 123 456 for bookings", "1800 123 456"),
    ("number-13", "phone number", "the local office is on 13 24 68 for bookings", "13 24 68"),
    ("international-au", "phone number", "from overseas ring +61 412 345 678 instead", "+61 412 345 678"),
    ("international-uk", "phone number", "her sister overseas is on +44 20 7946 0958 now", "+44 20 7946 0958"),
    ("street", "street address", "she grew up at 42 Wallaby Street near the station", "42 Wallaby Street"),
    ("street-abbreviated", "street address", "the family lived at 7 Banksia Rd for years", "7 Banksia Rd"),
    ("postcode-vic", "postcode", "they moved out to Fitzroy VIC 3065 last year", "VIC 3065"),
    ("postcode-nsw", "postcode", "they moved out to Newtown NSW 2042 last year", "NSW 2042"),
    ("postcode-word", "postcode", "the form asked for the postcode 3065 first", "3065"),
    ("postcode-state-spelled", "postcode", "they moved out to Toowong, Queensland 4066 last year", "4066"),
    ("dob-born-on", "date (possible date of birth)", "she was born on 3 March 1989 in the country", "3 March 1989"),
    ("dob-slashes", "date (possible date of birth)", "her date of birth is 03/03/1989 on the form", "03/03/1989"),
    ("dob-abbreviation", "date (possible date of birth)", "the file says DOB 3.3.89 in pencil", "DOB"),
    ("date-day-month-year", "date (possible date of birth)", "it all started on 14 July 1990 for her", "14 July 1990"),
    (
        "date-month-day-year",
        "date (possible date of birth)",
        "it all started on July 14, 1990 for her",
        "July 14, 1990",
    ),
    ("date-numeric", "date (possible date of birth)", "it all started on 14/07/1990 for her", "14/07/1990"),
    (
        "date-ordinal-of",
        "date (possible date of birth)",
        "she was born the 3rd of March 1989 at home",
        "3rd of March 1989",
    ),
    ("name", "personal name", "my client Sarah told me that straight away", "Sarah"),
    ("name-after-comma", "personal name", "and I said, Priya, you matter too", "Priya"),
]
PLANT_IDS = [plant[0] for plant in PLANTS]
TARGETS = ["transcript", "memo", "coding note"]


# --------------------------------------------------------------------------- helpers


def copy_compendium(dest: Path, bib: str | None = BIB) -> Paths:
    """pyproject.toml, data/ and (optionally) a bibliography in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(REPO / "data", dest / "data")
    p = Paths(dest)
    if bib is not None:
        p.bibliography.parent.mkdir(parents=True, exist_ok=True)
        p.bibliography.write_text(bib, encoding="utf-8")
    return p


def insert_turns(path: Path, after_line: int, turns: list[str]) -> list[int]:
    """Insert whole lines after ``after_line``; return their 1-based line numbers."""
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[after_line:after_line] = turns
    path.write_text("\n".join(lines), encoding="utf-8")
    return list(range(after_line + 1, after_line + 1 + len(turns)))


def add_memos(p: Paths, texts: list[str]) -> list[int]:
    """Append one memo per text; return the file lines they are on."""
    raw = p.memos.read_text(encoding="utf-8")
    first = raw.count("\n") + 1
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, text in enumerate(texts, start=1):
        writer.writerow([f"M{900 + i}", "2021-08-03", "First author", "analysis", "", f"Note to self: {text}."])
    p.memos.write_text(raw + out.getvalue(), encoding="utf-8")
    return list(range(first, first + len(texts)))


def add_to_coding_notes(p: Paths, texts: list[str]) -> list[int]:
    """Prefix the descriptive note of data row i with text i; return the file lines changed."""
    rows = list(csv.reader(io.StringIO(p.coding.read_text(encoding="utf-8"))))
    column = rows[0].index("note_descriptive")
    assert len(rows) > len(texts)
    for i, text in enumerate(texts, start=1):
        rows[i][column] = f"She recalls that {text}. " + rows[i][column]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    p.coding.write_text(out.getvalue(), encoding="utf-8")
    return [i + 1 for i in range(1, len(texts) + 1)]  # header is line 1, data row i is line i + 1


def hits_of(p: Paths) -> list:
    with pytest.raises(AnonymisationError) as caught:
        audit(p)
    return caught.value.hits


# --------------------------------------------------------------------------- planted identifiers


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, dict[str, int], list]]:
    """Per target: the file holding the plants, the line of each plant, and the hits of one audit."""
    sentences = [plant[2] for plant in PLANTS]
    out = {}
    for target in TARGETS:
        p = copy_compendium(tmp_path_factory.mktemp(target.replace(" ", "_")))
        if target == "transcript":
            path = p.transcript("P01")
            lines = insert_turns(path, 4, [f"Jennifer: Well, {s}." for s in sentences])
        elif target == "memo":
            path = p.memos
            lines = add_memos(p, sentences)
        else:
            path = p.coding
            lines = add_to_coding_notes(p, sentences)
        out[target] = (str(path.relative_to(p.root)), dict(zip(PLANT_IDS, lines)), hits_of(p))
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("plant_id", "category", "sentence", "expected"), PLANTS, ids=PLANT_IDS)
def test_planted_identifier_is_caught(
    planted: dict, target: str, plant_id: str, category: str, sentence: str, expected: str
) -> None:
    file, lines, hits = planted[target]
    line = lines[plant_id]
    here = [h for h in hits if h.file == file and h.line == line]
    assert any(h.category == category and expected in h.text for h in here), (
        f"{sentence!r} planted in {file}, line {line}: expected a {category} hit containing {expected!r}, got {here}"
    )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("plant_id", "category", "sentence", "expected"), PLANTS, ids=PLANT_IDS)
def test_planted_identifier_is_reported_once_in_its_category(
    planted: dict, target: str, plant_id: str, category: str, sentence: str, expected: str
) -> None:
    """One identifier, one report: no second hit in another category for the same text."""
    file, lines, hits = planted[target]
    here = [h for h in hits if h.file == file and h.line == lines[plant_id]]
    assert [h.category for h in here] == [category], f"{sentence!r}: {here}"


@pytest.mark.parametrize("target", TARGETS)
def test_only_planted_lines_are_reported(planted: dict, target: str) -> None:
    file, lines, hits = planted[target]
    stray = [h for h in hits if h.file != file or h.line not in lines.values()]
    assert not stray, f"hits outside the planted lines: {stray}"


def test_hit_names_file_line_category_and_fix(tmp_path: Path) -> None:
    p = copy_compendium(tmp_path / "c")
    insert_turns(p.transcript("P01"), 4, ["Jennifer: Ring me on 0412 345 678 any time."])
    with pytest.raises(AnonymisationError) as caught:
        audit(p)
    text = str(caught.value)
    assert "data/synthetic/transcripts/P01.txt, line 5: phone number: '0412 345 678'" in text
    assert "1 possible direct identifier" in text
    assert "fix:" in text and "anonymisation_allowlist.yaml" in text and "reason" in text
    assert isinstance(caught.value, CompendiumError)


def test_cli_audit_reports_without_traceback(tmp_path: Path) -> None:
    p = copy_compendium(tmp_path / "c")
    insert_turns(p.transcript("P01"), 4, ["Jennifer: Ring me on 0412 345 678 any time."])
    env = {**os.environ, "COMPENDIUM_ROOT": str(p.root), "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "compendium", "audit"], cwd=p.root, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "data/synthetic/transcripts/P01.txt, line 5: phone number: '0412 345 678'" in result.stderr
    assert "fix:" in result.stderr


# --------------------------------------------------------------------------- clean data, known names


def test_clean_copy_passes(tmp_path: Path) -> None:
    p = copy_compendium(tmp_path / "c")
    assert audit(p) == 14  # 8 transcripts, participants, coding, memos, codebook, datapackage, allow-list


def test_pseudonyms_and_cited_authors_are_not_flagged(tmp_path: Path) -> None:
    p = copy_compendium(tmp_path / "c")
    insert_turns(
        p.transcript("P01"),
        4,
        [
            "Jennifer: I think my colleague Lauren would say the same, and so would Susan.",
            "Jennifer: It is what the book by Kristin Neff says, and what the guide by Jonathan Smith says.",
        ],
    )
    assert audit(p) == 14  # 8 transcripts, participants, coding, memos, codebook, datapackage, allow-list


def test_cited_author_is_flagged_without_the_bibliography(tmp_path: Path) -> None:
    """Control for the test above: the names are let through because of the bibliography."""
    p = copy_compendium(tmp_path / "c", bib=None)
    insert_turns(p.transcript("P01"), 4, ["Jennifer: It is what the book by Kristin Neff says."])
    hits = hits_of(p)
    assert [(h.line, h.category, h.text) for h in hits] == [(5, "personal name", "Kristin")]


def test_a_name_that_is_not_a_pseudonym_is_flagged_where_a_pseudonym_is_not() -> None:
    known = {"Jennifer", "Lauren"}
    assert scan_text("Jennifer: I asked my colleague Lauren.", "f", [], known) == []
    hits = scan_text("Jennifer: I asked my colleague Rachel.", "f", [], known)
    assert [(h.file, h.line, h.category, h.text) for h in hits] == [("f", 1, "personal name", "Rachel")]


# --------------------------------------------------------------------------- allow-list


def shipped_entries() -> int:
    """How many entries the data's allow-list ships with."""
    import yaml

    return len(yaml.safe_load((REPO / DATA / "anonymisation_allowlist.yaml").read_text(encoding="utf-8"))["allow"])


def write_allowlist(p: Paths, entries: str) -> None:
    p.allowlist.write_text(p.allowlist.read_text(encoding="utf-8") + entries, encoding="utf-8")


def test_allowlist_entry_with_reason_suppresses_false_positives(tmp_path: Path) -> None:
    p = copy_compendium(tmp_path / "c")
    insert_turns(
        p.transcript("P01"),
        4,
        [
            "Jennifer: She moved to Adelaide for work.",
            "Jennifer: I always give them the crisis line, 13 11 14, before they leave.",
        ],
    )
    assert {(h.category, h.text) for h in hits_of(p)} == {("personal name", "Adelaide"), ("phone number", "13 11 14")}
    write_allowlist(
        p,
        (
            "  - text: Adelaide\n"
            "    category: personal name\n"
            "    reason: A capital city, not a person.\n"
            "  - pattern: '13 ?11 ?14'\n"
            "    category: phone number\n"
            "    reason: A national crisis line printed on public posters, not a person's number.\n"
        ),
    )
    assert audit(p) == 14  # 8 transcripts, participants, coding, memos, codebook, datapackage, allow-list


def test_allowlist_entry_only_covers_its_category(tmp_path: Path) -> None:
    p = copy_compendium(tmp_path / "c")
    insert_turns(p.transcript("P01"), 4, ["Jennifer: She moved to Adelaide for work."])
    write_allowlist(p, "  - text: Adelaide\n    category: URL\n    reason: Wrong category on purpose.\n")
    assert [(h.category, h.text) for h in hits_of(p)] == [("personal name", "Adelaide")]


@pytest.mark.parametrize(
    "reason",
    ["", "    reason:\n", "    reason: ''\n", "    reason: '   '\n"],
    ids=["missing", "null", "empty", "blank"],
)
def test_allowlist_entry_without_reason_is_an_error(tmp_path: Path, reason: str) -> None:
    p = copy_compendium(tmp_path / "c")
    write_allowlist(p, "  - text: Adelaide\n    category: personal name\n" + reason)
    with pytest.raises(CompendiumError) as caught:
        audit(p)
    message = str(caught.value)
    assert "anonymisation_allowlist.yaml" in message
    assert f"entry {shipped_entries() + 1}" in message  # the entry appended after the shipped ones
    assert "reason" in message and "fix:" in message


@pytest.mark.parametrize(
    "entry",
    [
        "  - Adelaide\n",
        "  - pattern: '(unclosed'\n    category: personal name\n    reason: A broken regular expression.\n",
    ],
    ids=["not-a-mapping", "invalid-pattern"],
)
def test_malformed_allowlist_entry_is_reported_in_words(tmp_path: Path, entry: str) -> None:
    """A mistake in the allow-list is the researcher's input: a CompendiumError naming the entry, no traceback."""
    p = copy_compendium(tmp_path / "c")
    insert_turns(p.transcript("P01"), 4, ["Jennifer: She moved to Adelaide for work."])
    write_allowlist(p, entry)
    with pytest.raises(CompendiumError) as caught:
        audit(p)
    message = str(caught.value)
    assert (
        "anonymisation_allowlist.yaml" in message and f"entry {shipped_entries() + 1}" in message and "fix:" in message
    )


def test_a_cited_authors_given_name_alone_is_checked(tmp_path: Path) -> None:
    """'Kristin Neff' is a cited author; 'Kristin' on her own could be anyone (a client's sister)."""
    p = copy_compendium(tmp_path / "c")
    insert_turns(p.transcript("P01"), 4, ["Jennifer: Her sister Kristin rang me, and we talked about Kristin Neff."])
    hits = hits_of(p)
    assert [(h.line, h.category, h.text) for h in hits] == [(5, "personal name", "Kristin")]


def test_page_ranges_with_an_en_dash_are_not_phone_numbers() -> None:
    """Reference lists print page ranges like 133–141; written with spaces the same digits are a 13 number."""
    from compendium.identifiers import scan_text

    assert scan_text("Mindfulness, 10(2), 133–141.", "references") == []
    assert scan_text("Journal of Things, 7, 1001—1010.", "references") == []
    hits = scan_text("ring 133 141 after hours", "memo")
    assert [h.category for h in hits] == ["phone number"]


# --------------------------------------------------------------------------- the cache of clean files


def built_folder(tmp_path: Path) -> Paths:
    p = copy_compendium(tmp_path / "c")
    p.build.mkdir(parents=True)  # the cache lives in build/, as in a real build
    return p


def test_a_second_run_reads_the_cache_and_writes_the_same_log(tmp_path: Path) -> None:
    p = built_folder(tmp_path)
    assert audit(p, log=tmp_path / "first.json") == 14
    cache = json.loads((p.build / "anonymisation_cache.json").read_text(encoding="utf-8"))
    assert len(cache["files"]) == 14
    assert audit(p, log=tmp_path / "second.json") == 14
    assert (tmp_path / "first.json").read_bytes() == (tmp_path / "second.json").read_bytes()
    shipped = json.loads((tmp_path / "first.json").read_text(encoding="utf-8"))
    assert shipped["allowlisted"], "the shipped data use the allow-list; the cache must keep what it let pass"


def test_a_cached_clean_file_that_changes_is_scanned_again(tmp_path: Path) -> None:
    p = built_folder(tmp_path)
    audit(p)
    insert_turns(p.transcript("P01"), 4, ["Jennifer: My mobile is 0412 345 678 if the line drops."])
    assert [(h.file, h.category) for h in hits_of(p)] == [("data/synthetic/transcripts/P01.txt", "phone number")]


def test_the_cache_holds_for_one_allow_list_only(tmp_path: Path) -> None:
    p = built_folder(tmp_path)
    insert_turns(p.transcript("P01"), 4, ["Jennifer: She moved to Adelaide for work."])
    original = p.allowlist.read_text(encoding="utf-8")
    write_allowlist(p, "  - text: Adelaide\n    category: personal name\n    reason: A capital city, not a person.\n")
    assert audit(p) == 14  # P01 is now cached as clean, under this allow-list
    p.allowlist.write_text(original, encoding="utf-8")
    assert [(h.category, h.text) for h in hits_of(p)] == [("personal name", "Adelaide")]


def test_the_cache_holds_for_one_set_of_known_names_only(tmp_path: Path) -> None:
    """A pseudonym that is renamed is no longer a known name: the transcripts that use it are rescanned."""
    p = built_folder(tmp_path)
    insert_turns(p.transcript("P01"), 4, ["Jennifer: I asked Lauren about it."])
    assert audit(p) == 14  # Lauren is P02's pseudonym
    p.participants.write_text(
        p.participants.read_text(encoding="utf-8").replace(",Lauren,", ",Leonie,"), encoding="utf-8"
    )
    assert ("personal name", "Lauren") in {(h.category, h.text) for h in hits_of(p)}


def _counting_detections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every line the pattern detectors are run on (their memory per line switched off)."""
    from compendium import identifiers

    seen: list[str] = []
    detected = identifiers._detected.__wrapped__
    monkeypatch.setattr(identifiers, "_detected", lambda line, epoch: seen.append(line) or detected(line, epoch))
    return seen


def test_a_changed_files_unchanged_lines_skip_the_pattern_detectors_but_a_new_identifier_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = built_folder(tmp_path)
    seen = _counting_detections(monkeypatch)
    assert audit(p) == 14
    assert len(seen) > 500, "every line of the first scan goes through the detectors"
    stored = (p.build / "anonymisation_lines.bin").read_bytes()
    assert b"Jennifer" not in stored and b"Interviewer" not in stored  # digests, never the text
    added = "Jennifer: My mobile is 0412 345 678 if the line drops."
    insert_turns(p.transcript("P01"), 4, [added])
    seen.clear()
    assert [(h.file, h.line, h.category) for h in hits_of(p)] == [
        ("data/synthetic/transcripts/P01.txt", 5, "phone number")
    ]
    assert seen == [added], "only the new line should have gone through the pattern detectors"
    # A name on a remembered line is still found: the name detector reads every line.
    lines = p.transcript("P02").read_text(encoding="utf-8").split("\n")
    lines[3] = lines[3].replace("Lauren:", "Lauren: I told Sarah Jones.", 1)
    p.transcript("P02").write_text("\n".join(lines), encoding="utf-8")
    assert ("data/synthetic/transcripts/P02.txt", 4, "personal name") in {
        (h.file, h.line, h.category) for h in hits_of(p) if h.text.startswith("Sarah")
    }


def test_remembered_lines_hold_for_one_set_of_rules_and_one_build_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = built_folder(tmp_path)
    seen = _counting_detections(monkeypatch)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert audit(p) == 14
    lines_file = p.build / "anonymisation_lines.bin"
    first = lines_file.read_bytes()
    transcript = p.transcript("P03")
    count = len(transcript.read_text(encoding="utf-8").splitlines())

    def rescanned_after(change: Callable[[], None]) -> int:
        transcript.write_text(transcript.read_text(encoding="utf-8") + "Interviewer: Thanks.\n", encoding="utf-8")
        change()
        seen.clear()
        assert audit(p) == 14
        own = set(transcript.read_text(encoding="utf-8").splitlines())  # P03's lines, not the other files'
        return sum(1 for line in seen if line in own)

    assert rescanned_after(lambda: None) == 1  # the same rules and date: only the new line
    # Another build date: the date detector lets another date pass, so every line is scanned again.
    assert rescanned_after(lambda: monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")) >= count
    # Another allow-list (the gate's rules): the remembered lines are not used.
    assert (
        rescanned_after(
            lambda: write_allowlist(p, "  - text: Qwerty\n    category: personal name\n    reason: Test.\n")
        )
        >= count
    )
    assert lines_file.read_bytes()[:64] != first[:64]
    # A damaged file is ignored, never trusted.
    lines_file.write_bytes(lines_file.read_bytes()[:-5])
    assert rescanned_after(lambda: None) >= count
    lines_file.write_bytes(b"not the rules\n" + bytes(32))
    assert rescanned_after(lambda: None) >= count


def test_scanning_on_every_core_gives_the_log_and_hits_of_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files not in the cache are scanned in forked processes when there is enough to read: the
    log, the hits (order included) and the cache must be those of scanning them one by one."""
    from compendium import anonymise

    p = built_folder(tmp_path)
    insert_turns(p.transcript("P02"), 3, ["Lauren: Ring me on 0412 345 678, or Sarah Jones at the clinic."])
    insert_turns(p.transcript("P05"), 2, ["Interviewer: The office is at 12 Smith Street, Fitzroy."])
    import multiprocessing

    contexts: list[str] = []
    real_context = multiprocessing.get_context
    monkeypatch.setattr(multiprocessing, "get_context", lambda method: contexts.append(method) or real_context(method))
    results = []
    for parallel_bytes in (10**12, 0):  # never, then always
        monkeypatch.setattr(anonymise, "PARALLEL_BYTES", parallel_bytes)
        (p.build / "anonymisation_cache.json").unlink(missing_ok=True)
        (p.build / "anonymisation_lines.bin").unlink(missing_ok=True)
        log = tmp_path / f"log-{parallel_bytes}.json"
        with pytest.raises(AnonymisationError) as caught:
            audit(p, log=log)
        cache = (p.build / "anonymisation_cache.json").read_bytes()
        lines = (p.build / "anonymisation_lines.bin").read_bytes()
        hits = [(h.file, h.line, h.category, h.text) for h in caught.value.hits]
        results.append((hits, log.read_bytes(), cache, lines))
    if (os.cpu_count() or 1) > 1:
        assert contexts == ["fork"]  # the second run, and only it, forked its scanners
    assert results[0] == results[1]
    assert [h[0] for h in results[0][0]] == ["data/synthetic/transcripts/P02.txt"] * 2 + [
        "data/synthetic/transcripts/P05.txt"
    ]


def test_a_file_the_gate_cannot_read_is_named_when_scanning_on_every_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compendium import anonymise

    p = built_folder(tmp_path)
    monkeypatch.setattr(anonymise, "PARALLEL_BYTES", 0)
    p.transcript("P03").write_bytes(b"Interviewer: caf\xe9 \xff\n")
    with pytest.raises(CompendiumError) as caught:
        audit(p)
    assert "P03.txt: the anonymisation gate cannot read this file" in str(caught.value)


def test_pdf_text_rejoins_words_hyphenated_at_a_line_end_and_refuses_a_broken_pdf(tmp_path: Path) -> None:
    """The gate reads the PDF as PDFium gives it: a name the typesetter split across two lines
    ("Jen-" / "nifer") must come back whole, or the name check could not see it."""
    import typst

    from compendium import anonymise

    source = tmp_path / "narrow.typ"
    source.write_text(
        '#set page(width: 3.2cm, height: auto, margin: 2mm)\n#set text(size: 9pt, lang: "en", hyphenate: true)\n'
        "#set par(justify: true)\n"
        "Our interviewee described supervision as indispensable, and reported practically "
        "uncontrollable feelings.\n",
        encoding="utf-8",
    )
    pdf = tmp_path / "narrow.pdf"
    typst.compile(str(source), output=str(pdf), root=str(tmp_path))
    text = anonymise._pdf_text(pdf)
    assert "\ufffe" not in text and "\r" not in text
    words = text.split()
    # At this width typst breaks "de-scribed" and "feel-ings" (pypdf gave "de\xad" and "scribed").
    assert {"described", "feelings."} <= set(words), words
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot really a PDF")
    with pytest.raises(ValueError, match="not a readable PDF"):
        anonymise._pdf_text(broken)
