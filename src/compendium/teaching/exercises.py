"""The exercises of the seven tutorials: material, feedback that reads the answer, and model answers.

Feedback goes through :mod:`compendium.teaching.feedback` (checks anchored in
the passage, honest about what it cannot judge). Student answers are accepted
as plain strings or lists and parsed forgivingly; anything that cannot be used
comes back as one line with a fix, never as a traceback. Given a student name
(or a saved profile), non-empty answers are also kept in
``student_work/<name>/answers.json``.

The study's own notes, statements and themes for an exercise's passage appear
only in the model answers (``answer_*``), which the notebooks show behind a
reveal button in exercise mode.
"""
from __future__ import annotations

import math

import pandas as pd

from ..cases import NOTE_KINDS, case_segments, case_table, check_participant, format_lines
from ..data import Study
from ..transcripts import line_span
from ..errors import CompendiumError
from ..paths import Paths, paths
from ..themes import quote_bank, recurrence, theme_counts, theme_key
from . import feedback as fb
from .compare import md_text
from .parsing import parse_clusters, parse_ids, parse_lines, parse_theme_ids, refusal
from .students import (load_answers, load_groups, load_pets, load_student_coding, resolve_student, save_answer,
                       student_file)
from .text import Markdown, TutorialError, line_bounds, participant_lines, span_lines, transcript_lines
from .words import content_words

__all__ = [
    "TUTORIALS", "progress", "tasks_done", "segment_card", "coded_lines", "feedback_lines", "answer_lines",
    "notes_of_kind", "feedback_notes", "answer_notes", "study_statements", "feedback_statement",
    "answer_statement", "my_statements", "statements_to_cluster", "numeration", "contextualise",
    "subsumption_candidates", "feedback_clusters", "show_my_pets", "feedback_my_pets", "answer_clusters", "my_pets",
    "case_memos", "memo_text", "feedback_memo", "answer_next_case", "feedback_my_groups",
    "group_recurrence", "feedback_recurrence", "answer_recurrence", "all_case_tables", "theme_passages",
    "quote_reference", "woven_paragraph", "feedback_quotes", "answer_quotes", "feedback_paragraph",
]

NOT_YET = "*Not answered yet.* Write your answer in the cell above, run it, then run this cell again."

# Each tutorial: title, minutes a student needs, and the checklist shown at its top.
TUTORIALS: dict[str, dict] = {
    "T1": {"title": "Reading and re-reading", "minutes": 45,
           "tasks": ["read the transcript whole, then again", "pick the lines that speak to the question",
                     "code a first passage in the workspace"]},
    "T2": {"title": "Exploratory notes", "minutes": 50,
           "tasks": ["write three notes for the exercise passage", "write notes for passages of your own"]},
    "T3": {"title": "Experiential statements", "minutes": 40,
           "tasks": ["write the statement for the exercise passage", "give each of your passages a statement"]},
    "T4": {"title": "Personal experiential themes", "minutes": 60,
           "tasks": ["name at least one personal theme from your statements", "compare with the study's reading"]},
    "T5": {"title": "Moving to the next case", "minutes": 75,
           "tasks": ["write a bracketing memo", "code the next case with statements", "name its personal themes"]},
    "T6": {"title": "Group experiential themes", "minutes": 60,
           "tasks": ["build a group theme from personal themes of two cases", "compare with the study's",
                     "apply a stricter recurrence rule"]},
    "T7": {"title": "Writing up", "minutes": 50,
           "tasks": ["choose two quotes for the theme", "write your paragraph"]},
}


def _answered(value: object) -> bool:
    return bool(value) and (not isinstance(value, str) or bool(value.strip()))


def _as_text(value: object, what: str) -> str:
    """A written answer as text; anything else is refused in one line."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TutorialError(f"your {what} is a {type(value).__name__}, not text. fix: write it between quotation "
                            f"marks, e.g. my_{what.split()[0]} = \"...\"")
    return value


def _keep(student: str, tutorial: str, p: Paths | None = None, **answers: object) -> str:
    """Save the non-empty answers; return a short line saying where (or why not)."""
    given = {k: v for k, v in answers.items() if _answered(v)}
    if not given:
        return ""
    try:
        name = resolve_student(student, p)
    except CompendiumError as err:
        return f"\n\n*Not saved:* {' '.join(str(err).split())}"
    if not name:
        return ("\n\n*Not saved: no name set yet.* Type your name in the box at the top of the notebook (or set "
                "`student` in the first code cell) to keep your answers in `student_work/`.")
    try:
        for key, value in given.items():
            path = save_answer(name, tutorial, key, value, p)
    except CompendiumError as err:
        return f"\n\n*Not saved:* {' '.join(str(err).split())}"
    shown = path.relative_to((p or paths()).root) if path.is_relative_to((p or paths()).root) else path
    return f"\n\n*Saved to `{shown}`.*"


def _safe(func):
    """Feedback never raises at a student: a refusal is one line with its fix."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CompendiumError as err:
            return refusal(err)
    return wrapper


