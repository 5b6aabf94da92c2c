"""The exercises across cases (T6, T7): group experiential themes, recurrence, and writing up with quotes.

As in :mod:`.case_exercises`: material, feedback that reads the answer
(``feedback_*``) and model answers (``answer_*``).
"""

from __future__ import annotations

import math

import pandas as pd

from ..cases import case_table
from ..data import Study
from ..paths import Paths
from ..themes import quote_bank, recurrence, theme_counts, theme_key
from . import feedback as fb
from .compare import md_text
from .exercise_tools import NOT_YET, answered, as_text, block_quote, find_segment, keep_answers, md_table, safe
from .parsing import parse_ids, parse_theme_ids
from .saved import load_groups, load_pets
from .students import resolve_student
from .text import Markdown, TutorialError, span_lines

__all__ = [
    "feedback_my_groups",
    "group_recurrence",
    "feedback_recurrence",
    "answer_recurrence",
    "all_case_tables",
    "theme_passages",
    "quote_reference",
    "woven_paragraph",
    "feedback_quotes",
    "answer_quotes",
    "feedback_paragraph",
]


# ------------------------------------------------------------------ T6 group experiential themes
@safe
def feedback_my_groups(student: str, study: Study, p: Paths | None = None) -> Markdown:
    """Feedback on the student's group themes: names, how many cases each draws on, PETs left out."""
    name = resolve_student(student, p)
    if not name:
        return Markdown("*No name set yet*, so no saved group themes to read: set your name in a workspace first.")
    groups, pets = load_groups(name, p), load_pets(name, p)
    cases = [pid for pid, t in pets.items() if t]
    if len(cases) < 2:
        return Markdown(
            f"*You have personal themes for {len(cases)} case(s).* A group theme draws on at least two: "
            "name the personal themes of a second case in T5 first."
        )
    if not groups:
        return Markdown(
            "*No group theme saved yet.* Tick personal themes of at least two cases, name what they "
            "share, and press **Save group theme**."
        )
    parts = []
    used = {(pid, n) for g in groups for pid, n in g["pets"]}
    for g in groups:
        verdict = fb.judge_name(g["name"], study, [n for _, n in g["pets"]])
        k = len({pid for pid, _ in g["pets"]})
        parts.append(f"- **{md_text(g['name'])}**, from {k} of your {len(cases)} cases: {verdict.text()}")
    left = [f"{pid}: {t['name']}" for pid in cases for t in pets[pid] if (pid, t["name"]) not in used]
    if left:
        parts.append(
            f"- Not in any group theme: {md_text('; '.join(left))}. A personal theme particular to one case "
            "is divergence: keep it for the write-up rather than forcing it into a group."
        )
    return Markdown("\n".join(parts))


def group_recurrence(study: Study, threshold: float) -> pd.DataFrame:
    """Recurrence of each codable theme across all cases, straight from ``coding.csv``."""
    counts = theme_counts(study.coding, study.codebook, study.participants)
    return recurrence(counts, study.codebook, threshold)


@safe
def feedback_recurrence(
    my_ids: object, study: Study, threshold: float, student: str = "", p: Paths | None = None
) -> Markdown:
    """Feedback on which themes a student thinks recur under a stricter rule ("1.2, 3.1" or a list)."""
    if not answered(my_ids):
        return Markdown(NOT_YET)
    mine = set(parse_theme_ids(my_ids))
    rec = group_recurrence(study, threshold)
    truth = set(rec.loc[rec["recurrent"], "theme_id"])
    unknown = sorted(mine - set(rec["theme_id"]), key=str)
    kept = keep_answers(student, "T6", p, recurrent=sorted(mine, key=theme_key))
    if unknown:
        return Markdown(f"{', '.join(unknown)} are not codable themes; use ids from the `theme_id` column." + kept)
    if mine == truth:
        return Markdown(f"These {len(truth)} themes are exactly the ones the counts put over the rule." + kept)
    extra, missing = sorted(mine - truth, key=theme_key), sorted(truth - mine, key=theme_key)
    parts = []
    if extra:
        parts.append(f"{', '.join(extra)} fall short of the rule: count the participants with at least one segment.")
    if missing:
        parts.append(f"{len(missing)} recurring theme(s) are missing from your list.")
    return Markdown(" ".join(parts) + kept)


def answer_recurrence(study: Study, threshold: float) -> Markdown:
    """Model answer for T6: which themes recur under a given rule, and which drop out."""
    rec = group_recurrence(study, threshold)
    n = len(study.participants)
    need = math.ceil(threshold * n - 1e-9)
    keep = rec[rec["recurrent"]]
    drop = rec[~rec["recurrent"]]
    table = rec[["theme_id", "theme", "present_in", "recurrent"]]
    return Markdown(
        f"With the rule 'present in at least {need} of {n} cases', {len(keep)} of {len(rec)} codable themes recur: "
        f"{', '.join(keep['theme_id'])}.\n\n{md_table(table)}\n\n"
        + (
            f"Dropping out: {', '.join(f'{r.theme_id} {r.theme} ({r.present_in} cases)' for r in drop.itertuples())}. "
            "A theme that does not recur is not thereby unimportant: report it as divergence, voiced strongly by a "
            "few."
            if len(drop)
            else "No theme drops out under this rule."
        )
    )


# ------------------------------------------------------------------ T7 writing up
def all_case_tables(study: Study) -> pd.DataFrame:
    """Every case's table (theme, statement, line-referenced excerpt) stacked, built in memory."""
    return pd.concat([case_table(study, pid) for pid in study.participants["participant_id"]], ignore_index=True)


