"""Guided IPA tutorials: the logic behind the tutorial notebooks and the coding widget.

Pure functions, no user interface (that is :mod:`compendium.widget`):

- transcript lines and character spans (a passage is chosen by line numbers and,
  optionally, a phrase inside those lines);
- a student's own coding, kept in ``student_work/<name>.csv`` with the columns of
  ``coding.csv``, written atomically through :mod:`compendium.files` and checked
  row by row when read back;
- the comparison of a student's coding with the study's, passage by passage,
  as feedback for learning (not an agreement score);
- the exercises of the seven tutorial notebooks: feedback on a student's answer
  and the model answer, built from the study's own data.
"""
from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pandas as pd

from .cases import NOTE_KINDS, case_segments, case_table, check_participant, format_lines
from .data import SPEAKER_INTERVIEWER, Study, line_span
from .errors import CompendiumError, DataError, Problem
from .files import write_text
from .paths import Paths, paths
from .themes import quote_bank, recurrence, theme_counts, theme_key

__all__ = [
    "MODES", "CODING_COLUMNS", "OUTCOMES", "TutorialError", "StudentWorkError", "Markdown",
    "check_mode", "check_student", "student_file",
    "line_bounds", "lines_to_span", "span_lines", "transcript_lines", "read_transcript", "keyword_in_context",
    "codable_themes", "theme_choices", "empty_coding", "new_segment", "add_segment", "remove_segment",
    "next_segment_id", "save_student_coding", "load_student_coding",
    "compare_coding", "comparison_summary",
    "segment_card", "coded_lines", "feedback_lines", "answer_lines",
    "notes_of_kind", "feedback_notes", "answer_notes", "feedback_statement", "answer_statement",
    "statements_to_cluster", "numeration", "contextualise", "subsumption_candidates",
    "feedback_clusters", "answer_clusters",
    "case_memos", "memo_text", "case_contrast", "feedback_memo", "answer_next_case",
    "group_recurrence", "feedback_recurrence", "answer_recurrence",
    "all_case_tables", "theme_passages", "quote_reference", "woven_paragraph", "feedback_quotes", "answer_quotes",
]

MODES = ("exercise", "solution")
CODING_COLUMNS = [
    "segment_id", "participant_id", "start", "end", "excerpt", "theme_id", "note_descriptive",
    "note_linguistic", "note_conceptual", "experiential_statement", "analyst", "coding_round",
]
INT_COLUMNS = ("start", "end", "coding_round")
OUTCOMES = ("same theme", "different theme", "only you", "only the study")
STUDENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
WORDS = re.compile(r"[A-Za-z0-9']+")
# Small words left out when comparing the content of two short texts.
STOPWORDS = frozenset("""
a an and are as at be been but by can could do does for from had has have he her hers him his how i if in
into is it its just like me my no not of on or our she so some than that the their them then there these they
this to too up us was we were what when where which who why will with would you your yours um really very
self
""".split())


class TutorialError(CompendiumError):
    """Something a student typed cannot be used (a line range, a phrase, a theme, a parameter)."""


class StudentWorkError(DataError):
    """A student's saved coding file cannot be read back; names the file, the row and the fix."""


class Markdown(str):
    """Text that Jupyter shows as formatted Markdown (and as plain text everywhere else)."""

    def _repr_markdown_(self) -> str:
        return str(self)


# ------------------------------------------------------------------ parameters
def check_mode(mode: str) -> str:
    """Return ``mode`` if it is "exercise" or "solution", else raise a :class:`TutorialError`."""
    if mode not in MODES:
        raise TutorialError(
            f"mode {mode!r} is not a tutorial mode.\n    fix: set mode to \"exercise\" (model answers behind a "
            "button) or \"solution\" (model answers shown), e.g. `papermill T1_read_transcript.ipynb out.ipynb "
            "-p mode solution`")
    return mode


def check_student(student: str) -> str:
    """A student name usable as a file name: letters, digits, '-' and '_' (at most 40)."""
    name = str(student).strip()
    if not STUDENT_NAME.match(name):
        raise TutorialError(
            f"student name {student!r} cannot be used as a file name.\n    fix: use letters, digits, '-' or '_' "
            "only, starting with a letter or digit (for example \"ana_lopez\" or \"s1234567\")")
    return name


def student_file(student: str, p: Paths | None = None) -> Path:
    """Where a student's coding is kept: ``<root>/student_work/<student>.csv`` (git-ignored)."""
    p = p or paths()
    return p.student_work / f"{check_student(student)}.csv"


# ------------------------------------------------------------------ lines and spans
def line_bounds(text: str) -> list[tuple[int, int]]:
    """Character span ``(start, end)`` of each line, without its line break; line 1 is item 0.

    Examples
    --------
    >>> line_bounds("ab\\ncde\\n")
    [(0, 2), (3, 6)]
    """
    bounds, start = [], 0
    for line in text.split("\n"):
        bounds.append((start, start + len(line)))
        start += len(line) + 1
    if text.endswith("\n"):
        bounds.pop()
    return bounds