# ------------------------------------------------------------------ progress and shared helpers
def progress(student: str, tutorial: str, p: Paths | None = None, study: Study | None = None) -> Markdown:
    """The checklist at the top of a tutorial: time needed, and what the student's files show is done."""
    if tutorial not in TUTORIALS:
        raise TutorialError(f"{tutorial!r} is not a tutorial. fix: use one of {', '.join(TUTORIALS)}")
    info = TUTORIALS[tutorial]
    try:
        name = resolve_student(student, p)
    except CompendiumError as err:
        name, problem = "", " ".join(str(err).split())
    else:
        problem = ""
    done = tasks_done(name, p, study) if name else {}
    if name and not problem:
        problem = _damaged(name, p, study)
        if problem:
            name = ""
    marks = [f"- [{'x' if done.get((tutorial, i)) else ' '}] {task}" for i, task in enumerate(info["tasks"])]
    who = (f"Working as **{md_text(name)}**: your work is kept in `student_work/{name}/`." if name else
           (f"*{md_text(problem)}*" if problem else
            "*No name set yet:* type it in the workspace's **Your name** box (it is kept in "
            "`student_work/profile` for every tutorial), or set `student` in the first code cell."))
    return Markdown(f"**{tutorial}. {info['title']}**, about {info['minutes']} minutes. {who}\n\n" + "\n".join(marks))


def _damaged(name: str, p: Paths | None, study: Study | None) -> str:
    """One line naming a saved file that cannot be read ("" when all can)."""
    from ..data import load_study

    try:
        load_student_coding(student_file(name, p), study or load_study(p))
        load_pets(name, p), load_groups(name, p), load_answers(name, p)
    except CompendiumError as err:
        return " ".join(str(err).split())
    return ""


def tasks_done(name: str, p: Paths | None, study: Study | None) -> dict[tuple[str, int], bool]:
    """Which tasks a student's files show as done (a damaged file counts as not done)."""
    from ..data import load_study

    try:
        study = study or load_study(p)
        coding = load_student_coding(student_file(name, p), study)
        pets, groups, answers = load_pets(name, p), load_groups(name, p), load_answers(name, p)
    except CompendiumError:
        return {}
    cases = sorted(set(coding["participant_id"]))
    noted = coding[(coding["note_descriptive"] != "") & (coding["note_linguistic"] != "")
                   & (coding["note_conceptual"] != "")]
    stated = coding[coding["experiential_statement"] != ""]
    cases_with_pets = [pid for pid, themes in pets.items() if themes]
    return {
        ("T1", 0): bool(answers.get("T1")), ("T1", 1): bool(answers.get("T1", {}).get("lines")),
        ("T1", 2): len(coding) > 0,
        ("T2", 0): bool(answers.get("T2")), ("T2", 1): len(noted) > 0,
        ("T3", 0): bool(answers.get("T3", {}).get("statement")), ("T3", 1): len(coding) > 0 and len(stated) == len(coding),
        ("T4", 0): len(cases_with_pets) >= 1, ("T4", 1): len(cases_with_pets) >= 1,
        ("T5", 0): bool(answers.get("T5", {}).get("memo")), ("T5", 1): len(set(stated["participant_id"])) >= 2,
        ("T5", 2): len(cases_with_pets) >= 2,
        ("T6", 0): len(groups) >= 1, ("T6", 1): len(groups) >= 1, ("T6", 2): bool(answers.get("T6")),
        ("T7", 0): bool(answers.get("T7", {}).get("quotes")), ("T7", 1): bool(answers.get("T7", {}).get("paragraph")),
    } | {("_cases", 0): bool(cases)}


def _segment(study: Study, segment_id: str) -> pd.Series:
    found = study.coding[study.coding["segment_id"] == segment_id]
    if found.empty:
        raise TutorialError(f"no segment {segment_id!r} in coding.csv. fix: use an id such as P01-S02")
    return found.iloc[0]


def _label(study: Study, theme_id: str) -> str:
    return dict(zip(study.codebook["id"], study.codebook["label"]))[theme_id]


def _definition(study: Study, theme_id: str) -> str:
    found = study.codebook.loc[study.codebook["id"] == theme_id]
    return str(found["definition"].iloc[0]) if len(found) and "definition" in found else ""


def _quote(text: str) -> str:
    return "\n".join("> " + md_text(line) for line in str(text).split("\n"))


def _table(df: pd.DataFrame) -> str:
    safe = df.copy()
    for c in safe.columns:
        if safe[c].dtype == object:
            safe[c] = safe[c].map(lambda v: md_text(v).replace("|", "\\|"))
    return safe.to_markdown(index=False, tablefmt="pipe")


def _verdicts(*pairs: tuple[str, fb.Verdict]) -> str:
    return "\n".join(f"- {v.text(label)}" for label, v in pairs)


