"""The synthetic data agree with every published fact of the study (issue 3).

Each test reads the data files themselves (CSV with pandas, YAML with PyYAML,
transcripts as bytes) and compares them with the study's fact sheet
(``../shared/study/FACTS.md``): Table 1 and the theme tables are parsed from
that sheet, and the aggregates the paper reports only in prose are written here
as the paper states them. Nothing here is a copy of our own data.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date

import pandas as pd
import pytest
import yaml

from compendium.anonymise import audit
from compendium.paths import Paths, paths
from compendium.validate import validate

INTERVIEWER = "Interviewer"
LEVELS = {1: "superordinate", 2: "subordinate", 3: "minor"}


# --------------------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def p() -> Paths:
    return paths()


@pytest.fixture(scope="module")
def facts(p: Paths) -> str:
    path = p.root.parent / "shared" / "study" / "FACTS.md"
    assert path.is_file(), f"the study's fact sheet is missing: {path}"
    return path.read_text(encoding="utf-8")


def _markdown_table(text: str, first_header: str) -> list[dict[str, str]]:
    """Rows of the Markdown table whose header row starts with ``| first_header |``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    assert set(lines[start + 1].replace("|", "").strip()) <= {"-", " ", ":"}, "no separator row under the header"
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == len(header), f"ragged row in FACTS.md: {line!r}"
        rows.append(dict(zip(header, cells)))
    return rows


@pytest.fixture(scope="module")
def table1(facts: str) -> list[dict[str, str]]:
    return _markdown_table(facts, "Pseudonym")


def _fact_themes(facts: str) -> dict[str, str]:
    """Theme id -> label from the theme list of FACTS.md (Table 2 of the paper)."""
    section = facts.split("## Themes", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        m = re.match(r"^\s*(?:-\s+)?(\d+(?:\.\d+)*)\.?\s+\*{1,2}(.+?)\*{1,2}", line)
        if m:
            found[m.group(1)] = m.group(2)
    return found


@pytest.fixture(scope="module")
def fact_themes(facts: str) -> dict[str, str]:
    return _fact_themes(facts)


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

def test_facts_sheet_table1_parses_to_eight_rows(table1: list[dict[str, str]]) -> None:
    assert len(table1) == 8
    assert list(table1[0]) == ["Pseudonym", "Age band", "Gender", "Qualification",
                               "Predominant framework(s)", "Years with population"]


def test_participants_reproduce_table1_cell_for_cell(participants: pd.DataFrame,
                                                      table1: list[dict[str, str]]) -> None:
    ours = participants.sort_values("participant_id")
    assert list(ours["participant_id"]) == [f"P{i:02d}" for i in range(1, 9)]
    columns = {"Pseudonym": "pseudonym", "Age band": "age_band", "Gender": "gender",
               "Qualification": "qualification", "Predominant framework(s)": "frameworks",
               "Years with population": "years_with_population"}
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


def test_background_five_white_australian_three_migrated(participants: pd.DataFrame) -> None:
    assert _count(participants, "background") == {
        "White Australian": 5, "Migrated, white European": 2, "Migrated, Asian": 1}


def test_one_parent_with_mental_illness_three_own_challenges(participants: pd.DataFrame) -> None:
    assert _true(participants, "parent_mental_illness") == 1
    assert _true(participants, "own_mental_health_challenges") == 3


def test_durations_whole_minutes_49_to_71_mean_59_5(participants: pd.DataFrame) -> None:
    raw = list(participants["duration_min"])
    assert all(re.fullmatch(r"[0-9]+", v) for v in raw), f"durations must be whole minutes: {raw}"
    minutes = [int(v) for v in raw]
    assert all(49 <= m <= 71 for m in minutes)
    assert min(minutes) == 49
    assert max(minutes) == 71
    assert sum(minutes) == 476  # mean exactly 59.5 over 8 interviews, checked without floating point
    assert sum(minutes) / len(minutes) == 59.5


def test_three_vouchers_donated(participants: pd.DataFrame) -> None:
    assert _true(participants, "voucher_donated") == 3


def test_member_checking_one_each(participants: pd.DataFrame) -> None:
    assert _count(participants, "member_check") == {
        "none": 5, "follow-up answers": 1, "email reflection": 1, "transcript edited": 1}


def test_professions(participants: pd.DataFrame) -> None:
    assert _count(participants, "profession_group") == {
        "Psychologist": 5, "Occupational therapist": 2, "Social worker": 1}
    psychologists = participants[participants["profession_group"] == "Psychologist"]
    assert (psychologists["qualification"] == "Clinical psychologist").sum() == 3
    # the other two: a general psychologist and family therapist, an educational and developmental one
    others = sorted(psychologists.loc[psychologists["qualification"] != "Clinical psychologist", "qualification"])
    assert others == ["Educational & developmental psychologist", "Psychologist & family therapist"]
    assert list(participants.loc[participants["profession_group"] == "Social worker", "qualification"]) == [
        "Mental health social worker & family therapist"]


def test_six_women_two_men(participants: pd.DataFrame, table1: list[dict[str, str]]) -> None:
    assert _count(participants, "gender") == {"Woman": 6, "Man": 2}
    assert _count(participants, "gender") == dict(Counter(row["Gender"] for row in table1))


def test_interviews_between_november_2020_and_may_2021(participants: pd.DataFrame) -> None:
    months = list(participants["interview_month"])
    assert all(re.fullmatch(r"\d{4}-\d{2}", m) for m in months), months
    assert all("2020-11" <= m <= "2021-05" for m in months), months


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
                f"{pid}.txt line {number}: expected 'Interviewer: ' or '{pseudonym}: ', found {line[:40]!r}")
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

