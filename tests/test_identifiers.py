"""Recall of the anonymisation gate on a corpus of planted identifiers (tests/identifiers/corpus.yaml).

Each sentence is scanned as a line of text the way the gate scans an input file,
with the real allow-list and the study's known names. Recall per corpus category
is printed in the test summary (see ``pytest_runtest_logreport`` in conftest.py).
Every item must be caught in its expected gate category, except the ones the
corpus marks ``known_miss`` (with the reason), which must still be missed, so the
corpus and the README's list of limits stay true.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import RECALL_PROPERTY
from compendium.anonymise import AnonymisationError, audit
from compendium.identifiers import known_names, load_allowlist, scan_text
from compendium.paths import Paths

REPO = Path(__file__).resolve().parents[1]
CORPUS = yaml.safe_load((Path(__file__).parent / "identifiers" / "corpus.yaml").read_text(encoding="utf-8"))
CATEGORIES = CORPUS["categories"]
ITEMS = [(name, spec["gate"], item) for name, spec in CATEGORIES.items() for item in spec["items"]]


def test_corpus_is_large_and_varied_enough() -> None:
    assert len(ITEMS) >= 60 and len(CATEGORIES) >= 12
    for name, spec in CATEGORIES.items():
        assert len(spec["items"]) >= 3, name
        for item in spec["items"]:
            assert str(item["find"]) in item["text"], (name, item)


def caught(item: dict, gate: str, repo: Paths) -> bool:
    hits = scan_text(item["text"], "corpus", load_allowlist(repo), known_names(repo))
    find = str(item["find"])
    start = item["text"].index(find)
    span = range(start, start + len(find))
    for hit in hits:
        at = item["text"].find(hit.text)
        if hit.category == gate and at >= 0 and set(range(at, at + len(hit.text))) & set(span):
            return True
    return False


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_recall_per_category(category: str, repo: Paths, record_property: Callable[[str, object], None]) -> None:
    spec = CATEGORIES[category]
    results = [(item, caught(item, spec["gate"], repo)) for item in spec["items"]]
    record_property(RECALL_PROPERTY, (category, sum(ok for _, ok in results), len(results)))
    missed = [item["text"] for item, ok in results if not ok and "known_miss" not in item]
    newly = [item["text"] for item, ok in results if ok and "known_miss" in item]
    assert not missed, f"{category}: the gate missed {missed} (expected category {spec['gate']!r})"
    assert not newly, f"{category}: now caught, remove known_miss from the corpus: {newly}"


def test_every_planted_line_of_the_corpus_is_reported_from_a_transcript(tmp_path: Path) -> None:
    """The whole corpus planted as interviewee turns of a transcript copy: the gate names each line."""
    dest = tmp_path / "c"
    dest.mkdir()
    shutil.copy2(REPO / "pyproject.toml", dest / "pyproject.toml")
    shutil.copytree(REPO / "data", dest / "data")
    p = Paths(dest)
    transcript = sorted(p.transcripts.glob("*.txt"))[0]
    original = transcript.read_text(encoding="utf-8")
    speaker = next(line.split(":", 1)[0] for line in original.splitlines() if not line.startswith("Interviewer"))
    planted = [item for _, _, item in ITEMS if "known_miss" not in item]
    transcript.write_text(original + "".join(f"{speaker}: {item['text']}\n" for item in planted), encoding="utf-8")
    first = original.count("\n") + 1
    with pytest.raises(AnonymisationError) as caught_error:
        audit(p)
    lines = {h.line for h in caught_error.value.hits if h.file.endswith(transcript.name)}
    assert lines == set(range(first, first + len(planted)))


def test_a_month_before_a_year_on_the_next_wrapped_line_is_not_a_name() -> None:
    # Pandoc wraps HTML and XML lines: "from November 2020 to April" / "2021 (interviews ...".
    wrapped = "were interviewed from November 2020 to April\n2021 (interviews of 45 to 73 minutes)."
    assert scan_text(wrapped, "manuscript.html") == []
    # The same word with no year after it, mid-sentence, is still read as a possible name.
    person = "the clinician said that April\nhad told her about the waiting list."
    assert [h.category for h in scan_text(person, "manuscript.html")] == ["personal name"]


def test_a_guid_is_not_a_phone_number_but_the_same_digits_alone_are() -> None:
    # Seen in an 800-participant export: the last group of a coding's GUID, "-004625348812", read as +46.
    guid = '<Coding guid="a771f453-93b0-522d-9b8c-004625348812" creatingUser="12bdbf8a-b04f-587a-a854-008ff980b77a">'
    assert scan_text(guid, "project.qde") == []
    assert [h.category for h in scan_text("ring her on 004625348812 tonight", "memo.txt")] == ["phone number"]


def test_an_allowed_name_cut_short_by_a_table_is_still_allowed() -> None:
    # pandas shortens long cells ("... and Patric..."): a known pseudonym's prefix before an ellipsis.
    cell = 'The client\'s repeated word "broken" and Patric...'
    assert scan_text(cell, "case.html", known={"Patrick"}) == []
    assert [h.text for h in scan_text(cell, "case.html")] == ["Patric"]  # unknown: still reported


def test_no_valid_phone_number_has_fewer_digits_than_the_gate_hands_to_the_matcher() -> None:
    """PHONE_MIN_DIGITS lets a line skip libphonenumber; it must not exceed the shortest number
    libphonenumber's own metadata calls possible (national for AU, with a country code elsewhere)."""
    import phonenumbers
    from phonenumbers import PhoneMetadata

    from compendium.identifiers import ID_NUMBER_MIN_DIGITS, PHONE_MIN_DIGITS

    au = PhoneMetadata.metadata_for_region("AU")
    shortest = min(au.general_desc.possible_length)
    for region in phonenumbers.SUPPORTED_REGIONS:
        meta = PhoneMetadata.metadata_for_region(region)
        lengths = meta.general_desc.possible_length or ()
        if lengths:
            shortest = min(shortest, len(str(meta.country_code)) + min(lengths))
    assert 1 < PHONE_MIN_DIGITS <= shortest
    assert ID_NUMBER_MIN_DIGITS == 8  # DIGIT_RUN: a first digit and at least seven more
    assert scan_text("Call 13 11 14 any time.", "t")  # the shortest service number still reaches the gate


