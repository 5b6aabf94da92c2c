"""Known-answer tests for :mod:`compendium.corpus` (turns and the corpus overview)."""

from __future__ import annotations

import pandas as pd
import pytest

from compendium.corpus import corpus_overview, turns
from compendium.data import Study

TEXT = "Interviewer: Hi there?\nAnn: I'm fine: mostly, thanks.\nInterviewer: Good.\n"


def test_turns_known_answer() -> None:
    t = turns(TEXT)
    assert t.columns.tolist() == ["line", "speaker", "text", "words"]
    assert t.values.tolist() == [
        [1, "Interviewer", "Hi there?", 2],
        [2, "Ann", "I'm fine: mostly, thanks.", 4],  # split at the first ": " only; "I'm" is one word
        [3, "Interviewer", "Good.", 1],
    ]


def test_turns_without_final_newline_is_the_same() -> None:
    assert turns(TEXT.rstrip("\n")).equals(turns(TEXT))


@pytest.mark.parametrize("said, n", [("Twenty 20 AUD vouchers", 4), ("...", 0), ("don't, won't", 2)])
def test_turns_word_count(said: str, n: int) -> None:
    assert turns(f"Ann: {said}\n").loc[0, "words"] == n


def test_turns_line_numbers_match_the_transcript() -> None:
    text = "".join(f"{'Interviewer' if i % 2 else 'Ann'}: line {i}\n" for i in range(1, 13))
    t = turns(text)
    assert t["line"].tolist() == list(range(1, 13))
    assert t.loc[t["line"] == 12, "text"].item() == "line 12"


def study() -> Study:
    participants = pd.DataFrame({"participant_id": ["P02", "P01", "P03"], "pseudonym": ["Ben", "Ann", "Cy"]})
    transcripts = {
        "P01": "Interviewer: Hi?\nAnn: I am so kind today.\nInterviewer: Why?\nAnn: Because it helps.\n",
        "P02": "Interviewer: Hello?\nBen: Fine thanks, mate.\nInterviewer: And?\n",
        "P03": "Interviewer: Hello?\n",  # nothing said by the participant: share 0, no division by zero
    }
    coding = pd.DataFrame({"participant_id": ["P01", "P02", "P01"], "excerpt": ["so kind", "Fine", "it helps"]})
    return Study(participants, coding, pd.DataFrame(), pd.DataFrame(), transcripts)


def test_corpus_overview_known_answer() -> None:
    o = corpus_overview(study())
    assert o.columns.tolist() == [
        "participant_id",
        "pseudonym",
        "lines",
        "participant_turns",
        "interviewer_turns",
        "participant_words",
        "segments",
        "coded_share",
    ]
    assert o.values.tolist() == [
        ["P02", "Ben", 3, 1, 2, 3, 1, 0.33],  # 1 of 3 words coded
        ["P01", "Ann", 4, 2, 2, 8, 2, 0.5],  # 4 of 8 words coded
        ["P03", "Cy", 1, 0, 1, 0, 0, 0.0],
    ]


def test_corpus_overview_totals_are_integers() -> None:
    o = corpus_overview(study())
    assert int(o["participant_words"].sum()) == 11
    assert int(o["segments"].sum()) == 3
    for col in ("lines", "participant_turns", "interviewer_turns", "participant_words", "segments"):
        assert all(type(v) is int for v in o[col].tolist())