def lines_to_span(text: str, first: int, last: int, phrase: str = "") -> tuple[int, int]:
    """Character span of a passage chosen by line numbers and, optionally, a phrase inside them.

    Without a phrase the passage is the spoken words of lines ``first`` to ``last``
    (the speaker label of the first line is left out). With a phrase it is the
    first place the phrase occurs in those lines; capital letters and runs of
    spaces do not matter.

    Examples
    --------
    >>> text = "Interviewer: Hi?\\nAnn: I am so kind to others.\\n"
    >>> lines_to_span(text, 2, 2)
    (22, 45)
    >>> text[slice(*lines_to_span(text, 2, 2, "SO kind"))]
    'so kind'
    """
    bounds = line_bounds(text)
    n = len(bounds)
    if isinstance(first, bool) or isinstance(last, bool) or not isinstance(first, int) or not isinstance(last, int):
        raise TutorialError(f"lines {first!r}-{last!r} are not line numbers.\n"
                            f"    fix: give whole numbers from 1 to {n}")
    if not 1 <= first <= last <= n:
        raise TutorialError(
            f"lines {first}-{last} are not a passage of this transcript, which has lines 1-{n}.\n"
            f"    fix: choose a first line from 1 to {n} and a last line at or after it")
    start, first_end = bounds[first - 1]
    speaker, sep, _ = text[start:first_end].partition(": ")
    if sep:
        start += len(speaker) + len(sep)
    end = bounds[last - 1][1]
    words = " ".join(str(phrase).split())
    if not words:
        return start, end
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words.split()), re.IGNORECASE)
    found = pattern.search(text, start, end)
    if found is None:
        where = f"line {first}" if first == last else f"lines {first}-{last}"
        raise TutorialError(
            f"the phrase {words!r} does not occur in {where}.\n    fix: copy the words exactly from the transcript "
            "(capital letters do not matter), choose the lines that hold them, or leave the phrase empty to code "
            "the whole lines")
    return found.start(), found.end()


def span_lines(text: str, start: int, end: int) -> str:
    """Line reference of a span: '14' or '14-16'."""
    return format_lines(*line_span(text, start, end))


def transcript_lines(text: str, first: int = 1, last: int | None = None) -> pd.DataFrame:
    """Lines ``first`` to ``last`` of a transcript as a table: line number, speaker, what was said."""
    rows = []
    for number, (a, b) in enumerate(line_bounds(text), start=1):
        if number < first or (last is not None and number > last):
            continue
        speaker, _, said = text[a:b].partition(": ")
        rows.append({"line": number, "speaker": speaker, "text": said})
    return pd.DataFrame(rows, columns=["line", "speaker", "text"])


def read_transcript(text: str, first: int = 1, last: int | None = None) -> Markdown:
    """Lines ``first`` to ``last`` for reading: line number, speaker in bold, the words in full."""
    t = transcript_lines(text, first, last)
    return Markdown("\n\n".join(f"`{r.line:>2}` **{r.speaker}:** {r.text}" for r in t.itertuples()))


def keyword_in_context(text: str, word: str, width: int = 45) -> pd.DataFrame:
    """Every word that starts with ``word`` ("kind" finds kindness too), with ``width`` characters either side.

    Re-reading with one question in mind: where does the speaker use this word,
    and what surrounds it each time?
    """
    pattern = re.compile(r"\b" + re.escape(word.strip()) + r"\w*", re.IGNORECASE)
    rows = []
    for number, (a, b) in enumerate(line_bounds(text), start=1):
        line = text[a:b]
        speaker, sep, _ = line.partition(": ")
        said = len(speaker) + len(sep) if sep else 0
        for m in pattern.finditer(line, said):
            left = line[max(said, m.start() - width):m.start()]
            right = line[m.end():m.end() + width]
            rows.append({"line": number, "speaker": speaker, "left": ("..." if m.start() - width > said else "") + left,
                         "word": m.group(0), "right": right + ("..." if m.end() + width < len(line) else "")})
    return pd.DataFrame(rows, columns=["line", "speaker", "left", "word", "right"])


# ------------------------------------------------------------------ a student's coding
def codable_themes(codebook: pd.DataFrame) -> pd.DataFrame:
    """The themes a passage may be coded to, in codebook order (1.1 before 1.2 before 3.1.1)."""
    cb = codebook[codebook["codable"].astype(bool)]
    return cb.sort_values("id", key=lambda c: c.map(theme_key)).reset_index(drop=True)


def theme_choices(codebook: pd.DataFrame) -> list[tuple[str, str]]:
    """``(label, id)`` pairs for a drop-down list of the codable themes."""
    return [(f"{r.id} {r.label}", r.id) for r in codable_themes(codebook).itertuples()]


def empty_coding() -> pd.DataFrame:
    """A coding table with no rows and the columns of ``coding.csv``."""
    df = pd.DataFrame({c: pd.Series(dtype=int if c in INT_COLUMNS else object) for c in CODING_COLUMNS})
    return df


def _check_theme(codebook: pd.DataFrame, theme_id: str | None) -> str:
    codable = codable_themes(codebook)
    valid = ", ".join(codable["id"])
    if theme_id is None or str(theme_id).strip() == "":
        raise TutorialError(f"no theme chosen for this passage.\n    fix: pick one of the codable themes: {valid}")
    theme_id = str(theme_id).strip()
    known = dict(zip(codebook["id"], codebook["codable"]))
    if theme_id not in known:
        raise TutorialError(f"theme {theme_id!r} is not in the codebook.\n    fix: pick one of {valid}")
    if not known[theme_id]:
        raise TutorialError(f"theme {theme_id} groups other themes and is not coded directly.\n"
                            f"    fix: pick one of its subordinate or minor themes: {valid}")
    return theme_id


