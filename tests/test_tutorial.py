"""The tutorials' logic and workspaces, without a browser.

Known answers come from the synthetic study (``coding.csv``: P01-S02 is line 14,
characters 4172-4371, theme 1.2) and from small texts written here. Anything
that writes works on a temporary copy of the repository, never on the real
``student_work/`` or ``data/``.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from compendium.cases import case_segments
from compendium.data import Study, load_study
from compendium.errors import CompendiumError
from compendium.paths import Paths, paths
from compendium.teaching import compare as c
from compendium.teaching import exercises as x
from compendium.teaching import saved
from compendium.teaching import students as s
from compendium.teaching import text as t
from compendium.teaching.widget import CodingWidget, GroupWidget, ThemeWidget, comparison_html, reveal, transcript_html

TINY = "Interviewer: Hi there?\nAnn: I am so  kind to others.\nInterviewer: Why <so>?\nAnn: Because.\n"
P01_CODED_LINES = [8, 14, 16, 20, 22, 26, 28, 32, 36, 40, 42, 46, 48]


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study()


@pytest.fixture
def root(tmp_path: Path) -> Paths:
    """A temporary copy of the repository's inputs; student work written there stays there."""
    real = paths()
    shutil.copytree(real.data, tmp_path / "data" / "synthetic")
    shutil.copy2(real.root / "pyproject.toml", tmp_path / "pyproject.toml")
    return Paths(tmp_path)


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(folder)).encode() + f.read_bytes())
    return h.hexdigest()


def _text(widget: object) -> str:
    """What a student reads in an HTML widget (entities decoded)."""
    return htmllib.unescape(widget.value)


def _segment(study: Study, participant: str, first: int, last: int, phrase: str = "", **notes: str) -> dict:
    start, end = t.lines_to_span(study.transcripts[participant], first, last, phrase)
    return s.new_segment(study, participant, start, end, analyst="tester", **notes)


# ------------------------------------------------------------------ parameters and names
def test_mode_is_exercise_or_solution() -> None:
    assert t.check_mode("exercise") == "exercise"
    assert t.check_mode("solution") == "solution"
    with pytest.raises(t.TutorialError, match=r"(?s)'answers' is not a tutorial mode.*fix:"):
        t.check_mode("answers")


@pytest.mark.parametrize("name", ["ana", "Ana_Lopez", "s1234567", "a-b"])
def test_student_names_that_make_folder_names(name: str) -> None:
    assert s.check_student(f" {name} ") == name
    assert s.student_file(name, Paths(Path("/x"))) == Path("/x/student_work") / name / "coding.csv"


@pytest.mark.parametrize("name", ["", "../data/synthetic/coding", "two words", "-x", "a/b", "x" * 41, "notebooks"])
def test_student_names_that_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(t.TutorialError, match="cannot be used as a folder name") as err:
        s.check_student(name)
    assert "\n" not in str(err.value) and "fix:" in str(err.value)


def test_the_name_is_set_once_for_every_tutorial(root: Paths) -> None:
    assert s.read_profile(root) == "" and s.resolve_student("", root) == ""
    assert s.set_profile(" ana ", root) == "ana"
    assert (root.student_work / "profile").read_text() == "ana\n"
    assert s.resolve_student("", root) == "ana" and s.resolve_student("ben", root) == "ben"
    (root.student_work / "profile").write_text("../../etc\n")
    assert s.read_profile(root) == ""  # an unusable profile is no name, never a path


# ------------------------------------------------------------------ lines and spans
def test_line_bounds_leave_out_line_breaks() -> None:
    assert t.line_bounds("ab\ncde\n") == [(0, 2), (3, 6)]
    assert t.line_bounds("ab\ncde") == [(0, 2), (3, 6)]


def test_whole_lines_start_after_the_speaker_label() -> None:
    start, end = t.lines_to_span(TINY, 2, 2)
    assert TINY[start:end] == "I am so  kind to others."
    start, end = t.lines_to_span(TINY, 2, 4)
    assert TINY[start:end] == "I am so  kind to others.\nInterviewer: Why <so>?\nAnn: Because."


def test_a_phrase_narrows_the_span_ignoring_case_and_spacing() -> None:
    start, end = t.lines_to_span(TINY, 2, 2, "  SO kind ")
    assert (start, end) == (33, 41)
    assert TINY[start:end] == "so  kind"


def test_the_study_span_is_found_from_its_line_and_words(study: Study) -> None:
    seg = study.coding.set_index("segment_id").loc["P01-S02"]
    text = study.transcripts["P01"]
    assert t.lines_to_span(text, 14, 14, seg.excerpt) == (4172, 4371) == (seg.start, seg.end)
    assert t.span_lines(text, 4172, 4371) == "14"


@pytest.mark.parametrize(
    "first,last,phrase,message",
    [
        (0, 1, "", r"lines 0-1 are not a passage of this transcript, which has lines 1-4"),
        (3, 2, "", r"lines 3-2 are not a passage"),
        (4, 5, "", r"lines 4-5 are not a passage"),
        (2, 2, "unkind", r"the phrase 'unkind' does not occur in line 2"),
        (1, 2, "Because", r"the phrase 'Because' does not occur in lines 1-2"),
        ("2", 2, "", r"lines '2'-2 are not line numbers"),
        (True, 2, "", r"lines True-2 are not line numbers"),
    ],
)
def test_impossible_passages_are_explained(first: int, last: int, phrase: str, message: str) -> None:
    with pytest.raises(t.TutorialError, match=message) as err:
        t.lines_to_span(TINY, first, last, phrase)
    assert "fix:" in str(err.value)


