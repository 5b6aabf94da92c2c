"""A student's reading beside the study's: passages, personal themes and group themes, as discussion.

Nothing here is a score. The study's coding is one analyst's reading; the
comparison shows where two readings meet (their passages overlap), what only
one of them noticed, and how the student's own themes sit against the study's,
so the student can argue for a difference rather than correct it away.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from ..cases import case_segments, check_participant
from ..data import Study
from ..paths import Paths
from ..themes import theme_key
from .saved import load_groups, load_pets
from .students import load_student_coding, student_file
from .text import Markdown, span_lines

__all__ = [
    "OUTCOMES",
    "Passage",
    "passages",
    "compare_coding",
    "comparison_summary",
    "study_themes_of",
    "compare_pets",
    "compare_groups",
    "md_text",
]

OUTCOMES = ("both read this", "only you", "only the study")


def md_text(text: object) -> str:
    """Student or transcript text shown inside Markdown as text (no emphasis, links or HTML)."""
    import re

    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", " ".join(str(text).split()))


def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3].rsplit(" ", 1)[0] + "..."


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return min(a[1], b[1]) - max(a[0], b[0])


class Passage(NamedTuple):
    """One row of a coding table (the study's or a student's), with the columns the comparisons read, typed."""

    segment_id: str
    participant_id: str
    start: int
    end: int
    excerpt: str
    theme_id: str
    experiential_statement: str

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)


def passages(coding: pd.DataFrame) -> list[Passage]:
    """The rows of a coding table as :class:`Passage` records, in table order.

    Examples
    --------
    >>> row = {"segment_id": "P01-U01", "participant_id": "P01", "start": 10, "end": 42, "excerpt": "words",
    ...        "theme_id": "", "experiential_statement": "Rest as desertion", "analyst": "student"}
    >>> [(p.segment_id, p.span, p.experiential_statement) for p in passages(pd.DataFrame([row]))]
    [('P01-U01', (10, 42), 'Rest as desertion')]
    >>> passages(pd.DataFrame(columns=list(row)))
    []
    """
    return [
        Passage(
            segment_id=str(r["segment_id"]),
            participant_id=str(r["participant_id"]),
            start=int(r["start"]),
            end=int(r["end"]),
            excerpt=str(r["excerpt"]),
            theme_id=str(r["theme_id"]),
            experiential_statement=str(r["experiential_statement"]),
        )
        for r in coding.to_dict("records")
    ]


def compare_coding(student: pd.DataFrame, study: Study, participants: list[str] | None = None) -> pd.DataFrame:
    """Passage by passage: where the student's passages meet the study's (``coding.csv``) and where not.

    Two passages meet when their character spans overlap ("both read this"); a
    student passage that meets none is "only you"; a study passage that meets
    none is "only the study". ``covered`` is the share of the study's passage
    inside the student's. Only the participants the student has coded are
    compared unless ``participants`` is given.
    """
    pids = participants if participants is not None else sorted({str(pid) for pid in student["participant_id"]})
    rows = []
    for pid in pids:
        text = study.transcripts[pid]
        mine = passages(student[student["participant_id"] == pid])
        theirs = passages(study.coding[study.coding["participant_id"] == pid])
        met: set[str] = set()
        for s in mine:
            hits = [t for t in theirs if _overlap(s.span, t.span) > 0]
            if not hits:
                rows.append(
                    {
                        "participant_id": pid,
                        "lines": span_lines(text, s.start, s.end),
                        "outcome": "only you",
                        "your_segment": s.segment_id,
                        "your_statement": s.experiential_statement,
                        "study_segment": "",
                        "study_statement": "",
                        "study_theme": "",
                        "covered": 0.0,
                        "excerpt": _shorten(s.excerpt),
                        "_pos": s.start,
                        "feedback": "The study left this passage uncoded. Keep it if you can say how it speaks "
                        "to the research question.",
                    }
                )
            for t in hits:
                met.add(t.segment_id)
                shared = _overlap(s.span, t.span)
                note = (
                    "You and the study both read this passage. Put your statement beside the study's: what "
                    "does each notice, and which is closer to the speaker's experience?"
                )
                if not s.experiential_statement:
                    note = "You and the study both read this passage; write your own statement before reading theirs."
                rows.append(
                    {
                        "participant_id": pid,
                        "lines": span_lines(text, min(s.start, t.start), max(s.end, t.end)),
                        "outcome": "both read this",
                        "your_segment": s.segment_id,
                        "your_statement": s.experiential_statement,
                        "study_segment": t.segment_id,
                        "study_statement": t.experiential_statement,
                        "study_theme": t.theme_id,
                        "covered": round(shared / (t.end - t.start), 2),
                        "excerpt": _shorten(text[max(s.start, t.start) : min(s.end, t.end)]),
                        "_pos": min(s.start, t.start),
                        "feedback": note,
                    }
                )
        for t in theirs:
            if t.segment_id not in met:
                rows.append(
                    {
                        "participant_id": pid,
                        "lines": span_lines(text, t.start, t.end),
                        "outcome": "only the study",
                        "your_segment": "",
                        "your_statement": "",
                        "study_segment": t.segment_id,
                        "study_statement": t.experiential_statement,
                        "study_theme": t.theme_id,
                        "covered": 0.0,
                        "excerpt": _shorten(t.excerpt),
                        "_pos": t.start,
                        "feedback": "The study coded this passage; you have not (yet). Did you pass over it, or "
                        "does it not speak to the question for you?",
                    }
                )
    columns = [
        "participant_id",
        "lines",
        "outcome",
        "your_segment",
        "your_statement",
        "study_segment",
        "study_statement",
        "study_theme",
        "covered",
        "excerpt",
        "feedback",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows).sort_values(["participant_id", "_pos", "study_segment"], kind="stable")
    return out[columns].reset_index(drop=True)


def comparison_summary(comparison: pd.DataFrame) -> Markdown:
    """A few sentences on a comparison: what both read, what only one side coded."""
    if comparison.empty:
        return Markdown("Nothing to compare yet: code a passage first.")
    n = comparison["outcome"].value_counts()
    yours = comparison.loc[comparison["your_segment"] != "", "your_segment"].nunique()
    return Markdown(
        f"You coded {_count(yours, 'passage')}. {_count(n.get('both read this', 0), 'time')} your passage meets one "
        f"of the study's; {_count(n.get('only you', 0), 'passage')} only you coded, "
        f"{_count(n.get('only the study', 0), 'passage')} only the study coded. This is one analyst's reading "
        "beside yours, not a marking scheme: in IPA two careful readers notice different things, and a difference "
        "you can argue for is a finding, not a mistake."
    )


def _label(study: Study, theme_id: str) -> str:
    return dict(zip(study.codebook["id"], study.codebook["label"])).get(theme_id, theme_id)


def study_themes_of(study: Study, participant: str, spans: list[tuple[int, int]]) -> list[str]:
    """The study's themes (ids) of the study passages that overlap any of the given spans, in codebook order."""
    segs = passages(study.coding[study.coding["participant_id"] == participant])
    found = {t.theme_id for t in segs for s in spans if _overlap(s, t.span) > 0}
    return sorted(found, key=theme_key)


