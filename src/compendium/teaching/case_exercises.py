"""The exercises on one case (T1-T5): reading, notes, experiential statements, personal themes, the next case.

Each tutorial has its material, feedback that reads the student's answer
(``feedback_*``, through :mod:`compendium.teaching.feedback`) and a model
answer (``answer_*``), the only place the study's own reading of the
exercise's passage appears.
"""

from __future__ import annotations

import pandas as pd

from ..cases import NOTE_KINDS, case_segments, check_participant, format_lines
from ..data import Study
from ..errors import CompendiumError
from ..paths import Paths
from ..themes import theme_key
from ..transcripts import line_span
from . import feedback as fb
from .compare import md_text
from .exercise_tools import (
    NOT_YET,
    answered,
    as_text,
    block_quote,
    find_segment,
    keep_answers,
    md_table,
    safe,
    segment_card,
    theme_definition,
    theme_label,
    verdict_list,
)
from .parsing import parse_clusters, parse_lines, refusal
from .saved import load_pets
from .students import load_student_coding, resolve_student, student_file
from .text import Markdown, TutorialError, line_bounds, participant_lines, span_lines, transcript_lines
from .words import content_words

__all__ = [
    "coded_lines",
    "feedback_lines",
    "answer_lines",
    "notes_of_kind",
    "feedback_notes",
    "answer_notes",
    "study_statements",
    "feedback_statement",
    "answer_statement",
    "my_statements",
    "statements_to_cluster",
    "numeration",
    "contextualise",
    "subsumption_candidates",
    "feedback_clusters",
    "show_my_pets",
    "feedback_my_pets",
    "answer_clusters",
    "my_pets",
    "case_memos",
    "memo_text",
    "feedback_memo",
    "answer_next_case",
]


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


@safe
def feedback_lines(
    my_lines: object, study: Study, participant: str, student: str = "", p: Paths | None = None
) -> Markdown:
    """Feedback on the lines a student picked as speaking to the research question ("14, 16-18" or a list)."""
    if not answered(my_lines):
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
        parts.append(
            f"{_lines_phrase(only_you, 'was', 'were')} left uncoded by the study: re-read and ask whether "
            "it tells you about self-compassion with these clients, or about something else."
        )
    if interviewer:
        parts.append(
            f"{_lines_phrase(interviewer, 'is', 'are')} the interviewer's: IPA analyses the participant's "
            "words, though a question can shape the answer that follows it."
        )
    missed = len(coded - set(mine))
    if missed:
        parts.append(f"The study coded {missed} further line(s) you did not pick; the model answer lists them.")
    return Markdown(" ".join(parts) + keep_answers(student, "T1", p, lines=mine))


def answer_lines(study: Study, participant: str) -> Markdown:
    """Model answer for T1: the lines the study coded, and the participant's lines it left aside."""
    text = study.transcripts[check_participant(study, participant)]
    coded = coded_lines(study, participant)
    left = [x for x in participant_lines(text) if x not in coded]
    t = transcript_lines(text).set_index("line")
    aside = pd.DataFrame(
        {"line": left, "opening words": [" ".join(str(t.loc[x, "text"]).split()[:12]) + " ..." for x in left]}
    )
    return Markdown(
        f"The study coded passages on lines {', '.join(map(str, coded))}.\n\n"
        f"These lines of {study.pseudonyms[participant]}'s were left uncoded:\n\n{md_table(aside)}\n\n"
        "The study coded only passages that carry one of its themes. Uncoded lines are of two kinds: talk around "
        "the interview (greetings, the connection, the weather, telehealth), and talk that matters but belongs to "
        "no single theme, such as a clinician's training or the everyday words she uses with clients. If you picked "
        "lines of the second kind you read well: the difference from the study is about what was coded, not about "
        "what matters."
    )


