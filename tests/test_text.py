"""Number words, agreement and listings (compendium.text), on the edge cases 0, 1 and all."""

from __future__ import annotations

import pytest

from compendium import text


@pytest.mark.parametrize(
    ("k", "n", "expected"),
    [
        (0, 8, "none of the eight clinicians"),
        (1, 8, "one of the eight clinicians"),
        (2, 8, "two of the eight clinicians"),
        (7, 8, "seven of the eight clinicians"),
        (8, 8, "all eight clinicians"),
        (2, 2, "both clinicians"),
        (1, 1, "the one clinician"),
        (0, 1, "not the one clinician"),
        (3, 12, "three of the 12 clinicians"),
        (12, 12, "all 12 clinicians"),
    ],
)
def test_of_the(k: int, n: int, expected: str) -> None:
    assert text.of_the(k, n, "clinician") == expected


def test_of_the_at_the_start_of_a_sentence_spells_every_number() -> None:
    assert text.of_the(12, 15, "theme", start=True) == "Twelve of the 15 themes"
    assert text.of_the(9, 9, "theme", start=True) == "All nine themes"


def test_of_the_refuses_a_part_larger_than_the_whole() -> None:
    with pytest.raises(ValueError, match="cannot be larger"):
        text.of_the(9, 8, "clinician")


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "no themes"),
        (1, "the one theme"),
        (2, "both themes"),
        (9, "each of the nine themes"),
        (11, "each of the 11 themes"),
    ],
)
def test_each_of(n: int, expected: str) -> None:
    assert text.each_of(n, "theme") == expected


@pytest.mark.parametrize(
    ("n", "expected"), [(0, "zero clinicians"), (1, "one clinician"), (2, "two clinicians"), (10, "10 clinicians")]
)
def test_count(n: int, expected: str) -> None:
    assert text.count(n, "clinician") == expected
    assert text.count(n, "clinician", start=True) == expected.replace("10", "ten").capitalize()


@pytest.mark.parametrize(
    ("n", "singular", "expected"),
    [
        (0, "analysis", "analyses"),
        (1, "analysis", "analysis"),
        (2, "category", "categories"),
        (2, "day", "days"),
        (2, "box", "boxes"),
        (2, "was", "were"),
        (1, "was", "was"),
        (3, "person", "people"),
    ],
)
def test_plural(n: int, singular: str, expected: str) -> None:
    assert text.plural(n, singular) == expected


def test_plural_with_an_explicit_form() -> None:
    assert text.plural(2, "criterion", "criteria") == "criteria"
    assert text.plural(1, "criterion", "criteria") == "criterion"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([], ""),
        (["Amy"], "Amy"),
        (["Amy", "Eric"], "Amy and Eric"),
        (["Amy", "Eric", "Susan"], "Amy, Eric, and Susan"),
    ],
)
def test_listing(items: list[str], expected: str) -> None:
    assert text.listing(items) == expected


@pytest.mark.parametrize(("n", "word"), [(0, "zero"), (1, "one"), (9, "nine"), (10, "10"), (42, "42")])
def test_number_word_is_apa(n: int, word: str) -> None:
    assert text.number_word(n) == word


@pytest.mark.parametrize(
    ("n", "word"),
    [(13, "thirteen"), (20, "twenty"), (21, "twenty-one"), (100, "one hundred"), (115, "one hundred and fifteen")],
)
def test_spelled(n: int, word: str) -> None:
    assert text.spelled(n) == word


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_counts_must_be_whole_numbers(bad: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        text.number_word(bad)  # type: ignore[arg-type]


def test_descriptives_uses_the_same_number_words() -> None:
    from compendium import descriptives

    assert [descriptives.number_word(n) for n in (0, 5, 12)] == [text.number_word(n) for n in (0, 5, 12)]
