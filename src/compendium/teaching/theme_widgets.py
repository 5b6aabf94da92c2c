"""The theme workspaces: personal experiential themes of one case (T4, T5) and group themes across cases (T6).

- :class:`ThemeWidget`: tick your own statements of a case, name the personal
  experiential theme they make, save; then compare with the study's.
- :class:`GroupWidget`: tick personal themes of at least two cases, name the
  group theme, save; then compare with the study's group themes.

Both are :class:`~compendium.teaching.workspace.TickWorkspace` forms; what they
save goes through :mod:`compendium.teaching.students`.
"""

from __future__ import annotations

import html

import ipywidgets as w

from ..cases import check_participant
from ..data import Study
from ..errors import CompendiumError
from ..paths import Paths
from ..text import numbered
from .compare import compare_groups, compare_pets
from .saved import load_groups, load_pets, remove_group, remove_pet, save_group, save_pet
from .students import empty_coding, load_student_coding, student_file
from .text import span_lines
from .workspace import TickWorkspace, one_line

__all__ = ["ThemeWidget", "GroupWidget"]


class ThemeWidget(TickWorkspace[str]):
    """Name personal experiential themes from your own statements of one case; then compare with the study's."""

    def __init__(self, study: Study, participant: str, student: str = "", p: Paths | None = None) -> None:
        self.participant = check_participant(study, participant)
        super().__init__(
            study,
            student,
            p,
            "pw",
            name="Theme name",
            save="Save theme",
            compare="Compare with the study's reading",
            saved="Your themes",
            header=f"<b>Your personal experiential themes</b> for "
            f"{html.escape(study.pseudonyms[participant])} ({participant}): tick the statements "
            "that belong together, name what they share, save.",
        )
        self.checks = {}
        self.saved.observe(self._on_pick, names="value")
        self._open()

    def _named(self) -> None:
        self.checks = {}
        rows: list[w.Widget] = []
        if self.student:
            try:
                coding = load_student_coding(student_file(self.student, self.p), self.study)
            except CompendiumError as err:
                self._say(one_line(err), ok=False)
                coding = empty_coding()
            mine = coding[(coding["participant_id"] == self.participant) & (coding["experiential_statement"] != "")]
            text = self.study.transcripts[self.participant]
            for segment_id, start, end, statement in zip(
                mine["segment_id"], mine["start"], mine["end"], mine["experiential_statement"]
            ):
                description = f"{segment_id} (line {span_lines(text, start, end)}): {statement}"
                rows.append(self._tick(segment_id, description, "pw-item", f"pw-item-{segment_id}"))
        if not rows:
            rows = [
                w.HTML(
                    f"<i>No statements of yours for {self.participant} yet: code passages and write their "
                    "statements in the coding workspace first.</i>"
                )
            ]
        self.items.children = rows
        self._refresh()

    def _refresh(self) -> None:
        pets = load_pets(self.student, self.p).get(self.participant, []) if self.student else []
        self.saved.unobserve(self._on_pick, names="value")
        self.saved.options = [(f"{t['name']} ({len(t['segments'])})", t["name"]) for t in pets]
        self.saved.value = None
        self.saved.observe(self._on_pick, names="value")
        self.listing.value = "".join(
            f"<div><b>{html.escape(t['name'])}</b>: {html.escape(', '.join(t['segments']))}</div>" for t in pets
        )

    def _store(self, ticked: list[str]) -> dict:
        return save_pet(self.student, self.study, self.participant, self.name.value, ticked, self.p)

    def _saved_message(self, saved: dict) -> str:
        return (
            f"Saved your theme '{saved['name']}' ({numbered(len(saved['segments']), 'statement')}). Untick, "
            "name the next one, or compare with the study's reading."
        )

    def _on_pick(self, change: dict) -> None:
        name = change.get("new") if isinstance(change, dict) else None
        if not name:
            return
        pet = next(t for t in load_pets(self.student, self.p).get(self.participant, []) if t["name"] == name)
        self.name.value = pet["name"]
        for sid, box in self.checks.items():
            box.value = sid in pet["segments"]
        self._say(f"Loaded '{name}': change the ticks and save again to update it.")

    def _on_remove(self, _: object = None) -> None:
        if not self.saved.value:
            self._say("Choose one of your themes first.", ok=False)
            return
        try:
            remove_pet(self.student, self.participant, self.saved.value, self.p)
        except CompendiumError as err:
            self._say(f"Not removed: {one_line(err)}", ok=False)
            return
        self._refresh()
        self._say("Removed.")

    def _on_compare(self, _: object = None) -> None:
        self._show_comparison(
            lambda: compare_pets(self.student, self.study, self.participant, self.p),
            "Your themes beside the study's reading: see below.",
        )


class GroupWidget(TickWorkspace[tuple[str, str]]):
    """Build group experiential themes from your personal themes of two or more cases; then compare."""

    def __init__(self, study: Study, student: str = "", p: Paths | None = None) -> None:
        super().__init__(
            study,
            student,
            p,
            "gw",
            name="Group theme",
            save="Save group theme",
            compare="Compare with the study's group themes",
            saved="Your groups",
            save_layout=w.Layout(width="auto"),
            header="<b>Your group experiential themes</b>: tick personal themes of at least two cases "
            "that share something, name it, save.",
        )
        self.checks = {}
        self._open()

    def _named(self) -> None:
        self.checks = {}
        rows: list[w.Widget] = []
        pets = {}
        if self.student:
            try:
                pets = load_pets(self.student, self.p)
            except CompendiumError as err:
                self._say(one_line(err), ok=False)
        for pid, themes in sorted(pets.items()):
            for j, t in enumerate(themes):
                description = f"{pid} {self.study.pseudonyms.get(pid, '')}: {t['name']} ({len(t['segments'])})"
                rows.append(self._tick((pid, t["name"]), description, "gw-item", f"gw-item-{pid}-{j + 1}"))
        if len({pid for pid, _ in self.checks}) < 2:
            rows.append(
                w.HTML(
                    "<i>A group theme needs personal themes of at least two cases: name them in T4 and T5 first.</i>"
                )
            )
        self.items.children = rows
        self._refresh()

    def _refresh(self) -> None:
        groups = load_groups(self.student, self.p) if self.student else []
        self.saved.options = [g["name"] for g in groups]
        self.saved.value = None
        self.listing.value = "".join(
            f"<div><b>{html.escape(g['name'])}</b>: "
            f"{html.escape('; '.join(f'{pid}: {n}' for pid, n in g['pets']))}</div>"
            for g in groups
        )

    def _store(self, ticked: list[tuple[str, str]]) -> dict:
        return save_group(self.student, self.name.value, ticked, self.p)

    def _saved_message(self, saved: dict) -> str:
        return f"Saved your group theme '{saved['name']}' (from {len({pid for pid, _ in saved['pets']})} cases)."

    def _on_remove(self, _: object = None) -> None:
        if not self.saved.value:
            self._say("Choose one of your group themes first.", ok=False)
            return
        try:
            remove_group(self.student, self.saved.value, self.p)
        except CompendiumError as err:
            self._say(f"Not removed: {one_line(err)}", ok=False)
            return
        self._refresh()
        self._say("Removed.")

    def _on_compare(self, _: object = None) -> None:
        self._show_comparison(
            lambda: compare_groups(self.student, self.study, self.p), "Your group themes beside the study's: see below."
        )