# ------------------------------------------------------------------ T2 exploratory notes
@safe
def feedback_notes(
    study: Study,
    segment_id: str,
    descriptive: str,
    linguistic: str,
    conceptual: str,
    student: str = "",
    p: Paths | None = None,
) -> Markdown:
    """Feedback on a student's three exploratory notes for one passage, each checked against the passage."""
    descriptive, linguistic, conceptual = (
        as_text(descriptive, "descriptive note"),
        as_text(linguistic, "linguistic note"),
        as_text(conceptual, "conceptual note"),
    )
    if not any(answered(x) for x in (descriptive, linguistic, conceptual)):
        return Markdown(NOT_YET)
    seg = find_segment(study, segment_id)
    passage = seg.excerpt
    context = " ".join([seg.note_descriptive, seg.note_conceptual, theme_definition(study, seg.theme_id)])
    body = verdict_list(
        ("Descriptive", fb.judge_descriptive(descriptive, passage, study)),
        ("Linguistic", fb.judge_linguistic(linguistic, passage, study)),
        ("Conceptual", fb.judge_conceptual(conceptual, passage, descriptive, study, context)),
    )
    return Markdown(
        body + keep_answers(student, "T2", p, descriptive=descriptive, linguistic=linguistic, conceptual=conceptual)
    )


def answer_notes(study: Study, segment_id: str) -> Markdown:
    """Model answer for T2: the study's three notes for one passage, with what each kind does."""
    return Markdown(
        segment_card(study, segment_id, notes=True) + "\n\n"
        "The descriptive note summarises; the linguistic note quotes the words that carry the meaning; the "
        "conceptual note asks what the passage suggests about the experience, and stays tentative. Yours can "
        "differ and still be sound: check that each of your notes does its own job."
    )


def notes_of_kind(study: Study, participant: str, kind: str, exclude: str = "") -> Markdown:
    """Every exploratory note of one kind for one case, in full; ``exclude`` holds back an exercise's passage."""
    if kind not in NOTE_KINDS:
        raise TutorialError(f"{kind!r} is not a kind of exploratory note. fix: use one of {', '.join(NOTE_KINDS)}")
    segs = case_segments(study, participant)
    segs = segs[segs["segment_id"] != exclude]
    shown = "\n".join(
        f"- line {format_lines(first, last)} ({segment_id}): {md_text(note)}"
        for first, last, segment_id, note in zip(
            segs["line_start"], segs["line_end"], segs["segment_id"], segs[NOTE_KINDS[kind]]
        )
    )
    held = (
        f"\n\n*The note for {exclude}, the exercise's passage, is held back for the model answer.*" if exclude else ""
    )
    return Markdown(shown + held)


# ------------------------------------------------------------------ T3 experiential statements
def study_statements(study: Study, participant: str, exclude: str = "") -> pd.DataFrame:
    """The study's statements of one case in transcript order; ``exclude`` holds back an exercise's passage."""
    segs = case_segments(study, participant)
    segs = segs[segs["segment_id"] != exclude]
    return pd.DataFrame(
        {
            "segment_id": segs["segment_id"],
            "lines": [format_lines(a, b) for a, b in zip(segs["line_start"], segs["line_end"])],
            "experiential_statement": segs["experiential_statement"],
        }
    ).reset_index(drop=True)


@safe
def feedback_statement(
    study: Study, segment_id: str, statement: str, student: str = "", p: Paths | None = None
) -> Markdown:
    """Feedback on a student's experiential statement for one passage."""
    statement = as_text(statement, "statement")
    if not answered(statement):
        return Markdown(NOT_YET)
    seg = find_segment(study, segment_id)
    notes = " ".join([seg.note_descriptive, seg.note_conceptual, theme_definition(study, seg.theme_id)])
    verdict = fb.judge_statement(statement, seg.excerpt, notes, study)
    return Markdown(verdict.text("Statement") + keep_answers(student, "T3", p, statement=statement))


def answer_statement(study: Study, segment_id: str) -> Markdown:
    """Model answer for T3: the study's statement for the passage, beside its notes."""
    return Markdown(
        segment_card(study, segment_id, notes=True, statement=True) + "\n\n"
        "The statement condenses the notes into a phrase about the experience itself: shorter than the passage, "
        "closer to it than a theme, and already a little interpretative."
    )


# ------------------------------------------------------------------ T4 personal experiential themes
def statements_to_cluster(study: Study, participant: str) -> pd.DataFrame:
    """One case's experiential statements (the study's) without their themes: material for the worked example."""
    return study_statements(study, participant).rename(columns={"experiential_statement": "statement"})


