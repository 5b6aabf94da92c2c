"""Counts in prose: number words, plural agreement and listings, in APA style.

One place decides how a count reads in a sentence, so that generated prose never says
"eight of the eight clinicians" or "From each of the first 2 participants". APA 7 spells
out numbers below 10 and writes digits from 10, except at the start of a sentence, where
every number is spelled out.

Examples
--------
>>> of_the(8, 8, "clinician")
'all eight clinicians'
>>> of_the(2, 8, "clinician")
'two of the eight clinicians'
>>> each_of(9, "theme")
'each of the nine themes'
>>> listing(["Amy", "Eric", "Susan"])
'Amy, Eric, and Susan'
"""

from __future__ import annotations

__all__ = ["number_word", "spelled", "plural", "count", "numbered", "of_the", "each_of", "listing", "capitalise"]

_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
# Plurals that adding "s" gets wrong, for the nouns the manuscript counts.
_IRREGULAR = {
    "analysis": "analyses",
    "person": "people",
    "child": "children",
    "category": "categories",
    "study": "studies",
    "is": "are",
    "was": "were",
    "has": "have",
}


def _check(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"a count must be a whole number of at least 0, not {n!r}")
    return n


def spelled(n: int) -> str:
    """Any count from 0 to 999 in words (for the start of a sentence).

    >>> spelled(0), spelled(14), spelled(42), spelled(300)
    ('zero', 'fourteen', 'forty-two', 'three hundred')
    """
    n = _check(n)
    if n >= 1000:
        raise ValueError(f"{n} is too large to spell out; rephrase so the sentence does not start with it")
    if n < 20:
        return _UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + (f"-{_UNITS[unit]}" if unit else "")
    hundreds, rest = divmod(n, 100)
    return f"{_UNITS[hundreds]} hundred" + (f" and {spelled(rest)}" if rest else "")


def number_word(n: int) -> str:
    """APA style inside a sentence: words below 10, digits from 10.

    >>> number_word(0), number_word(9), number_word(10)
    ('zero', 'nine', '10')
    """
    n = _check(n)
    return _UNITS[n] if n < 10 else str(n)


def capitalise(text: str) -> str:
    """Upper-case the first letter only (``str.capitalize`` would lower-case the rest)."""
    return text[:1].upper() + text[1:]


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """The noun (or verb) form that agrees with ``n``.

    >>> plural(1, "clinician"), plural(0, "clinician"), plural(2, "analysis"), plural(3, "was")
    ('clinician', 'clinicians', 'analyses', 'were')
    """
    if _check(n) == 1:
        return singular
    if plural_form is not None:
        return plural_form
    if singular in _IRREGULAR:
        return _IRREGULAR[singular]
    if singular.endswith(("s", "x", "sh", "ch")):
        return singular + "es"
    if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u"):
        return singular[:-1] + "ies"
    return singular + "s"


def count(n: int, noun: str, start: bool = False) -> str:
    """``n`` and its noun: "one clinician", "12 themes"; spelled out in full at the start of a sentence.

    >>> count(1, "clinician"), count(12, "theme"), count(12, "theme", start=True)
    ('one clinician', '12 themes', 'Twelve themes')
    """
    text = f"{spelled(n) if start else number_word(n)} {plural(n, noun)}"
    return capitalise(text) if start else text


def numbered(n: int, noun: str, plural_form: str | None = None) -> str:
    """``n`` in digits and its noun, for tool messages and reports: "1 segment", "12 segments".

    >>> numbered(1, "segment"), numbered(3, "category"), numbered(2, "analysis")
    ('1 segment', '3 categories', '2 analyses')
    """
    return f"{n} {plural(n, noun, plural_form)}"


def of_the(k: int, n: int, noun: str, start: bool = False) -> str:
    """``k`` out of a group of ``n``: "all eight clinicians", "both", "none of the", "two of the eight".

    >>> of_the(0, 8, "clinician"), of_the(1, 8, "clinician"), of_the(2, 2, "clinician")
    ('none of the eight clinicians', 'one of the eight clinicians', 'both clinicians')
    >>> of_the(1, 1, "clinician"), of_the(3, 8, "clinician", start=True)
    ('the one clinician', 'Three of the eight clinicians')
    """
    _check(k), _check(n)
    if k > n:
        raise ValueError(f"{k} of {n}: a part cannot be larger than the whole")
    word = spelled if start else number_word
    if n == 1:
        text = f"the one {noun}" if k == 1 else f"not the one {noun}"
    elif k == n:
        text = f"both {plural(n, noun)}" if n == 2 else f"all {word(n) if start else number_word(n)} {plural(n, noun)}"
    elif k == 0:
        text = f"none of the {number_word(n)} {plural(n, noun)}"
    else:
        text = f"{word(k)} of the {number_word(n)} {plural(n, noun)}"
    return capitalise(text) if start else text


def each_of(n: int, noun: str, start: bool = False) -> str:
    """Every member of a group of ``n``: "each of the nine themes", "the one theme", "both themes".

    >>> each_of(1, "theme"), each_of(2, "theme"), each_of(0, "theme")
    ('the one theme', 'both themes', 'no themes')
    """
    _check(n)
    if n == 0:
        text = f"no {plural(0, noun)}"
    elif n == 1:
        text = f"the one {noun}"
    elif n == 2:
        text = f"both {plural(2, noun)}"
    else:
        text = f"each of the {number_word(n)} {plural(n, noun)}"
    return capitalise(text) if start else text


def listing(items: list[str] | tuple[str, ...], conjunction: str = "and") -> str:
    """A list in running text with the serial comma APA asks for.

    >>> listing([]), listing(["Amy"]), listing(["Amy", "Eric"]), listing(["a", "b", "c"], "or")
    ('', 'Amy', 'Amy and Eric', 'a, b, or c')
    """
    items = [str(i) for i in items]
    if len(items) <= 2:
        return f" {conjunction} ".join(items)
    return ", ".join(items[:-1]) + f", {conjunction} {items[-1]}"