def test_transcript_lines_and_reading_view() -> None:
    lines = t.transcript_lines(TINY, 2, 3)
    assert lines.to_dict("list") == {
        "line": [2, 3],
        "speaker": ["Ann", "Interviewer"],
        "text": ["I am so  kind to others.", "Why <so>?"],
    }
    assert t.read_transcript(TINY, 4, 4) == "` 4` **Ann:** Because."


def test_keyword_in_context_finds_words_that_start_alike(study: Study) -> None:
    kwic = t.keyword_in_context(study.transcripts["P01"], "kind")
    assert len(kwic) == 17
    assert kwic["line"].iloc[0] == 12
    assert set(kwic["word"].str.lower()) == {"kind", "kindly", "kindness"}
    assert kwic.loc[kwic["speaker"] == "Interviewer", "line"].tolist() == [31]  # "that kind of pain"
    assert kwic["left"].iloc[0] == 'Um, "being '  # context stops at the speaker label


def test_first_reading_numbers_of_p01(study: Study) -> None:
    from compendium.corpus import turns

    said = turns(study.transcripts["P01"]).query("speaker != 'Interviewer'")
    assert (len(t.transcript_lines(study.transcripts["P01"])), len(said), said["words"].sum()) == (58, 29, 2403)


def test_a_repeated_phrase_needs_an_explicit_choice(study: Study) -> None:
    text = "Interviewer: Hi?\nAnn: she said she would, and she did.\n"
    found = t.phrase_occurrences(text, 2, 2, "SHE")
    assert [text[a:b] for a, b in found] == ["she", "she", "she"]
    with pytest.raises(t.TutorialError, match=r"'SHE' occurs 3 times in line 2\.\s+fix: choose which one"):
        t.lines_to_span(text, 2, 2, "SHE")
    assert t.lines_to_span(text, 2, 2, "she", occurrence=2) == found[1]
    assert t.phrase_occurrences(text, 2, 2, "he") == []  # whole words: not inside "she"
    with pytest.raises(t.TutorialError, match="occurs 3 times"):
        t.lines_to_span(text, 2, 2, "she", occurrence=4)


def test_interviewer_lines_are_spotted(study: Study) -> None:
    text = study.transcripts["P01"]
    start, end = t.lines_to_span(text, 13, 14)
    assert t.interviewer_lines(text, start, end) == [13]
    assert t.interviewer_lines(text, *t.lines_to_span(text, 14, 14)) == []


# ------------------------------------------------------------------ a student's coding
def test_new_segment_is_a_row_of_coding_csv_without_a_theme(study: Study) -> None:
    seg = _segment(study, "P01", 14, 14, "a night off", statement="  Rest as   desertion ")
    assert list(seg) == s.coding_table().columns
    assert (seg["excerpt"], seg["theme_id"], seg["experiential_statement"], seg["coding_round"]) == (
        "a night off",
        "",
        "Rest as desertion",
        1,
    )
    with pytest.raises(CompendiumError, match="Unknown participant 'P99'"):
        s.new_segment(study, "P99", 0, 5)
    with pytest.raises(t.TutorialError, match="'9.9' is not a codable theme"):
        s.new_segment(study, "P01", 0, 5, "9.9")


def test_adding_numbers_passages_and_updating_keeps_the_id(study: Study) -> None:
    coding = s.empty_coding()
    coding, a = s.add_segment(coding, _segment(study, "P01", 20, 20))
    coding, b = s.add_segment(coding, _segment(study, "P01", 14, 14))
    coding, c2 = s.add_segment(coding, _segment(study, "P02", 16, 16))
    assert (a, b, c2) == ("P01-U01", "P01-U02", "P02-U01")
    assert coding["segment_id"].tolist() == ["P01-U02", "P01-U01", "P02-U01"]  # transcript order
    coding, again = s.add_segment(coding, _segment(study, "P01", 14, 14, conceptual="changed my mind"))
    assert again == "P01-U02" and len(coding) == 3
    assert coding.set_index("segment_id").loc["P01-U02", "note_conceptual"] == "changed my mind"
    coding = s.remove_segment(coding, "P01-U01")
    coding, d = s.add_segment(coding, _segment(study, "P01", 22, 22))
    assert d == "P01-U03"  # ids are never reused within a file
    with pytest.raises(t.TutorialError, match="no passage 'P01-U01' in your coding"):
        s.remove_segment(coding, "P01-U01")


def test_saved_coding_reads_back_identically_and_atomically(study: Study, tmp_path: Path) -> None:
    coding, _ = s.add_segment(
        s.empty_coding(),
        _segment(study, "P01", 14, 14, "night off", linguistic='"night off", with a comma, and\na new line'),
    )
    coding, _ = s.add_segment(coding, _segment(study, "P03", 10, 12))
    path = tmp_path / "student_work" / "ana" / "coding.csv"
    assert s.save_student_coding(path, coding) == path
    assert [f.name for f in path.parent.iterdir()] == ["coding.csv"]  # no temporary file left behind
    back = s.load_student_coding(path, study)
    pd.testing.assert_frame_equal(back, coding.reset_index(drop=True), check_dtype=False)
    assert back["start"].dtype.kind == "i"
    empty = s.load_student_coding(tmp_path / "nobody.csv", study)
    assert empty.empty and list(empty.columns) == s.coding_table().columns


