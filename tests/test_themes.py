"""Known-answer tests for :mod:`compendium.themes` on small hand-made tables.

Every fixture is built here, not read from ``data/synthetic``: the expected
values can then be checked by eye against the fixture.
"""

from __future__ import annotations

import pandas as pd
import pytest

from compendium import themes
from compendium.errors import CompendiumError
from compendium.themes import (
    quote_rule,
    check_threshold,
    convergence,
    quote_bank,
    recurrence,
    recurrence_summary,
    table2,
    theme_counts,
    theme_key,
)

T2_COLUMNS = ["Superordinate theme", "Subordinate theme", "Minor theme"]


def codebook() -> pd.DataFrame:
    """Two superordinate themes; 1.10 sorts after 1.2; 1.2 has two minor themes. Rows shuffled on purpose."""
    rows = [
        ("2.1", "subordinate", "2", True, "Fox"),
        ("1.10", "subordinate", "1", True, "Jay"),
        ("1.2.2", "minor", "1.2", True, "Dove"),
        ("1", "superordinate", None, False, "Ant"),
        ("1.2.1", "minor", "1.2", True, "Cat"),
        ("2", "superordinate", None, False, "Eel"),
        ("1.2", "subordinate", "1", True, "Bee"),
    ]
    return pd.DataFrame(rows, columns=["id", "level", "parent", "codable", "label"])


def participants() -> pd.DataFrame:
    """Four participants, deliberately not in id order."""
    return pd.DataFrame(
        {
            "participant_id": ["P02", "P01", "P03", "P04"],
            "pseudonym": ["Ben", "Ann", "Cy", "Dee"],
            "qualification": ["Social worker", "Clinical psychologist", "Occupational therapist", "Psychologist"],
        }
    )


def counts_for(present: dict[str, list[int]], n: int) -> pd.DataFrame:
    """A theme x participant count matrix from per-theme lists of counts (columns A, B, C, ...)."""
    cols = [chr(ord("A") + i) for i in range(n)]
    df = pd.DataFrame(present, index=cols).T
    df.index.name = "theme_id"
    return df


def labels_for(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "label": [f"label {i}" for i in ids]})


# ---------------------------------------------------------------------------- theme_key


def test_theme_key_orders_numerically_not_as_text() -> None:
    ids = ["3.1.1", "1.10", "2", "1.2", "3.1", "1"]
    assert sorted(ids, key=theme_key) == ["1", "1.2", "1.10", "2", "3.1", "3.1.1"]
    assert theme_key("1.10") == (1, 10)
    assert theme_key(3) == (3,)  # a YAML id read as a number still works


# ---------------------------------------------------------------------------- table2


def test_table2_known_answer() -> None:
    t = table2(codebook())
    assert t.columns.tolist() == T2_COLUMNS
    assert t.values.tolist() == [
        ["1. Ant", "1.2 Bee", "1.2.1 Cat"],
        ["", "", "1.2.2 Dove"],  # same superordinate and subordinate: left blank
        ["", "1.10 Jay", ""],  # 1.10 after 1.2; a subordinate with no minor themes gets an empty minor cell
        ["2. Eel", "2.1 Fox", ""],
    ]


def test_table2_one_row_per_lowest_level_theme() -> None:
    t = table2(codebook())
    # lowest-level themes: 1.2.1, 1.2.2, 1.10, 2.1
    assert len(t) == 4
    assert (t["Minor theme"] != "").sum() == 2


def test_table2_does_not_depend_on_row_order() -> None:
    cb = codebook()
    assert table2(cb).equals(table2(cb.iloc[::-1].reset_index(drop=True)))


# ---------------------------------------------------------------------------- theme_counts


def coding() -> pd.DataFrame:
    rows = [
        ("P02", "1.2"),
        ("P01", "1.2"),
        ("P02", "1.2"),
        ("P01", "1.10"),
        ("P03", "2.1"),
        ("P01", "1"),
    ]  # "1" is not codable: it must not appear as a row
    return pd.DataFrame(rows, columns=["participant_id", "theme_id"])


