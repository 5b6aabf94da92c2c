"""Known-answer tests for :mod:`compendium.descriptives` on a hand-made four-person sample."""

from __future__ import annotations

import pandas as pd
import pytest

from compendium.descriptives import (
    SENSITIVE,
    TABLE1_COLUMNS,
    aggregate_counts,
    duration_stats,
    number_word,
    sample_values,
    suppress_small,
    table1,
)
from compendium.errors import CompendiumError

COLUMNS = [
    "participant_id",
    "pseudonym",
    "age_band",
    "gender",
    "qualification",
    "profession_group",
    "frameworks",
    "years_with_population",
    "background",
    "parent_mental_illness",
    "own_mental_health_challenges",
    "interview_mode",
    "interview_month",
    "duration_min",
    "member_check",
    "voucher_donated",
]
ROWS = [
    (
        "P01",
        "Ann",
        "36–45",
        "Woman",
        "Clinical psychologist",
        "Psychologist",
        "CBT, ACT",
        "5–10",
        "White Australian",
        False,
        True,
        "Video call",
        "2020-12",
        49,
        "none",
        False,
    ),
    (
        "P02",
        "Ben",
        "26–35",
        "Man",
        "Occupational therapist",
        "Occupational therapist",
        "ACT",
        "20+",
        "Migrated, Asian",
        True,
        False,
        "Telephone",
        "2021-03",
        71,
        "email reflection",
        True,
    ),
    (
        "P03",
        "Cy",
        "36–45",
        "Woman",
        "Psychologist & family therapist",
        "Psychologist",
        "Narrative",
        "20+",
        "Migrated, white European",
        False,
        True,
        "Video call",
        "2020-11",
        55,
        "none",
        False,
    ),
    (
        "P04",
        "Dee",
        "56–65",
        "Woman",
        "Mental health social worker & family therapist",
        "Social worker",
        "IFS",
        "5–10",
        "White Australian",
        False,
        False,
        "In person",
        "2021-05",
        63,
        "transcript edited",
        False,
    ),
]


def sample() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=COLUMNS)


# ---------------------------------------------------------------------------- Table 1


def test_table1_columns_and_order() -> None:
    t = table1(sample())
    assert t.columns.tolist() == [
        "Pseudonym",
        "Age band",
        "Gender",
        "Qualification",
        "Predominant framework(s)",
        "Years with population",
    ]
    assert t["Pseudonym"].tolist() == ["Ann", "Ben", "Cy", "Dee"]  # participants order
    assert t.iloc[1].tolist() == ["Ben", "26–35", "Man", "Occupational therapist", "ACT", "20+"]


def test_table1_never_shows_sensitive_attributes() -> None:
    t = table1(sample())
    assert not set(t.columns) & (set(SENSITIVE) | set(SENSITIVE.values()))
    assert "duration_min" not in t.columns and "participant_id" not in t.columns
    assert len(TABLE1_COLUMNS) == 6


def test_table1_index_is_reset() -> None:
    t = table1(sample().iloc[[3, 1]])
    assert t.index.tolist() == [0, 1]
    assert t["Pseudonym"].tolist() == ["Dee", "Ben"]


# ---------------------------------------------------------------------------- durations


def test_duration_stats_known_answer_with_sample_sd() -> None:
    # mean 59.5; squared deviations 110.25 + 132.25 + 20.25 + 12.25 = 275; sample SD sqrt(275 / 3) = 9.574
    # (the population SD would be sqrt(275 / 4) = 8.29); median (55 + 63) / 2 = 59
    assert duration_stats(pd.Series([49, 71, 55, 63])) == {
        "n": 4,
        "min": 49,
        "max": 71,
        "mean": 59.5,
        "sd": 9.57,
        "median": 59.0,
        "total": 238,
    }


def test_duration_stats_odd_count_and_types() -> None:
    stats = duration_stats(pd.Series([50, 60, 70]))
    assert stats == {"n": 3, "min": 50, "max": 70, "mean": 60.0, "sd": 10.0, "median": 60.0, "total": 180}
    assert isinstance(stats["min"], int) and isinstance(stats["total"], int) and isinstance(stats["mean"], float)


# ---------------------------------------------------------------------------- aggregates

EXPECTED_COUNTS = [
    ("profession_group", "Occupational therapist", 1, False),
    ("profession_group", "Psychologist", 2, False),
    ("profession_group", "Social worker", 1, False),
    ("qualification", "Clinical psychologist", 1, False),
    ("qualification", "Mental health social worker & family therapist", 1, False),
    ("qualification", "Occupational therapist", 1, False),
    ("qualification", "Psychologist & family therapist", 1, False),
    ("gender", "Man", 1, False),
    ("gender", "Woman", 3, False),
    ("age_band", "26–35", 1, False),
    ("age_band", "36–45", 2, False),
    ("age_band", "56–65", 1, False),
    ("years_with_population", "20+", 2, False),
    ("years_with_population", "5–10", 2, False),
    ("interview_mode", "In person", 1, False),
    ("interview_mode", "Telephone", 1, False),
    ("interview_mode", "Video call", 2, False),
    ("background", "Migrated, Asian", 1, True),
    ("background", "Migrated, white European", 1, True),
    ("background", "White Australian", 2, True),
    ("parent_mental_illness", "No", 3, True),
    ("parent_mental_illness", "Yes", 1, True),
    ("own_mental_health_challenges", "No", 2, True),
    ("own_mental_health_challenges", "Yes", 2, True),
    ("member_check", "email reflection", 1, True),
    ("member_check", "none", 2, True),
    ("member_check", "transcript edited", 1, True),
    ("voucher_donated", "No", 3, True),
    ("voucher_donated", "Yes", 1, True),
]


