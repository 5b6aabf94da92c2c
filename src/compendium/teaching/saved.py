"""What a student saves besides coded passages: personal and group experiential themes, answers.

``student_work/<name>/pets.json`` (personal experiential themes per case),
``groups.json`` (group themes built from them) and ``answers.json`` (exercise
answers and memos per tutorial); see :mod:`compendium.teaching.students` for the
folder and the coding file. Written atomically, checked when read back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..cases import check_participant
from ..data import Study
from ..errors import Problem
from ..files import write_text
from ..paths import Paths
from .students import StudentWorkError, _aside, load_student_coding, student_file, student_folder
from .text import TutorialError

__all__ = [
    "load_pets",
    "save_pet",
    "remove_pet",
    "load_groups",
    "save_group",
    "remove_group",
    "load_answers",
    "save_answer",
]


def _read_json(path: Path, default: Any, kind: type) -> Any:
    if not path.is_file():
        return default
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StudentWorkError(
            [Problem(str(path), f"is not readable JSON ({err}).", f"repair it in a text editor, or {_aside(path)}")],
            "Your saved work cannot be read",
        ) from None
    if not isinstance(value, kind):
        raise StudentWorkError(
            [Problem(str(path), f"holds a {type(value).__name__}, not a {kind.__name__}.", _aside(path))],
            "Your saved work cannot be read",
        )
    return value


def _write_json(path: Path, value: Any) -> Path:
    return write_text(path, json.dumps(value, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def _clean_name(name: str, what: str) -> str:
    clean = " ".join(str(name).split())
    if not clean:
        raise TutorialError(
            f"your {what} has no name. fix: type a short name in your own words, for example "
            '"Kindness has to be earned"'
        )
    if len(clean) > 120:
        raise TutorialError(f"the {what} name has {len(clean)} characters. fix: shorten it to a phrase (under 120)")
    return clean


def load_pets(student: str, p: Paths | None = None) -> dict[str, list[dict]]:
    """A student's personal experiential themes: ``{participant: [{"name": ..., "segments": [...]}, ...]}``."""
    path = student_folder(student, p) / "pets.json"
    pets = _read_json(path, {}, dict)
    for pid, themes in pets.items():
        if not isinstance(themes, list) or not all(
            isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("segments"), list)
            for t in themes
        ):
            raise StudentWorkError(
                [
                    Problem(
                        str(path),
                        f"the entry for {pid!r} is not a list of themes with a name and segments.",
                        _aside(path),
                    )
                ],
                "Your saved work cannot be read",
            )
    return pets


def save_pet(
    student: str, study: Study, participant: str, name: str, segment_ids: list[str], p: Paths | None = None
) -> dict:
    """Save (or replace, by name) one of the student's personal experiential themes for one case.

    The theme gathers the student's own passages of that case (``P01-U03``, ...),
    each of which must carry an experiential statement.
    """
    check_participant(study, participant)
    name = _clean_name(name, "theme")
    coding = load_student_coding(student_file(student, p), study)
    mine = coding[coding["participant_id"] == participant]
    statements = dict(zip(mine["segment_id"], mine["experiential_statement"]))
    ids = list(dict.fromkeys(str(i).strip() for i in segment_ids if str(i).strip()))
    if not ids:
        raise TutorialError(
            f"the theme {name!r} gathers no statements. fix: tick at least one of your statements of {participant}"
        )
    unknown = [i for i in ids if i not in statements]
    if unknown:
        raise TutorialError(
            f"{', '.join(unknown)} {'is not one' if len(unknown) == 1 else 'are not'} of your "
            f"passages of {participant}. fix: use ids from your statements table "
            f"({', '.join(statements) or 'none yet: code passages in T1-T3 first'})"
        )
    bare = [i for i in ids if not statements[i]]
    if bare:
        raise TutorialError(
            f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no experiential statement yet. "
            "fix: write the statement in the workspace first (T3), then cluster it"
        )
    pets = load_pets(student, p)
    themes = [t for t in pets.get(participant, []) if t["name"].casefold() != name.casefold()]
    theme = {"name": name, "segments": ids}
    pets[participant] = [*themes, theme]
    _write_json(student_folder(student, p) / "pets.json", pets)
    return theme


