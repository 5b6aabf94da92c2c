"""Sample descriptives: Table 1, aggregate counts with small-group suppression, durations."""

from __future__ import annotations

import pandas as pd

from . import text
from .errors import CompendiumError

__all__ = [
    "table1",
    "duration_stats",
    "aggregate_counts",
    "suppress_small",
    "check_small_group_threshold",
    "sample_values",
    "TABLE1_COLUMNS",
    "SENSITIVE",
    "number_word",
]

TABLE1_COLUMNS = {
    "pseudonym": "Pseudonym",
    "age_band": "Age band",
    "gender": "Gender",
    "qualification": "Qualification",
    "frameworks": "Predominant framework(s)",
    "years_with_population": "Years with population",
}
# Attributes that were published only in aggregate: never shown per person,
# and groups smaller than the threshold are not shown in tables at all.
SENSITIVE = {
    "background": "Background",
    "parent_mental_illness": "Parent with a mental illness",
    "own_mental_health_challenges": "Own mental-health challenges",
    "member_check": "Member-check action",
    "voucher_donated": "Voucher donated to charity",
}
PUBLIC = {
    "profession_group": "Profession",
    "qualification": "Qualification",
    "gender": "Gender",
    "age_band": "Age band",
    "years_with_population": "Years with population",
    "interview_mode": "Interview mode",
}


def number_word(n: int) -> str:
    """APA style: words below 10, digits from 10 (``number_word(5) == 'five'``); see :mod:`compendium.text`."""
    return text.number_word(n)


def table1(participants: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as published: one row per participant, six columns."""
    return participants[list(TABLE1_COLUMNS)].rename(columns=TABLE1_COLUMNS).reset_index(drop=True)


def duration_stats(minutes: pd.Series) -> dict[str, float]:
    """Min, max, mean, sample SD and median of interview durations (minutes).

    Examples
    --------
    >>> duration_stats(pd.Series([50, 60, 70]))
    {'n': 3, 'min': 50, 'max': 70, 'mean': 60.0, 'sd': 10.0, 'median': 60.0, 'total': 180}
    """
    m = pd.Series(minutes, dtype=float)
    return {
        "n": int(m.count()),
        "min": int(m.min()),
        "max": int(m.max()),
        "mean": round(float(m.mean()), 2),
        "sd": round(float(m.std(ddof=1)), 2),
        "median": round(float(m.median()), 2),
        "total": int(m.sum()),
    }


def _label(value: object) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def aggregate_counts(participants: pd.DataFrame) -> pd.DataFrame:
    """Counts per category of every public and sensitive attribute (exact; suppress before showing)."""
    rows = []
    for col, name in {**PUBLIC, **SENSITIVE}.items():
        counts = participants[col].map(_label).value_counts()
        for value in sorted(counts.index):
            rows.append(
                {
                    "attribute": name,
                    "column": col,
                    "category": value,
                    "n": int(counts[value]),
                    "sensitive": col in SENSITIVE,
                }
            )
    return pd.DataFrame(rows)


def check_small_group_threshold(threshold: object) -> int:
    """A small-group threshold is a whole number of people, at least 1."""
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise CompendiumError(
            f"Small-group threshold {threshold!r} is not a whole number of at least 1.",
            fix="set small_group_threshold to a count of people, e.g. 3 (groups smaller than this are "
            "suppressed in tables)",
        )
    return threshold


def suppress_small(counts: pd.DataFrame, threshold: int = 3) -> pd.DataFrame:
    """The table to show: sensitive categories with fewer than ``threshold`` people become '< threshold'.

    Those counts reach the reader only as sentences in the text ("one participant ..."), never in a table
    next to other attributes, and never per person.

    Examples
    --------
    >>> c = pd.DataFrame({"attribute": ["B", "B"], "category": ["x", "y"], "n": [6, 2], "sensitive": [True, True]})
    >>> suppress_small(c, 3)["n"].tolist()
    ['6', '< 3']
    """
    check_small_group_threshold(threshold)
    out = counts[["attribute", "category", "n"]].copy()
    small = counts["sensitive"] & (counts["n"] < threshold)
    out["n"] = [f"< {threshold}" if s else str(n) for n, s in zip(counts["n"], small)]
    return out.reset_index(drop=True)


def sample_values(participants: pd.DataFrame) -> dict:
    """The numbers the manuscript quotes about the sample (exact counts; used in sentences only)."""
    p = participants
    count = lambda mask: int(mask.sum())  # noqa: E731
    months = sorted(p["interview_month"])
    return {
        "n": int(len(p)),
        "durations": duration_stats(p["duration_min"]),
        "women": count(p["gender"] == "Woman"),
        "men": count(p["gender"] == "Man"),
        "psychologists": count(p["profession_group"] == "Psychologist"),
        "clinical_psychologists": count(p["qualification"] == "Clinical psychologist"),
        "occupational_therapists": count(p["profession_group"] == "Occupational therapist"),
        "social_workers": count(p["profession_group"] == "Social worker"),
        "family_therapists": count(p["qualification"].str.contains("family therapist")),
        "white_australian": count(p["background"] == "White Australian"),
        "migrated": count(p["background"].str.startswith("Migrated")),
        "migrated_european": count(p["background"] == "Migrated, white European"),
        "migrated_asian": count(p["background"] == "Migrated, Asian"),
        "parent_mental_illness": count(p["parent_mental_illness"]),
        "own_mental_health": count(p["own_mental_health_challenges"]),
        "experience_5_10": count(p["years_with_population"] == "5–10"),
        "experience_20_plus": count(p["years_with_population"] == "20+"),
        "modes": {k: count(p["interview_mode"] == k) for k in ("In person", "Telephone", "Video call")},
        "vouchers_donated": count(p["voucher_donated"]),
        "member_check": {
            k: count(p["member_check"] == k) for k in ("follow-up answers", "email reflection", "transcript edited")
        },
        "first_interview_month": months[0],
        "last_interview_month": months[-1],
    }
