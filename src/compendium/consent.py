"""Consent as data: what each participant agreed to, applied where the study is loaded.

``participants.csv`` carries three boolean flags per participant (declared in
``datapackage.json``):

* ``consent_quotes``: their words may be quoted. Without it, their transcript
  and excerpts are loaded with every character except white space and the
  speaker labels replaced by :data:`WITHHELD` (same length, same lines, same word
  count), so counts, spans, themes and recurrence are unchanged while no output
  (case tables, quote bank, manuscript, notebooks, REFI-QDA export) can carry
  their text; the quote bank skips withheld excerpts (:func:`is_withheld`).
* ``consent_attributes``: their descriptive attributes may be shown. Without
  it, the per-person descriptive columns read as ``withheld``.
* ``consent_archive``: their (de-identified) transcript may be deposited;
  ``make share`` leaves it out of the shareable package without it.

A table without the flags (an older study) is read as all consenting only if
the study is synthetic; validation requires them for a restricted study.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = [
    "FLAGS",
    "WITHHELD",
    "typed",
    "ATTRIBUTES",
    "declined",
    "withhold_text",
    "is_withheld",
    "apply",
    "withheld_counts",
    "redact_participants",
]

FLAGS = ("consent_quotes", "consent_archive", "consent_attributes")
WITHHELD = "\u00b7"  # middle dot: plain text in every output format, not Markdown, HTML or typst syntax
ATTRIBUTES = (
    "age_band",
    "gender",
    "qualification",
    "profession_group",
    "frameworks",
    "years_with_population",
    "background",
    "interview_mode",
)
_LABEL = re.compile(r"^[^:\n]{1,42}: ", re.M)


def _flag(participants: pd.DataFrame, flag: str) -> pd.Series:
    if flag not in participants.columns:
        return pd.Series(True, index=participants.index)
    values = participants[flag]
    return values if values.dtype == bool else values.astype(str).str.lower().eq("true")


def typed(participants: pd.DataFrame) -> pd.DataFrame:
    """The consent columns as booleans (absent columns are left absent)."""
    out = participants.copy()
    for flag in FLAGS:
        if flag in out.columns and out[flag].dtype != bool:
            out[flag] = out[flag].astype(str).str.lower().eq("true")
    return out


def declined(participants: pd.DataFrame, flag: str) -> list[str]:
    """Participant ids whose ``flag`` is false, in table order."""
    return participants.loc[~_flag(participants, flag), "participant_id"].tolist()


def withhold_text(text: str) -> str:
    """Replace every non-space character outside the speaker labels by :data:`WITHHELD` (lengths kept)."""
    keep = [False] * len(text)
    for m in _LABEL.finditer(text):
        keep[m.start() : m.end()] = [True] * (m.end() - m.start())
    return "".join(c if k or c.isspace() else WITHHELD for c, k in zip(text, keep))


def is_withheld(excerpt: str) -> bool:
    """True for an excerpt whose text was withheld (nothing but the placeholder and white space)."""
    stripped = "".join(str(excerpt).split())
    return bool(stripped) and set(stripped) == {WITHHELD}


def redact_participants(participants: pd.DataFrame) -> pd.DataFrame:
    """Descriptive attributes of participants who did not consent to them read as ``withheld``."""
    out = participants.copy()
    mask = ~_flag(out, "consent_attributes")
    if mask.any():
        for col in ATTRIBUTES:
            if col in out.columns:
                out.loc[mask, col] = "withheld"
    return out


def apply(study):
    """The study as every analysis sees it: withheld text replaced, in transcripts and coding alike."""
    no_quotes = set(declined(study.participants, "consent_quotes"))
    if not no_quotes:
        return study
    transcripts = {pid: (withhold_text(text) if pid in no_quotes else text) for pid, text in study.transcripts.items()}
    coding = study.coding.copy()
    for i in coding.index[coding["participant_id"].isin(no_quotes)]:
        pid, start, end = coding.at[i, "participant_id"], int(coding.at[i, "start"]), int(coding.at[i, "end"])
        # Cut from the withheld transcript, so transcript[start:end] == excerpt still holds.
        text = transcripts.get(pid)
        coding.at[i, "excerpt"] = text[start:end] if text is not None else withhold_text(coding.at[i, "excerpt"])
    return type(study)(study.participants, coding, study.codebook, study.memos, transcripts)


def withheld_counts(coding: pd.DataFrame, participants: pd.DataFrame) -> tuple[int, int]:
    """(coded segments withheld from quotation, participants who declined quotation)."""
    no_quotes = declined(participants, "consent_quotes")
    return int(coding["participant_id"].isin(no_quotes).sum()), len(no_quotes)