def theme_passages(study: Study, theme_id: str) -> Markdown:
    """Every passage coded to a theme, in full, with its id, speaker, line and length: quotes to choose from."""
    segs = study.coding[study.coding["theme_id"] == theme_id]
    if segs.empty:
        raise TutorialError(f"no passages coded to theme {theme_id!r}. fix: use a codable theme id such as 3.1.2")
    parts = []
    for segment_id, pid, start, end, excerpt in zip(
        segs["segment_id"], segs["participant_id"], segs["start"], segs["end"], segs["excerpt"]
    ):
        text = study.transcripts[pid]
        parts.append(
            f"**{segment_id}**, {study.pseudonyms[pid]}, line "
            f"{span_lines(text, start, end)}, {len(excerpt.split())} words\n\n{block_quote(excerpt)}"
        )
    return Markdown("\n\n".join(parts))


def quote_reference(study: Study, segment_id: str) -> str:
    """A quote as it appears in a write-up: the words, then pseudonym and transcript lines."""
    seg = find_segment(study, segment_id)
    text = study.transcripts[seg.participant_id]
    return f'"{seg.excerpt}" ({study.pseudonyms[seg.participant_id]}, line {span_lines(text, seg.start, seg.end)})'


def woven_paragraph(study: Study, theme_id: str, segment_ids: list[str]) -> Markdown:
    """A write-up paragraph for one theme: claim, quote, interpretation, for each quote, then a link."""
    codebook = study.codebook.set_index("id")
    if theme_id not in codebook.index:
        raise TutorialError(f"theme {theme_id!r} is not in the codebook. fix: use an id such as 1.2")
    parts = [
        f"**{theme_id} {md_text(codebook.loc[theme_id, 'label'])}.** {md_text(codebook.loc[theme_id, 'definition'])}"
    ]
    for sid in segment_ids:
        seg = find_segment(study, sid)
        who = study.pseudonyms[seg.participant_id]
        parts.append(
            f"{who} put it this way:\n\n{block_quote(quote_reference(study, sid))}\n\n"
            f"Read closely, {md_text(seg.note_conceptual[0].lower() + seg.note_conceptual[1:])}"
        )
    voiced = study.coding.loc[study.coding["theme_id"] == theme_id, "participant_id"].nunique()
    parts.append(f"The theme was voiced by {voiced} of the {len(study.participants)} clinicians.")
    return Markdown("\n\n".join(parts))


@safe
def feedback_quotes(
    my_ids: object,
    study: Study,
    theme_id: str,
    min_words: int = 15,
    max_words: int = 90,
    student: str = "",
    p: Paths | None = None,
) -> Markdown:
    """Feedback on the quotes a student chose to illustrate a theme ("P01-S05, P03-S08" or a list)."""
    if not answered(my_ids):
        return Markdown(NOT_YET)
    ids = parse_ids(my_ids)
    parts = []
    owners = []
    for sid in ids:
        found = study.coding[study.coding["segment_id"] == sid]
        if found.empty:
            parts.append(f"- {sid}: not a segment id of coding.csv.")
            continue
        seg = found.iloc[0]
        owners.append(seg.participant_id)
        words = len(seg.excerpt.split())
        notes = []
        if seg.theme_id != theme_id:
            notes.append(f"coded to {seg.theme_id}, not {theme_id}: does it illustrate this theme?")
        if words < min_words:
            notes.append(f"{words} words, short: will a reader see the experience in it?")
        elif words > max_words:
            notes.append(f"{words} words, long: could you cut it to the part that carries the theme?")
        parts.append(
            f"- {sid} ({study.pseudonyms[seg.participant_id]}): "
            + (
                "; ".join(notes)
                or f"coded to this theme, {words} words; whether it shows the theme best is your judgement."
            )
        )
    if len(owners) > 1 and len(set(owners)) == 1:
        parts.append("- All from one clinician: quote more than one voice so the theme is shown to be shared.")
    return Markdown("\n".join(parts) + keep_answers(student, "T7", p, quotes=ids))


@safe
def feedback_paragraph(
    paragraph: str, study: Study, quotes: object = "", student: str = "", p: Paths | None = None
) -> Markdown:
    """Feedback on the student's written paragraph: its quotes, who and where, and how much is interpretation."""
    paragraph = as_text(paragraph, "paragraph")
    if not answered(paragraph):
        return Markdown(NOT_YET)
    ids = parse_ids(quotes) if answered(quotes) else []
    chosen = study.coding[study.coding["segment_id"].isin(ids)] if ids else study.coding
    verdict = fb.judge_paragraph(paragraph, chosen["excerpt"].tolist(), list(study.pseudonyms.values()), study)
    return Markdown(verdict.text("Paragraph") + keep_answers(student, "T7", p, paragraph=paragraph))


def answer_quotes(study: Study, theme_id: str, per_theme: int = 2) -> Markdown:
    """Model answer for T7: the quotes the study's fixed rule picks for a theme, woven into a paragraph."""
    bank = quote_bank(all_case_tables(study), study.participants, per_theme=per_theme)
    picked = bank[bank["theme_id"] == theme_id]
    if picked.empty:
        raise TutorialError(f"no quotes for theme {theme_id!r}. fix: use a codable theme id such as 3.1.2")
    return Markdown(
        f"The quote rule picks {', '.join(picked['segment_id'])} ({', '.join(picked['pseudonym'])}). Woven into a "
        f"paragraph:\n\n{woven_paragraph(study, theme_id, picked['segment_id'].tolist())}\n\n"
        "Each quote is introduced, given in the speaker's words with a line reference, then interpreted: the "
        "reader hears the participant and then the analyst, never a quote left to speak for itself."
    )