def segment_card(study: Study, segment_id: str, notes: bool = False, statement: bool = False,
                 theme: bool = False) -> Markdown:
    """One coded passage as Markdown: who, where, the words; optionally its notes, statement and theme."""
    seg = _segment(study, segment_id)
    text = study.transcripts[seg.participant_id]
    who = study.pseudonyms[seg.participant_id]
    parts = [f"**{segment_id}**, {who} ({seg.participant_id}), line {span_lines(text, seg.start, seg.end)}",
             _quote(seg.excerpt)]
    if notes:
        parts.append(f"- *Descriptive:* {md_text(seg.note_descriptive)}\n- *Linguistic:* {md_text(seg.note_linguistic)}"
                     f"\n- *Conceptual:* {md_text(seg.note_conceptual)}")
    if statement:
        parts.append(f"**Experiential statement:** {md_text(seg.experiential_statement)}")
    if theme:
        parts.append(f"**Theme:** {seg.theme_id} {md_text(_label(study, seg.theme_id))}")
    return Markdown("\n\n".join(parts))


# ------------------------------------------------------------------ T1 reading and re-reading
def coded_lines(study: Study, participant: str) -> list[int]:
    """Lines of a transcript that hold at least one passage the study coded."""
    text = study.transcripts[check_participant(study, participant)]
    lines: set[int] = set()
    for s, e in zip(*(study.coding.loc[study.coding["participant_id"] == participant, c] for c in ("start", "end"))):
        a, b = line_span(text, s, e)
        lines.update(range(a, b + 1))
    return sorted(lines)


def _lines_phrase(lines: list[int], one: str, many: str) -> str:
    return f"Line {lines[0]} {one}" if len(lines) == 1 else f"Lines {', '.join(map(str, lines))} {many}"


@_safe
def feedback_lines(my_lines: object, study: Study, participant: str, student: str = "",
                   p: Paths | None = None) -> Markdown:
    """Feedback on the lines a student picked as speaking to the research question ("14, 16-18" or a list)."""
    if not _answered(my_lines):
        return Markdown(NOT_YET)
    mine = parse_lines(my_lines)
    text = study.transcripts[check_participant(study, participant)]
    n = len(line_bounds(text))
    outside = [x for x in mine if not 1 <= x <= n]
    if outside:
        return Markdown(f"Line(s) {', '.join(map(str, outside))} are not in this transcript (lines 1-{n}).")
    speaker_lines = set(participant_lines(text))
    interviewer = [x for x in mine if x not in speaker_lines]
    coded = set(coded_lines(study, participant))
    shared = [x for x in mine if x in coded]
    only_you = [x for x in mine if x not in coded and x in speaker_lines]
    parts = [f"You picked {len(mine)} line(s); {len(shared)} of them hold passages the study coded."]
    if only_you:
        parts.append(f"{_lines_phrase(only_you, 'was', 'were')} left uncoded by the study: re-read and ask whether "
                     "it tells you about self-compassion with these clients, or about something else.")
    if interviewer:
        parts.append(f"{_lines_phrase(interviewer, 'is', 'are')} the interviewer's: IPA analyses the participant's "
                     "words, though a question can shape the answer that follows it.")
    missed = len(coded - set(mine))
    if missed:
        parts.append(f"The study coded {missed} further line(s) you did not pick; the model answer lists them.")
    return Markdown(" ".join(parts) + _keep(student, "T1", p, lines=mine))


def answer_lines(study: Study, participant: str) -> Markdown:
    """Model answer for T1: the lines the study coded, and the participant's lines it left aside."""
    text = study.transcripts[check_participant(study, participant)]
    coded = coded_lines(study, participant)
    left = [x for x in participant_lines(text) if x not in coded]
    t = transcript_lines(text).set_index("line")
    aside = pd.DataFrame({"line": left, "opening words": [" ".join(str(t.loc[x, "text"]).split()[:12]) + " ..."
                                                          for x in left]})
    return Markdown(
        f"The study coded passages on lines {', '.join(map(str, coded))}.\n\n"
        f"These lines of {study.pseudonyms[participant]}'s were left uncoded:\n\n{_table(aside)}\n\n"
        "The study coded only passages that carry one of its themes. Uncoded lines are of two kinds: talk around "
        "the interview (greetings, the connection, the weather, telehealth), and talk that matters but belongs to "
        "no single theme, such as a clinician's training or the everyday words she uses with clients. If you picked "
        "lines of the second kind you read well: the difference from the study is about what was coded, not about "
        "what matters.")