GOOD_ROW = "P01-U01,P01,4200,4224,she deserved a night off,,,,,Rest as desertion,ana,1"
HEADER = ",".join(s.coding_table().columns)


@pytest.mark.parametrize(
    "content,where,what",
    [
        (b"\xff\xfe" + HEADER.encode("utf-16-le"), None, "is not UTF-8 text"),
        (f'{HEADER}\n"P01-U01,P01,4200\n'.encode(), None, "is not a readable CSV table"),
        (b"segment_id,participant_id\nP01-U01,P01\n", None, "lacks the column(s) start, end, excerpt"),
        (
            f"{HEADER}\n{GOOD_ROW.replace('4200', 'x42')}\n".encode(),
            "row 1, column 'start'",
            "expected an integer value (found 'x42')",
        ),
        (
            f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace(',,,,,', ',3,,,,').replace('U01', 'U02')}\n".encode(),
            "row 2, column 'theme_id'",
            "theme '3' is not a codable theme",
        ),
        (
            f"{HEADER}\n{GOOD_ROW.replace('P01,', 'P42,')}\n".encode(),
            "row 1, column 'participant_id'",
            "participant_id 'P42' is not in the participants table",
        ),
        (
            f"{HEADER}\n{GOOD_ROW.replace('4224', '4225')}\n".encode(),
            "row 1, column 'excerpt'",
            "the excerpt does not match the transcript at 4200-4225",
        ),
        (f"{HEADER}\n{GOOD_ROW.replace('4224', '99999')}\n".encode(), "row 1, column 'end'", "lies outside transcript"),
        (
            f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n".encode(),
            "row 2, column 'segment_id'",
            "segment_id must be unique, but this value also appears in data row 1",
        ),
    ],
)
def test_a_corrupt_student_file_names_the_file_the_row_and_the_fix(
    study: Study, tmp_path: Path, content: bytes, where: str | None, what: str
) -> None:
    path = tmp_path / "student_work" / "ana" / "coding.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(s.StudentWorkError) as err:
        s.load_student_coding(path, study)
    message = str(err.value)
    assert message.startswith("Your saved coding cannot be read: 1 problem found.")
    assert f"{path}" in message and what in message
    if where:
        assert f"{path}, {where}" in message
    assert "fix:" in message and "coding.broken.csv" in message


def test_the_good_row_of_those_cases_is_valid(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "coding.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW}\n", encoding="utf-8")
    assert s.load_student_coding(path, study)["excerpt"].tolist() == ["she deserved a night off"]


def _coded(study: Study, root: Paths, student: str = "ana") -> None:
    """A student who has coded three P01 and two P02 passages, each with a statement."""
    coding = s.empty_coding()
    for pid, line, phrase, statement in (
        ("P01", 14, "she deserved a night off", "Rest feels like desertion"),
        ("P01", 20, "", "A child blames herself"),
        ("P01", 38, "", "Mixed feelings about the work"),
        ("P02", 8, "", "Greeting"),
        ("P02", 16, "", "Kindness is dangerous at home"),
    ):
        coding, _ = s.add_segment(coding, _segment(study, pid, line, line, phrase, statement=statement))
    s.save_student_coding(s.student_file(student, root), coding)