def remove_pet(student: str, participant: str, name: str, p: Paths | None = None) -> None:
    """Remove one personal experiential theme (by name)."""
    pets = load_pets(student, p)
    themes = pets.get(participant, [])
    keep = [t for t in themes if t["name"].casefold() != str(name).strip().casefold()]
    if len(keep) == len(themes):
        raise TutorialError(
            f"you have no theme {name!r} for {participant}. fix: choose one of "
            f"{', '.join(t['name'] for t in themes) or '(none yet)'}"
        )
    pets[participant] = keep
    _write_json(student_folder(student, p) / "pets.json", pets)


def load_groups(student: str, p: Paths | None = None) -> list[dict]:
    """A student's group experiential themes: ``[{"name": ..., "pets": [[participant, pet name], ...]}]``."""
    path = student_folder(student, p) / "groups.json"
    groups = _read_json(path, [], list)
    for g in groups:
        if not (isinstance(g, dict) and isinstance(g.get("name"), str) and isinstance(g.get("pets"), list)):
            raise StudentWorkError(
                [Problem(str(path), "an entry is not a group theme with a name and pets.", _aside(path))],
                "Your saved work cannot be read",
            )
    return groups


def save_group(student: str, name: str, pets: list[tuple[str, str]], p: Paths | None = None) -> dict:
    """Save (or replace, by name) a group experiential theme built from PETs of at least two cases."""
    name = _clean_name(name, "group theme")
    own = load_pets(student, p)
    chosen = list(dict.fromkeys((str(pid), str(pet)) for pid, pet in pets))
    unknown = [f"{pid}: {pet}" for pid, pet in chosen if pet not in {t["name"] for t in own.get(pid, [])}]
    if unknown:
        raise TutorialError(
            f"{'; '.join(unknown)} {'is not one' if len(unknown) == 1 else 'are not'} of your "
            "personal experiential themes. fix: name your themes per case in T4 and T5 first"
        )
    cases = {pid for pid, _ in chosen}
    if len(cases) < 2:
        raise TutorialError(
            f"the group theme {name!r} draws on {len(cases)} case. fix: a group theme gathers "
            "personal themes from at least two cases; tick themes of another case too"
        )
    groups = [g for g in load_groups(student, p) if g["name"].casefold() != name.casefold()]
    group = {"name": name, "pets": [list(x) for x in sorted(chosen)]}
    _write_json(student_folder(student, p) / "groups.json", [*groups, group])
    return group


def remove_group(student: str, name: str, p: Paths | None = None) -> None:
    """Remove one group experiential theme (by name)."""
    groups = load_groups(student, p)
    keep = [g for g in groups if g["name"].casefold() != str(name).strip().casefold()]
    if len(keep) == len(groups):
        raise TutorialError(
            f"you have no group theme {name!r}. fix: choose one of "
            f"{', '.join(g['name'] for g in groups) or '(none yet)'}"
        )
    _write_json(student_folder(student, p) / "groups.json", keep)


def load_answers(student: str, p: Paths | None = None) -> dict[str, dict]:
    """A student's saved exercise answers and memos: ``{"T5": {"memo": "..."}, ...}``."""
    return _read_json(student_folder(student, p) / "answers.json", {}, dict)


def save_answer(student: str, tutorial: str, key: str, value: Any, p: Paths | None = None) -> Path:
    """Keep one answer (text, a list of ids, ...) of one tutorial in ``answers.json``."""
    answers = load_answers(student, p)
    answers.setdefault(tutorial, {})[key] = value
    return _write_json(student_folder(student, p) / "answers.json", answers)