# ------------------------------------------------------------------ T2 exploratory notes
@_safe
def feedback_notes(study: Study, segment_id: str, descriptive: str, linguistic: str, conceptual: str,
                   student: str = "", p: Paths | None = None) -> Markdown:
    """Feedback on a student's three exploratory notes for one passage, each checked against the passage."""
    descriptive, linguistic, conceptual = (_as_text(descriptive, "descriptive note"),
                                           _as_text(linguistic, "linguistic note"),
                                           _as_text(conceptual, "conceptual note"))
    if not any(_answered(x) for x in (descriptive, linguistic, conceptual)):
        return Markdown(NOT_YET)
    seg = _segment(study, segment_id)
    passage = seg.excerpt
    context = " ".join([seg.note_descriptive, seg.note_conceptual, _definition(study, seg.theme_id)])
    body = _verdicts(("Descriptive", fb.judge_descriptive(descriptive, passage, study)),
                     ("Linguistic", fb.judge_linguistic(linguistic, passage, study)),
                     ("Conceptual", fb.judge_conceptual(conceptual, passage, descriptive, study, context)))
    return Markdown(body + _keep(student, "T2", p, descriptive=descriptive, linguistic=linguistic,
                                 conceptual=conceptual))


def answer_notes(study: Study, segment_id: str) -> Markdown:
    """Model answer for T2: the study's three notes for one passage, with what each kind does."""
    return Markdown(
        segment_card(study, segment_id, notes=True) + "\n\n"
        "The descriptive note summarises; the linguistic note quotes the words that carry the meaning; the "
        "conceptual note asks what the passage suggests about the experience, and stays tentative. Yours can "
        "differ and still be sound: check that each of your notes does its own job.")


def notes_of_kind(study: Study, participant: str, kind: str, exclude: str = "") -> Markdown:
    """Every exploratory note of one kind for one case, in full; ``exclude`` holds back an exercise's passage."""
    if kind not in NOTE_KINDS:
        raise TutorialError(f"{kind!r} is not a kind of exploratory note. fix: use one of {', '.join(NOTE_KINDS)}")
    segs = case_segments(study, participant)
    segs = segs[segs["segment_id"] != exclude]
    shown = "\n".join(f"- line {format_lines(r.line_start, r.line_end)} ({r.segment_id}): "
                      f"{md_text(getattr(r, NOTE_KINDS[kind]))}" for r in segs.itertuples())
    held = f"\n\n*The note for {exclude}, the exercise's passage, is held back for the model answer.*" if exclude else ""
    return Markdown(shown + held)


# ------------------------------------------------------------------ T3 experiential statements
def study_statements(study: Study, participant: str, exclude: str = "") -> pd.DataFrame:
    """The study's statements of one case in transcript order; ``exclude`` holds back an exercise's passage."""
    segs = case_segments(study, participant)
    segs = segs[segs["segment_id"] != exclude]
    return pd.DataFrame({"segment_id": segs["segment_id"],
                         "lines": [format_lines(a, b) for a, b in zip(segs["line_start"], segs["line_end"])],
                         "experiential_statement": segs["experiential_statement"]}).reset_index(drop=True)


@_safe
def feedback_statement(study: Study, segment_id: str, statement: str, student: str = "",
                       p: Paths | None = None) -> Markdown:
    """Feedback on a student's experiential statement for one passage."""
    statement = _as_text(statement, "statement")
    if not _answered(statement):
        return Markdown(NOT_YET)
    seg = _segment(study, segment_id)
    notes = " ".join([seg.note_descriptive, seg.note_conceptual, _definition(study, seg.theme_id)])
    verdict = fb.judge_statement(statement, seg.excerpt, notes, study)
    return Markdown(verdict.text("Statement") + _keep(student, "T3", p, statement=statement))


def answer_statement(study: Study, segment_id: str) -> Markdown:
    """Model answer for T3: the study's statement for the passage, beside its notes."""
    return Markdown(
        segment_card(study, segment_id, notes=True, statement=True) + "\n\n"
        "The statement condenses the notes into a phrase about the experience itself: shorter than the passage, "
        "closer to it than a theme, and already a little interpretative.")


# ------------------------------------------------------------------ T4 personal experiential themes
def statements_to_cluster(study: Study, participant: str) -> pd.DataFrame:
    """One case's experiential statements (the study's) without their themes: material for the worked example."""
    return study_statements(study, participant).rename(columns={"experiential_statement": "statement"})


def my_statements(student: str, study: Study, participant: str, p: Paths | None = None) -> pd.DataFrame | Markdown:
    """The student's own statements of one case, the material they cluster (a one-line note if there are none)."""
    try:
        name = resolve_student(student, p)
        if not name:
            return Markdown("*No name set yet*, so there are no statements of yours to show: set your name in the "
                            "workspace's **Your name** box.")
        coding = load_student_coding(student_file(name, p), study)
    except CompendiumError as err:
        return refusal(err)
    text = study.transcripts[check_participant(study, participant)]
    mine = coding[(coding["participant_id"] == participant) & (coding["experiential_statement"] != "")]
    if mine.empty:
        return Markdown(f"*You have no experiential statements for {participant} yet.* Code passages and write a "
                        "statement for each in the workspace (T1-T3), then come back.")
    return pd.DataFrame({"segment_id": mine["segment_id"],
                         "lines": [span_lines(text, a, b) for a, b in zip(mine["start"], mine["end"])],
                         "statement": mine["experiential_statement"]}).reset_index(drop=True)