def new_segment(study: Study, participant: str, start: int, end: int, theme_id: str | None, *,
                descriptive: str = "", linguistic: str = "", conceptual: str = "", statement: str = "",
                analyst: str = "student") -> dict:
    """One coded passage as a row of ``coding.csv`` (its ``segment_id`` is given by :func:`add_segment`)."""
    check_participant(study, participant)
    theme_id = _check_theme(study.codebook, theme_id)
    text = study.transcripts[participant]
    if not 0 <= start < end <= len(text):
        raise TutorialError(f"span {start}-{end} is outside transcript {participant} (0-{len(text)} characters).\n"
                            "    fix: choose the passage by its line numbers")
    return {
        "segment_id": "", "participant_id": participant, "start": int(start), "end": int(end),
        "excerpt": text[start:end], "theme_id": theme_id,
        "note_descriptive": descriptive.strip(), "note_linguistic": linguistic.strip(),
        "note_conceptual": conceptual.strip(), "experiential_statement": " ".join(statement.split()),
        "analyst": analyst, "coding_round": 1,
    }


def next_segment_id(coding: pd.DataFrame, participant: str) -> str:
    """The next free id for a student's passage: ``P01-U01``, ``P01-U02``, ... (U for 'yours').

    Examples
    --------
    >>> next_segment_id(pd.DataFrame({"segment_id": ["P01-U01", "P01-U04", "P02-U09"]}), "P01")
    'P01-U05'
    """
    pattern = re.compile(rf"^{re.escape(participant)}-U(\d+)$")
    used = [int(m.group(1)) for m in map(pattern.match, coding["segment_id"].astype(str)) if m]
    return f"{participant}-U{max(used, default=0) + 1:02d}"


def _ordered(coding: pd.DataFrame) -> pd.DataFrame:
    return coding.sort_values(["participant_id", "start", "end", "segment_id"]).reset_index(drop=True)[CODING_COLUMNS]


def add_segment(coding: pd.DataFrame, segment: dict) -> tuple[pd.DataFrame, str]:
    """Add a passage, or update it when the same span of the same transcript is already coded.

    Returns the new table and the passage's segment id.
    """
    same = (coding["participant_id"] == segment["participant_id"]) & (coding["start"] == segment["start"]) \
        & (coding["end"] == segment["end"])
    row = dict(segment)
    if same.any():
        row["segment_id"] = str(coding.loc[same, "segment_id"].iloc[0])
        coding = coding[~same]
    else:
        row["segment_id"] = next_segment_id(coding, segment["participant_id"])
    out = pd.concat([coding, pd.DataFrame([row], columns=CODING_COLUMNS)], ignore_index=True)
    for col in INT_COLUMNS:
        out[col] = out[col].astype(int)
    return _ordered(out), row["segment_id"]


def remove_segment(coding: pd.DataFrame, segment_id: str) -> pd.DataFrame:
    """The table without one passage; an unknown id is an error."""
    if segment_id not in set(coding["segment_id"]):
        raise TutorialError(f"no passage {segment_id!r} in your coding.\n    fix: choose one of "
                            f"{', '.join(coding['segment_id']) or '(none yet)'}")
    return _ordered(coding[coding["segment_id"] != segment_id])


def save_student_coding(path: Path, coding: pd.DataFrame) -> Path:
    """Write a student's coding atomically (a reader never sees half a file)."""
    return write_text(Path(path), _ordered(coding).to_csv(index=False, lineterminator="\n"))


def load_student_coding(path: Path, study: Study) -> pd.DataFrame:
    """A student's saved coding, checked row by row against the transcripts and the codebook.

    A missing file is an empty coding (nothing saved yet). A file that cannot be
    used raises :class:`StudentWorkError` naming the file, the row and the fix.
    """
    path = Path(path)
    if not path.is_file():
        return empty_coding()
    name = str(path)
    aside = f"move the file aside (rename it to {path.stem}.broken.csv) to start a fresh file at your next save"
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise StudentWorkError([Problem(name, "is not UTF-8 text.",
                                        f"re-save it as UTF-8 in a text editor, or {aside}")],
                               "Your saved coding cannot be read") from None
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise StudentWorkError([Problem(name, f"is not a readable CSV table ({str(err).strip()}).",
                                        f"repair it in a text editor, or {aside}")],
                               "Your saved coding cannot be read") from None
    missing = [c for c in CODING_COLUMNS if c not in df.columns]
    if missing:
        raise StudentWorkError([Problem(name, f"lacks the column(s) {', '.join(missing)} (expected the columns of "
                                        f"coding.csv: {', '.join(CODING_COLUMNS)}).",
                                        f"restore the header line, or {aside}")],
                               "Your saved coding cannot be read")
    problems: list[Problem] = []
    codable = dict(zip(study.codebook["id"], study.codebook["codable"]))
    fix_row = f"correct this row in a text editor or delete it, or {aside}"
    seen: set[str] = set()
    for i, row in enumerate(df.itertuples(index=False), start=1):
        if row.segment_id in seen:
            problems.append(Problem(name, f"segment id {row.segment_id!r} appears twice.", fix_row, row=i,
                                    column="segment_id"))
        seen.add(row.segment_id)
        bad_int = [c for c in INT_COLUMNS if not str(getattr(row, c)).strip().isdigit()]
        if bad_int:
            problems.append(Problem(name, f"{', '.join(bad_int)} must be whole numbers, found "
                                    f"{', '.join(repr(getattr(row, c)) for c in bad_int)}.", fix_row, row=i,
                                    column=bad_int[0]))
            continue
        if row.participant_id not in study.transcripts:
            problems.append(Problem(name, f"participant {row.participant_id!r} is not in the study.", fix_row,
                                    row=i, column="participant_id"))
            continue
        if row.theme_id not in codable or not codable[row.theme_id]:
            problems.append(Problem(name, f"theme {row.theme_id!r} is not a codable theme of the codebook.",
                                    fix_row, row=i, column="theme_id"))
        transcript = study.transcripts[row.participant_id]
        start, end = int(row.start), int(row.end)
        if not 0 <= start < end <= len(transcript):
            problems.append(Problem(name, f"span {start}-{end} lies outside transcript {row.participant_id} "
                                    f"(0-{len(transcript)} characters).", fix_row, row=i, column="end"))
        elif transcript[start:end] != row.excerpt:
            problems.append(Problem(name, f"the excerpt no longer matches transcript {row.participant_id} at "
                                    f"{start}-{end} (has the transcript or the file been edited?).", fix_row,
                                    row=i, column="excerpt"))
    if problems:
        raise StudentWorkError(problems, "Your saved coding cannot be read")
    for col in INT_COLUMNS:
        df[col] = df[col].astype(int)
    return _ordered(df)


