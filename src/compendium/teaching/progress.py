"""Where a student stands in the tutorials: each tutorial's checklist, ticked from the student's own files."""

from __future__ import annotations

from ..data import Study
from ..errors import CompendiumError
from ..paths import Paths
from .compare import md_text
from .saved import load_answers, load_groups, load_pets
from .students import load_student_coding, resolve_student, student_file
from .text import Markdown, TutorialError

__all__ = ["TUTORIALS", "progress", "tasks_done"]

# Each tutorial: title, minutes a student needs, and the checklist shown at its top.
TUTORIALS: dict[str, dict] = {
    "T1": {
        "title": "Reading and re-reading",
        "minutes": 45,
        "tasks": [
            "read the transcript whole, then again",
            "pick the lines that speak to the question",
            "code a first passage in the workspace",
        ],
    },
    "T2": {
        "title": "Exploratory notes",
        "minutes": 50,
        "tasks": ["write three notes for the exercise passage", "write notes for passages of your own"],
    },
    "T3": {
        "title": "Experiential statements",
        "minutes": 40,
        "tasks": ["write the statement for the exercise passage", "give each of your passages a statement"],
    },
    "T4": {
        "title": "Personal experiential themes",
        "minutes": 60,
        "tasks": ["name at least one personal theme from your statements", "compare with the study's reading"],
    },
    "T5": {
        "title": "Moving to the next case",
        "minutes": 75,
        "tasks": ["write a bracketing memo", "code the next case with statements", "name its personal themes"],
    },
    "T6": {
        "title": "Group experiential themes",
        "minutes": 60,
        "tasks": [
            "build a group theme from personal themes of two cases",
            "compare with the study's",
            "apply a stricter recurrence rule",
        ],
    },
    "T7": {"title": "Writing up", "minutes": 50, "tasks": ["choose two quotes for the theme", "write your paragraph"]},
}


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
    who = (
        f"Working as **{md_text(name)}**: your work is kept in `student_work/{name}/`."
        if name
        else (
            f"*{md_text(problem)}*"
            if problem
            else "*No name set yet:* type it in the workspace's **Your name** box (it is kept in "
            "`student_work/profile` for every tutorial), or set `student` in the first code cell."
        )
    )
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
    noted = coding[
        (coding["note_descriptive"] != "") & (coding["note_linguistic"] != "") & (coding["note_conceptual"] != "")
    ]
    stated = coding[coding["experiential_statement"] != ""]
    cases_with_pets = [pid for pid, themes in pets.items() if themes]
    return {
        ("T1", 0): bool(answers.get("T1")),
        ("T1", 1): bool(answers.get("T1", {}).get("lines")),
        ("T1", 2): len(coding) > 0,
        ("T2", 0): bool(answers.get("T2")),
        ("T2", 1): len(noted) > 0,
        ("T3", 0): bool(answers.get("T3", {}).get("statement")),
        ("T3", 1): len(coding) > 0 and len(stated) == len(coding),
        ("T4", 0): len(cases_with_pets) >= 1,
        ("T4", 1): len(cases_with_pets) >= 1,
        ("T5", 0): bool(answers.get("T5", {}).get("memo")),
        ("T5", 1): len(set(stated["participant_id"])) >= 2,
        ("T5", 2): len(cases_with_pets) >= 2,
        ("T6", 0): len(groups) >= 1,
        ("T6", 1): len(groups) >= 1,
        ("T6", 2): bool(answers.get("T6")),
        ("T7", 0): bool(answers.get("T7", {}).get("quotes")),
        ("T7", 1): bool(answers.get("T7", {}).get("paragraph")),
    } | {("_cases", 0): bool(cases)}