def my_statements(student: str, study: Study, participant: str, p: Paths | None = None) -> pd.DataFrame | Markdown:
    """The student's own statements of one case, the material they cluster (a one-line note if there are none)."""
    try:
        name = resolve_student(student, p)
        if not name:
            return Markdown(
                "*No name set yet*, so there are no statements of yours to show: set your name in the "
                "workspace's **Your name** box."
            )
        coding = load_student_coding(student_file(name, p), study)
    except CompendiumError as err:
        return refusal(err)
    text = study.transcripts[check_participant(study, participant)]
    mine = coding[(coding["participant_id"] == participant) & (coding["experiential_statement"] != "")]
    if mine.empty:
        return Markdown(
            f"*You have no experiential statements for {participant} yet.* Code passages and write a "
            "statement for each in the workspace (T1-T3), then come back."
        )
    return pd.DataFrame(
        {
            "segment_id": mine["segment_id"],
            "lines": [span_lines(text, a, b) for a, b in zip(mine["start"], mine["end"])],
            "statement": mine["experiential_statement"],
        }
    ).reset_index(drop=True)


def numeration(segments: pd.DataFrame) -> pd.DataFrame:
    """Numeration: how many statements each theme gathers in this case, most first."""
    out = segments.groupby(["theme_id", "theme_label"]).size().reset_index(name="statements")
    out["share"] = (out["statements"] / out["statements"].sum()).round(2)
    return out.sort_values(
        ["statements", "theme_id"],
        ascending=[False, True],
        key=lambda c: c if c.name == "statements" else c.map(theme_key),
    ).reset_index(drop=True)


def contextualise(segments: pd.DataFrame, text: str) -> pd.DataFrame:
    """Contextualisation: where in the interview each statement sits (opening, middle or closing third)."""
    n = len(line_bounds(text))
    phase = ["opening" if a <= n / 3 else "middle" if a <= 2 * n / 3 else "closing" for a in segments["line_start"]]
    return pd.DataFrame(
        {
            "line": segments["line_start"],
            "phase": phase,
            "theme_id": segments["theme_id"],
            "statement": segments["experiential_statement"],
        }
    )


def subsumption_candidates(segments: pd.DataFrame) -> pd.DataFrame:
    """Subsumption: in each cluster, the statement that shares most words with the others.

    A statement that already says what its neighbours say may be raised to name
    the cluster. This is a prompt for the analyst, not a decision.
    """
    rows = []
    for (tid, label), g in segments.groupby(["theme_id", "theme_label"]):
        if len(g) < 2:
            continue
        words = {str(sid): content_words(str(said)) for sid, said in zip(g["segment_id"], g["experiential_statement"])}
        score = {sid: sum(len(w & other) for o, other in words.items() if o != sid) for sid, w in words.items()}
        best = max(sorted(score), key=lambda sid: score[sid])
        if score[best] == 0:  # nothing stands out: this cluster needs a new name (abstraction)
            best, statement = "", "(no statement shares words with the others)"
        else:
            statement = str(g.loc[g["segment_id"] == best, "experiential_statement"].iloc[0])
        rows.append(
            {
                "theme_id": tid,
                "theme_label": label,
                "statements": len(g),
                "candidate": best,
                "statement": statement,
                "shared_words": score[best] if best else 0,
            }
        )
    out = pd.DataFrame(
        rows, columns=["theme_id", "theme_label", "statements", "candidate", "statement", "shared_words"]
    )
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


@safe
def feedback_clusters(
    my_clusters: object, study: Study, participant: str, student: str = "", p: Paths | None = None
) -> Markdown:
    """Feedback on clusters typed as text (``name: P01-U01, P01-U02`` per line) or a dict, over the student's statements.

    The clusters are read against the student's own statements of the case; the
    study's themes are not used here (they come after, in :func:`compare_pets`).
    """
    clusters = parse_clusters(my_clusters)
    if not clusters:
        return Markdown(NOT_YET)
    name = resolve_student(student, p)
    coding = load_student_coding(student_file(name, p), study) if name else None
    statements = (
        {}
        if coding is None
        else dict(
            zip(
                *(
                    coding.loc[coding["participant_id"] == participant, c]
                    for c in ("segment_id", "experiential_statement")
                )
            )
        )
    )
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
        return Markdown(
            f"*You have not named personal experiential themes for {participant} yet* (T4). Name them "
            "first: they are what you carry into the next case."
        )
    said = dict(zip(coding["segment_id"], coding["experiential_statement"]))
    return Markdown(
        "\n".join(
            f"- **{md_text(t['name'])}**: " + "; ".join(md_text(said.get(i, i)) for i in t["segments"]) for t in pets
        )
    )