def compare_pets(student: str, study: Study, participant: str, p: Paths | None = None) -> Markdown:
    """The student's personal experiential themes for one case beside the study's, as questions to discuss."""
    check_participant(study, participant)
    coding = load_student_coding(student_file(student, p), study)
    mine = coding[coding["participant_id"] == participant].set_index("segment_id")
    pets = load_pets(student, p).get(participant, [])
    who = study.pseudonyms[participant]
    parts = []
    if not pets:  # the study's reading comes only after the student's own
        return Markdown(
            f"*You have not named a personal experiential theme for {who} yet.* Name yours first: the "
            "study's reading is shown once you have one of your own to set beside it."
        )
    for pet in pets:
        ids = [i for i in pet["segments"] if i in mine.index]
        spans = [(int(mine.loc[i, "start"]), int(mine.loc[i, "end"])) for i in ids]
        met = study_themes_of(study, participant, spans)
        statements = "; ".join(md_text(mine.loc[i, "experiential_statement"]) for i in ids)
        if not met:
            relation = (
                "None of its passages is coded by the study: a theme of your own reading. What did you "
                "hear that the study did not?"
            )
        elif len(met) == 1:
            relation = (
                f"Its passages sit in the study's theme {met[0]} {md_text(_label(study, met[0]))}. Do your "
                "name and the study's say the same thing, or does yours catch a different side?"
            )
        else:
            relation = (
                "Its passages spread over the study's themes "
                + ", ".join(f"{t} {md_text(_label(study, t))}" for t in met)
                + ". Is there a thread the study split, or would the study's division sharpen yours?"
            )
        parts.append(f"- **{md_text(pet['name'])}** ({_count(len(ids), 'statement')}: {statements}). {relation}")
    segs = case_segments(study, participant)
    by_theme = {str(tid): passages(g) for tid, g in segs.groupby("theme_id")}
    rows = []
    for tid in sorted(by_theme, key=theme_key):
        g = by_theme[tid]
        rows.append(
            f"- {tid} {md_text(_label(study, tid))} ({len(g)}): "
            + "; ".join(f"{r.segment_id} {md_text(r.experiential_statement)}" for r in g)
        )
    parts.append(
        f"\n**One analyst's reading:** the study grouped {who}'s {len(segs)} statements into {len(rows)} "
        "personal experiential themes, named with the labels they later took in the group analysis:\n\n"
        + "\n".join(rows)
    )
    parts.append(
        "\nRead the two side by side. Where you and the analyst cluster differently, neither is simply "
        "wrong: say which reading stays closer to what the participant meant, and why."
    )
    return Markdown("\n".join(parts))


