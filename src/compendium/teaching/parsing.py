"""Reading a student's answer forgivingly, and refusing it in one line with a fix.

Plain strings such as ``"14, 16-18"`` or ``"P01-S05 p1-s6"`` work as well as
Python lists (:func:`parse_lines`, :func:`parse_ids`, :func:`parse_theme_ids`,
:func:`parse_clusters`); what cannot be used raises a
:class:`~compendium.teaching.text.TutorialError` that :func:`refusal` shows as
one line, never a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import cast

from ..errors import CompendiumError
from .text import Markdown, TutorialError

__all__ = ["refusal", "parse_lines", "parse_ids", "parse_theme_ids", "parse_clusters"]


def refusal(err: CompendiumError | str) -> Markdown:
    """A refusal as one line with its fix (no traceback)."""
    text = " ".join(str(err).split())
    return Markdown(f"**I can't read that answer yet:** {text}")


def _items(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [x for x in re.split(r"[,;\s]+", value.strip()) if x]
    if isinstance(value, dict):
        raise TutorialError(
            'expected a list, got a dict. fix: write the items separated by commas, for example "14, 16"'
        )
    if isinstance(value, (int, float)):
        return [str(value)]
    try:
        # Any other value is tried as an iterable; one that is not raises TypeError, refused below.
        return [str(x).strip() for x in cast(Iterable[object], value) if str(x).strip()]
    except TypeError:
        raise TutorialError(f"{value!r} is not a list. fix: write the items separated by commas") from None


def parse_lines(value: object) -> list[int]:
    """Line numbers from ``"14, 16-18"``, ``[14, "16"]`` or ``14``; sorted, without repeats."""
    out: set[int] = set()
    text = ",".join(_items(value)) if not isinstance(value, str) else value
    text = re.sub(r"\s*(?:[-\u2013]|\bto\b)\s*", "-", text.strip())
    for part in re.split(r"[,;\s]+", text):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)-(\d+)", part) or re.fullmatch(r"(\d+)(?:\.0)?", part)
        if not m:
            raise TutorialError(
                f"{part!r} is not a line number. fix: type line numbers separated by commas, "
                'ranges with a dash, for example "14, 16-18"'
            )
        a = int(m.group(1))
        b = int(m.group(2)) if m.lastindex == 2 else a
        if b < a:
            raise TutorialError(f'the range {part!r} runs backwards. fix: write the lower line first, e.g. "{b}-{a}"')
        out.update(range(a, b + 1))
    return sorted(out)


ID = re.compile(r"p\s*0*(\d{1,3})\s*[-_ ]?\s*([su])\s*0*(\d{1,3})", re.IGNORECASE)


def parse_ids(value: object) -> list[str]:
    """Segment ids from ``"P01-S05, p1-s6"`` or a list: upper case, two-digit parts, in the order given."""
    if value is None:
        return []
    text = value if isinstance(value, str) else " , ".join(_items(value))
    found, rest = [], text
    for m in ID.finditer(text):
        found.append(f"P{int(m.group(1)):02d}-{m.group(2).upper()}{int(m.group(3)):02d}")
        rest = rest.replace(m.group(0), " ", 1)
    left = [x for x in re.split(r"[,;\s\[\]'\"]+", rest) if x]
    if left:
        raise TutorialError(
            f"{left[0]!r} is not a segment id. fix: type ids as they appear in the table, "
            'separated by commas, for example "P01-S05, P01-S06"'
        )
    return list(dict.fromkeys(found))


def parse_theme_ids(value: object) -> list[str]:
    """Theme ids from ``"1.2, 3.1"`` or a list (``[1.2, "3.1"]`` works too)."""
    out = []
    for item in _items(value):
        item = item.strip("'\"[]() ")
        if not item:
            continue
        if not re.fullmatch(r"\d+(\.\d+)*", item):
            raise TutorialError(
                f"{item!r} is not a theme id. fix: type ids from the theme_id column separated by "
                'commas, for example "1.2, 3.1"'
            )
        out.append(item)
    return list(dict.fromkeys(out))


def parse_clusters(value: object) -> dict[str, list[str]]:
    """Clusters from a dict ``{"name": [ids]}`` or lines of text ``name: P01-U01, P01-U02``."""
    if not value:
        return {}
    if isinstance(value, dict):
        return {" ".join(str(k).split()): parse_ids(v) for k, v in value.items()}
    if not isinstance(value, str):
        raise TutorialError(
            'clusters are one per line, "name: ids". fix: write for example\n'
            '"Kindness feels like betrayal: P01-U01, P01-U03"'
        )
    out: dict[str, list[str]] = {}
    for number, line in enumerate(value.strip().splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, ids = line.rpartition(":")
        if not sep or not name.strip():
            raise TutorialError(
                f"line {number} ({line.strip()!r}) has no name before a colon. fix: write "
                '"name of the cluster: P01-U01, P01-U02"'
            )
        out[" ".join(name.split())] = parse_ids(ids)
    return out
