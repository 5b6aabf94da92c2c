"""The synthetic data agree with every published fact of the study (issue 3).

Each test reads the data files themselves (CSV with pandas, YAML with PyYAML,
transcripts as bytes) and compares them with the study's published values, kept
in the repository as ``tests/fixtures/study_facts.yaml`` (Table 1, the theme
table, who the paper names under each theme, durations and the aggregates the
paper reports only in its text). Nothing here is a copy of our own data, and
nothing is read from outside the repository.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from compendium.anonymise import audit
from compendium.paths import Paths, paths
from compendium.validate import validate

INTERVIEWER = "Interviewer"
LEVELS = {1: "superordinate", 2: "subordinate", 3: "minor"}
STUDY_FACTS = Path(__file__).parent / "fixtures" / "study_facts.yaml"


# --------------------------------------------------------------------------- helpers


def load_study_facts() -> dict[str, Any]:
    """The study's published values (the fixture the project owns; see its header for the source)."""
    return yaml.safe_load(STUDY_FACTS.read_text(encoding="utf-8"))


def table1_rows(facts: dict[str, Any]) -> list[dict[str, str]]:
    """Table 1 of the study, one dict per participant keyed by the printed column names."""
    columns = facts["table1"]["columns"]
    return [dict(zip(columns, row, strict=True)) for row in facts["table1"]["rows"]]


@pytest.fixture(scope="module")
def p() -> Paths:
    return paths()


@pytest.fixture(scope="module")
def facts() -> dict[str, Any]:
    return load_study_facts()


@pytest.fixture(scope="module")
def table1(facts: dict[str, Any]) -> list[dict[str, str]]:
    return table1_rows(facts)


@pytest.fixture(scope="module")
def fact_themes(facts: dict[str, Any]) -> dict[str, str]:
    return {str(k): v for k, v in facts["themes"].items()}


