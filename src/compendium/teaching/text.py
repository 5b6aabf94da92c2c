"""Transcripts for reading and choosing passages: lines, character spans, phrases, key words in context.

A passage is chosen by line numbers and, optionally, a phrase inside those lines.
When the phrase occurs more than once there, the student says which occurrence
they mean (:func:`phrase_occurrences` lists them); the first one is never taken
silently.
"""

from __future__ import annotations

import re

import pandas as pd

from ..cases import format_lines
from ..data import SPEAKER_INTERVIEWER
from ..errors import CompendiumError
from ..transcripts import line_bounds, line_span

__all__ = [
    "MODES",
    "TutorialError",
    "Markdown",
    "check_mode",
    "line_bounds",
    "lines_to_span",
    "phrase_occurrences",
    "span_lines",
    "transcript_lines",
    "read_transcript",
    "keyword_in_context",
    "interviewer_lines",
    "participant_lines",
]

MODES = ("exercise", "solution")


class TutorialError(CompendiumError):
    """Something a student typed cannot be used (a line range, a phrase, a name, a parameter)."""


class Markdown(str):
    """Text that Jupyter shows as formatted Markdown (and as plain text everywhere else)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is "exercise" or "solution", else raise a :class:`TutorialError`."""
    if mode not in MODES:
        raise TutorialError(
            f"mode {mode!r} is not a tutorial mode.",
            fix='set mode to "exercise" (model answers behind a '
            'button) or "solution" (model answers shown) in the notebook\'s first code cell',
        )
    return mode


def _spoken(text: str, first: int, last: int) -> tuple[int, int]:
    """The spoken words of lines ``first``..``last`` (the first line's speaker label left out)."""
    bounds = line_bounds(text)
    n = len(bounds)
    if isinstance(first, bool) or isinstance(last, bool) or not isinstance(first, int) or not isinstance(last, int):
        raise TutorialError(f"lines {first!r}-{last!r} are not line numbers.", fix=f"give whole numbers from 1 to {n}")
    if not 1 <= first <= last <= n:
        raise TutorialError(
            f"lines {first}-{last} are not a passage of this transcript, which has lines 1-{n}.",
            fix=f"choose a first line from 1 to {n} and a last line at or after it",
        )
    start, first_end = bounds[first - 1]
    speaker, sep, _ = text[start:first_end].partition(": ")
    if sep:
        start += len(speaker) + len(sep)
    return start, bounds[last - 1][1]


def _pattern(phrase: str) -> re.Pattern[str] | None:
    words = " ".join(str(phrase).split())
    if not words:
        return None
    # Whole words only at the phrase's edges: "she" is not found inside "shed".
    left = r"\b" if re.match(r"\w", words) else ""
    right = r"\b" if re.search(r"\w$", words) else ""
    return re.compile(left + r"\s+".join(re.escape(w) for w in words.split()) + right, re.IGNORECASE)


def phrase_occurrences(text: str, first: int, last: int, phrase: str) -> list[tuple[int, int]]:
    """Every place the phrase occurs (as whole words) in lines ``first``..``last``, as character spans."""
    start, end = _spoken(text, first, last)
    pattern = _pattern(phrase)
    if pattern is None:
        return []
    return [(m.start(), m.end()) for m in pattern.finditer(text, start, end)]