# ------------------------------------------------------------------ comparison with the study
def _shorten(text: str, width: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3].rsplit(" ", 1)[0] + "..."


def compare_coding(student: pd.DataFrame, study: Study, participants: list[str] | None = None) -> pd.DataFrame:
    """Passage by passage: where the student's coding meets the study's (``coding.csv``) and where it differs.

    Two passages meet when their character spans overlap. Each meeting is a row
    ("same theme" or "different theme"); a student passage that meets none is
    "only you"; a study passage that meets none is "only the study". Only the
    participants the student has coded are compared unless ``participants`` is given.
    ``covered`` is the share of the study's passage inside the student's one.
    """
    labels = dict(zip(study.codebook["id"], study.codebook["label"]))
    parents = dict(zip(study.codebook["id"], study.codebook["parent"]))
    pids = participants if participants is not None else sorted(set(student["participant_id"]))
    rows = []
    for pid in pids:
        text = study.transcripts[pid]
        mine = student[student["participant_id"] == pid]
        theirs = study.coding[study.coding["participant_id"] == pid]
        met: set[str] = set()
        for s in mine.itertuples(index=False):
            hits = [t for t in theirs.itertuples(index=False) if min(s.end, t.end) - max(s.start, t.start) > 0]
            if not hits:
                rows.append({"participant_id": pid, "lines": span_lines(text, s.start, s.end), "outcome": "only you",
                             "your_segment": s.segment_id, "your_theme": s.theme_id, "study_segment": "",
                             "study_theme": "", "covered": 0.0, "excerpt": _shorten(s.excerpt),
                             "study_statement": "", "_pos": s.start,
                             "feedback": "The study left this passage uncoded. Keep it if you can say how it speaks "
                                         "to the research question."})
            for t in hits:
                met.add(t.segment_id)
                shared = min(s.end, t.end) - max(s.start, t.start)
                same = s.theme_id == t.theme_id
                if same:
                    note = "You and the study heard the same theme here; compare your statement with the study's."
                else:
                    note = (f"You chose {s.theme_id} {labels[s.theme_id]}; the study chose {t.theme_id} "
                            f"{labels[t.theme_id]}. Re-read both definitions in the codebook: which fits, and why?")
                    if parents.get(s.theme_id) and parents.get(s.theme_id) == parents.get(t.theme_id):
                        note += f" Both sit under theme {parents[s.theme_id]}, so the two readings are neighbours."
                    elif t.theme_id.startswith(s.theme_id + ".") or s.theme_id.startswith(t.theme_id + "."):
                        note += " One theme is inside the other: the difference is one of precision."
                rows.append({"participant_id": pid, "lines": span_lines(text, min(s.start, t.start), max(s.end, t.end)),
                             "outcome": "same theme" if same else "different theme",
                             "your_segment": s.segment_id, "your_theme": s.theme_id, "study_segment": t.segment_id,
                             "study_theme": t.theme_id, "covered": round(shared / (t.end - t.start), 2),
                             "excerpt": _shorten(text[max(s.start, t.start):min(s.end, t.end)]),
                             "study_statement": t.experiential_statement, "_pos": min(s.start, t.start),
                             "feedback": note})
        for t in theirs.itertuples(index=False):
            if t.segment_id not in met:
                rows.append({"participant_id": pid, "lines": span_lines(text, t.start, t.end),
                             "outcome": "only the study", "your_segment": "", "your_theme": "",
                             "study_segment": t.segment_id, "study_theme": t.theme_id, "covered": 0.0,
                             "excerpt": _shorten(t.excerpt), "study_statement": t.experiential_statement,
                             "_pos": t.start,
                             "feedback": f"The study coded this passage to {t.theme_id} {labels[t.theme_id]}; "
                                         "you have not coded it (yet)."})
    columns = ["participant_id", "lines", "outcome", "your_segment", "your_theme", "study_segment", "study_theme",
               "covered", "excerpt", "study_statement", "feedback"]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows).sort_values(["participant_id", "_pos", "study_segment"], kind="stable")
    return out[columns].reset_index(drop=True)