@pytest.fixture(scope="module")
def participants(p: Paths) -> pd.DataFrame:
    return pd.read_csv(p.participants, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def coding(p: Paths) -> pd.DataFrame:
    df = pd.read_csv(p.coding, dtype=str, keep_default_na=False, encoding="utf-8")
    for col in ("start", "end"):
        df[col] = df[col].astype(int)
    return df


@pytest.fixture(scope="module")
def memos(p: Paths) -> pd.DataFrame:
    return pd.read_csv(p.memos, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def codebook(p: Paths) -> dict[str, dict]:
    doc = yaml.safe_load(p.codebook.read_text(encoding="utf-8"))
    return {theme["id"]: theme for theme in doc["themes"]}


@pytest.fixture(scope="module")
def transcripts(p: Paths, participants: pd.DataFrame) -> dict[str, str]:
    return {pid: p.transcript(pid).read_bytes().decode("utf-8") for pid in participants["participant_id"]}


def _count(df: pd.DataFrame, column: str) -> dict[str, int]:
    return dict(Counter(df[column]))


def _true(df: pd.DataFrame, column: str) -> int:
    values = set(df[column])
    assert values <= {"true", "false"}, f"{column} holds {values - {'true', 'false'}}"
    return int((df[column] == "true").sum())


# --------------------------------------------------------------------------- participants


def test_study_facts_table1_has_eight_rows(table1: list[dict[str, str]]) -> None:
    assert len(table1) == 8
    assert list(table1[0]) == [
        "Pseudonym",
        "Age band",
        "Gender",
        "Qualification",
        "Predominant framework(s)",
        "Years with population",
    ]


def test_participants_reproduce_table1_cell_for_cell(participants: pd.DataFrame, table1: list[dict[str, str]]) -> None:
    ours = participants.sort_values("participant_id")
    assert list(ours["participant_id"]) == [f"P{i:02d}" for i in range(1, 9)]
    columns = {
        "Pseudonym": "pseudonym",
        "Age band": "age_band",
        "Gender": "gender",
        "Qualification": "qualification",
        "Predominant framework(s)": "frameworks",
        "Years with population": "years_with_population",
    }
    expected = [tuple(row[c] for c in columns) for row in table1]
    found = [tuple(row) for row in ours[list(columns.values())].itertuples(index=False)]
    assert len(found) == len(expected) == 8
    for pid, ours_row, paper_row in zip(ours["participant_id"], found, expected):
        for column, mine, theirs in zip(columns, ours_row, paper_row):
            assert mine == theirs, f"{pid}, {column}: participants.csv has {mine!r}, Table 1 has {theirs!r}"


def test_ranges_use_en_dashes_like_the_paper(participants: pd.DataFrame) -> None:
    for column in ("age_band", "years_with_population"):
        for value in participants[column]:
            assert "-" not in value, f"{column} {value!r} uses a hyphen; the paper writes ranges with an en dash"
            assert re.fullmatch(r"\d+–\d+|\d+\+", value), f"{column} {value!r}"


def test_background_as_published(participants: pd.DataFrame, facts: dict[str, Any]) -> None:
    assert _count(participants, "background") == facts["aggregates"]["background"]


def test_parental_and_own_mental_health_counts(participants: pd.DataFrame, facts: dict[str, Any]) -> None:
    assert _true(participants, "parent_mental_illness") == facts["aggregates"]["parent_mental_illness"]
    assert _true(participants, "own_mental_health_challenges") == facts["aggregates"]["own_mental_health_challenges"]


def test_durations_whole_minutes_in_the_published_range_and_mean(
    participants: pd.DataFrame, facts: dict[str, Any]
) -> None:
    published = facts["durations"]
    raw = list(participants["duration_min"])
    assert all(re.fullmatch(r"[0-9]+", v) for v in raw), f"durations must be whole minutes: {raw}"
    minutes = [int(v) for v in raw]
    assert len(minutes) == published["n"]
    assert min(minutes) == published["min"]
    assert max(minutes) == published["max"]
    # the published mean, checked on the sum without floating point
    assert 2 * sum(minutes) == round(2 * published["mean"] * published["n"])


def test_vouchers_donated(participants: pd.DataFrame, facts: dict[str, Any]) -> None:
    assert _true(participants, "voucher_donated") == facts["aggregates"]["voucher_donated"]


def test_member_checking_as_published(participants: pd.DataFrame, facts: dict[str, Any]) -> None:
    assert _count(participants, "member_check") == facts["aggregates"]["member_check"]


def test_professions(participants: pd.DataFrame, facts: dict[str, Any]) -> None:
    published = facts["aggregates"]
    assert _count(participants, "profession_group") == published["profession_group"]
    psychologists = participants[participants["profession_group"] == "Psychologist"]
    assert (psychologists["qualification"] == "Clinical psychologist").sum() == published["clinical_psychologists"]
    others = sorted(psychologists.loc[psychologists["qualification"] != "Clinical psychologist", "qualification"])
    assert others == sorted(published["other_psychologists"])
    social = participants.loc[participants["profession_group"] == "Social worker", "qualification"]
    assert list(social) == published["social_worker_qualification"]


def test_gender_as_published(participants: pd.DataFrame, table1: list[dict[str, str]], facts: dict[str, Any]) -> None:
    assert _count(participants, "gender") == facts["aggregates"]["gender"]
    assert _count(participants, "gender") == dict(Counter(row["Gender"] for row in table1))


def test_interviews_within_the_recruitment_period(participants: pd.DataFrame, facts: dict[str, Any]) -> None:
    first, last = facts["interviews_between"]
    months = list(participants["interview_month"])
    assert all(re.fullmatch(r"\d{4}-\d{2}", m) for m in months), months
    assert all(first <= m <= last for m in months), months


# --------------------------------------------------------------------------- transcripts


def test_transcripts_are_utf8_lf_without_bom(p: Paths, participants: pd.DataFrame) -> None:
    for pid in participants["participant_id"]:
        raw = p.transcript(pid).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), f"{pid}.txt starts with a BOM"
        assert b"\r" not in raw, f"{pid}.txt has CR characters"
        raw.decode("utf-8")  # strict: raises on any invalid byte
        assert raw.endswith(b"\n") and not raw.endswith(b"\n\n"), f"{pid}.txt must end with exactly one newline"


def test_one_transcript_per_participant(p: Paths, participants: pd.DataFrame) -> None:
    assert sorted(f.stem for f in p.transcripts.glob("*.txt")) == sorted(participants["participant_id"])


def test_every_line_has_a_speaker_label(participants: pd.DataFrame, transcripts: dict[str, str]) -> None:
    for pid, pseudonym in zip(participants["participant_id"], participants["pseudonym"]):
        speakers = Counter()
        for number, line in enumerate(transcripts[pid].split("\n")[:-1], start=1):
            speaker, sep, turn = line.partition(": ")
            assert sep and speaker in {INTERVIEWER, pseudonym} and turn.strip(), (
                f"{pid}.txt line {number}: expected 'Interviewer: ' or '{pseudonym}: ', found {line[:40]!r}"
            )
            speakers[speaker] += 1
        assert speakers[INTERVIEWER] > 0 and speakers[pseudonym] > 0, f"{pid}.txt: both speakers must talk"


def test_transcripts_have_1500_to_3500_words(transcripts: dict[str, str]) -> None:
    for pid, text in transcripts.items():
        words = sum(len(line.partition(": ")[2].split()) for line in text.splitlines())
        assert 1500 <= words <= 3500, f"{pid}.txt has {words} words"


def test_at_least_ten_coded_segments_per_participant(coding: pd.DataFrame, participants: pd.DataFrame) -> None:
    counts = coding.groupby("participant_id").size()
    for pid in participants["participant_id"]:
        assert counts.get(pid, 0) >= 10, f"{pid} has {counts.get(pid, 0)} coded segments"


# --------------------------------------------------------------------------- codebook


def test_study_facts_theme_list_is_consistent(facts: dict[str, Any], fact_themes: dict[str, str]) -> None:
    by_level = Counter(LEVELS[tid.count(".") + 1] for tid in fact_themes)
    assert by_level == facts["theme_counts"]
    for tid in fact_themes:
        if "." in tid:
            assert tid.rsplit(".", 1)[0] in fact_themes, f"study_facts.yaml: theme {tid} has no parent"


def test_codebook_has_the_papers_themes_and_labels(codebook: dict[str, dict], fact_themes: dict[str, str]) -> None:
    assert {tid: theme["label"] for tid, theme in codebook.items()} == fact_themes


def test_codebook_levels_and_parents(codebook: dict[str, dict]) -> None:
    assert Counter(t["level"] for t in codebook.values()) == {"superordinate": 3, "subordinate": 6, "minor": 3}
    for tid, theme in codebook.items():
        depth = tid.count(".") + 1
        assert theme["level"] == LEVELS[depth], tid
        expected_parent = tid.rsplit(".", 1)[0] if depth > 1 else None
        assert theme["parent"] == expected_parent, tid
        if expected_parent is not None:
            assert expected_parent in codebook


def test_codebook_codable_and_texts(codebook: dict[str, dict]) -> None:
    for tid, theme in codebook.items():
        assert theme["codable"] is (theme["level"] != "superordinate"), tid
        for field in ("label", "definition", "include", "exclude"):
            assert isinstance(theme[field], str) and theme[field].strip(), f"theme {tid}: empty {field}"


# --------------------------------------------------------------------------- coding


@pytest.fixture(scope="module")
def named(facts: dict[str, Any]) -> dict[str, list[str]]:
    return {str(k): v for k, v in facts["named_under_theme"].items()}


def test_named_participants_contribute_to_their_themes(
    named: dict[str, list[str]], participants: pd.DataFrame, coding: pd.DataFrame, codebook: dict[str, dict]
) -> None:
    ids = dict(zip(participants["pseudonym"], participants["participant_id"]))
    contributors = coding.groupby("theme_id")["participant_id"].agg(set).to_dict()
    assert len(named) == 8
    for theme, names in named.items():
        assert theme in codebook, f"study_facts.yaml names participants under unknown theme {theme}"
        for name in names:
            assert name in ids, f"study_facts.yaml names {name!r}, who is not a pseudonym in participants.csv"
            assert ids[name] in contributors.get(theme, set()), (
                f"the study names {name} ({ids[name]}) under theme {theme}, but no segment of theirs is coded there"
            )


def test_themes_voiced_by_all_have_every_participant(
    coding: pd.DataFrame, participants: pd.DataFrame, facts: dict[str, Any]
) -> None:
    assert facts["voiced_by_all"], "study_facts.yaml lists no theme voiced by every participant"
    for theme in facts["voiced_by_all"]:
        voiced = set(coding.loc[coding["theme_id"] == theme, "participant_id"])
        assert voiced == set(participants["participant_id"]), (
            f"theme {theme} lacks {set(participants['participant_id']) - voiced}"
        )


def test_every_codable_theme_recurs_in_three_cases(coding: pd.DataFrame, codebook: dict[str, dict]) -> None:
    for tid, theme in codebook.items():
        if theme["level"] in ("subordinate", "minor"):
            n = coding.loc[coding["theme_id"] == tid, "participant_id"].nunique()
            assert n >= 3, f"theme {tid} has segments from {n} participants"


def test_excerpts_equal_their_spans(coding: pd.DataFrame, transcripts: dict[str, str]) -> None:
    for row in coding.itertuples(index=False):
        text = transcripts[row.participant_id]
        assert 0 <= row.start < row.end <= len(text), row.segment_id
        assert text[row.start : row.end] == row.excerpt, row.segment_id


def test_segments_do_not_overlap(coding: pd.DataFrame) -> None:
    for pid, group in coding.groupby("participant_id"):
        spans = sorted(zip(group["start"], group["end"], group["segment_id"]))
        for (_, end_a, seg_a), (start_b, _, seg_b) in zip(spans, spans[1:]):
            assert start_b >= end_a, f"{seg_a} and {seg_b} overlap in {pid}.txt"


def test_segments_only_on_codable_themes(coding: pd.DataFrame, codebook: dict[str, dict]) -> None:
    for row in coding.itertuples(index=False):
        assert row.theme_id in codebook, row.segment_id
        assert codebook[row.theme_id]["codable"], f"{row.segment_id} is coded to grouping theme {row.theme_id}"


def test_segment_ids_belong_to_their_participant(coding: pd.DataFrame) -> None:
    for row in coding.itertuples(index=False):
        assert row.segment_id.startswith(f"{row.participant_id}-S"), row.segment_id


# --------------------------------------------------------------------------- memos


def test_memos_are_dated_iso(memos: pd.DataFrame) -> None:
    for memo_id, value in zip(memos["memo_id"], memos["date"]):
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), f"{memo_id}: {value!r}"
        date.fromisoformat(value)


