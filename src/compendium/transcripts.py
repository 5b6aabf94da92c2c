"""Transcripts as text: lines, character offsets and coded spans, in one place.

A transcript is UTF-8 text, one speaker turn per line (``Speaker: words``),
ending with one newline. Coded segments point into it with character offsets
``start`` (inclusive) and ``end`` (exclusive); line numbers are 1-based. Every
module that turns offsets into lines, or checks that an excerpt is really where
its span says, uses the functions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .errors import Problem

__all__ = ["line_bounds", "line_of", "line_span", "check_spans"]


def line_bounds(text: str) -> list[tuple[int, int]]:
    """Character span ``(start, end)`` of each line, without its line break; line 1 is item 0.

    Examples
    --------
    >>> line_bounds("ab\\ncde\\n")
    [(0, 2), (3, 6)]
    >>> line_bounds("ab\\ncde")
    [(0, 2), (3, 6)]
    """
    bounds, start = [], 0
    for line in text.split("\n"):
        bounds.append((start, start + len(line)))
        start += len(line) + 1
    if text.endswith("\n"):
        bounds.pop()
    return bounds


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset.

    >>> line_of("ab\\ncde\\n", 4)
    2
    """
    return text.count("\n", 0, offset) + 1


def line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """First and last 1-based line numbers covered by ``text[start:end]``.

    >>> line_span("ab\\ncde\\nf\\n", 1, 6)
    (1, 2)
    """
    return line_of(text, start), line_of(text, max(start, end - 1))


def check_spans(
    rows: Iterable[Any], transcripts: Mapping[str, str], file: str = "coding.csv", first_row: int = 1
) -> list[Problem]:
    """Each segment's span lies inside its transcript and its excerpt equals the text there.

    ``rows`` are records with ``segment_id``, ``participant_id``, ``start``, ``end`` and
    ``excerpt`` (for example ``df.itertuples(index=False)``); segments of participants
    without a transcript, and offsets that are not whole numbers, are left to the checks
    that report those. Problems name ``file`` and the 1-based data row.

    >>> from types import SimpleNamespace as Row
    >>> ok = Row(segment_id="P01-S01", participant_id="P01", start=4, end=8, excerpt="kind")
    >>> check_spans([ok], {"P01": "Ann kind\\n"})
    []
    >>> bad = Row(segment_id="P01-S02", participant_id="P01", start=0, end=4, excerpt="kind")
    >>> print(check_spans([bad], {"P01": "Ann kind\\n"})[0].fix)
    the excerpt occurs at 4-8; set start/end to that
    """
    problems: list[Problem] = []
    for i, row in enumerate(rows, start=first_row):
        text = transcripts.get(row.participant_id)
        if text is None:
            continue
        try:
            start, end = int(row.start), int(row.end)
        except (TypeError, ValueError):
            continue  # type errors are reported by the table schema
        if not 0 <= start < end <= len(text):
            problems.append(
                Problem(
                    file,
                    f"segment {row.segment_id}: span {start}-{end} lies outside transcript "
                    f"{row.participant_id}.txt (0-{len(text)} characters).",
                    "recompute start/end as character offsets into the transcript (end exclusive)",
                    row=i,
                    column="end",
                )
            )
            continue
        found = text[start:end]
        if found != row.excerpt:
            where = text.find(row.excerpt)
            hint = (
                f"the excerpt occurs at {where}-{where + len(row.excerpt)}; set start/end to that"
                if where >= 0
                else "copy the excerpt exactly from the transcript, or correct the span"
            )
            at = next(
                (k for k, (a, b) in enumerate(zip(found, row.excerpt)) if a != b), min(len(found), len(row.excerpt))
            )
            lo = max(0, at - 15)
            problems.append(
                Problem(
                    file,
                    f"segment {row.segment_id}: the excerpt does not match the transcript at {start}-{end}; "
                    f"they first differ {at} characters in: transcript has ...{found[lo : at + 25]!r}..., excerpt has "
                    f"...{row.excerpt[lo : at + 25]!r}...",
                    hint,
                    row=i,
                    column="excerpt",
                )
            )
    return problems
