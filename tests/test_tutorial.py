"""The tutorials' logic and the coding workspace, without a browser.

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

from compendium import tutorial as t
from compendium.cases import case_segments
from compendium.data import Study, load_study
from compendium.errors import CompendiumError
from compendium.paths import Paths, paths
from compendium.widget import CodingWidget, comparison_html, reveal, transcript_html

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


def _segment(study: Study, participant: str, first: int, last: int, theme: str, phrase: str = "",
             **notes: str) -> dict:
    start, end = t.lines_to_span(study.transcripts[participant], first, last, phrase)
    return t.new_segment(study, participant, start, end, theme, analyst="tester", **notes)


# ------------------------------------------------------------------ parameters
def test_mode_is_exercise_or_solution() -> None:
    assert t.check_mode("exercise") == "exercise"
    assert t.check_mode("solution") == "solution"
    with pytest.raises(t.TutorialError, match=r"(?s)'answers' is not a tutorial mode.*fix:.*-p mode solution"):
        t.check_mode("answers")


@pytest.mark.parametrize("name", ["ana", "Ana_Lopez", "s1234567", "a-b"])
def test_student_names_that_make_file_names(name: str) -> None:
    assert t.check_student(f" {name} ") == name
    assert t.student_file(name, Paths(Path("/x"))) == Path("/x/student_work") / f"{name}.csv"


@pytest.mark.parametrize("name", ["", "../data/synthetic/coding", "two words", "-x", "a/b", "x" * 41])
def test_student_names_that_are_refused(name: str) -> None:
    with pytest.raises(t.TutorialError, match="cannot be used as a file name"):
        t.check_student(name)


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


@pytest.mark.parametrize("first,last,phrase,message", [
    (0, 1, "", r"lines 0-1 are not a passage of this transcript, which has lines 1-4"),
    (3, 2, "", r"lines 3-2 are not a passage"),
    (4, 5, "", r"lines 4-5 are not a passage"),
    (2, 2, "unkind", r"the phrase 'unkind' does not occur in line 2"),
    (1, 2, "Because", r"the phrase 'Because' does not occur in lines 1-2"),
    ("2", 2, "", r"lines '2'-2 are not line numbers"),
    (True, 2, "", r"lines True-2 are not line numbers"),
])
def test_impossible_passages_are_explained(first: int, last: int, phrase: str, message: str) -> None:
    with pytest.raises(t.TutorialError, match=message) as err:
        t.lines_to_span(TINY, first, last, phrase)
    assert "fix:" in str(err.value)


def test_transcript_lines_and_reading_view() -> None:
    lines = t.transcript_lines(TINY, 2, 3)
    assert lines.to_dict("list") == {"line": [2, 3], "speaker": ["Ann", "Interviewer"],
                                     "text": ["I am so  kind to others.", "Why <so>?"]}
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


# ------------------------------------------------------------------ a student's coding
def test_codable_themes_only_in_codebook_order(study: Study) -> None:
    assert [tid for _, tid in t.theme_choices(study.codebook)] == [
        "1.1", "1.2", "2.1", "2.2", "3.1", "3.1.1", "3.1.2", "3.1.3", "3.2"]


@pytest.mark.parametrize("theme,message", [
    (None, "no theme chosen"), ("", "no theme chosen"), ("9.9", "'9.9' is not in the codebook"),
    ("1", "theme 1 groups other themes and is not coded directly"),
])
def test_a_passage_needs_a_codable_theme(study: Study, theme: str | None, message: str) -> None:
    with pytest.raises(t.TutorialError, match=message) as err:
        _segment(study, "P01", 14, 14, theme)
    assert "1.1, 1.2, 2.1, 2.2, 3.1, 3.1.1, 3.1.2, 3.1.3, 3.2" in str(err.value)


def test_new_segment_is_a_row_of_coding_csv(study: Study) -> None:
    seg = _segment(study, "P01", 14, 14, "1.2", "a night off", statement="  Rest as   desertion ")
    assert list(seg) == t.CODING_COLUMNS
    assert (seg["excerpt"], seg["experiential_statement"], seg["coding_round"]) == ("a night off",
                                                                                    "Rest as desertion", 1)
    with pytest.raises(CompendiumError, match="Unknown participant 'P99'"):
        t.new_segment(study, "P99", 0, 5, "1.2")


def test_adding_numbers_passages_and_updating_keeps_the_id(study: Study) -> None:
    coding = t.empty_coding()
    coding, a = t.add_segment(coding, _segment(study, "P01", 20, 20, "1.1"))
    coding, b = t.add_segment(coding, _segment(study, "P01", 14, 14, "1.2"))
    coding, c = t.add_segment(coding, _segment(study, "P02", 16, 16, "1.2"))
    assert (a, b, c) == ("P01-U01", "P01-U02", "P02-U01")
    assert coding["segment_id"].tolist() == ["P01-U02", "P01-U01", "P02-U01"]  # transcript order
    coding, again = t.add_segment(coding, _segment(study, "P01", 14, 14, "1.1", conceptual="changed my mind"))
    assert again == "P01-U02" and len(coding) == 3
    assert coding.set_index("segment_id").loc["P01-U02", ["theme_id", "note_conceptual"]].tolist() == [
        "1.1", "changed my mind"]
    coding = t.remove_segment(coding, "P01-U01")
    assert coding["segment_id"].tolist() == ["P01-U02", "P02-U01"]
    coding, d = t.add_segment(coding, _segment(study, "P01", 22, 22, "1.1"))
    assert d == "P01-U03"  # ids are never reused within a file
    with pytest.raises(t.TutorialError, match="no passage 'P01-U01' in your coding"):
        t.remove_segment(coding, "P01-U01")


def test_saved_coding_reads_back_identically_and_atomically(study: Study, tmp_path: Path) -> None:
    coding, _ = t.add_segment(t.empty_coding(), _segment(study, "P01", 14, 14, "1.2", "night off",
                                                         linguistic='"night off", with a comma, and\na new line'))
    coding, _ = t.add_segment(coding, _segment(study, "P03", 10, 12, "3.1"))
    path = tmp_path / "student_work" / "ana.csv"
    assert t.save_student_coding(path, coding) == path
    assert [f.name for f in path.parent.iterdir()] == ["ana.csv"]  # no temporary file left behind
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(t.CODING_COLUMNS)
    back = t.load_student_coding(path, study)
    pd.testing.assert_frame_equal(back, coding.reset_index(drop=True), check_dtype=False)
    assert back["start"].dtype.kind == "i"


def test_no_file_yet_is_an_empty_coding(study: Study, tmp_path: Path) -> None:
    empty = t.load_student_coding(tmp_path / "nobody.csv", study)
    assert empty.empty and list(empty.columns) == t.CODING_COLUMNS


GOOD_ROW = ("P01-U01,P01,4200,4224,she deserved a night off,1.2,,,,Rest as desertion,ana,1")
HEADER = ",".join(t.CODING_COLUMNS)


@pytest.mark.parametrize("content,where,what", [
    (b"\xff\xfe" + HEADER.encode("utf-16-le"), None, "is not UTF-8 text"),
    (f'{HEADER}\n"P01-U01,P01,4200\n'.encode(), None, "is not a readable CSV table"),
    (b"segment_id,participant_id\nP01-U01,P01\n", None, "lacks the column(s) start, end, excerpt"),
    (f"{HEADER}\n{GOOD_ROW.replace('4200', 'x42')}\n".encode(), "row 1, column 'start'", "must be whole numbers"),
    (f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('1.2', '3').replace('U01', 'U02')}\n".encode(),
     "row 2, column 'theme_id'",
     "theme '3' is not a codable theme"),
    (f"{HEADER}\n{GOOD_ROW.replace('P01,', 'P42,')}\n".encode(), "row 1, column 'participant_id'",
     "participant 'P42' is not in the study"),
    (f"{HEADER}\n{GOOD_ROW.replace('4224', '4225')}\n".encode(), "row 1, column 'excerpt'",
     "the excerpt no longer matches transcript P01 at 4200-4225"),
    (f"{HEADER}\n{GOOD_ROW.replace('4224', '99999')}\n".encode(), "row 1, column 'end'", "lies outside transcript"),
    (f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n".encode(), "row 2, column 'segment_id'", "appears twice"),
])
def test_a_corrupt_student_file_names_the_file_the_row_and_the_fix(study: Study, tmp_path: Path, content: bytes,
                                                                   where: str | None, what: str) -> None:
    path = tmp_path / "student_work" / "ana.csv"
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(t.StudentWorkError) as err:
        t.load_student_coding(path, study)
    message = str(err.value)
    assert message.startswith("Your saved coding cannot be read: 1 problem found.")
    assert f"{path}" in message and what in message
    if where:
        assert f"{path}, {where}" in message
    assert "fix:" in message and "ana.broken.csv" in message


def test_the_good_row_of_those_cases_is_valid(study: Study, tmp_path: Path) -> None:
    path = tmp_path / "ana.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROW}\n", encoding="utf-8")
    assert t.load_student_coding(path, study)["excerpt"].tolist() == ["she deserved a night off"]


# ------------------------------------------------------------------ comparison
def test_comparison_passage_by_passage(study: Study) -> None:
    coding = t.empty_coding()
    for seg in (_segment(study, "P01", 14, 14, "1.2"),  # whole turn around P01-S02 (1.2): same theme
                _segment(study, "P01", 20, 20, "1.2", "something wrong with me"),  # inside P01-S04 (1.1)
                _segment(study, "P01", 26, 26, "3.1", "titrating a dose"),  # inside P01-S07 (3.1.1)
                _segment(study, "P01", 38, 38, "2.1")):  # line the study left uncoded
        coding, _ = t.add_segment(coding, seg)
    cmp = t.compare_coding(coding, study)
    assert cmp["outcome"].value_counts().to_dict() == {"only the study": 13, "same theme": 1,
                                                       "different theme": 2, "only you": 1}
    met = cmp[cmp["study_segment"] != ""].set_index("study_segment")
    assert met.loc["P01-S02", ["outcome", "your_segment", "covered"]].tolist() == ["same theme", "P01-U01", 1.0]
    assert met.loc["P01-S04", "outcome"] == "different theme"
    assert "Both sit under theme 1" in met.loc["P01-S04", "feedback"]
    assert met.loc["P01-S04", "covered"] == round(len("something wrong with me") / (5759 - 5435), 2)
    assert "One theme is inside the other" in met.loc["P01-S07", "feedback"]
    assert met.loc["P01-S06", "outcome"] == "only the study"
    mine_only = cmp[cmp["outcome"] == "only you"].iloc[0]
    assert (mine_only.lines, mine_only.your_segment, mine_only.your_theme) == ("38", "P01-U04", "2.1")
    assert cmp["lines"].tolist()[:3] == ["8", "14", "16"]  # transcript order
    assert t.compare_coding(coding, study, participants=[])["outcome"].tolist() == []
    summary = t.comparison_summary(cmp)
    assert summary.startswith("You coded 4 passages. Where they meet the study's passages, the theme is the same "
                              "1 time and different 2 times; 1 passage only you coded, 13 passages only the study")
    assert "not an agreement score" in summary
    assert t.comparison_summary(t.compare_coding(t.empty_coding(), study)).startswith("Nothing to compare yet")


def test_comparison_only_covers_the_participants_coded(study: Study) -> None:
    coding, _ = t.add_segment(t.empty_coding(), _segment(study, "P02", 16, 16, "1.2"))
    cmp = t.compare_coding(coding, study)
    assert set(cmp["participant_id"]) == {"P02"}
    assert len(cmp) == 16 - 2 + 2  # P02-S02 and P02-S03 both sit on line 16


# ------------------------------------------------------------------ exercises
def test_t1_lines(study: Study) -> None:
    assert t.coded_lines(study, "P01") == P01_CODED_LINES
    assert t.feedback_lines([], study, "P01") == t.NOT_YET
    fb = t.feedback_lines([3, 8, 38], study, "P01")
    assert fb.startswith("You picked 3 line(s); 1 of them hold passages the study coded (8).")
    assert "Line 38 was left uncoded" in fb and "Line 3 is the interviewer's" in fb
    assert "coded 12 further line(s)" in fb
    assert "not in this transcript (lines 1-58)" in t.feedback_lines([99], study, "P01")
    answer = t.answer_lines(study, "P01")
    assert "lines 8, 14, 16, 20, 22, 26, 28, 32, 36, 40, 42, 46, 48." in answer
    assert "|     38 | Mixed, I'd say." in answer


def test_t2_notes(study: Study) -> None:
    assert t.feedback_notes(study, "P01-S05", "", " ", "") == t.NOT_YET
    fb = t.feedback_notes(study, "P01-S05", "She feels faulty.", "Sounds sad.", "She feels faulty.")
    assert "does not quote the passage" in fb and "stays close to your descriptive note" in fb
    fb = t.feedback_notes(study, "P01-S05", "A client sees herself as faulty.", "The image 'faulty product'.",
                          "Shame may have become part of who she is.")
    assert "points at the speaker's own words" in fb and "moves beyond description" in fb
    assert "*Linguistic:* " in t.answer_notes(study, "P01-S05") and "line 22" in t.answer_notes(study, "P01-S05")
    linguistic = t.notes_of_kind(study, "P01", "linguistic").splitlines()
    assert len(linguistic) == 16 and linguistic[1].startswith("- line 14 (P01-S02): The phrase 'walking out on'")
    with pytest.raises(t.TutorialError, match="'poetic' is not a kind of exploratory note"):
        t.notes_of_kind(study, "P01", "poetic")


def test_t3_statements(study: Study) -> None:
    assert t.feedback_statement(study, "P01-S11", "") == t.NOT_YET
    assert "too short" in t.feedback_statement(study, "P01-S11", "Grief")
    assert "Aim for a short phrase" in t.feedback_statement(study, "P01-S11", " ".join(["word"] * 20))
    assert "repeats a codebook theme" in t.feedback_statement(study, "P01-S11", "Willingness to engage with suffering")
    fb = t.feedback_statement(study, "P01-S11", "Sharing grief makes kindness feel real")
    assert "Length is right (6 words)" in fb and "feel, grief, kindness, makes" in fb
    assert "Bearing grief together makes kindness believable" in t.answer_statement(study, "P01-S11")


def test_t4_clustering_strategies(study: Study) -> None:
    segs = case_segments(study, "P01")
    num = t.numeration(segs)
    assert num[["theme_id", "statements"]].head(2).values.tolist() == [["1.2", 3], ["3.1", 3]]
    assert num["statements"].sum() == 16
    ctx = t.contextualise(segs, study.transcripts["P01"])
    assert ctx["phase"].value_counts().to_dict() == {"middle": 8, "closing": 5, "opening": 3}
    sub = t.subsumption_candidates(segs).set_index("theme_id")
    assert sub.loc["1.2", ["candidate", "shared_words"]].tolist() == ["P01-S16", 2]  # mum (S02), kindness (S03)
    assert sub.loc["1.1", "candidate"] == ""
    todo = t.statements_to_cluster(study, "P03")
    assert list(todo.columns) == ["segment_id", "lines", "statement"] and len(todo) == 16


def test_t4_cluster_feedback(study: Study) -> None:
    assert t.feedback_clusters({}, study, "P01") == t.NOT_YET
    fb = t.feedback_clusters({"Loyalty": ["P01-S02", "P01-S03", "P01-S16"],
                              "Mixed": ["P01-S04", "P01-S12", "P01-S99"], "Again": ["P01-S02"]}, study, "P01")
    assert "**Loyalty** (3 statements): all sit in the study's theme 1.2" in fb
    assert "P01-S99 are not statements of P01" in fb
    assert "**Mixed** (2 statements) gathers several study themes: 1.1 (1), 3.2 (1)" in fb
    assert "In more than one cluster: P01-S02" in fb
    assert "Not yet placed: P01-S01, P01-S05" in fb
    answer = t.answer_clusters(study, "P03")
    assert answer.startswith("The study grouped Amy's 16 statements into 8 personal experiential themes")


def test_t5_next_case(study: Study) -> None:
    contrast = t.case_contrast(study, "P01", "P02").set_index("theme_id")["pattern"].to_dict()
    assert contrast == {"1.1": "in both", "1.2": "in both", "2.1": "only Lauren", "2.2": "in both",
                        "3.1": "in both", "3.1.1": "in both", "3.1.2": "only Jennifer", "3.1.3": "only Lauren",
                        "3.2": "in both"}
    answer = t.answer_next_case(study, "P01", "P02")
    assert "Themes Lauren voices that Jennifer did not: 2.1 Self-practice of self-compassion, 3.1.3" in answer
    assert "memo on Lauren (2021-03-04)" in answer
    assert t.memo_text(study, "P01").startswith("M03, 2021-01-11 (reflexive):")
    assert t.memo_text(study, "P01", "team") == "*No team memo about P01.*"
    assert t.feedback_memo("") == t.NOT_YET
    assert "Say a little more" in t.feedback_memo("I expect loyalty.")
    assert "Try the first person" in t.feedback_memo(" ".join(["the clients"] * 20))


def test_t6_recurrence(study: Study) -> None:
    rec = t.group_recurrence(study, 0.3333)
    assert rec["recurrent"].all() and len(rec) == 9
    strict = t.group_recurrence(study, 0.75)
    assert strict.loc[strict["recurrent"], "theme_id"].tolist() == ["1.1", "1.2", "3.1", "3.1.1", "3.1.2", "3.2"]
    assert t.feedback_recurrence([], study, 0.75) == t.NOT_YET
    assert t.feedback_recurrence(["3.2", "1.1", "1.2", "3.1", "3.1.1", "3.1.2"], study, 0.75).startswith("Right")
    fb = t.feedback_recurrence(["1.2", "2.1"], study, 0.75)
    assert "2.1 fall short" in fb and "5 recurring theme(s) are missing" in fb
    assert "are not codable themes" in t.feedback_recurrence(["1"], study, 0.75)
    assert "present in at least 6 of 8 cases', 6 of 9" in t.answer_recurrence(study, 0.75)


def test_t7_quotes(study: Study) -> None:
    assert t.quote_reference(study, "P01-S02").endswith("walking out on her mother.\" (Jennifer, line 14)")
    answer = t.answer_quotes(study, "3.1.2")
    # Clinicians who already supplied quotations to earlier themes come last, so the rule turns to other voices.
    assert answer.startswith("The quote rule picks P04-S07, P06-S08 (Susan, Nicole).")
    assert "The theme was voiced by 7 of the 8 clinicians." in answer
    para = t.woven_paragraph(study, "1.2", ["P01-S02"])
    assert para.startswith("**1.2 Divided loyalty: self or other.** Clients feel bound")
    assert "Jennifer put it this way:\n\n> \"When I suggested" in para
    passages = t.theme_passages(study, "3.1.2")
    assert passages.count("**P") == 11 and passages.startswith("**P01-S08**, Jennifer, line 28, 49 words\n\n> I really")
    with pytest.raises(t.TutorialError, match="no passages coded to theme '1'"):
        t.theme_passages(study, "1")
    assert t.feedback_quotes([], study, "3.1.2") == t.NOT_YET
    fb = t.feedback_quotes(["P01-S08", "P01-S09"], study, "3.1.2")
    assert "All from one clinician" in fb
    fb = t.feedback_quotes(["P01-S02", "P99-S01"], study, "3.1.2")
    assert "coded to 1.2, not 3.1.2" in fb and "P99-S01: not a segment id" in fb
    with pytest.raises(t.TutorialError, match="no quotes for theme '1'"):
        t.answer_quotes(study, "1")


def test_markdown_answers_render_as_markdown(study: Study) -> None:
    card = t.segment_card(study, "P01-S02", notes=True, statement=True, theme=True)
    assert isinstance(card, str) and card._repr_markdown_() == str(card)
    assert card.startswith("**P01-S02**, Jennifer (P01), line 14\n\n> When I suggested")
    assert "**Theme:** 1.2 Divided loyalty: self or other" in card
    with pytest.raises(t.TutorialError, match="no segment 'P01-S99'"):
        t.segment_card(study, "P01-S99")


# ------------------------------------------------------------------ the widget, driven from Python
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
    assert '&lt;so&gt;</mark>' in html and "<so>" not in html
    assert "<b>Interviewer</b>: Hi there?" in html


def test_workspace_saves_reloads_compares_and_removes(study: Study, root: Paths) -> None:
    data_before = _digest(root.data)
    cw = CodingWidget(load_study(root), "P01", "ana", p=root)
    assert cw.coding.empty and "student_work/ana.csv" in cw.header.value
    cw.first.value = 14  # 'last' follows
    assert cw.last.value == 14
    cw.phrase.value = "she deserved a night off"
    assert "line 14:</i> she deserved a night off" in cw.preview.value
    cw.save_button.click()  # no theme yet
    assert "Not saved: no theme chosen" in _text(cw.status) and not root.student_work.exists()
    cw.theme.value, cw.statement.value, cw.conceptual.value = "1.2", "Rest as desertion", "Leaving mum unguarded"
    cw.save_button.click()
    assert "Saved P01-U01 (line 14, theme 1.2) to student_work/ana.csv. Still empty: descriptive, linguistic" \
        in _text(cw.status)
    assert '<mark style="background:#fff3b0">she deserved a night off</mark>' in cw.transcript.value
    saved = root.student_work / "ana.csv"
    assert saved.is_file() and _digest(root.data) == data_before

    cw.phrase.value = "no such words"
    assert "does not occur in line 14" in cw.preview.value
    cw.save_button.click()
    assert "Not saved: the phrase 'no such words'" in _text(cw.status)

    again = CodingWidget(load_study(root), "P01", "ana", p=root)  # reopening the notebook
    assert again.coding["segment_id"].tolist() == ["P01-U01"]
    assert again.passages.options == (("P01-U01  line 14  1.2  Rest as desertion", "P01-U01"),)
    again.passages.value = "P01-U01"  # load it into the form, change it, save again
    assert (again.first.value, again.last.value, again.phrase.value, again.theme.value) == (
        14, 14, "she deserved a night off", "1.2")
    again.descriptive.value = "A night out feels forbidden."
    again.save_button.click()
    assert "Saved P01-U01" in _text(again.status) and "Still empty: linguistic" in _text(again.status)
    assert t.load_student_coding(saved, study)["note_descriptive"].tolist() == ["A night out feels forbidden."]

    again.compare_button.click()
    assert "Compared your 1 passage with the study's coding of P01" in _text(again.status)
    assert "same theme" in again.comparison.value and "P01-S02 (1.2)" in again.comparison.value
    assert again.comparison.value.count("<tr") == 1 + 16  # header, then one row per study passage

    again.passages.value = "P01-U01"
    again.remove_button.click()
    assert "Removed P01-U01" in _text(again.status)
    assert t.load_student_coding(saved, study).empty and again.passages.options == ()
    again.remove_button.click()
    assert "Choose one of your passages first" in _text(again.status)


def test_workspace_refuses_a_corrupt_file(study: Study, root: Paths) -> None:
    root.student_work.mkdir()
    (root.student_work / "ana.csv").write_text("segment_id\nP01-U01\n", encoding="utf-8")
    with pytest.raises(t.StudentWorkError, match=r"(?s)ana\.csv: lacks the column.*fix: .*ana\.broken\.csv"):
        CodingWidget(study, "P01", "ana", p=root)


def test_comparison_html_colours_outcomes(study: Study) -> None:
    coding, _ = t.add_segment(t.empty_coding(), _segment(study, "P01", 38, 38, "2.1"))
    html = comparison_html(t.compare_coding(coding, study))
    assert html.startswith("<p>You coded 1 passage.")
    assert '<tr style="background:#dbe9f6"><td style="padding:0.25em 0.5em;vertical-align:top">38</td>' in html
    assert comparison_html(t.compare_coding(t.empty_coding(), study)).startswith("<p>Nothing to compare yet")


# ------------------------------------------------------------------ the notebooks themselves
TUTORIALS = ["T1_read_transcript", "T2_write_notes", "T3_write_statements", "T4_cluster_statements",
             "T5_bracket_case", "T6_compare_cases", "T7_write_up"]


def _cells(stem: str) -> list[dict]:
    return json.loads((paths().notebooks / "tutorial" / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]


def test_the_seven_tutorials_exist_in_order() -> None:
    found = sorted(p.stem for p in (paths().notebooks / "tutorial").glob("*.ipynb"))
    assert found == TUTORIALS


@pytest.mark.parametrize("stem", TUTORIALS)
def test_tutorials_are_thin_and_parameterised(stem: str) -> None:
    cells = _cells(stem)
    source = ["".join(c["source"]) for c in cells]
    assert cells[0]["cell_type"] == "markdown" and source[0].startswith(f"# {stem[:2]}. ")
    for part in ("**Purpose:**", "**IPA step", "**Inputs:**", "**Outputs:**"):
        assert part in source[0]
    assert cells[1]["metadata"].get("tags") == ["parameters"]
    assert source[1].startswith('mode: str = "exercise"')
    assert all(re.match(r"^\w+: [\w\[\], ]+ = [^=]+  # ", line) for line in source[1].splitlines())
    assert all(line.startswith(("from compendium", " ")) for line in source[2].splitlines())
    code = "\n".join(s for c, s in zip(cells, source) if c["cell_type"] == "code")
    assert not re.search(r"^\s*(def|class) ", code, re.M), "logic belongs in compendium, not in a notebook"
    assert not re.search(r"\b(write_\w+|to_csv|open)\(", code), "tutorials must not write files"
    assert "reveal(" in code and "check_mode(mode)" in code