def test_theme_counts_known_answer() -> None:
    c = theme_counts(coding(), codebook(), participants())
    assert c.index.name == "theme_id"
    assert c.index.tolist() == ["1.2", "1.2.1", "1.2.2", "1.10", "2.1"]  # codable only, numeric order
    assert c.columns.tolist() == ["Ben", "Ann", "Cy", "Dee"]  # pseudonyms, in participants order
    assert c.values.tolist() == [
        [2, 1, 0, 0],
        [0, 0, 0, 0],
        [0, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
    ]
    assert all(str(dtype).startswith("int") for dtype in c.dtypes)


# ---------------------------------------------------------------------------- recurrence


def eight() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eight participants; themes present in 8, 3, 2, 1 and 0 of them."""
    counts = counts_for(
        {
            "1.1": [1, 2, 1, 1, 3, 1, 1, 1],
            "1.2": [2, 0, 0, 1, 0, 0, 4, 0],
            "1.10": [0, 5, 0, 0, 0, 1, 0, 0],
            "2.1": [0, 0, 0, 0, 0, 0, 0, 1],
            "2.2": [0, 0, 0, 0, 0, 0, 0, 0],
        },
        8,
    )
    return counts, labels_for(["1.1", "1.2", "1.10", "2.1", "2.2"])


def test_recurrence_known_answer_one_third_of_eight_needs_three() -> None:
    counts, cb = eight()
    rec = recurrence(counts, cb, 1 / 3)
    assert rec.columns.tolist() == ["theme_id", "theme", *"ABCDEFGH", "segments", "present_in", "share", "recurrent"]
    assert rec["theme_id"].tolist() == ["1.1", "1.2", "1.10", "2.1", "2.2"]
    assert rec["theme"].tolist() == ["label 1.1", "label 1.2", "label 1.10", "label 2.1", "label 2.2"]
    assert rec["segments"].tolist() == [11, 7, 6, 1, 0]
    assert rec["present_in"].tolist() == [8, 3, 2, 1, 0]
    assert rec["share"].tolist() == [1.0, 0.38, 0.25, 0.12, 0.0]
    assert rec["recurrent"].tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("threshold", [1 / 3, 0.3333, 0.34, 0.375])
def test_recurrence_a_third_of_eight_rounds_up_to_three(threshold: float) -> None:
    counts, cb = eight()
    rec = recurrence(counts, cb, threshold)
    assert rec["recurrent"].tolist() == [True, True, False, False, False]  # 3 of 8 recurs, 2 of 8 does not
    assert recurrence_summary(rec, 8, threshold)["participants_needed"] == 3


def test_recurrence_exactly_at_threshold_counts() -> None:
    counts, cb = eight()
    # 0.25 of 8 is exactly 2: a theme in exactly 2 participants recurs
    rec = recurrence(counts, cb, 0.25)
    assert rec["recurrent"].tolist() == [True, True, True, False, False]
    # 0.7 * 10 is 7.000000000000001 in floating point: still exactly 7 needed
    ten = counts_for({"x": [1] * 7 + [0] * 3, "y": [1] * 6 + [0] * 4}, 10)
    rec10 = recurrence(ten, labels_for(["x", "y"]), 0.7)
    assert rec10["recurrent"].tolist() == [True, False]
    assert recurrence_summary(rec10, 10, 0.7)["participants_needed"] == 7


def test_recurrence_threshold_one_means_everyone() -> None:
    counts, cb = eight()
    rec = recurrence(counts, cb, 1.0)
    assert rec["recurrent"].tolist() == [True, False, False, False, False]
    rec_int = recurrence(counts, cb, 1)  # an integer 1 is a valid proportion too
    assert rec_int["recurrent"].tolist() == [True, False, False, False, False]


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, True, False, "a", None, float("nan")])
def test_bad_thresholds_raise_a_clear_error(bad: object) -> None:
    counts, cb = eight()
    with pytest.raises(CompendiumError) as info:
        recurrence(counts, cb, bad)  # type: ignore[arg-type]
    message = str(info.value)
    assert f"Recurrence threshold {bad!r} is not a proportion" in message
    assert "fix:" in message and "above 0 and at most 1" in message
    with pytest.raises(CompendiumError):
        check_threshold(bad)


def test_check_threshold_returns_a_float() -> None:
    assert check_threshold(1) == 1.0 and isinstance(check_threshold(1), float)
    assert check_threshold(0.5) == 0.5


# ---------------------------------------------------------------------------- recurrence_summary


def test_recurrence_summary_known_answer() -> None:
    counts, cb = eight()
    rec = recurrence(counts, cb, 1 / 3)
    assert recurrence_summary(rec, 8, 1 / 3) == {
        "threshold": 0.3333,
        "threshold_text": "1/3",
        "participants_needed": 3,
        "themes_checked": 5,
        "themes_recurrent": 2,
        "recurrent_ids": ["1.1", "1.2"],
        "not_recurrent_ids": ["1.10", "2.1", "2.2"],
        "themes_in_all": ["1.1"],
        "min_present": 0,
        "max_present": 8,
    }


@pytest.mark.parametrize(
    "threshold, text, needed", [(0.3333, "1/3", 3), (0.25, "1/4", 2), (0.5, "1/2", 4), (0.75, "3/4", 6)]
)
def test_recurrence_summary_threshold_text(threshold: float, text: str, needed: int) -> None:
    counts, cb = eight()
    summary = recurrence_summary(recurrence(counts, cb, threshold), 8, threshold)
    assert summary["threshold_text"] == text
    assert summary["participants_needed"] == needed
    assert summary["threshold"] == threshold


# ---------------------------------------------------------------------------- convergence

PSEUDONYMS = ["Zoe", "Ann", "Max", "Bea", "Lou", "Cal"]  # not alphabetical: output keeps this order


def six() -> pd.DataFrame:
    counts = counts_for(
        {
            "1.1": [1, 1, 1, 1, 1, 1],  # 6 of 6
            "1.2": [1, 1, 1, 1, 1, 0],  # 5
            "1.3": [0, 1, 1, 1, 1, 0],  # 4 = ceil(2 * 6 / 3): most
            "2.1": [1, 0, 0, 1, 1, 0],  # 3: recurs (needs 2) but not most
            "2.2": [0, 2, 0, 0, 0, 1],  # 2: exactly the recurrence threshold
            "2.3": [0, 0, 0, 0, 3, 0],  # 1
            "2.4": [0, 0, 0, 0, 0, 0],  # 0
        },
        6,
    )
    counts.columns = PSEUDONYMS
    return recurrence(counts, labels_for(counts.index.tolist()), 1 / 3)


def test_convergence_patterns() -> None:
    conv = convergence(six(), PSEUDONYMS)
    assert conv.columns.tolist() == ["theme_id", "theme", "present_in", "pattern", "voiced_by", "not_voiced_by"]
    assert conv["theme_id"].tolist() == ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4"]
    assert conv["present_in"].tolist() == [6, 5, 4, 3, 2, 1, 0]
    assert conv["pattern"].tolist() == [
        "shared by all",
        "shared by most",
        "shared by most",
        "shared by some",
        "shared by some",
        "particular to a few",
        "particular to a few",
    ]


def test_convergence_names_who_voices_a_theme_in_given_order() -> None:
    conv = convergence(six(), PSEUDONYMS).set_index("theme_id")
    assert conv.loc["1.1", "voiced_by"] == "Zoe, Ann, Max, Bea, Lou, Cal"
    assert conv.loc["1.1", "not_voiced_by"] == ""
    assert conv.loc["2.1", "voiced_by"] == "Zoe, Bea, Lou"
    assert conv.loc["2.1", "not_voiced_by"] == "Ann, Max, Cal"
    assert conv.loc["2.4", "voiced_by"] == ""
    assert conv.loc["2.4", "not_voiced_by"] == "Zoe, Ann, Max, Bea, Lou, Cal"


def test_convergence_follows_the_recurrence_rule() -> None:
    """With a stricter threshold, a theme in 3 of 6 no longer recurs and becomes 'particular to a few'."""
    rec = six()
    strict = recurrence(rec.set_index("theme_id")[PSEUDONYMS], labels_for(rec["theme_id"].tolist()), 0.6)
    pattern = dict(zip(rec["theme_id"], convergence(strict, PSEUDONYMS)["pattern"]))
    assert pattern["2.1"] == "particular to a few"
    assert pattern["1.3"] == "shared by most"


def test_convergence_accepts_pseudonyms_that_are_not_python_names() -> None:
    """The corpus generator makes pseudonyms such as 'Alice Oakley' once given names run out."""
    names = ["Alice Oakley", "Ben", "O'Neil"]
    counts = counts_for({"1.1": [1, 1, 1], "1.2": [2, 0, 0]}, 3)
    counts.columns = names
    rec = recurrence(counts, labels_for(["1.1", "1.2"]), 1 / 3)
    conv = convergence(rec, names)
    assert conv["voiced_by"].tolist() == ["Alice Oakley, Ben, O'Neil", "Alice Oakley"]
    assert conv["not_voiced_by"].tolist() == ["", "Ben, O'Neil"]
    assert conv["pattern"].tolist() == ["shared by all", "shared by some"]  # 1 of 3 meets a 1/3 threshold


# ---------------------------------------------------------------------------- quote bank


def words(n: int, tag: str) -> str:
    """An excerpt of exactly ``n`` whitespace-separated words."""
    return " ".join(f"{tag}{i}" for i in range(n))


def case_rows() -> pd.DataFrame:
    """Per-case table rows (the columns of ``cases.case_table``) for a quote-bank fixture.

    Word limits used with it: 3 to 6 words.
    """
    pseud = {"P01": "Ann", "P02": "Ben", "P03": "Cy", "P04": "Dee"}
    rows = [
        # theme 1.2: P02 has two eligible segments (5 words each: tie -> lower segment id), one too short
        ("P02", "1.2", "P02-S05", 10, 10, words(5, "b")),
        ("P02", "1.2", "P02-S03", 7, 7, words(5, "c")),
        ("P02", "1.2", "P02-S01", 2, 2, words(2, "d")),
        # P01: one eligible (4 words) and one longer but over the limit (must not be chosen)
        ("P01", "1.2", "P01-S03", 12, 13, words(4, "e")),
        ("P01", "1.2", "P01-S04", 20, 20, words(9, "f")),
        # P03: one eligible at exactly the maximum; ties with P01 on count, loses on id
        ("P03", "1.2", "P03-S01", 3, 3, words(6, "g")),
        # theme 1.10 (sorts after 1.2): exactly the minimum, over two lines
        ("P03", "1.10", "P03-S02", 4, 5, words(3, "h")),
        # theme 1.3: nothing within the limits, so no row at all
        ("P04", "1.3", "P04-S01", 1, 1, words(2, "i")),
        ("P01", "1.3", "P01-S01", 1, 1, words(7, "j")),
    ]
    df = pd.DataFrame(rows, columns=["participant_id", "theme_id", "segment_id", "line_start", "line_end", "excerpt"])
    df.insert(1, "pseudonym", df["participant_id"].map(pseud))
    df.insert(3, "theme_label", df["theme_id"].map(lambda t: f"label {t}"))
    df["experiential_statement"] = "a statement"
    return df


QB_COLUMNS = [
    "theme_id",
    "theme",
    "rank",
    "segment_id",
    "participant_id",
    "pseudonym",
    "profession",
    "lines",
    "line_start",
    "line_end",
    "words",
    "excerpt",
]


def test_quote_bank_known_answer() -> None:
    bank = quote_bank(case_rows(), participants(), per_theme=2, min_words=3, max_words=6)
    assert bank.columns.tolist() == QB_COLUMNS
    assert bank.drop(columns="excerpt").values.tolist() == [
        ["1.2", "label 1.2", 1, "P02-S03", "P02", "Ben", "Social worker", "7", 7, 7, 5],
        ["1.2", "label 1.2", 2, "P01-S03", "P01", "Ann", "Clinical psychologist", "12-13", 12, 13, 4],
        ["1.10", "label 1.10", 1, "P03-S02", "P03", "Cy", "Occupational therapist", "4-5", 4, 5, 3],
    ]
    assert bank["excerpt"].tolist() == [words(5, "c"), words(4, "e"), words(3, "h")]


def test_quote_bank_per_theme() -> None:
    one = quote_bank(case_rows(), participants(), per_theme=1, min_words=3, max_words=6)
    assert one[["theme_id", "participant_id"]].values.tolist() == [["1.2", "P02"], ["1.10", "P03"]]
    three = quote_bank(case_rows(), participants(), per_theme=3, min_words=3, max_words=6)
    assert three[["theme_id", "rank", "participant_id", "segment_id"]].values.tolist() == [
        ["1.2", 1, "P02", "P02-S03"],
        ["1.2", 2, "P01", "P01-S03"],
        ["1.2", 3, "P03", "P03-S01"],
        ["1.10", 1, "P03", "P03-S02"],
    ]


def test_quote_bank_word_limits_exclude() -> None:
    # widen the maximum: P01's 9-word excerpt becomes eligible and, being longest, is chosen
    wide = quote_bank(case_rows(), participants(), per_theme=3, min_words=3, max_words=9)
    picked = dict(zip(zip(wide["theme_id"], wide["participant_id"]), wide["segment_id"]))
    assert picked[("1.2", "P01")] == "P01-S04"
    assert picked[("1.3", "P01")] == "P01-S01"  # 7 words: theme 1.3 now has a quote
    # raise the minimum to 4: the 3-word excerpt of theme 1.10 no longer qualifies
    narrow = quote_bank(case_rows(), participants(), per_theme=3, min_words=4, max_words=6)
    assert "1.10" not in narrow["theme_id"].tolist()
    assert narrow["words"].between(4, 6).all()


def test_quote_bank_ranks_by_eligible_segments() -> None:
    """The ranking counts segments that are within the word limits (P09's short ones do not count)."""
    cases = pd.DataFrame(
        {
            "participant_id": ["P09", "P09", "P09", "P05", "P05"],
            "pseudonym": ["Ivy", "Ivy", "Ivy", "Eve", "Eve"],
            "theme_id": ["2.1"] * 5,
            "theme_label": ["label"] * 5,
            "segment_id": ["P09-S01", "P09-S02", "P09-S03", "P05-S01", "P05-S02"],
            "line_start": [1, 2, 3, 1, 2],
            "line_end": [1, 2, 3, 1, 2],
            "experiential_statement": ["s"] * 5,
            "excerpt": [words(1, "a"), words(1, "b"), words(4, "c"), words(4, "d"), words(3, "e")],
        }
    )
    people = pd.DataFrame({"participant_id": ["P05", "P09"], "qualification": ["X", "Y"]})
    bank = quote_bank(cases, people, per_theme=2, min_words=3, max_words=6)
    assert bank[["rank", "participant_id", "segment_id"]].values.tolist() == [
        [1, "P05", "P05-S01"],
        [2, "P09", "P09-S03"],
    ]


def test_quote_bank_default_limits_are_15_to_90_words() -> None:
    sizes = {"S1": 14, "S2": 15, "S3": 90, "S4": 91}
    cases = pd.DataFrame(
        {
            "participant_id": [f"P0{i}" for i in range(1, 5)],
            "pseudonym": ["A", "B", "C", "D"],
            "theme_id": ["1.1"] * 4,
            "theme_label": ["l"] * 4,
            "segment_id": list(sizes),
            "line_start": [1] * 4,
            "line_end": [1] * 4,
            "experiential_statement": ["s"] * 4,
            "excerpt": [words(n, "w") for n in sizes.values()],
        }
    )
    people = pd.DataFrame({"participant_id": [f"P0{i}" for i in range(1, 5)], "qualification": ["q"] * 4})
    bank = quote_bank(cases, people, per_theme=4)
    assert bank["segment_id"].tolist() == ["S2", "S3"]
    assert bank["words"].tolist() == [15, 90]


@pytest.mark.parametrize(
    "settings", [{"per_theme": 0}, {"per_theme": -1}, {"min_words": 0}, {"min_words": 10, "max_words": 9}]
)
def test_quote_bank_bad_settings(settings: dict[str, int]) -> None:
    with pytest.raises(CompendiumError, match=r"per_theme >= 1 and 1 <= min_words <= max_words"):
        quote_bank(case_rows(), participants(), **settings)


def test_quote_bank_equal_limits_allowed() -> None:
    bank = quote_bank(case_rows(), participants(), per_theme=3, min_words=5, max_words=5)
    assert bank["segment_id"].tolist() == ["P02-S03"]


def test_quote_rule_text_names_the_settings_in_words() -> None:
    text = quote_rule(3, 15, 90)
    assert "first three clinicians" in text
    assert "15 to 90 words" in text
    assert "2" not in text.replace("Table 2", "")  # no stray digits for counts below 10
    assert "participant id" not in text and "segment id" not in text


def test_quote_bank_spreads_quotations_across_clinicians() -> None:
    """P01 has the most passages in every theme, yet after one quotation the others come first."""
    rows = []
    for t in ("1.1", "1.2", "2.1", "2.2"):
        rows += [("P01", t, f"P01-{t}-{k}", words(5, "a")) for k in range(3)]
        rows += [(pid, t, f"{pid}-{t}", words(4, "b")) for pid in ("P02", "P03", "P04")]
    cases = pd.DataFrame(rows, columns=["participant_id", "theme_id", "segment_id", "excerpt"])
    cases["pseudonym"] = cases["participant_id"]
    cases["theme_label"] = "label"
    cases["line_start"] = cases["line_end"] = 1
    people = pd.DataFrame({"participant_id": ["P01", "P02", "P03", "P04"], "qualification": ["q"] * 4})
    bank = quote_bank(cases, people, per_theme=2, min_words=3, max_words=6)
    for _, theme in bank.groupby("theme_id"):
        assert theme["participant_id"].is_unique
    supplied = bank["participant_id"].value_counts()
    assert supplied.to_dict() == {"P01": 2, "P02": 2, "P03": 2, "P04": 2}
    assert bank.loc[bank["theme_id"] == "1.1", "participant_id"].tolist() == ["P01", "P02"]
    assert bank.loc[bank["theme_id"] == "1.2", "participant_id"].tolist() == ["P03", "P04"]


def test_module_exports() -> None:
    assert set(themes.__all__) >= {
        "theme_key",
        "check_threshold",
        "table2",
        "theme_counts",
        "recurrence",
        "recurrence_summary",
        "convergence",
        "quote_bank",
        "QUOTE_RULE",
    }