def test_personal_and_group_themes_are_saved_per_case_and_checked(study: Study, root: Paths) -> None:
    _coded(study, root)
    ids = s.load_student_coding(s.student_file("ana", root), study).set_index("excerpt")["segment_id"]
    p01 = s.load_student_coding(s.student_file("ana", root), study).query("participant_id == 'P01'")["segment_id"]
    theme = saved.save_pet("ana", study, "P01", "  Kindness as   betrayal ", p01.tolist()[:2], root)
    assert theme == {"name": "Kindness as betrayal", "segments": p01.tolist()[:2]}
    saved.save_pet("ana", study, "P01", "kindness as betrayal", p01.tolist()[:1], root)  # same name: replaced
    assert [t_["segments"] for t_ in saved.load_pets("ana", root)["P01"]] == [p01.tolist()[:1]]
    with pytest.raises(t.TutorialError, match="P01-S02 is not one of your passages of P01"):
        saved.save_pet("ana", study, "P01", "Study ids", ["P01-S02"], root)
    with pytest.raises(t.TutorialError, match="gathers no statements"):
        saved.save_pet("ana", study, "P01", "Empty", [], root)
    with pytest.raises(t.TutorialError, match="has no name"):
        saved.save_pet("ana", study, "P01", "  ", p01.tolist(), root)
    saved.save_pet("ana", study, "P02", "Danger at home", ["P02-U02"], root)
    pet = "kindness as betrayal"  # the replacing theme's spelling
    with pytest.raises(t.TutorialError, match="draws on 1 case"):
        saved.save_group("ana", "Only one", [("P01", pet)], root)
    with pytest.raises(t.TutorialError, match="P02: Nope is not one of your personal experiential themes"):
        saved.save_group("ana", "Bad", [("P01", pet), ("P02", "Nope")], root)
    group = saved.save_group("ana", "Loyalty binds", [("P01", pet), ("P02", "Danger at home")], root)
    assert saved.load_groups("ana", root) == [group] and group["pets"] == [["P01", pet], ["P02", "Danger at home"]]
    (s.student_folder("ana", root) / "pets.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(s.StudentWorkError, match=r"pets\.json: is not readable JSON"):
        saved.load_pets("ana", root)
    assert len(ids) == 5


def test_answers_are_kept_per_tutorial(root: Paths) -> None:
    saved.save_answer("ana", "T5", "memo", "I expect loyalty.", root)
    saved.save_answer("ana", "T2", "linguistic", "'faulty'", root)
    assert saved.load_answers("ana", root) == {"T5": {"memo": "I expect loyalty."}, "T2": {"linguistic": "'faulty'"}}


# ------------------------------------------------------------------ comparison
def test_comparison_passage_by_passage(study: Study) -> None:
    coding = s.empty_coding()
    for seg in (
        _segment(study, "P01", 14, 14, statement="Rest as desertion"),  # whole turn around P01-S02
        _segment(study, "P01", 20, 20, "something wrong with me"),  # inside P01-S04
        _segment(study, "P01", 38, 38),
    ):  # a line the study left uncoded
        coding, _ = s.add_segment(coding, seg)
    cmp = c.compare_coding(coding, study)
    assert cmp["outcome"].value_counts().to_dict() == {"only the study": 14, "both read this": 2, "only you": 1}
    met = cmp[cmp["study_segment"] != ""].set_index("study_segment")
    assert met.loc["P01-S02", ["outcome", "your_segment", "your_statement", "covered"]].tolist() == [
        "both read this",
        "P01-U01",
        "Rest as desertion",
        1.0,
    ]
    assert met.loc["P01-S02", "study_statement"] == "A night off felt like abandoning mum"
    assert met.loc["P01-S04", "covered"] == round(len("something wrong with me") / (5759 - 5435), 2)
    assert "write your own statement before reading theirs" in met.loc["P01-S04", "feedback"]
    assert cmp.loc[cmp["outcome"] == "only you", "lines"].tolist() == ["38"]
    assert cmp["lines"].tolist()[:3] == ["8", "14", "16"]  # transcript order
    summary = c.comparison_summary(cmp)
    assert summary.startswith(
        "You coded 3 passages. 2 times your passage meets one of the study's; 1 passage only "
        "you coded, 14 passages only the study coded."
    )
    assert "not a marking scheme" in summary
    assert c.comparison_summary(c.compare_coding(s.empty_coding(), study)).startswith("Nothing to compare yet")


def test_pets_and_groups_are_compared_as_discussion(study: Study, root: Paths) -> None:
    _coded(study, root)
    coding = s.load_student_coding(s.student_file("ana", root), study).set_index("segment_id")
    first = c.compare_pets("ana", study, "P01", root)
    assert "Name yours first" in first and "analyst" not in first and "1.2" not in first  # nothing before hers
    assert "Build yours first" in c.compare_groups("ana", study, root)
    assert "voiced by" not in c.compare_groups("ana", study, root)
    saved.save_pet("ana", study, "P01", "Rest <b>is</b> *betrayal*", ["P01-U01"], root)
    saved.save_pet("ana", study, "P01", "Mixed", ["P01-U03"], root)
    saved.save_pet("ana", study, "P02", "Danger at home", ["P02-U02"], root)
    text = c.compare_pets("ana", study, "P01", root)
    assert "**Rest \\<b\\>is\\</b\\> \\*betrayal\\***" in text  # student text stays text
    assert "sit in the study's theme 1.2 Divided loyalty: self or other" in text
    assert "None of its passages is coded by the study" in text  # line 38
    assert "One analyst's reading:** the study grouped Jennifer's 16 statements into 7" in text
    saved.save_group("ana", "Loyalty binds", [("P01", "Rest <b>is</b> *betrayal*"), ("P02", "Danger at home")], root)
    groups = c.compare_groups("ana", study, root)
    assert "**Loyalty binds** gathers" in groups and "recurs in 2 of the 2 cases you analysed" in groups
    assert "meet the study's themes 1.2 Divided loyalty" in groups and "converge" in groups
    assert "voiced by 8 of 8" in groups
    assert coding.loc["P02-U02", "experiential_statement"] == "Kindness is dangerous at home"


# ------------------------------------------------------------------ exercises
def test_t1_lines_typed_as_plain_text(study: Study) -> None:
    assert x.coded_lines(study, "P01") == P01_CODED_LINES
    assert x.feedback_lines("", study, "P01") == x.NOT_YET
    fb = x.feedback_lines("3, 8, 38", study, "P01")
    assert fb == x.feedback_lines([3, 8, 38], study, "P01")
    assert fb.startswith("You picked 3 line(s); 1 of them hold passages the study coded.")
    assert "Line 38 was left uncoded" in fb and "Line 3 is the interviewer's" in fb
    assert "coded 12 further line(s)" in fb
    assert "not in this transcript (lines 1-58)" in x.feedback_lines("99", study, "P01")
    refusal = x.feedback_lines("14, sixteen", study, "P01")
    assert refusal.startswith("**I can't read that answer yet:** 'sixteen' is not a line number.") and "fix:" in refusal
    assert "\n" not in refusal
    answer = x.answer_lines(study, "P01")
    assert "lines 8, 14, 16, 20, 22, 26, 28, 32, 36, 40, 42, 46, 48." in answer


def test_t2_notes_are_read_against_the_passage(study: Study) -> None:
    assert x.feedback_notes(study, "P01-S05", "", " ", "") == x.NOT_YET
    fb = x.feedback_notes(study, "P01-S05", "banana", "purple elephants dancing", "banana banana banana")
    assert "good" not in fb.lower() and "plausible" not in fb
    assert fb.count("not tied to the passage") == 2 and "not something I can read as an answer" in fb
    fb = x.feedback_notes(
        study,
        "P01-S05",
        "A client in her thirties sees herself as a faulty product.",
        "The image 'faulty product' turns her into a thing made wrong.",
        "Perhaps shame has become part of who she is, so kindness seems absurd.",
    )
    assert fb.count("nothing wrong that I can check") == 3 and "compare" in fb
    assert "*Linguistic:* " in x.answer_notes(study, "P01-S05") and "line 22" in x.answer_notes(study, "P01-S05")
    held = x.notes_of_kind(study, "P01", "linguistic", exclude="P01-S05")
    seg = study.coding.set_index("segment_id").loc["P01-S05"]
    assert "manufacturing metaphor" not in held and "held back" in held and held.count("\n- line") == 14
    with pytest.raises(t.TutorialError, match="'poetic' is not a kind of exploratory note"):
        x.notes_of_kind(study, "P01", "poetic")
    assert seg.note_linguistic.startswith("The manufacturing metaphor")


def test_t3_statements(study: Study) -> None:
    assert x.feedback_statement(study, "P01-S11", "") == x.NOT_YET
    assert "too short" in x.feedback_statement(study, "P01-S11", "Grief")
    assert "theme label of the study word for word" in x.feedback_statement(
        study, "P01-S11", "Willingness to engage with suffering"
    )
    fb = x.feedback_statement(study, "P01-S11", "Sharing grief makes kindness feel real")
    assert "nothing wrong that I can check" in fb and "6 words" in fb
    held = x.study_statements(study, "P01", exclude="P01-S11")
    assert len(held) == 15 and "Bearing grief together" not in " ".join(held["experiential_statement"])
    assert "Bearing grief together makes kindness believable" in x.answer_statement(study, "P01-S11")


def test_t4_clustering_strategies(study: Study) -> None:
    segs = case_segments(study, "P01")
    num = x.numeration(segs)
    assert num[["theme_id", "statements"]].head(2).values.tolist() == [["1.2", 3], ["3.1", 3]]
    ctx = x.contextualise(segs, study.transcripts["P01"])
    assert ctx["phase"].value_counts().to_dict() == {"middle": 8, "closing": 5, "opening": 3}
    sub = x.subsumption_candidates(segs).set_index("theme_id")
    assert sub.loc["1.2", ["candidate", "shared_words"]].tolist() == ["P01-S16", 2]
    todo = x.statements_to_cluster(study, "P03")
    assert list(todo.columns) == ["segment_id", "lines", "statement"] and len(todo) == 16


def test_t4_feedback_reads_the_students_own_statements(study: Study, root: Paths) -> None:
    assert "No name set yet" in x.my_statements("", study, "P01", root)
    _coded(study, root)
    mine = x.my_statements("ana", study, "P01", root)
    assert mine["segment_id"].tolist() == ["P01-U01", "P01-U02", "P01-U03"]
    fb = x.feedback_clusters("Rest is betrayal: P01-U01, p1-u2\nasdf qwer: P01-U01, P01-S02", study, "P01", "ana", root)
    assert "**Rest is betrayal** (2 statements)" in fb
    assert "not something I can read" in fb and "P01-S02 are not among your statements" in fb
    assert "In more than one theme: P01-U01" in fb and "Not in any theme yet: P01-U03" in fb
    assert "theme 1.2" not in fb  # the study's themes come only in the comparison
    assert x.feedback_clusters("no colon here", study, "P01", "ana", root).startswith("**I can't read")
    assert "No personal experiential themes saved" in x.feedback_my_pets("ana", study, "P01", root)
    saved.save_pet("ana", study, "P01", "Rest is betrayal", ["P01-U01"], root)
    assert "A theme of one statement" in x.feedback_my_pets("ana", study, "P01", root)
    assert x.answer_clusters(study, "P03").startswith("The study grouped Amy's 16 statements into 8 personal")


def test_t5_memo_is_read_and_kept(study: Study, root: Paths) -> None:
    assert x.feedback_memo("", study) == x.NOT_YET
    assert "not something I can read" in x.feedback_memo(" ".join(["asdf qwerty"] * 15), study, p=root)
    third = (
        "The next clinician will probably talk about loyalty again, since the last one spoke about clients who "
        "felt that rest was a betrayal of a parent, and the memo should name that expectation clearly."
    )
    assert "Try the first person" in x.feedback_memo(third, study, p=root)
    memo = (
        "I expect the loyalty theme to return, because Jennifer's clients felt rest was desertion. I noticed I "
        "was moved by the faulty product image and I will check whether I hear it where it is not said."
    )
    s.set_profile("ana", root)
    fb = x.feedback_memo(memo, study, p=root)
    assert "nothing wrong that I can check" in fb and "Saved to `student_work/ana/answers.json`" in fb
    assert saved.load_answers("ana", root)["T5"]["memo"] == memo
    answer = x.answer_next_case(study, "P01", "P02")
    assert "memo on Lauren (2021-03-04)" in answer
    assert x.memo_text(study, "P01").startswith("M03, 2021-01-11 (reflexive):")


def test_t6_groups_and_recurrence(study: Study, root: Paths) -> None:
    _coded(study, root)
    assert "personal themes for 0 case(s)" in x.feedback_my_groups("ana", study, root)
    saved.save_pet("ana", study, "P01", "Rest is betrayal", ["P01-U01"], root)
    saved.save_pet("ana", study, "P01", "Blame", ["P01-U02"], root)
    saved.save_pet("ana", study, "P02", "Danger at home", ["P02-U02"], root)
    assert "No group theme saved yet" in x.feedback_my_groups("ana", study, root)
    saved.save_group("ana", "Loyalty binds", [("P01", "Rest is betrayal"), ("P02", "Danger at home")], root)
    fb = x.feedback_my_groups("ana", study, root)
    assert "**Loyalty binds**, from 2 of your 2 cases" in fb and "Not in any group theme: P01: Blame" in fb
    strict = x.group_recurrence(study, 0.75)
    assert strict.loc[strict["recurrent"], "theme_id"].tolist() == ["1.1", "1.2", "3.1", "3.1.1", "3.1.2", "3.2"]
    assert x.feedback_recurrence("", study, 0.75) == x.NOT_YET
    assert x.feedback_recurrence("3.2, 1.1 1.2; 3.1, 3.1.1, 3.1.2", study, 0.75).startswith("These 6 themes")
    fb = x.feedback_recurrence([1.2, "2.1"], study, 0.75)
    assert "2.1 fall short" in fb and "5 recurring theme(s) are missing" in fb
    assert x.feedback_recurrence("one", study, 0.75).startswith("**I can't read that answer yet:** 'one' is not")
    assert "present in at least 6 of 8 cases', 6 of 9" in x.answer_recurrence(study, 0.75)


def test_t7_quotes_and_paragraph(study: Study, root: Paths) -> None:
    assert x.quote_reference(study, "P01-S02").endswith('walking out on her mother." (Jennifer, line 14)')
    answer = x.answer_quotes(study, "3.1.2")
    # Clinicians who already supplied quotations to earlier themes come last, so the rule turns to other voices.
    assert answer.startswith("The quote rule picks P04-S07, P06-S08 (Susan, Nicole).")
    assert x.feedback_quotes("", study, "3.1.2") == x.NOT_YET
    assert "All from one clinician" in x.feedback_quotes("P01-S08, p1-s9", study, "3.1.2")
    fb = x.feedback_quotes(["P01-S02", "P99-S01"], study, "3.1.2")
    assert "coded to 1.2, not 3.1.2" in fb and "P99-S01: not a segment id" in fb
    assert x.feedback_quotes({"a": 1}, study, "3.1.2").startswith("**I can't read that answer yet:** expected a list")
    assert x.feedback_paragraph("", study) == x.NOT_YET
    assert "not something I can read" in x.feedback_paragraph("asdf " * 40, study)
    seg = study.coding.set_index("segment_id").loc["P01-S09"]
    quote = " ".join(seg.excerpt.split()[:8])
    para = (
        f"**3.1.2 Being self-compassionate in session.** Clinicians describe offering warmth before naming it. "
        f'Jennifer put it this way: "{quote}" (Jennifer, line 30). What I make of it is that the clinician lets '
        "the client feel the stance long before any word for it is offered, perhaps because a named technique "
        "would be refused while a felt warmth can slip past the critic. Seven of the eight clinicians voiced "
        "this, which suggests it is shared across professions rather than a personal style."
    )
    fb = x.feedback_paragraph(para, study, "P01-S09")
    assert "nothing wrong that I can check" in fb and "1 quote(s) from the passages, 1 clinician(s) named" in fb
    assert "give the transcript line" in x.feedback_paragraph(para.replace("line 30", ""), study, "P01-S09")


def test_markdown_answers_render_as_markdown_and_escape_text(study: Study) -> None:
    card = x.segment_card(study, "P01-S02", notes=True, statement=True, theme=True)
    assert isinstance(card, str) and card._repr_markdown_() == str(card)
    assert card.startswith("**P01-S02**, Jennifer (P01), line 14\n\n> When I suggested")
    assert "**Theme:** 1.2 Divided loyalty: self or other" in card
    with pytest.raises(t.TutorialError, match="no segment 'P01-S99'"):
        x.segment_card(study, "P01-S99")
    assert c.md_text("<script>*x*</script>") == "\\<script\\>\\*x\\*\\</script\\>"


def test_progress_checklist_reads_the_students_files(study: Study, root: Paths) -> None:
    assert "No name set yet" in x.progress("", "T4", root, study) and "about 60 minutes" in x.progress(
        "", "T4", root, study
    )
    _coded(study, root)
    s.set_profile("ana", root)
    assert "- [ ] name at least one personal theme" in x.progress("", "T4", root, study)
    saved.save_pet("ana", study, "P01", "Rest is betrayal", ["P01-U01"], root)
    assert "- [x] name at least one personal theme" in x.progress("", "T4", root, study)
    (root.student_work / "ana" / "groups.json").write_text("[1]", encoding="utf-8")
    shown = x.progress("", "T4", root, study)
    assert "groups.json: an entry is not a group theme" in shown and "fix:" in shown and "- [ ]" in shown
    with pytest.raises(t.TutorialError, match="'T9' is not a tutorial"):
        x.progress("ana", "T9", root, study)


# ------------------------------------------------------------------ the widgets, driven from Python
def test_reveal_hides_the_answer_until_the_button_is_pressed() -> None:
    box = reveal("the *answer*", "exercise")
    button, out = box.children
    assert "the *answer*" not in repr(box) and out.outputs == ()
    button.click()
    assert out.outputs[0]["data"]["text/markdown"] == "**Model answer**\n\nthe *answer*"
    assert button.disabled
    shown = reveal("the *answer*", "solution")
    assert shown._repr_markdown_() == "**Model answer**\n\nthe *answer*"
    with pytest.raises(t.TutorialError):
        reveal("x", "teacher")


def test_transcript_html_marks_and_escapes() -> None:
    start, end = t.lines_to_span(TINY, 3, 3, "<so>")
    html = transcript_html(TINY, [(start, end), (start + 1, end), (33, 41)])
    assert html.count("<mark") == 2  # the two overlapping spans are merged
    assert "&lt;so&gt;</mark>" in html and "<so>" not in html
    assert "<b>Interviewer</b>: Hi there?" in html


def test_workspace_asks_for_a_name_once_then_saves_reloads_clears_and_compares(study: Study, root: Paths) -> None:
    data_before = _digest(root.data)
    cw = CodingWidget(load_study(root), "P01", "", p=root)
    assert cw.student == "" and cw.name_row.layout.display is None and "set your name" in cw.header.value
    assert cw.occurrence.layout.display == "none"  # no phrase yet, so no choice of occurrence
    assert all(
        box.layout.display is None for box in (cw.phrase, cw.descriptive, cw.linguistic, cw.conceptual, cw.statement)
    ), "hiding one field hid the others"
    cw.first.value = 14  # 'last' follows
    cw.phrase.value = "she deserved a night off"
    assert "line 14:</i> she deserved a night off" in cw.preview.value
    cw.save_button.click()
    assert "Not saved: no name set yet" in _text(cw.status) and not root.student_work.exists()
    cw.name_box.value = "two words"
    cw.name_button.click()
    assert "cannot be used as a folder name" in _text(cw.status)
    cw.name_box.value = "ana"
    cw.name_button.click()
    assert cw.student == "ana" and s.read_profile(root) == "ana" and cw.name_row.layout.display == "none"
    cw.statement.value, cw.conceptual.value = "Rest as desertion", "Leaving mum unguarded"
    cw.save_button.click()
    assert "Saved P01-U01 (line 14) to student_work/ana/coding.csv. Still empty: descriptive, linguistic" in _text(
        cw.status
    )
    assert '<mark style="background:#fff3b0">she deserved a night off</mark>' in cw.transcript.value
    assert _digest(root.data) == data_before

    cw.new_button.click()  # the form is empty for the next passage
    assert (cw.phrase.value, cw.statement.value, cw.conceptual.value) == ("", "", "")
    cw.first.value, cw.last.value = 13, 14
    assert "Line 13 is the interviewer's" in _text(cw.preview)
    cw.save_button.click()
    assert "Note: line 13 is the interviewer's" in _text(cw.status)
    cw.first.value, cw.last.value, cw.phrase.value = 14, 14, "she"
    assert cw.occurrence.layout.display is None and len(cw.occurrence.options) == 4
    assert "occurs 4 times in line 14" in _text(cw.preview)
    cw.save_button.click()
    assert "Not saved: the phrase 'she' occurs 4 times" in _text(cw.status)
    cw.occurrence.value = 2
    cw.save_button.click()
    assert "Saved P01-U03" in _text(cw.status)

    again = CodingWidget(load_study(root), "P01", p=root)  # another tutorial: the profile gives the name
    assert again.student == "ana" and len(again.coding) == 3
    again.passages.value = "P01-U01"
    assert (again.first.value, again.phrase.value, again.statement.value) == (
        14,
        "she deserved a night off",
        "Rest as desertion",
    )
    again.passages.value = "P01-U03"
    assert (again.phrase.value, again.occurrence.value) == ("she", 2)
    again.compare_button.click()
    assert "both read this" in again.comparison.value and "A night off felt like abandoning mum" in _text(
        again.comparison
    )
    again.passages.value = "P01-U03"
    again.remove_button.click()
    assert "Removed P01-U03" in _text(again.status)


def test_workspace_shows_a_corrupt_file_without_a_traceback(study: Study, root: Paths) -> None:
    folder = root.student_work / "ana"
    folder.mkdir(parents=True)
    (folder / "coding.csv").write_text("segment_id\nP01-U01\n", encoding="utf-8")
    cw = CodingWidget(study, "P01", "ana", p=root)
    assert re.search(r"coding\.csv: lacks the column.*fix: .*coding\.broken\.csv", _text(cw.status), re.S)
    bad = CodingWidget(study, "P01", "../x", p=root)
    assert "cannot be used as a folder name" in _text(bad.status) and bad.student == ""


def test_coding_saved_by_the_earlier_version_is_adopted(study: Study, root: Paths) -> None:
    root.student_work.mkdir()
    old = root.student_work / "ana.csv"
    old.write_text(f"{HEADER}\n{GOOD_ROW.replace(',,,,,', ',1.2,,,,')}\n", encoding="utf-8")
    cw = CodingWidget(study, "P01", "ana", p=root)
    assert cw.coding["segment_id"].tolist() == ["P01-U01"] and "earlier coding" in _text(cw.status)
    assert old.is_file() and s.adopt_earlier_coding("ana", root) is None  # once only


def test_theme_and_group_workspaces(study: Study, root: Paths) -> None:
    _coded(study, root)
    tw = ThemeWidget(study, "P01", "ana", p=root)
    assert list(tw.checks) == ["P01-U01", "P01-U02", "P01-U03"]
    tw.save_button.click()
    assert "Not saved: your theme has no name" in _text(tw.status)
    tw.name.value = "Rest is betrayal"
    tw.checks["P01-U01"].value = tw.checks["P01-U02"].value = True
    tw.save_button.click()
    assert "Saved your theme 'Rest is betrayal' (2 statements)" in _text(tw.status)
    assert tw.name.value == "" and not any(b.value for b in tw.checks.values())
    tw.saved.value = "Rest is betrayal"
    assert tw.checks["P01-U02"].value and tw.name.value == "Rest is betrayal"
    tw.compare_button.click()
    assert "One analyst's reading" in _text(tw.comparison) and "<table" not in tw.comparison.value
    ThemeWidget(study, "P02", "ana", p=root).name.value = "x"
    saved.save_pet("ana", study, "P02", "Danger at home", ["P02-U02"], root)
    gw = GroupWidget(study, "ana", p=root)
    assert len(gw.checks) == 2
    for box in gw.checks.values():
        box.value = True
    gw.name.value = "Loyalty binds"
    gw.save_button.click()
    assert "Saved your group theme 'Loyalty binds' (from 2 cases)" in _text(gw.status)
    gw.compare_button.click()
    assert "Loyalty binds" in _text(gw.comparison) and "study's group experiential themes" in _text(gw.comparison)


def test_comparison_html_colours_outcomes(study: Study) -> None:
    coding, _ = s.add_segment(s.empty_coding(), _segment(study, "P01", 38, 38, statement="<i>mine</i>"))
    html = comparison_html(c.compare_coding(coding, study))
    assert html.startswith("<p>You coded 1 passage.")
    assert '<tr style="background:#dbe9f6"><td style="padding:0.25em 0.5em;vertical-align:top">38</td>' in html
    assert "&lt;i&gt;mine&lt;/i&gt;" in html and "<i>mine" not in html


# ------------------------------------------------------------------ the notebooks themselves
TUTORIALS = [
    "T1_read_transcript",
    "T2_write_notes",
    "T3_write_statements",
    "T4_cluster_statements",
    "T5_bracket_case",
    "T6_compare_cases",
    "T7_write_up",
]


def _cells(stem: str) -> list[dict]:
    return json.loads((paths().notebooks / "tutorial" / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]


def test_the_seven_tutorials_exist_in_order() -> None:
    found = sorted(p.stem for p in (paths().notebooks / "tutorial").glob("*.ipynb"))
    assert found == TUTORIALS


@pytest.mark.parametrize("stem", TUTORIALS)
def test_tutorials_are_thin_and_parameterised(stem: str) -> None:
    cells = _cells(stem)
    source = ["".join(cell["source"]) for cell in cells]
    assert cells[0]["cell_type"] == "markdown" and source[0].startswith(f"# {stem[:2]}. ")
    for part in ("**Purpose:**", "**IPA step", "**Inputs:**", "**Outputs:**", "**Time:** about"):
        assert part in source[0]
    assert f"`.venv/bin/python -m compendium tutorial {stem[:2]} --mode solution`" in source[0]
    assert "`papermill " not in source[0]
    assert cells[1]["metadata"].get("tags") == ["parameters"]
    assert source[1].startswith('mode: str = "exercise"') and 'student: str = ""' in source[1]
    assert all(re.match(r"^\w+: [\w\[\], ]+ = [^=]+  # ", line) for line in source[1].splitlines())
    assert all(line.startswith(("from compendium", " ")) for line in source[2].splitlines())
    code = "\n".join(src for cell, src in zip(cells, source) if cell["cell_type"] == "code")
    assert not re.search(r"^\s*(def|class) ", code, re.M), "logic belongs in compendium, not in a notebook"
    assert not re.search(r"\b(write_\w+|to_csv|open)\(", code), "tutorials must not write files"
    assert "reveal(" in code and "check_mode(mode)" in code and f'progress(student, "{stem[:2]}"' in code
    assert not re.search(r"my_\w+: (list|dict)", code), "answers are plain strings or widgets, not literals"


def test_ipa_terms_are_explained_where_they_matter() -> None:
    prose = {
        stem: "\n".join("".join(cell["source"]) for cell in _cells(stem) if cell["cell_type"] == "markdown")
        for stem in TUTORIALS
    }
    assert "phenomenological" in prose["T1_read_transcript"]
    assert "double hermeneutic" in prose["T2_write_notes"] and "double hermeneutic" in prose["T3_write_statements"]
    assert "idiographic" in prose["T4_cluster_statements"] and "idiographic" in prose["T5_bracket_case"]
    assert "template coding" in prose["T4_cluster_statements"]