def comparison_summary(comparison: pd.DataFrame) -> Markdown:
    """A few sentences on a comparison: what met, what differed, what only one side coded."""
    if comparison.empty:
        return Markdown("Nothing to compare yet: code a passage first.")
    n = comparison["outcome"].value_counts()
    yours = comparison.loc[comparison["your_segment"] != "", "your_segment"].nunique()
    return Markdown(
        f"You coded {_count(yours, 'passage')}. Where they meet the study's passages, the theme is the same "
        f"{_count(n.get('same theme', 0), 'time')} and different {_count(n.get('different theme', 0), 'time')}; "
        f"{_count(n.get('only you', 0), 'passage')} only you coded, {_count(n.get('only the study', 0), 'passage')} "
        "only the study coded. This is feedback for learning, not an agreement score: in IPA two careful readers "
        "notice different things, and a difference you can argue for is a finding, not a mistake.")


def _count(n: int, word: str) -> str:
    """'1 passage', '3 passages'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------ helpers shared by the exercises
def _segment(study: Study, segment_id: str) -> pd.Series:
    found = study.coding[study.coding["segment_id"] == segment_id]
    if found.empty:
        raise TutorialError(f"no segment {segment_id!r} in coding.csv.\n    fix: use an id such as P01-S02")
    return found.iloc[0]


def _label(study: Study, theme_id: str) -> str:
    return dict(zip(study.codebook["id"], study.codebook["label"]))[theme_id]


def _content_words(text: str) -> set[str]:
    """Lower-case words of a text without small words and without a possessive 's ("mum's" -> "mum")."""
    words = {w.lower().strip("'") for w in WORDS.findall(str(text))}
    return {w[:-2] if w.endswith("'s") else w for w in words} - STOPWORDS - {""}


def _quote(text: str) -> str:
    return "\n".join("> " + line for line in str(text).split("\n"))


def _table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False, tablefmt="pipe")


def _answered(value: object) -> bool:
    return bool(value) and (not isinstance(value, str) or bool(value.strip()))


NOT_YET = "*Not answered yet.* Write your answer in the cell above, run it, then run this cell again."


def segment_card(study: Study, segment_id: str, notes: bool = False, statement: bool = False,
                 theme: bool = False) -> Markdown:
    """One coded passage as Markdown: who, where, the words; optionally its notes, statement and theme."""
    seg = _segment(study, segment_id)
    text = study.transcripts[seg.participant_id]
    who = study.pseudonyms[seg.participant_id]
    parts = [f"**{segment_id}**, {who} ({seg.participant_id}), line {span_lines(text, seg.start, seg.end)}",
             _quote(seg.excerpt)]
    if notes:
        parts.append(f"- *Descriptive:* {seg.note_descriptive}\n- *Linguistic:* {seg.note_linguistic}\n"
                     f"- *Conceptual:* {seg.note_conceptual}")
    if statement:
        parts.append(f"**Experiential statement:** {seg.experiential_statement}")
    if theme:
        parts.append(f"**Theme:** {seg.theme_id} {_label(study, seg.theme_id)}")
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
    """'Line 3 is' or 'Lines 4, 38 are'."""
    return f"Line {lines[0]} {one}" if len(lines) == 1 else f"Lines {', '.join(map(str, lines))} {many}"


def _participant_lines(text: str) -> list[int]:
    t = transcript_lines(text)
    return t.loc[t["speaker"] != SPEAKER_INTERVIEWER, "line"].tolist()


def feedback_lines(my_lines: list[int], study: Study, participant: str) -> Markdown:
    """Feedback on the lines a student picked as speaking to the research question."""
    if not _answered(my_lines):
        return Markdown(NOT_YET)
    text = study.transcripts[check_participant(study, participant)]
    n = len(line_bounds(text))
    mine = sorted({int(x) for x in my_lines})
    outside = [x for x in mine if not 1 <= x <= n]
    if outside:
        return Markdown(f"Line(s) {', '.join(map(str, outside))} are not in this transcript (lines 1-{n}).")
    speaker_lines = set(_participant_lines(text))
    interviewer = [x for x in mine if x not in speaker_lines]
    coded = set(coded_lines(study, participant))
    shared = [x for x in mine if x in coded]
    only_you = [x for x in mine if x not in coded and x in speaker_lines]
    parts = [f"You picked {len(mine)} line(s); {len(shared)} of them hold passages the study coded"
             + (f" ({', '.join(map(str, shared))})." if shared else ".")]
    if only_you:
        parts.append(f"{_lines_phrase(only_you, 'was', 'were')} left uncoded by the study: re-read and ask whether "
                     "it tells you about self-compassion with these clients, or about something else.")
    if interviewer:
        parts.append(f"{_lines_phrase(interviewer, 'is', 'are')} the interviewer's: IPA analyses the participant's "
                     "words, though a question can shape the answer that follows it.")
    missed = len(coded - set(mine))
    if missed:
        parts.append(f"The study coded {missed} further line(s) you did not pick; the model answer lists them.")
    return Markdown(" ".join(parts))