def lines_to_span(text: str, first: int, last: int, phrase: str = "", occurrence: int | None = None) -> tuple[int, int]:
    """Character span of a passage chosen by line numbers and, optionally, a phrase inside them.

    Without a phrase the passage is the spoken words of lines ``first`` to ``last``
    (the speaker label of the first line is left out). With a phrase it is the
    place the phrase occurs in those lines; capital letters and runs of spaces do
    not matter. If the phrase occurs more than once, ``occurrence`` (1, 2, ...)
    says which; without it that is an error, never a silent first match.

    Examples
    --------
    >>> text = "Interviewer: Hi?\\nAnn: I am so kind to others.\\n"
    >>> lines_to_span(text, 2, 2)
    (22, 45)
    >>> text[slice(*lines_to_span(text, 2, 2, "SO kind"))]
    'so kind'
    """
    start, end = _spoken(text, first, last)
    words = " ".join(str(phrase).split())
    if not words:
        return start, end
    found = phrase_occurrences(text, first, last, words)
    where = f"line {first}" if first == last else f"lines {first}-{last}"
    if not found:
        raise TutorialError(
            f"the phrase {words!r} does not occur in {where}.",
            fix="copy the words exactly from the transcript "
            "(capital letters do not matter), choose the lines that hold them, or leave the phrase empty to code "
            "the whole lines",
        )
    if len(found) == 1 and occurrence in (None, 1):
        return found[0]
    if occurrence is None or not 1 <= int(occurrence) <= len(found):
        raise TutorialError(
            f"the phrase {words!r} occurs {len(found)} times in {where}.",
            fix=f"choose which one you mean (occurrence 1 to {len(found)}), or type more of the words around it",
        )
    return found[int(occurrence) - 1]


def span_lines(text: str, start: int, end: int) -> str:
    """Line reference of a span: '14' or '14-16'."""
    return format_lines(*line_span(text, start, end))


def transcript_lines(text: str, first: int = 1, last: int | None = None) -> pd.DataFrame:
    """Lines ``first`` to ``last`` of a transcript as a table: line number, speaker, what was said."""
    rows = []
    for number, (a, b) in enumerate(line_bounds(text), start=1):
        if number < first or (last is not None and number > last):
            continue
        speaker, _, said = text[a:b].partition(": ")
        rows.append({"line": number, "speaker": speaker, "text": said})
    return pd.DataFrame(rows, columns=["line", "speaker", "text"])


def participant_lines(text: str) -> list[int]:
    """Line numbers of the participant's turns (not the interviewer's)."""
    t = transcript_lines(text)
    return t.loc[t["speaker"] != SPEAKER_INTERVIEWER, "line"].tolist()


def interviewer_lines(text: str, start: int, end: int) -> list[int]:
    """Lines of the interviewer's that a span touches (IPA analyses the participant's words)."""
    first, last = line_span(text, start, end)
    t = transcript_lines(text, first, last)
    return t.loc[t["speaker"] == SPEAKER_INTERVIEWER, "line"].tolist()


def _escape_md(text: object) -> str:
    """Transcript words shown as text, never as Markdown or HTML."""
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", str(text))


def read_transcript(text: str, first: int = 1, last: int | None = None) -> Markdown:
    """Lines ``first`` to ``last`` for reading: line number, speaker in bold, the words in full."""
    t = transcript_lines(text, first, last)
    return Markdown(
        "\n\n".join(f"`{r.line:>2}` **{_escape_md(r.speaker)}:** {_escape_md(r.text)}" for r in t.itertuples())
    )


def keyword_in_context(text: str, word: str, width: int = 45) -> pd.DataFrame:
    """Every word that starts with ``word`` ("kind" finds kindness too), with ``width`` characters either side.

    Re-reading with one question in mind: where does the speaker use this word,
    and what surrounds it each time?
    """
    pattern = re.compile(r"\b" + re.escape(word.strip()) + r"\w*", re.IGNORECASE)
    rows = []
    for number, (a, b) in enumerate(line_bounds(text), start=1):
        line = text[a:b]
        speaker, sep, _ = line.partition(": ")
        said = len(speaker) + len(sep) if sep else 0
        for m in pattern.finditer(line, said):
            left = line[max(said, m.start() - width) : m.start()]
            right = line[m.end() : m.end() + width]
            rows.append(
                {
                    "line": number,
                    "speaker": speaker,
                    "left": ("..." if m.start() - width > said else "") + left,
                    "word": m.group(0),
                    "right": right + ("..." if m.end() + width < len(line) else ""),
                }
            )
    return pd.DataFrame(rows, columns=["line", "speaker", "left", "word", "right"])