def test_the_gates_shortcuts_skip_only_lines_no_detector_could_match(
    repo: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every corpus sentence and transcript line, each also without its digits and without "@"
    and ":": the gate's detectors, with their shortcuts (digit counts, literal checks, the memory
    per line), find exactly what the same detectors find with every shortcut switched off."""
    import os
    import re

    from compendium import identifiers as ids

    lines = [item["text"] for _, _, item in ITEMS] + ["She moved to 7 Banksia Rd, Fitzroy 3065 last year."]
    lines += [line for path in sorted(repo.transcripts.glob("*.txt")) for line in path.read_text("utf-8").splitlines()]
    lines += [re.sub(r"\d", "", line) for line in lines] + [re.sub(r"[@:]", " ", line) for line in lines]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    ids._detected.cache_clear()
    fast = [ids._detected(line, epoch) for line in lines]
    with monkeypatch.context() as off:
        off.setattr(ids, "PHONE_MIN_DIGITS", 0)
        off.setattr(ids, "ID_NUMBER_MIN_DIGITS", 0)
        off.setattr(ids, "_may_match", lambda category, line, digit: True)
        plain = [tuple(span for detector in ids.DETECTORS for span in detector(line)) for line in lines]
    assert fast == plain
    found = {category for spans in plain for category, _, _ in spans}
    assert {"e-mail address", "URL", "phone number", "postcode", "street address", "ABN"} <= found


def test_the_first_names_are_exactly_gender_guessers() -> None:
    """first_names() reads gender-guesser's data file itself (faster): the same names as its Detector."""
    import gender_guesser.detector as detector

    from compendium.identifiers import first_names

    expected = frozenset(detector.Detector(case_sensitive=False).names)
    assert first_names() == expected
    assert {"sarah", "abdel-aziz", "abdel aziz", "abdelaziz"} <= first_names()