def answer_lines(study: Study, participant: str) -> Markdown:
    """Model answer for T1: the lines the study coded, and the participant's lines it left aside."""
    text = study.transcripts[check_participant(study, participant)]
    coded = coded_lines(study, participant)
    left = [x for x in _participant_lines(text) if x not in coded]
    t = transcript_lines(text).set_index("line")
    aside = pd.DataFrame({"line": left, "opening words": [_shorten(t.loc[x, "text"], 70) for x in left]})
    return Markdown(
        f"The study coded passages on lines {', '.join(map(str, coded))}.\n\n"
        f"These lines of {study.pseudonyms[participant]}'s were left uncoded:\n\n{_table(aside)}\n\n"
        "The study coded only passages that carry one of the codebook's themes. Uncoded lines are of two kinds: "
        "talk around the interview (greetings, the connection, the weather, telehealth), and talk that matters "
        "but belongs to no single theme, such as a clinician's training or the everyday words she uses with "
        "clients, which a paper reports as general findings. If you picked lines of the second kind you read "
        "well: the difference from the study is about what was coded, not about what matters.")


# ------------------------------------------------------------------ T2 exploratory notes
def feedback_notes(study: Study, segment_id: str, descriptive: str, linguistic: str, conceptual: str) -> Markdown:
    """Feedback on a student's three exploratory notes for one passage."""
    if not any(_answered(x) for x in (descriptive, linguistic, conceptual)):
        return Markdown(NOT_YET)
    excerpt = _segment(study, segment_id).excerpt
    said = _content_words(excerpt)
    parts = []
    if _answered(descriptive):
        parts.append("- *Descriptive:* written. Check that it stays with what is said, in plain words.")
    else:
        parts.append("- *Descriptive:* still empty. Say what the passage is about: events, people, feelings named.")
    if _answered(linguistic):
        quoted = re.findall(r"['\"]([^'\"]{2,})['\"]", linguistic)
        points = any(q.lower() in excerpt.lower() for q in quoted) or bool(_content_words(linguistic) & said)
        parts.append("- *Linguistic:* it points at the speaker's own words; good." if points else
                     "- *Linguistic:* it does not quote the passage. Put the exact words you mean in quotation marks "
                     "(an image, a repetition, a pause, a laugh).")
    else:
        parts.append("- *Linguistic:* still empty. Notice how it is said: metaphors, repeated words, hesitations, "
                     "pronouns, laughter.")
    if _answered(conceptual):
        overlap = _content_words(conceptual) & _content_words(descriptive)
        share = len(overlap) / max(1, len(_content_words(conceptual)))
        parts.append("- *Conceptual:* it stays close to your descriptive note. Ask what this might mean for how the "
                     "person understands themselves or their clients." if share > 0.6 else
                     "- *Conceptual:* it moves beyond description toward meaning; good. Keep it tentative ('perhaps', "
                     "'it may be that').")
    else:
        parts.append("- *Conceptual:* still empty. This is the interpretative step: what might this mean?")
    return Markdown("\n".join(parts))


def answer_notes(study: Study, segment_id: str) -> Markdown:
    """Model answer for T2: the study's three notes for one passage, with what each kind does."""
    return Markdown(
        segment_card(study, segment_id, notes=True) + "\n\n"
        "The descriptive note summarises; the linguistic note quotes the words that carry the meaning; the "
        "conceptual note asks what the passage suggests about the experience, and stays tentative. Yours can "
        "differ and still be good: check that each of your notes does its own job.")


def notes_of_kind(study: Study, participant: str, kind: str) -> Markdown:
    """Every exploratory note of one kind (descriptive, linguistic, conceptual) for one case, in full."""
    if kind not in NOTE_KINDS:
        raise TutorialError(f"{kind!r} is not a kind of exploratory note.\n    fix: use one of {', '.join(NOTE_KINDS)}")
    segs = case_segments(study, participant)
    return Markdown("\n".join(f"- line {format_lines(r.line_start, r.line_end)} ({r.segment_id}): "
                               f"{getattr(r, NOTE_KINDS[kind])}" for r in segs.itertuples()))


# ------------------------------------------------------------------ T3 experiential statements
def feedback_statement(study: Study, segment_id: str, statement: str) -> Markdown:
    """Feedback on a student's experiential statement for one passage."""
    if not _answered(statement):
        return Markdown(NOT_YET)
    seg = _segment(study, segment_id)
    words = WORDS.findall(statement)
    parts = []
    if len(words) < 3:
        parts.append(f"Your statement has {len(words)} word(s): too short to carry an experience. Say who "
                     "experiences what.")
    elif len(words) > 14:
        parts.append(f"Your statement has {len(words)} words. Aim for a short phrase (about 4 to 12 words) that "
                     "still holds the experience; the notes keep the detail.")
    else:
        parts.append(f"Length is right ({len(words)} words).")
    labels = [lab.lower() for lab in study.codebook["label"]]
    if statement.strip().lower() in labels:
        parts.append("It repeats a codebook theme word for word: a statement stays closer to this passage than "
                     "a theme does.")
    shared = _content_words(statement) & _content_words(seg.excerpt)
    if shared:
        parts.append(f"It keeps some of the speaker's words ({', '.join(sorted(shared)[:5])}), which anchors it in "
                     "the passage.")
    else:
        parts.append("It uses none of the speaker's words: fine if it captures the experience, but check that it "
                     "would still be recognisable to the speaker.")
    return Markdown(" ".join(parts))