def test_facts_sheet_theme_list_parses(facts: str, fact_themes: dict[str, str]) -> None:
    m = re.search(r"(\d+) superordinate, (\d+) subordinate, (\d+) minor", facts)
    assert m, "the Themes heading of FACTS.md no longer states the counts"
    by_level = Counter(LEVELS[tid.count(".") + 1] for tid in fact_themes)
    assert by_level == {"superordinate": int(m.group(1)), "subordinate": int(m.group(2)), "minor": int(m.group(3))}
    assert by_level == {"superordinate": 3, "subordinate": 6, "minor": 3}


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
def named(facts: str) -> dict[str, str]:
    return {row["Theme"]: row["Participants named"] for row in _markdown_table(facts, "Theme")}


def test_named_participants_contribute_to_their_themes(named: dict[str, str], participants: pd.DataFrame,
                                                       coding: pd.DataFrame, codebook: dict[str, dict]) -> None:
    ids = dict(zip(participants["pseudonym"], participants["participant_id"]))
    assert set(named) == {"1.1", "1.2", "2.1", "2.2", "3.1.1", "3.1.2", "3.1.3", "3.2"}
    contributors = coding.groupby("theme_id")["participant_id"].agg(set).to_dict()
    for theme, cell in named.items():
        assert theme in codebook
        names = [w for w in re.findall(r"[A-Z][a-z]+", cell) if w in ids]
        assert len(names) >= 2, f"could not read the names for theme {theme} from FACTS.md: {cell!r}"
        for name in names:
            assert ids[name] in contributors.get(theme, set()), (
                f"FACTS.md names {name} ({ids[name]}) under theme {theme}, but no segment of theirs is coded there")


def test_theme_1_2_has_all_eight(coding: pd.DataFrame, participants: pd.DataFrame, named: dict[str, str]) -> None:
    assert "all 8" in named["1.2"]
    assert set(coding.loc[coding["theme_id"] == "1.2", "participant_id"]) == set(participants["participant_id"])


def test_every_codable_theme_recurs_in_three_cases(coding: pd.DataFrame, codebook: dict[str, dict]) -> None:
    for tid, theme in codebook.items():
        if theme["level"] in ("subordinate", "minor"):
            n = coding.loc[coding["theme_id"] == tid, "participant_id"].nunique()
            assert n >= 3, f"theme {tid} has segments from {n} participants"


def test_excerpts_equal_their_spans(coding: pd.DataFrame, transcripts: dict[str, str]) -> None:
    for row in coding.itertuples(index=False):
        text = transcripts[row.participant_id]
        assert 0 <= row.start < row.end <= len(text), row.segment_id
        assert text[row.start:row.end] == row.excerpt, row.segment_id


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
        assert row.date[:7] >= month[row.participant_id], f"{row.memo_id} is dated before {row.participant_id}'s interview"


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
    to_participants = {"fields": ["participant_id"],
                       "reference": {"resource": "participants", "fields": ["participant_id"]}}
    assert to_participants in schemas["coding"]["foreignKeys"]
    assert to_participants in schemas["memos"]["foreignKeys"]


# --------------------------------------------------------------------------- the gates

def test_validate_passes_on_the_real_data(p: Paths) -> None:
    assert validate(p) == {"transcripts": 8, "themes": 12}


def test_anonymisation_audit_passes_on_the_real_data(p: Paths) -> None:
    assert audit(p) == 14  # 8 transcripts, participants, coding, memos, codebook, datapackage, allow-list
