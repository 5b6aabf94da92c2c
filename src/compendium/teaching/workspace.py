"""What every workspace shares: the student's name (set once), a status line, one-line errors.

:class:`Workspace` is the base of the three workspaces; :class:`TickWorkspace`
builds the form that :class:`~compendium.teaching.theme_widgets.ThemeWidget`
and :class:`~compendium.teaching.theme_widgets.GroupWidget` have in common:
items to tick, a name for what they share, Save and Compare, the saved list
with Remove, and the comparison below.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import ipywidgets as w

from ..data import Study
from ..errors import CompendiumError
from ..paths import Paths, paths
from .students import resolve_student, set_profile
from .text import TutorialError
from .views import markdown_html

K = TypeVar("K")  # the key of a tickable item

__all__ = ["Workspace", "TickWorkspace", "LABEL", "one_line"]

LABEL = {"description_width": "9em"}


def one_line(err: BaseException) -> str:
    """An error's message on one line (as the status line shows it)."""
    return " ".join(str(err).split())


class Workspace:
    """What every workspace shares: the student's name (set once), a status line, one-line errors."""

    ui: w.VBox  # the whole workspace, built by each subclass

    def __init__(self, student: str, p: Paths | None, prefix: str) -> None:
        self.p = p or paths()
        self._given = str(student or "")
        self.prefix = prefix
        self.status = w.HTML()
        self.status.add_class(f"{prefix}-status")
        self.name_box = w.Text(
            description="Your name", placeholder="letters, digits, - or _", style=LABEL, layout=w.Layout(width="24em")
        )
        self.name_button = w.Button(description="Use this name", icon="user", layout=w.Layout(width="auto"))
        self.name_box.add_class(f"{prefix}-name-box")
        self.name_button.add_class(f"{prefix}-name-set")
        self.name_button.on_click(self._on_name)
        self.name_row = w.HBox([self.name_box, self.name_button])
        self.name_error = ""
        try:
            self.student = resolve_student(self._given, self.p)
        except CompendiumError as err:
            self.student, self.name_error = "", one_line(err)
        self.name_row.layout.display = "none" if self.student else None

    def _say(self, message: str, ok: bool = True) -> None:
        colour = "#1b6e20" if ok else "#b00020"
        self.status.value = f'<div style="color:{colour};white-space:normal">{html.escape(message)}</div>'

    def _on_name(self, _: object = None) -> None:
        try:
            self.student = set_profile(self.name_box.value, self.p)
        except CompendiumError as err:
            self._say(one_line(err), ok=False)
            return
        self.name_row.layout.display = "none"
        self._say(f"Hello {self.student}: your work is kept in student_work/{self.student}/ for every tutorial.")
        self._named()

    def _named(self) -> None:  # a workspace reloads the student's files here
        pass

    def _need_name(self) -> bool:
        if self.student:
            return False
        self._say("Set your name first (the Your name box above): your work is saved under it.", ok=False)
        return True

    def _shown(self, path: Path | None) -> str:
        """A path as the student sees it: relative to the compendium when it is inside it."""
        if path is not None and path.is_relative_to(self.p.root):
            return str(path.relative_to(self.p.root))
        return str(path)

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.ui._repr_mimebundle_(**kwargs)

    def _require_name(self) -> None:
        """Saving needs a name: refuse in one line with the fix."""
        if not self.student:
            raise TutorialError("no name set yet. fix: type your name in the Your name box and press Use this name")

    def _open(self) -> None:
        """Show the student's files, and say why the name could not be used if it could not."""
        self._named()
        if self.name_error:
            self._say(self.name_error, ok=False)


class TickWorkspace(Workspace, Generic[K]):
    """The form of the theme workspaces: tick items, name what they share, save; compare with the study's.

    Subclasses fill ``items`` with checkboxes (and ``checks``) in ``_named``, list the saved ones in
    ``saved`` and ``listing`` in ``_refresh``, and say what Save, Remove and Compare do.
    """

    checks: dict[K, w.Checkbox]  # the tickable items, by key (a segment id, a (case, theme name) pair)

    def __init__(
        self,
        study: Study,
        student: str,
        p: Paths | None,
        prefix: str,
        *,
        header: str,
        name: str,
        save: str,
        compare: str,
        saved: str,
        save_layout: w.Layout | None = None,
    ) -> None:
        super().__init__(student, p, prefix)
        self.study = study
        self.header = w.HTML(header)
        self.items = w.VBox()
        self.name = w.Text(description=name, placeholder="in your own words", style=LABEL, layout=w.Layout(width="98%"))
        self.save_button = w.Button(
            description=save,
            button_style="success",
            icon="save",
            **({"layout": save_layout} if save_layout is not None else {}),
        )
        self.compare_button = w.Button(description=compare, icon="balance-scale", layout=w.Layout(width="auto"))
        self.saved = w.Dropdown(description=saved, style=LABEL, layout=w.Layout(width="70%"))
        self.remove_button = w.Button(description="Remove", icon="trash", layout=w.Layout(width="auto"))
        self.listing = w.HTML()
        self.comparison = w.HTML()
        for widget, cls in (
            (self.items, "items"),
            (self.name, "name"),
            (self.save_button, "save"),
            (self.compare_button, "compare"),
            (self.saved, "saved"),
            (self.remove_button, "remove"),
            (self.listing, "list"),
            (self.comparison, "compare-view"),
        ):
            widget.add_class(f"{prefix}-{cls}")
        self.save_button.on_click(self._on_save)
        self.compare_button.on_click(self._on_compare)
        self.remove_button.on_click(self._on_remove)
        self.ui = w.VBox(
            [
                self.header,
                self.name_row,
                self.items,
                self.name,
                w.HBox([self.save_button, self.compare_button]),
                self.status,
                w.HBox([self.saved, self.remove_button]),
                self.listing,
                self.comparison,
            ]
        )
        self.ui.add_class(f"{prefix}-root")

    def _tick(self, key: K, description: str, *classes: str) -> w.Checkbox:
        """A new unticked item for ``key``, registered in ``checks``, with its CSS classes."""
        box = w.Checkbox(value=False, indent=False, layout=w.Layout(width="98%"), description=description)
        for cls in classes:
            box.add_class(cls)
        self.checks[key] = box
        return box

    def _store(self, ticked: list[K]) -> dict:
        """Save the ticked items under ``self.name.value``; return what was saved."""
        raise NotImplementedError

    def _saved_message(self, saved: dict) -> str:
        raise NotImplementedError

    def save(self) -> dict:
        """Save the ticked items as one theme under the typed name; returns it."""
        self._require_name()
        saved = self._store([key for key, box in self.checks.items() if box.value])
        self._refresh()
        return saved

    def _on_save(self, _: object = None) -> None:
        try:
            saved = self.save()
        except CompendiumError as err:
            self._say(f"Not saved: {one_line(err)}", ok=False)
            return
        self._say(self._saved_message(saved))
        self.name.value = ""
        for box in self.checks.values():
            box.value = False

    def _refresh(self) -> None:
        raise NotImplementedError

    def _on_remove(self, _: object = None) -> None:
        raise NotImplementedError

    def _on_compare(self, _: object = None) -> None:
        raise NotImplementedError

    def _show_comparison(self, compare: Callable[[], str], done: str) -> None:
        """Show the study's reading beside the student's (Markdown from ``compare``), or say why not."""
        if self._need_name():
            return
        try:
            self.comparison.value = markdown_html(compare())
        except CompendiumError as err:
            self._say(one_line(err), ok=False)
            return
        self._say(done)
