"""Feedback that reads the answer: a corpus of good, weak and nonsense answers with the verdict each must get.

The corpus (``tests/fixtures/feedback_corpus.yaml``) was written for this
compendium. Whatever the verdict, nonsense is never praised: no feedback text
for a nonsense or unanchored answer says "good", "right" or "well".
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from compendium.data import Study, load_study
from compendium.teaching import exercises as x
from compendium.teaching import feedback as fb
from compendium.teaching import parsing, words
from compendium.teaching.text import TutorialError

CORPUS = yaml.safe_load((Path(__file__).resolve().parent / "fixtures" / "feedback_corpus.yaml").read_text())
PRAISE = re.compile(r"\b(good|great|right|well done|excellent|correct)\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study()


def _judge(study: Study, case: dict) -> fb.Verdict:
    segment = case.get("segment", "P01-S11" if case["kind"] == "statement" else "P01-S05")
    seg = study.coding.set_index("segment_id").loc[segment]
    answer = case["answer"]
    kind = case["kind"]
    if kind == "descriptive":
        return fb.judge_descriptive(answer, seg.excerpt, study)
    if kind == "linguistic":
        return fb.judge_linguistic(answer, seg.excerpt, study)
    if kind == "conceptual":
        context = " ".join([seg.note_descriptive, seg.note_conceptual])
        return fb.judge_conceptual(answer, seg.excerpt, case.get("descriptive", ""), study, context)
    if kind == "statement":
        return fb.judge_statement(answer, seg.excerpt, " ".join([seg.note_descriptive, seg.note_conceptual]), study)
    if kind == "memo":
        return fb.judge_memo(answer, study)
    if kind == "name":
        return fb.judge_name(answer, study)
    if kind == "paragraph":
        quotes = study.coding.loc[study.coding["theme_id"] == "3.1.2", "excerpt"].tolist()
        return fb.judge_paragraph(answer, quotes, list(study.pseudonyms.values()), study)
    raise AssertionError(kind)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: f"{c['kind']}:{c['answer'][:30]}")
def test_corpus_answer_gets_its_verdict(study: Study, case: dict) -> None:
    verdict = _judge(study, case)
    assert verdict.level == case["verdict"], verdict.text()
    if verdict.level in ("nonsense", "unanchored", "weak", "empty"):
        assert not PRAISE.search(verdict.text()), verdict.text()


def test_the_corpus_covers_every_level_and_kind() -> None:
    assert {c["verdict"] for c in CORPUS} == set(fb.LEVELS)
    assert {c["kind"] for c in CORPUS} == {
        "descriptive",
        "linguistic",
        "conceptual",
        "statement",
        "memo",
        "name",
        "paragraph",
    }
    assert sum(c["verdict"] == "nonsense" for c in CORPUS) >= 8


def test_plausible_feedback_says_what_it_cannot_judge(study: Study) -> None:
    good = [c for c in CORPUS if c["verdict"] == "plausible" and c["kind"] in ("conceptual", "statement")]
    for case in good:
        assert fb.CANNOT_JUDGE in _judge(study, case).text()


def test_the_reported_cases_are_no_longer_praised(study: Study) -> None:
    """The answers from the issue: bananas, purple elephants, repetition, keyboard mash in a memo."""
    notes = x.feedback_notes(study, "P01-S05", "banana", "banana", "purple elephants dancing")
    assert not PRAISE.search(notes) and "beyond description" not in notes
    assert "Length is right" not in x.feedback_statement(study, "P01-S11", "banana banana banana")
    assert "not something I can read" in x.feedback_statement(study, "P01-S11", "banana banana banana")
    memo = x.feedback_memo(" ".join(["asdf qwerty"] * 15), study)
    assert "keyboard" in memo and "first person" not in memo
    assert "not something I can read" in x.feedback_paragraph("asdf qwerty " * 15, study)


@pytest.mark.parametrize(
    "word,mash",
    [
        ("asdf", True),
        ("qwerty", True),
        ("xkcd", True),
        ("zzzz", True),
        ("property", False),
        ("liberty", False),
        ("strengths", False),
        ("rhythm", False),
        ("banana", False),
        ("elephants", False),
    ],
)
def test_keyboard_mash_is_told_from_words(study: Study, word: str, mash: bool) -> None:
    assert words.is_mash(word, words.vocabulary(study)) is mash


def test_quoted_phrases_leave_apostrophes_alone() -> None:
    assert words.quoted_phrases("She's said 'faulty product' and \u201cassembly line\u201d, doesn't she") == [
        "assembly line",
        "faulty product",
    ]


@pytest.mark.parametrize(
    "value,lines",
    [
        ("14, 16-18", [14, 16, 17, 18]),
        ([14, "16"], [14, 16]),
        (14, [14]),
        ("14 16;20", [14, 16, 20]),
        ("3 - 5", [3, 4, 5]),
        ("", []),
    ],
)
def test_lines_are_parsed_forgivingly(value: object, lines: list[int]) -> None:
    assert parsing.parse_lines(value) == lines


@pytest.mark.parametrize(
    "value,ids",
    [
        ("P01-S05, p1-s6", ["P01-S05", "P01-S06"]),
        (["P01-S05"], ["P01-S05"]),
        ("p03 s08 P01-U02", ["P03-S08", "P01-U02"]),
        ("['P01-S05']", ["P01-S05"]),
    ],
)
def test_ids_are_parsed_forgivingly(value: object, ids: list[str]) -> None:
    assert parsing.parse_ids(value) == ids


@pytest.mark.parametrize(
    "parse,value,message",
    [
        (parsing.parse_lines, "14, sixteen", "'sixteen' is not a line number"),
        (parsing.parse_lines, "18-16", "runs backwards"),
        (parsing.parse_lines, {"a": 1}, "expected a list, got a dict"),
        (parsing.parse_ids, "P01-S05, banana", "'banana' is not a segment id"),
        (parsing.parse_theme_ids, "1.2, x", "'x' is not a theme id"),
        (parsing.parse_clusters, "no colon", "has no name before a colon"),
    ],
)
def test_refusals_are_one_line_with_a_fix(parse, value: object, message: str) -> None:
    with pytest.raises(TutorialError, match=re.escape(message)) as err:
        parse(value)
    text = str(err.value)
    assert "fix:" in text
    shown = parsing.refusal(err.value)
    assert "\n" not in shown and shown.startswith("**I can't read that answer yet:**")


def test_clusters_from_text_or_dict() -> None:
    assert parsing.parse_clusters("Rest is betrayal: P01-U01, p1-u2\n\nA self made wrong: P01-U03") == {
        "Rest is betrayal": ["P01-U01", "P01-U02"],
        "A self made wrong": ["P01-U03"],
    }
    assert parsing.parse_clusters({"  Two   words ": "P01-U01"}) == {"Two words": ["P01-U01"]}


def test_a_note_typed_as_a_list_is_refused_in_one_line(study: Study) -> None:
    shown = x.feedback_notes(study, "P01-S05", ["faulty"], "", "")
    assert shown.startswith("**I can't read that answer yet:** your descriptive note is a list, not text.")
    assert "\n" not in shown and "fix:" in shown
