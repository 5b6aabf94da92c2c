"""What every exercise uses: reading an answer, keeping it, refusing in one line, showing passages and tables.

The feedback functions of :mod:`.case_exercises` and :mod:`.group_exercises`
are wrapped in :func:`safe` (a refusal is one line with its fix, never a
traceback) and keep non-empty answers through :func:`keep_answers`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import pandas as pd

from ..data import Study
from ..errors import CompendiumError
from ..paths import Paths, paths
from . import feedback as fb
from .compare import md_text
from .parsing import refusal
from .saved import save_answer
from .students import resolve_student
from .text import Markdown, TutorialError, span_lines

__all__ = [
    "NOT_YET",
    "answered",
    "as_text",
    "keep_answers",
    "safe",
    "find_segment",
    "theme_label",
    "theme_definition",
    "block_quote",
    "md_table",
    "verdict_list",
    "segment_card",
]

Answer = ParamSpec("Answer")

NOT_YET = "*Not answered yet.* Write your answer in the cell above, run it, then run this cell again."


def answered(value: object) -> bool:
    """Whether anything was written: not None, empty or only spaces."""
    return bool(value) and (not isinstance(value, str) or bool(value.strip()))


def as_text(value: object, what: str) -> str:
    """A written answer as text; anything else is refused in one line."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TutorialError(
            f"your {what} is a {type(value).__name__}, not text. fix: write it between quotation "
            f'marks, e.g. my_{what.split()[0]} = "..."'
        )
    return value


def keep_answers(student: str, tutorial: str, p: Paths | None = None, **answers: object) -> str:
    """Save the non-empty answers; return a short line saying where (or why not)."""
    given = {k: v for k, v in answers.items() if answered(v)}
    if not given:
        return ""
    try:
        name = resolve_student(student, p)
    except CompendiumError as err:
        return f"\n\n*Not saved:* {' '.join(str(err).split())}"
    if not name:
        return (
            "\n\n*Not saved: no name set yet.* Type your name in the box at the top of the notebook (or set "
            "`student` in the first code cell) to keep your answers in `student_work/`."
        )
    try:
        for key, value in given.items():
            path = save_answer(name, tutorial, key, value, p)
    except CompendiumError as err:
        return f"\n\n*Not saved:* {' '.join(str(err).split())}"
    shown = path.relative_to((p or paths()).root) if path.is_relative_to((p or paths()).root) else path
    return f"\n\n*Saved to `{shown}`.*"


def safe(func: Callable[Answer, Markdown]) -> Callable[Answer, Markdown]:
    """Feedback never raises at a student: a refusal is one line with its fix."""

    @functools.wraps(func)
    def wrapper(*args: Answer.args, **kwargs: Answer.kwargs) -> Markdown:
        try:
            return func(*args, **kwargs)
        except CompendiumError as err:
            return refusal(err)

    return wrapper


def find_segment(study: Study, segment_id: str) -> pd.Series:
    found = study.coding[study.coding["segment_id"] == segment_id]
    if found.empty:
        raise TutorialError(f"no segment {segment_id!r} in coding.csv. fix: use an id such as P01-S02")
    return found.iloc[0]


def theme_label(study: Study, theme_id: str) -> str:
    return dict(zip(study.codebook["id"], study.codebook["label"]))[theme_id]


def theme_definition(study: Study, theme_id: str) -> str:
    found = study.codebook.loc[study.codebook["id"] == theme_id]
    return str(found["definition"].iloc[0]) if len(found) and "definition" in found else ""


def block_quote(text: str) -> str:
    return "\n".join("> " + md_text(line) for line in str(text).split("\n"))


def md_table(df: pd.DataFrame) -> str:
    safe = df.copy()
    for c in safe.columns:
        if safe[c].dtype == object:
            safe[c] = safe[c].map(lambda v: md_text(v).replace("|", "\\|"))
    return safe.to_markdown(index=False, tablefmt="pipe")


def verdict_list(*pairs: tuple[str, fb.Verdict]) -> str:
    return "\n".join(f"- {v.text(label)}" for label, v in pairs)


def segment_card(
    study: Study, segment_id: str, notes: bool = False, statement: bool = False, theme: bool = False
) -> Markdown:
    """One coded passage as Markdown: who, where, the words; optionally its notes, statement and theme."""
    seg = find_segment(study, segment_id)
    text = study.transcripts[seg.participant_id]
    who = study.pseudonyms[seg.participant_id]
    parts = [
        f"**{segment_id}**, {who} ({seg.participant_id}), line {span_lines(text, seg.start, seg.end)}",
        block_quote(seg.excerpt),
    ]
    if notes:
        parts.append(
            f"- *Descriptive:* {md_text(seg.note_descriptive)}\n- *Linguistic:* {md_text(seg.note_linguistic)}"
            f"\n- *Conceptual:* {md_text(seg.note_conceptual)}"
        )
    if statement:
        parts.append(f"**Experiential statement:** {md_text(seg.experiential_statement)}")
    if theme:
        parts.append(f"**Theme:** {seg.theme_id} {md_text(theme_label(study, seg.theme_id))}")
    return Markdown("\n\n".join(parts))