def numeration(segments: pd.DataFrame) -> pd.DataFrame:
    """Numeration: how many statements each theme gathers in this case, most first."""
    out = segments.groupby(["theme_id", "theme_label"]).size().reset_index(name="statements")
    out["share"] = (out["statements"] / out["statements"].sum()).round(2)
    return out.sort_values(["statements", "theme_id"], ascending=[False, True], key=lambda c: c if c.name ==
                           "statements" else c.map(theme_key)).reset_index(drop=True)


def contextualise(segments: pd.DataFrame, text: str) -> pd.DataFrame:
    """Contextualisation: where in the interview each statement sits (opening, middle or closing third)."""
    n = len(line_bounds(text))
    phase = ["opening" if a <= n / 3 else "middle" if a <= 2 * n / 3 else "closing" for a in segments["line_start"]]
    return pd.DataFrame({"line": segments["line_start"], "phase": phase, "theme_id": segments["theme_id"],
                         "statement": segments["experiential_statement"]})


def subsumption_candidates(segments: pd.DataFrame) -> pd.DataFrame:
    """Subsumption: in each cluster, the statement that shares most words with the others.

    A statement that already says what its neighbours say may be raised to name
    the cluster. This is a prompt for the analyst, not a decision.
    """
    rows = []
    for (tid, label), g in segments.groupby(["theme_id", "theme_label"]):
        if len(g) < 2:
            continue
        words = {r.segment_id: content_words(r.experiential_statement) for r in g.itertuples()}
        score = {sid: sum(len(w & other) for o, other in words.items() if o != sid) for sid, w in words.items()}
        best = max(sorted(score), key=lambda sid: score[sid])
        if score[best] == 0:  # nothing stands out: this cluster needs a new name (abstraction)
            best, statement = "", "(no statement shares words with the others)"
        else:
            statement = g.loc[g["segment_id"] == best, "experiential_statement"].iloc[0]
        rows.append({"theme_id": tid, "theme_label": label, "statements": len(g), "candidate": best,
                     "statement": statement, "shared_words": score[best] if best else 0})
    out = pd.DataFrame(rows, columns=["theme_id", "theme_label", "statements", "candidate", "statement",
                                      "shared_words"])
    return out.sort_values("theme_id", key=lambda c: c.map(theme_key)).reset_index(drop=True)


def _cluster_feedback(clusters: dict[str, list[str]], statements: dict[str, str], study: Study) -> list[str]:
    parts, placed = [], []
    for name, ids in clusters.items():
        verdict = fb.judge_name(name, study, [statements[i] for i in ids if i in statements])
        unknown = [i for i in ids if i not in statements]
        line = f"- **{md_text(name)}** ({len(ids)} statement{'s' if len(ids) != 1 else ''}): {verdict.text()}"
        if unknown:
            line += f" {', '.join(unknown)} are not among your statements of this case."
        if len([i for i in ids if i in statements]) == 1:
            line += " A theme of one statement: is it a theme yet, or part of another?"
        parts.append(line)
        placed += [i for i in ids if i in statements]
    twice = sorted({i for i in placed if placed.count(i) > 1})
    if twice:
        parts.append(f"- In more than one theme: {', '.join(twice)}. Allowed, but say why it belongs to both.")
    left = [i for i in statements if i not in placed]
    if left:
        parts.append(f"- Not in any theme yet: {', '.join(left)}. Some statements fit nowhere, and that is allowed.")
    return parts


@_safe
def feedback_clusters(my_clusters: object, study: Study, participant: str, student: str = "",
                      p: Paths | None = None) -> Markdown:
    """Feedback on clusters typed as text (``name: P01-U01, P01-U02`` per line) or a dict, over the student's statements.

    The clusters are read against the student's own statements of the case; the
    study's themes are not used here (they come after, in :func:`compare_pets`).
    """
    clusters = parse_clusters(my_clusters)
    if not clusters:
        return Markdown(NOT_YET)
    name = resolve_student(student, p)
    coding = load_student_coding(student_file(name, p), study) if name else None
    statements = ({} if coding is None else
                  dict(zip(*(coding.loc[coding["participant_id"] == participant, c]
                             for c in ("segment_id", "experiential_statement")))))
    return Markdown("\n".join(_cluster_feedback(clusters, statements, study)))


def my_pets(student: str, participant: str, p: Paths | None = None) -> dict[str, list[str]]:
    """The student's saved PETs of one case as ``{name: [segment ids]}`` (empty without a name)."""
    name = resolve_student(student, p)
    if not name:
        return {}
    return {t["name"]: list(t["segments"]) for t in load_pets(name, p).get(participant, [])}