def test_reflexive_and_analysis_memo_per_participant(memos: pd.DataFrame, participants: pd.DataFrame) -> None:
    for pid in participants["participant_id"]:
        kinds = set(memos.loc[memos["participant_id"] == pid, "kind"])
        assert {"reflexive", "analysis"} <= kinds, f"{pid} has memos of kinds {sorted(kinds)}"


def test_memos_follow_their_interview(memos: pd.DataFrame, participants: pd.DataFrame) -> None:
    month = dict(zip(participants["participant_id"], participants["interview_month"]))
    for row in memos[memos["participant_id"] != ""].itertuples(index=False):
        assert row.date[:7] >= month[row.participant_id], (
            f"{row.memo_id} is dated before {row.participant_id}'s interview"
        )


# --------------------------------------------------------------------------- datapackage


@pytest.fixture(scope="module")
def package(p: Paths) -> dict:
    return json.loads(p.datapackage.read_text(encoding="utf-8"))


def test_every_csv_has_a_schema_matching_its_header(p: Paths, package: dict) -> None:
    resources = {r["path"]: r for r in package["resources"]}
    csvs = sorted(f.name for f in p.data.glob("*.csv"))
    assert sorted(resources) == csvs
    for name, resource in resources.items():
        header = list(pd.read_csv(p.data / name, nrows=0).columns)
        assert [f["name"] for f in resource["schema"]["fields"]] == header, name
        assert resource["schema"]["primaryKey"], name


def test_primary_and_foreign_keys(package: dict) -> None:
    schemas = {r["name"]: r["schema"] for r in package["resources"]}
    assert schemas["participants"]["primaryKey"] == ["participant_id"]
    assert schemas["coding"]["primaryKey"] == ["segment_id"]
    assert schemas["memos"]["primaryKey"] == ["memo_id"]
    to_participants = {
        "fields": ["participant_id"],
        "reference": {"resource": "participants", "fields": ["participant_id"]},
    }
    assert to_participants in schemas["coding"]["foreignKeys"]
    assert to_participants in schemas["memos"]["foreignKeys"]


# --------------------------------------------------------------------------- the gates


def test_validate_passes_on_the_real_data(p: Paths) -> None:
    assert validate(p) == {"transcripts": 8, "themes": 12}


def test_anonymisation_audit_passes_on_the_real_data(p: Paths) -> None:
    assert audit(p) == 14  # 8 transcripts, participants, coding, memos, codebook, datapackage, allow-list
