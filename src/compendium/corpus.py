"""Reading and re-reading: a first overview of the transcripts."""

from __future__ import annotations

import re

import pandas as pd

from .data import SPEAKER_INTERVIEWER, Study
from .transcripts import line_bounds

__all__ = ["turns", "corpus_overview"]

WORDS = re.compile(r"[A-Za-z0-9']+")


def turns(text: str) -> pd.DataFrame:
    """One row per line of a transcript: line number, speaker, words."""
    rows = []
    for number, (start, end) in enumerate(line_bounds(text), start=1):
        speaker, _, said = text[start:end].partition(": ")
        rows.append({"line": number, "speaker": speaker, "text": said, "words": len(WORDS.findall(said))})
    return pd.DataFrame(rows, columns=["line", "speaker", "text", "words"])


def corpus_overview(study: Study) -> pd.DataFrame:
    """Per participant: turns, words spoken, coded segments and the share of their words that were coded.

    Examples
    --------
    >>> from compendium.data import Study
    >>> s = Study(pd.DataFrame({"participant_id": ["P01"], "pseudonym": ["Ann"]}),
    ...           pd.DataFrame({"participant_id": ["P01"], "excerpt": ["so kind"]}),
    ...           pd.DataFrame(), pd.DataFrame(), {"P01": "Interviewer: Hi?\\nAnn: I am so kind.\\n"})
    >>> corpus_overview(s)[["participant_turns", "participant_words", "segments", "coded_share"]].to_dict("records")
    [{'participant_turns': 1, 'participant_words': 4, 'segments': 1, 'coded_share': 0.5}]
    """
    rows = []
    for pid, pseudonym in study.pseudonyms.items():
        t = turns(study.transcripts[pid])
        said = t[t["speaker"] != SPEAKER_INTERVIEWER]
        segs = study.coding[study.coding["participant_id"] == pid]
        coded_words = sum(len(WORDS.findall(x)) for x in segs["excerpt"])
        words = int(said["words"].sum())
        rows.append(
            {
                "participant_id": pid,
                "pseudonym": pseudonym,
                "lines": len(t),
                "participant_turns": len(said),
                "interviewer_turns": int((t["speaker"] == SPEAKER_INTERVIEWER).sum()),
                "participant_words": words,
                "segments": len(segs),
                "coded_share": round(coded_words / words, 2) if words else 0.0,
            }
        )
    return pd.DataFrame(rows)