def show_my_pets(student: str, study: Study, participant: str, p: Paths | None = None) -> Markdown:
    """The student's own personal experiential themes of one case, with their statements (what they carry on)."""
    try:
        name = resolve_student(student, p)
        pets = load_pets(name, p).get(participant, []) if name else []
        coding = load_student_coding(student_file(name, p), study) if name else None
    except CompendiumError as err:
        return refusal(err)
    if not pets or coding is None:
        return Markdown(f"*You have not named personal experiential themes for {participant} yet* (T4). Name them "
                        "first: they are what you carry into the next case.")
    said = dict(zip(coding["segment_id"], coding["experiential_statement"]))
    return Markdown("\n".join(f"- **{md_text(t['name'])}**: " + "; ".join(md_text(said.get(i, i)) for i in t["segments"])
                              for t in pets))


@_safe
def feedback_my_pets(student: str, study: Study, participant: str, p: Paths | None = None) -> Markdown:
    """Feedback on the PETs the student saved for one case (in the workspace), over their own statements."""
    name = resolve_student(student, p)
    if not name:
        return Markdown("*No name set yet*, so no saved themes to read: set your name in the workspace first.")
    pets = my_pets(name, participant, p)
    if not pets:
        return Markdown(f"*No personal experiential themes saved for {participant} yet.* Tick statements in the "
                        "theme workspace, name the theme, and press **Save theme**.")
    coding = load_student_coding(student_file(name, p), study)
    mine = coding[coding["participant_id"] == participant]
    statements = dict(zip(mine["segment_id"], mine["experiential_statement"]))
    return Markdown("\n".join(_cluster_feedback(pets, {k: v for k, v in statements.items() if v}, study)))


def answer_clusters(study: Study, participant: str) -> Markdown:
    """The study's personal experiential themes for one case (the reading to compare with, after one's own)."""
    segs = case_segments(study, participant)
    rows = []
    for tid, g in sorted(segs.groupby("theme_id"), key=lambda kv: theme_key(kv[0])):
        rows.append({"theme": f"{tid} {_label(study, tid)}", "statements": len(g),
                     "gathers": "; ".join(f"{r.segment_id} {r.experiential_statement}" for r in g.itertuples())})
    return Markdown(
        f"The study grouped {study.pseudonyms[participant]}'s {len(segs)} statements into {len(rows)} personal "
        f"experiential themes:\n\n{_table(pd.DataFrame(rows))}\n\n"
        "Most clusters come from abstraction (like with like, under a new name); a theme with many statements "
        "is visible by numeration; statements that pull against each other are a polarisation worth keeping.")


# ------------------------------------------------------------------ T5 the next case
def case_memos(study: Study, participant: str, kind: str | None = None) -> pd.DataFrame:
    """The study's memos about one participant (optionally of one kind: reflexive, analysis)."""
    m = study.memos[study.memos["participant_id"] == participant]
    if kind:
        m = m[m["kind"] == kind]
    return m[["memo_id", "date", "kind", "text"]].reset_index(drop=True)


def memo_text(study: Study, participant: str, kind: str = "reflexive") -> Markdown:
    """The study's memo(s) of one kind about one participant, as quoted text with their dates."""
    memos = case_memos(study, participant, kind)
    if memos.empty:
        return Markdown(f"*No {kind} memo about {participant}.*")
    return Markdown("\n\n".join(f"{r.memo_id}, {r.date} ({r.kind}):\n\n{_quote(r.text)}" for r in memos.itertuples()))


@_safe
def feedback_memo(memo: str, study: Study | None = None, student: str = "", previous: str = "",
                  p: Paths | None = None) -> Markdown:
    """Feedback on a bracketing memo (read for words, first person, length, the themes carried); kept when named."""
    memo = _as_text(memo, "memo")
    if not _answered(memo):
        return Markdown(NOT_YET)
    carried = ""
    name = resolve_student(student, p)
    if name and previous:
        carried = " ".join(my_pets(name, previous, p))
    verdict = fb.judge_memo(memo, study, carried)
    return Markdown(verdict.text("Memo") + _keep(student, "T5", p, memo=memo))


def answer_next_case(study: Study, first: str, second: str) -> Markdown:
    """Model answer for T5: the analyst's own bracketing memo on the new case, and what it is for."""
    check_participant(study, first)
    check_participant(study, second)
    memo = case_memos(study, second, "reflexive")
    parts = ["A new case is read on its own terms: what it shares with the last one is noted later, at the "
             "cross-case step (T6), not looked for now."]
    if not memo.empty:
        parts.append(f"The analyst's reflexive memo on {study.pseudonyms[second]} ({memo['date'].iloc[0]}):\n\n"
                     + _quote(memo["text"].iloc[0]))
    parts.append("Put it beside yours: what did the analyst name that you did not, and what did you bring that "
                 "the analyst did not?")
    return Markdown("\n\n".join(parts))