def test_aggregate_counts_known_answer() -> None:
    agg = aggregate_counts(sample())
    assert agg.columns.tolist() == ["attribute", "column", "category", "n", "sensitive"]
    assert [tuple(r) for r in agg[["column", "category", "n", "sensitive"]].values.tolist()] == EXPECTED_COUNTS
    assert agg.loc[agg["column"] == "parent_mental_illness", "attribute"].unique().tolist() == [
        "Parent with a mental illness"
    ]


def test_aggregate_counts_add_up_to_the_sample() -> None:
    agg = aggregate_counts(sample())
    assert (agg.groupby("column")["n"].sum() == 4).all()


# ---------------------------------------------------------------------------- suppression


def test_suppress_small_hides_only_small_sensitive_groups() -> None:
    shown = suppress_small(aggregate_counts(sample()), 3)
    assert shown.columns.tolist() == ["attribute", "category", "n"]
    n = dict(zip(zip(shown["attribute"], shown["category"]), shown["n"]))
    assert n[("Background", "Migrated, Asian")] == "< 3"
    assert n[("Background", "White Australian")] == "< 3"
    assert n[("Parent with a mental illness", "No")] == "3"  # exactly at the threshold: shown
    assert n[("Parent with a mental illness", "Yes")] == "< 3"
    assert n[("Gender", "Man")] == "1"  # public attribute: never suppressed
    assert n[("Qualification", "Clinical psychologist")] == "1"
    assert all(isinstance(v, str) for v in shown["n"])


@pytest.mark.parametrize(
    "threshold, expected",
    [
        (1, ["1", "2", "3", "1", "5"]),
        (2, ["< 2", "2", "3", "1", "5"]),
        (3, ["< 3", "< 3", "3", "1", "5"]),
        (6, ["< 6", "< 6", "< 6", "1", "< 6"]),
    ],
)
def test_suppress_small_threshold(threshold: int, expected: list[str]) -> None:
    counts = pd.DataFrame(
        {
            "attribute": ["B", "B", "B", "G", "B"],
            "category": ["a", "b", "c", "d", "e"],
            "n": [1, 2, 3, 1, 5],
            "sensitive": [True, True, True, False, True],
        }
    )
    assert suppress_small(counts, threshold)["n"].tolist() == expected


def test_suppress_small_default_threshold_is_three() -> None:
    counts = pd.DataFrame({"attribute": ["B", "B"], "category": ["x", "y"], "n": [2, 3], "sensitive": [True, True]})
    assert suppress_small(counts)["n"].tolist() == ["< 3", "3"]


@pytest.mark.parametrize("threshold", [0, -1])
def test_suppress_small_threshold_below_one_is_refused(threshold: int) -> None:
    counts = aggregate_counts(sample())
    with pytest.raises((ValueError, CompendiumError), match="at least 1"):
        suppress_small(counts, threshold)


def test_suppress_small_threshold_error_speaks_to_a_researcher() -> None:
    """``small_group_threshold`` is a notebook parameter: a bad value is a researcher's error (house rule)."""
    with pytest.raises(CompendiumError):
        suppress_small(aggregate_counts(sample()), 0)


# ---------------------------------------------------------------------------- sample values


def test_sample_values_known_answer() -> None:
    assert sample_values(sample()) == {
        "n": 4,
        "durations": {"n": 4, "min": 49, "max": 71, "mean": 59.5, "sd": 9.57, "median": 59.0, "total": 238},
        "women": 3,
        "men": 1,
        "psychologists": 2,
        "clinical_psychologists": 1,
        "occupational_therapists": 1,
        "social_workers": 1,
        "family_therapists": 2,
        "white_australian": 2,
        "migrated": 2,
        "migrated_european": 1,
        "migrated_asian": 1,
        "parent_mental_illness": 1,
        "own_mental_health": 2,
        "experience_5_10": 2,
        "experience_20_plus": 2,
        "modes": {"In person": 1, "Telephone": 1, "Video call": 2},
        "vouchers_donated": 1,
        "member_check": {"follow-up answers": 0, "email reflection": 1, "transcript edited": 1},
        "first_interview_month": "2020-11",
        "last_interview_month": "2021-05",
    }


def test_sample_values_are_plain_python_numbers() -> None:
    """They go to JSON and into sentences: no numpy scalars."""
    values = sample_values(sample())
    for key in ("n", "women", "migrated", "parent_mental_illness", "vouchers_donated"):
        assert type(values[key]) is int


# ---------------------------------------------------------------------------- number_word


@pytest.mark.parametrize(
    "n, word", [(0, "zero"), (1, "one"), (5, "five"), (9, "nine"), (10, "10"), (12, "12"), (476, "476")]
)
def test_number_word(n: int, word: str) -> None:
    assert number_word(n) == word