def answer_statement(study: Study, segment_id: str) -> Markdown:
    """Model answer for T3: the study's statement for the passage, beside its notes."""
    return Markdown(
        segment_card(study, segment_id, notes=True, statement=True) + "\n\n"
        "The statement condenses the notes into a phrase about the experience itself: shorter than the passage, "
        "closer to it than a theme, and already a little interpretative.")


# ------------------------------------------------------------------ T4 personal experiential themes
def statements_to_cluster(study: Study, participant: str) -> pd.DataFrame:
    """One case's experiential statements without their themes: the raw material to cluster."""
    segs = case_segments(study, participant)
    return pd.DataFrame({"segment_id": segs["segment_id"],
                         "lines": [format_lines(a, b) for a, b in zip(segs["line_start"], segs["line_end"])],
                         "statement": segs["experiential_statement"]})


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
        words = {r.segment_id: _content_words(r.experiential_statement) for r in g.itertuples()}
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


def feedback_clusters(my_clusters: dict[str, list[str]], study: Study, participant: str) -> Markdown:
    """Feedback on a student's clusters of one case's statements, against the study's themes."""
    if not _answered(my_clusters):
        return Markdown(NOT_YET)
    segs = case_segments(study, participant)
    theme_of = dict(zip(segs["segment_id"], segs["theme_id"]))
    parts = []
    placed: list[str] = []
    for name, ids in my_clusters.items():
        ids = list(ids)
        unknown = [i for i in ids if i not in theme_of]
        if unknown:
            parts.append(f"- **{name}**: {', '.join(unknown)} are not statements of {participant}; use the ids in "
                         "the table above.")
            ids = [i for i in ids if i in theme_of]
        if not ids:
            continue
        placed += ids
        counts = pd.Series([theme_of[i] for i in ids]).value_counts()
        top, k = counts.index[0], int(counts.iloc[0])
        if k == len(ids):
            parts.append(f"- **{name}** ({len(ids)} statements): all sit in the study's theme {top} "
                         f"{_label(study, top)}.")
        else:
            mix = ", ".join(f"{t} ({c})" for t, c in counts.items())
            parts.append(f"- **{name}** ({len(ids)} statements) gathers several study themes: {mix}. Is there a "
                         "thread the study split, or does the cluster need dividing?")
    twice = sorted({i for i in placed if placed.count(i) > 1})
    if twice:
        parts.append(f"- In more than one cluster: {', '.join(twice)}. Allowed, but say why it belongs to both.")
    left = [i for i in segs["segment_id"] if i not in placed]
    if left:
        parts.append(f"- Not yet placed: {', '.join(left)}.")
    return Markdown("\n".join(parts))


def answer_clusters(study: Study, participant: str) -> Markdown:
    """Model answer for T4: the study's personal experiential themes for one case."""
    segs = case_segments(study, participant)
    rows = []
    for tid, g in sorted(segs.groupby("theme_id"), key=lambda kv: theme_key(kv[0])):
        rows.append({"theme": f"{tid} {_label(study, tid)}", "statements": len(g),
                     "gathers": "; ".join(f"{r.segment_id} {r.experiential_statement}" for r in g.itertuples())})
    return Markdown(
        f"The study grouped {study.pseudonyms[participant]}'s {len(segs)} statements into {len(rows)} personal "
        f"experiential themes:\n\n{_table(pd.DataFrame(rows))}\n\n"
        "Most clusters come from abstraction (like with like, under a new name); a theme with many statements "
        "is visible by numeration; statements that pull against each other (what forbids kindness, what permits "
        "it) are a polarisation worth keeping in the write-up.")


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


def case_contrast(study: Study, first: str, second: str) -> pd.DataFrame:
    """Themes of two cases side by side: statements in each, and whether the theme is shared or particular."""
    check_participant(study, first)
    check_participant(study, second)
    counts = theme_counts(study.coding[study.coding["participant_id"].isin([first, second])], study.codebook,
                          study.participants[study.participants["participant_id"].isin([first, second])])
    a, b = study.pseudonyms[first], study.pseudonyms[second]
    out = counts.reset_index()
    out.insert(1, "theme", out["theme_id"].map(dict(zip(study.codebook["id"], study.codebook["label"]))))
    out["pattern"] = ["in both" if x and y else f"only {a}" if x else f"only {b}" if y else "in neither"
                      for x, y in zip(out[a], out[b])]
    return out


def feedback_memo(memo: str) -> Markdown:
    """Feedback on a bracketing memo written before reading the next case."""
    if not _answered(memo):
        return Markdown(NOT_YET)
    words = WORDS.findall(memo)
    first_person = any(w.lower() in {"i", "i'm", "i've", "my", "me"} for w in words)
    parts = [f"{len(words)} words."]
    if len(words) < 25:
        parts.append("Say a little more: which themes from the last case do you expect to meet again, and which "
                     "of your own reactions might colour the reading?")
    parts.append("Written in the first person; good, a memo is about you as reader." if first_person else
                 "Try the first person: a bracketing memo is about what *you* bring to the next transcript.")
    parts.append("Keep it: after coding the next case, re-read it and note what surprised you.")
    return Markdown(" ".join(parts))