# ------------------------------------------------------------------ T6 group experiential themes
@_safe
def feedback_my_groups(student: str, study: Study, p: Paths | None = None) -> Markdown:
    """Feedback on the student's group themes: names, how many cases each draws on, PETs left out."""
    name = resolve_student(student, p)
    if not name:
        return Markdown("*No name set yet*, so no saved group themes to read: set your name in a workspace first.")
    groups, pets = load_groups(name, p), load_pets(name, p)
    cases = [pid for pid, t in pets.items() if t]
    if len(cases) < 2:
        return Markdown(f"*You have personal themes for {len(cases)} case(s).* A group theme draws on at least two: "
                        "name the personal themes of a second case in T5 first.")
    if not groups:
        return Markdown("*No group theme saved yet.* Tick personal themes of at least two cases, name what they "
                        "share, and press **Save group theme**.")
    parts = []
    used = {(pid, n) for g in groups for pid, n in g["pets"]}
    for g in groups:
        verdict = fb.judge_name(g["name"], study, [n for _, n in g["pets"]])
        k = len({pid for pid, _ in g["pets"]})
        parts.append(f"- **{md_text(g['name'])}**, from {k} of your {len(cases)} cases: {verdict.text()}")
    left = [f"{pid}: {t['name']}" for pid in cases for t in pets[pid] if (pid, t["name"]) not in used]
    if left:
        parts.append(f"- Not in any group theme: {md_text('; '.join(left))}. A personal theme particular to one case "
                     "is divergence: keep it for the write-up rather than forcing it into a group.")
    return Markdown("\n".join(parts))


def group_recurrence(study: Study, threshold: float) -> pd.DataFrame:
    """Recurrence of each codable theme across all cases, straight from ``coding.csv``."""
    counts = theme_counts(study.coding, study.codebook, study.participants)
    return recurrence(counts, study.codebook, threshold)


@_safe
def feedback_recurrence(my_ids: object, study: Study, threshold: float, student: str = "",
                        p: Paths | None = None) -> Markdown:
    """Feedback on which themes a student thinks recur under a stricter rule ("1.2, 3.1" or a list)."""
    if not _answered(my_ids):
        return Markdown(NOT_YET)
    mine = set(parse_theme_ids(my_ids))
    rec = group_recurrence(study, threshold)
    truth = set(rec.loc[rec["recurrent"], "theme_id"])
    unknown = sorted(mine - set(rec["theme_id"]), key=str)
    kept = _keep(student, "T6", p, recurrent=sorted(mine, key=theme_key))
    if unknown:
        return Markdown(f"{', '.join(unknown)} are not codable themes; use ids from the `theme_id` column." + kept)
    if mine == truth:
        return Markdown(f"These {len(truth)} themes are exactly the ones the counts put over the rule." + kept)
    extra, missing = sorted(mine - truth, key=theme_key), sorted(truth - mine, key=theme_key)
    parts = []
    if extra:
        parts.append(f"{', '.join(extra)} fall short of the rule: count the participants with at least one segment.")
    if missing:
        parts.append(f"{len(missing)} recurring theme(s) are missing from your list.")
    return Markdown(" ".join(parts) + kept)


def answer_recurrence(study: Study, threshold: float) -> Markdown:
    """Model answer for T6: which themes recur under a given rule, and which drop out."""
    rec = group_recurrence(study, threshold)
    n = len(study.participants)
    need = math.ceil(threshold * n - 1e-9)
    keep = rec[rec["recurrent"]]
    drop = rec[~rec["recurrent"]]
    table = rec[["theme_id", "theme", "present_in", "recurrent"]]
    return Markdown(
        f"With the rule 'present in at least {need} of {n} cases', {len(keep)} of {len(rec)} codable themes recur: "
        f"{', '.join(keep['theme_id'])}.\n\n{_table(table)}\n\n"
        + (f"Dropping out: {', '.join(f'{r.theme_id} {r.theme} ({r.present_in} cases)' for r in drop.itertuples())}. "
           "A theme that does not recur is not thereby unimportant: report it as divergence, voiced strongly by a "
           "few." if len(drop) else "No theme drops out under this rule."))


# ------------------------------------------------------------------ T7 writing up
def all_case_tables(study: Study) -> pd.DataFrame:
    """Every case's table (theme, statement, line-referenced excerpt) stacked, built in memory."""
    return pd.concat([case_table(study, pid) for pid in study.participants["participant_id"]], ignore_index=True)


def theme_passages(study: Study, theme_id: str) -> Markdown:
    """Every passage coded to a theme, in full, with its id, speaker, line and length: quotes to choose from."""
    segs = study.coding[study.coding["theme_id"] == theme_id]
    if segs.empty:
        raise TutorialError(f"no passages coded to theme {theme_id!r}. fix: use a codable theme id such as 3.1.2")
    parts = []
    for r in segs.itertuples():
        text = study.transcripts[r.participant_id]
        parts.append(f"**{r.segment_id}**, {study.pseudonyms[r.participant_id]}, line "
                     f"{span_lines(text, r.start, r.end)}, {len(r.excerpt.split())} words\n\n{_quote(r.excerpt)}")
    return Markdown("\n\n".join(parts))