def compare_groups(student: str, study: Study, p: Paths | None = None) -> Markdown:
    """The student's group experiential themes beside the study's: convergence, divergence, recurrence."""
    groups = load_groups(student, p)
    pets = load_pets(student, p)
    coding = load_student_coding(student_file(student, p), study).set_index("segment_id")
    n_cases = sum(1 for pid in pets if pets[pid])
    parts = []
    if not groups:  # the study's group themes come only after the student's own
        return Markdown(
            "*You have not built a group theme yet.* Build yours first: the study's group themes are "
            "shown once you have one of your own to set beside them."
        )
    for g in groups:
        cases = sorted({pid for pid, _ in g["pets"]})
        met: set[str] = set()
        for pid, name in g["pets"]:
            pet = next((t for t in pets.get(pid, []) if t["name"] == name), None)
            if pet is None:
                continue
            spans = [
                (int(coding.loc[i, "start"]), int(coding.loc[i, "end"])) for i in pet["segments"] if i in coding.index
            ]
            met.update(study_themes_of(study, pid, spans))
        who = ", ".join(study.pseudonyms.get(c, c) for c in cases)
        pets_shown = "; ".join(f"{pid}: {md_text(name)}" for pid, name in g["pets"])
        line = (
            f"- **{md_text(g['name'])}** gathers {pets_shown}. It recurs in {len(cases)} of the {n_cases} cases "
            f"you analysed ({who})."
        )
        if met:
            line += (
                " Its passages meet the study's themes "
                + ", ".join(f"{t} {md_text(_label(study, t))}" for t in sorted(met, key=theme_key))
                + ": where do you converge with the study, and where does your name say something else?"
            )
        else:
            line += (
                " None of its passages is coded by the study: a divergence worth discussing. Is this a pattern "
                "the study missed, or something outside the research question?"
            )
        parts.append(line)
    rows = []
    labels = {str(tid): str(label) for tid, label in zip(study.codebook["id"], study.codebook["label"])}
    for tid in sorted(labels, key=theme_key):
        voiced = study.coding.loc[study.coding["theme_id"].astype(str).str.startswith(tid), "participant_id"].nunique()
        depth = tid.count(".")
        rows.append(f"{'  ' * depth}- {tid} {md_text(labels[tid])} (voiced by {voiced} of {len(study.participants)})")
    parts.append(
        "\n**One analyst's reading:** the study's group experiential themes across all eight cases:\n\n"
        + "\n".join(rows)
    )
    parts.append(
        "\nConvergence and divergence run both ways: a theme the study found in many cases may be thin in "
        "the cases you read, and a theme of yours may be particular to them. Say what each reading shows "
        "that the other does not."
    )
    return Markdown("\n".join(parts))