def answer_next_case(study: Study, first: str, second: str) -> Markdown:
    """Model answer for T5: what changes from one case to the next, and the study's own bracketing memo."""
    contrast = case_contrast(study, first, second)
    a, b = study.pseudonyms[first], study.pseudonyms[second]
    new = contrast[contrast["pattern"] == f"only {b}"]
    gone = contrast[contrast["pattern"] == f"only {a}"]
    memo = case_memos(study, second, "reflexive")
    parts = [f"Themes {b} voices that {a} did not: "
             + (", ".join(f"{r.theme_id} {r.theme}" for r in new.itertuples()) or "none") + ".",
             f"Themes of {a} that do not return with {b}: "
             + (", ".join(f"{r.theme_id} {r.theme}" for r in gone.itertuples()) or "none") + ".",
             "A new case is read on its own terms: what it shares with the last one is noted later, at the "
             "cross-case step, not looked for now."]
    if not memo.empty:
        parts.append(f"The analyst's reflexive memo on {b} ({memo['date'].iloc[0]}):\n\n"
                     + _quote(memo["text"].iloc[0]))
    return Markdown("\n\n".join(parts))


# ------------------------------------------------------------------ T6 group experiential themes
def group_recurrence(study: Study, threshold: float) -> pd.DataFrame:
    """Recurrence of each codable theme across all cases, straight from ``coding.csv``."""
    counts = theme_counts(study.coding, study.codebook, study.participants)
    return recurrence(counts, study.codebook, threshold)


def feedback_recurrence(my_ids: list[str], study: Study, threshold: float) -> Markdown:
    """Feedback on which themes a student thinks recur under a stricter rule."""
    if not _answered(my_ids):
        return Markdown(NOT_YET)
    rec = group_recurrence(study, threshold)
    truth = set(rec.loc[rec["recurrent"], "theme_id"])
    mine = {str(x) for x in my_ids}
    unknown = sorted(mine - set(rec["theme_id"]), key=str)
    if unknown:
        return Markdown(f"{', '.join(unknown)} are not codable themes; use ids from the `theme_id` column.")
    if mine == truth:
        return Markdown(f"Right: exactly these {len(truth)} themes meet the rule.")
    extra, missing = sorted(mine - truth, key=theme_key), sorted(truth - mine, key=theme_key)
    parts = []
    if extra:
        parts.append(f"{', '.join(extra)} fall short of the rule: count the participants with at least one segment.")
    if missing:
        parts.append(f"{len(missing)} recurring theme(s) are missing from your list.")
    return Markdown(" ".join(parts))


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
        raise TutorialError(f"no passages coded to theme {theme_id!r}.\n    fix: use a codable theme id such as 3.1.2")
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
    """A write-up paragraph for one theme: claim, quote, interpretation, for each quote, then a link.

    The interpretation of each quote is the study's conceptual note for it: the
    analyst's voice answers each participant's voice.
    """
    codebook = study.codebook.set_index("id")
    if theme_id not in codebook.index:
        raise TutorialError(f"theme {theme_id!r} is not in the codebook.\n    fix: use an id such as 1.2")
    parts = [f"**{theme_id} {codebook.loc[theme_id, 'label']}.** {codebook.loc[theme_id, 'definition']}"]
    for sid in segment_ids:
        seg = _segment(study, sid)
        who = study.pseudonyms[seg.participant_id]
        parts.append(f"{who} put it this way:\n\n{_quote(quote_reference(study, sid))}\n\n"
                     f"Read closely, {seg.note_conceptual[0].lower() + seg.note_conceptual[1:]}")
    voiced = study.coding.loc[study.coding["theme_id"] == theme_id, "participant_id"].nunique()
    parts.append(f"The theme was voiced by {voiced} of the {len(study.participants)} clinicians.")
    return Markdown("\n\n".join(parts))


def feedback_quotes(my_ids: list[str], study: Study, theme_id: str, min_words: int = 15,
                    max_words: int = 90) -> Markdown:
    """Feedback on the quotes a student chose to illustrate a theme."""
    if not _answered(my_ids):
        return Markdown(NOT_YET)
    parts = []
    owners = []
    for sid in my_ids:
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
        parts.append(f"- {sid} ({study.pseudonyms[seg.participant_id]}): " + ("; ".join(notes) or "a good fit."))
    if len(owners) > 1 and len(set(owners)) == 1:
        parts.append("- All from one clinician: quote more than one voice so the theme is shown to be shared.")
    return Markdown("\n".join(parts))


def answer_quotes(study: Study, theme_id: str, per_theme: int = 2) -> Markdown:
    """Model answer for T7: the quotes the study's fixed rule picks for a theme, woven into a paragraph."""
    bank = quote_bank(all_case_tables(study), study.participants, per_theme=per_theme)
    picked = bank[bank["theme_id"] == theme_id]
    if picked.empty:
        raise TutorialError(f"no quotes for theme {theme_id!r}.\n    fix: use a codable theme id such as 3.1.2")
    return Markdown(
        f"The quote rule picks {', '.join(picked['segment_id'])} ({', '.join(picked['pseudonym'])}). Woven into a "
        f"paragraph:\n\n{woven_paragraph(study, theme_id, picked['segment_id'].tolist())}\n\n"
        "Each quote is introduced, given in the speaker's words with a line reference, then interpreted: the "
        "reader hears the participant and then the analyst, never a quote left to speak for itself.")