@safe
def feedback_my_pets(student: str, study: Study, participant: str, p: Paths | None = None) -> Markdown:
    """Feedback on the PETs the student saved for one case (in the workspace), over their own statements."""
    name = resolve_student(student, p)
    if not name:
        return Markdown("*No name set yet*, so no saved themes to read: set your name in the workspace first.")
    pets = my_pets(name, participant, p)
    if not pets:
        return Markdown(
            f"*No personal experiential themes saved for {participant} yet.* Tick statements in the "
            "theme workspace, name the theme, and press **Save theme**."
        )
    coding = load_student_coding(student_file(name, p), study)
    mine = coding[coding["participant_id"] == participant]
    statements = dict(zip(mine["segment_id"], mine["experiential_statement"]))
    return Markdown("\n".join(_cluster_feedback(pets, {k: v for k, v in statements.items() if v}, study)))


def answer_clusters(study: Study, participant: str) -> Markdown:
    """The study's personal experiential themes for one case (the reading to compare with, after one's own)."""
    segs = case_segments(study, participant)
    rows = []
    for tid, g in sorted(segs.groupby("theme_id"), key=lambda kv: theme_key(str(kv[0]))):
        rows.append(
            {
                "theme": f"{tid} {theme_label(study, str(tid))}",
                "statements": len(g),
                "gathers": "; ".join(
                    f"{sid} {said}" for sid, said in zip(g["segment_id"], g["experiential_statement"])
                ),
            }
        )
    return Markdown(
        f"The study grouped {study.pseudonyms[participant]}'s {len(segs)} statements into {len(rows)} personal "
        f"experiential themes:\n\n{md_table(pd.DataFrame(rows))}\n\n"
        "Most clusters come from abstraction (like with like, under a new name); a theme with many statements "
        "is visible by numeration; statements that pull against each other are a polarisation worth keeping."
    )


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
    return Markdown(
        "\n\n".join(
            f"{memo_id}, {date} ({memo_kind}):\n\n{block_quote(text)}"
            for memo_id, date, memo_kind, text in zip(memos["memo_id"], memos["date"], memos["kind"], memos["text"])
        )
    )


@safe
def feedback_memo(
    memo: str, study: Study | None = None, student: str = "", previous: str = "", p: Paths | None = None
) -> Markdown:
    """Feedback on a bracketing memo (read for words, first person, length, the themes carried); kept when named."""
    memo = as_text(memo, "memo")
    if not answered(memo):
        return Markdown(NOT_YET)
    carried = ""
    name = resolve_student(student, p)
    if name and previous:
        carried = " ".join(my_pets(name, previous, p))
    verdict = fb.judge_memo(memo, study, carried)
    return Markdown(verdict.text("Memo") + keep_answers(student, "T5", p, memo=memo))


def answer_next_case(study: Study, first: str, second: str) -> Markdown:
    """Model answer for T5: the analyst's own bracketing memo on the new case, and what it is for."""
    check_participant(study, first)
    check_participant(study, second)
    memo = case_memos(study, second, "reflexive")
    parts = [
        "A new case is read on its own terms: what it shares with the last one is noted later, at the "
        "cross-case step (T6), not looked for now."
    ]
    if not memo.empty:
        parts.append(
            f"The analyst's reflexive memo on {study.pseudonyms[second]} ({memo['date'].iloc[0]}):\n\n"
            + block_quote(memo["text"].iloc[0])
        )
    parts.append(
        "Put it beside yours: what did the analyst name that you did not, and what did you bring that "
        "the analyst did not?"
    )
    return Markdown("\n\n".join(parts))