def quote_reference(study: Study, segment_id: str) -> str:
    """A quote as it appears in a write-up: the words, then pseudonym and transcript lines."""
    seg = _segment(study, segment_id)
    text = study.transcripts[seg.participant_id]
    return f"\"{seg.excerpt}\" ({study.pseudonyms[seg.participant_id]}, line {span_lines(text, seg.start, seg.end)})"


def woven_paragraph(study: Study, theme_id: str, segment_ids: list[str]) -> Markdown:
    """A write-up paragraph for one theme: claim, quote, interpretation, for each quote, then a link."""
    codebook = study.codebook.set_index("id")
    if theme_id not in codebook.index:
        raise TutorialError(f"theme {theme_id!r} is not in the codebook. fix: use an id such as 1.2")
    parts = [f"**{theme_id} {md_text(codebook.loc[theme_id, 'label'])}.** {md_text(codebook.loc[theme_id, 'definition'])}"]
    for sid in segment_ids:
        seg = _segment(study, sid)
        who = study.pseudonyms[seg.participant_id]
        parts.append(f"{who} put it this way:\n\n{_quote(quote_reference(study, sid))}\n\n"
                     f"Read closely, {md_text(seg.note_conceptual[0].lower() + seg.note_conceptual[1:])}")
    voiced = study.coding.loc[study.coding["theme_id"] == theme_id, "participant_id"].nunique()
    parts.append(f"The theme was voiced by {voiced} of the {len(study.participants)} clinicians.")
    return Markdown("\n\n".join(parts))


@_safe
def feedback_quotes(my_ids: object, study: Study, theme_id: str, min_words: int = 15, max_words: int = 90,
                    student: str = "", p: Paths | None = None) -> Markdown:
    """Feedback on the quotes a student chose to illustrate a theme ("P01-S05, P03-S08" or a list)."""
    if not _answered(my_ids):
        return Markdown(NOT_YET)
    ids = parse_ids(my_ids)
    parts = []
    owners = []
    for sid in ids:
        found = study.coding[study.coding["segment_id"] == sid]
        if found.empty:
            parts.append(f"- {sid}: not a segment id of coding.csv.")
            continue
        seg = found.iloc[0]
        owners.append(seg.participant_id)
        words = len(seg.excerpt.split())
        notes = []
        if seg.theme_id != theme_id:
            notes.append(f"coded to {seg.theme_id}, not {theme_id}: does it illustrate this theme?")
        if words < min_words:
            notes.append(f"{words} words, short: will a reader see the experience in it?")
        elif words > max_words:
            notes.append(f"{words} words, long: could you cut it to the part that carries the theme?")
        parts.append(f"- {sid} ({study.pseudonyms[seg.participant_id]}): "
                     + ("; ".join(notes) or f"coded to this theme, {words} words; whether it shows the theme best "
                                            "is your judgement."))
    if len(owners) > 1 and len(set(owners)) == 1:
        parts.append("- All from one clinician: quote more than one voice so the theme is shown to be shared.")
    return Markdown("\n".join(parts) + _keep(student, "T7", p, quotes=ids))


@_safe
def feedback_paragraph(paragraph: str, study: Study, quotes: object = "", student: str = "",
                       p: Paths | None = None) -> Markdown:
    """Feedback on the student's written paragraph: its quotes, who and where, and how much is interpretation."""
    paragraph = _as_text(paragraph, "paragraph")
    if not _answered(paragraph):
        return Markdown(NOT_YET)
    ids = parse_ids(quotes) if _answered(quotes) else []
    chosen = study.coding[study.coding["segment_id"].isin(ids)] if ids else study.coding
    verdict = fb.judge_paragraph(paragraph, chosen["excerpt"].tolist(), list(study.pseudonyms.values()), study)
    return Markdown(verdict.text("Paragraph") + _keep(student, "T7", p, paragraph=paragraph))


def answer_quotes(study: Study, theme_id: str, per_theme: int = 2) -> Markdown:
    """Model answer for T7: the quotes the study's fixed rule picks for a theme, woven into a paragraph."""
    bank = quote_bank(all_case_tables(study), study.participants, per_theme=per_theme)
    picked = bank[bank["theme_id"] == theme_id]
    if picked.empty:
        raise TutorialError(f"no quotes for theme {theme_id!r}. fix: use a codable theme id such as 3.1.2")
    return Markdown(
        f"The quote rule picks {', '.join(picked['segment_id'])} ({', '.join(picked['pseudonym'])}). Woven into a "
        f"paragraph:\n\n{woven_paragraph(study, theme_id, picked['segment_id'].tolist())}\n\n"
        "Each quote is introduced, given in the speaker's words with a line reference, then interpreted: the "
        "reader hears the participant and then the analyst, never a quote left to speak for itself.")
