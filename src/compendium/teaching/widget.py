"""The tutorials' workspaces: ipywidgets over :mod:`compendium.teaching` (no decisions are made here).

- :class:`CodingWidget` (T1-T5): read a transcript with line numbers, choose a
  passage (first and last line, optionally a phrase and which occurrence of it),
  write the three kinds of exploratory note and an experiential statement, save.
  A **New passage** button clears the form; coding an interviewer's line is
  flagged; a phrase found more than once asks which one is meant.
- :class:`ThemeWidget` (T4, T5): tick your own statements of a case, name the
  personal experiential theme they make, save; then compare with the study's.
- :class:`GroupWidget` (T6): tick personal themes of at least two cases, name the
  group theme, save; then compare with the study's group themes.

The student's name is set once (``student_work/profile``) through the **Your
name** box any workspace shows while no name is known. Errors are shown as one
message in the workspace, never as a traceback.

This module holds :class:`CodingWidget`; the theme workspaces are in
:mod:`.theme_widgets`, their shared base in :mod:`.workspace`, the HTML views
and :func:`reveal` in :mod:`.views`.
"""

from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd

from ..cases import check_participant
from ..data import Study
from ..errors import CompendiumError
from ..paths import Paths
from ..text import numbered
from ..transcripts import line_span
from .compare import compare_coding
from .students import (
    add_segment,
    adopt_earlier_coding,
    empty_coding,
    load_student_coding,
    new_segment,
    remove_segment,
    save_student_coding,
    student_file,
)
from .text import interviewer_lines, line_bounds, lines_to_span, phrase_occurrences, span_lines
from .theme_widgets import GroupWidget, ThemeWidget
from .views import OUTCOME_COLOURS, comparison_html, reveal, transcript_html
from .workspace import LABEL, Workspace, one_line

# The notebooks and tests import every workspace and view from here; ThemeWidget and GroupWidget live in
# theme_widgets.py, the views in views.py, the shared base in workspace.py.
__all__ = [
    "CodingWidget",
    "ThemeWidget",
    "GroupWidget",
    "reveal",
    "transcript_html",
    "comparison_html",
    "OUTCOME_COLOURS",
]


class CodingWidget(Workspace):
    """The coding workspace for one transcript and one student.

    Parameters
    ----------
    study : the loaded study (:func:`compendium.data.load_study`).
    participant : the transcript to code, e.g. "P01".
    student : the student's name; empty means the name saved in ``student_work/profile``.
    p : paths of the compendium (default: the current root).
    """

    def __init__(self, study: Study, participant: str, student: str = "", p: Paths | None = None) -> None:
        super().__init__(student, p, "cw")
        self.study = study
        self.participant = check_participant(study, participant)
        self.text = study.transcripts[participant]
        self.coding = empty_coding()
        self.problem = ""
        n = len(line_bounds(self.text))

        def wide() -> w.Layout:  # one layout per widget: hiding one must not hide the others
            return w.Layout(width="98%")

        self.header = w.HTML()
        self.transcript = w.HTML()
        self.transcript.add_class("cw-transcript")
        self.first = w.BoundedIntText(
            value=1, min=1, max=n, description="First line", style=LABEL, layout=w.Layout(width="16em")
        )
        self.last = w.BoundedIntText(
            value=1, min=1, max=n, description="Last line", style=LABEL, layout=w.Layout(width="16em")
        )
        self.phrase = w.Text(
            description="Phrase (optional)", placeholder="words inside these lines", style=LABEL, layout=wide()
        )
        self.occurrence = w.Dropdown(description="Which one", options=[], value=None, style=LABEL, layout=wide())
        self.occurrence.layout.display = "none"
        self.preview = w.HTML()
        self.descriptive = w.Textarea(description="Descriptive", placeholder="what is said", style=LABEL, layout=wide())
        self.linguistic = w.Textarea(
            description="Linguistic", placeholder="how it is said: quote the words you mean", style=LABEL, layout=wide()
        )
        self.conceptual = w.Textarea(
            description="Conceptual", placeholder="what it might mean", style=LABEL, layout=wide()
        )
        self.statement = w.Text(
            description="Statement", placeholder="experiential statement: a short phrase", style=LABEL, layout=wide()
        )
        self.save_button = w.Button(description="Save passage", button_style="success", icon="save")
        self.new_button = w.Button(description="New passage", icon="file", layout=w.Layout(width="auto"))
        self.compare_button = w.Button(
            description="Compare with the study", icon="balance-scale", layout=w.Layout(width="auto")
        )
        self.passages = w.Dropdown(description="Your passages", style=LABEL, layout=w.Layout(width="70%"))
        self.remove_button = w.Button(description="Remove", icon="trash", layout=w.Layout(width="auto"))
        self.comparison = w.HTML()
        for widget, name in (
            (self.first, "cw-first"),
            (self.last, "cw-last"),
            (self.phrase, "cw-phrase"),
            (self.occurrence, "cw-occurrence"),
            (self.preview, "cw-preview"),
            (self.descriptive, "cw-descriptive"),
            (self.linguistic, "cw-linguistic"),
            (self.conceptual, "cw-conceptual"),
            (self.statement, "cw-statement"),
            (self.save_button, "cw-save"),
            (self.new_button, "cw-new"),
            (self.compare_button, "cw-compare"),
            (self.passages, "cw-passages"),
            (self.remove_button, "cw-remove"),
            (self.comparison, "cw-compare-view"),
        ):
            widget.add_class(name)

        for box in (self.first, self.last, self.phrase, self.occurrence):
            box.observe(self._on_selection, names="value")
        self.passages.observe(self._on_pick, names="value")
        self.save_button.on_click(self._on_save)
        self.new_button.on_click(self._on_new)
        self.compare_button.on_click(self._on_compare)
        self.remove_button.on_click(self._on_remove)

        form = w.VBox(
            [
                w.HBox([self.first, self.last]),
                self.phrase,
                self.occurrence,
                self.preview,
                self.descriptive,
                self.linguistic,
                self.conceptual,
                self.statement,
                w.HBox([self.save_button, self.new_button, self.compare_button]),
                self.status,
                w.HBox([self.passages, self.remove_button]),
            ],
            layout=w.Layout(width="45%"),
        )
        self.ui = w.VBox(
            [
                self.header,
                self.name_row,
                w.HBox([w.VBox([self.transcript], layout=w.Layout(width="55%")), form]),
                self.comparison,
            ]
        )
        self.ui.add_class("cw-root")
        self._named()
        self._on_selection()
        if self.name_error:
            self._say(self.name_error, ok=False)

    # ---------------------------------------------------------------- display
    @property
    def path(self):
        return student_file(self.student, self.p) if self.student else None

    def _named(self) -> None:
        where = (
            f"your work is saved to <code>{html.escape(self._shown(self.path))}</code>"
            if self.student
            else "set your name to save your work"
        )
        self.header.value = (
            f"<b>Coding workspace</b>: {html.escape(self.study.pseudonyms[self.participant])} "
            f"({self.participant}); {where}"
        )
        self.coding = empty_coding()
        if self.student:
            try:
                if adopt_earlier_coding(self.student, self.p):
                    self._say(
                        f"Your earlier coding (student_work/{self.student}.csv) is now in "
                        f"{self._shown(self.path)}; the old file is left as it was."
                    )
                self.coding = load_student_coding(self.path, self.study)
                self.problem = ""
            except CompendiumError as err:  # a damaged file: say so, in the workspace, with the fix
                self.problem = str(err)
                self._say(self.problem, ok=False)
        self._refresh()

    def _mine(self) -> pd.DataFrame:
        return self.coding[self.coding["participant_id"] == self.participant]

    def _refresh(self) -> None:
        mine = self._mine()
        self.transcript.value = transcript_html(self.text, list(zip(mine["start"], mine["end"])))
        options = [
            (f"{sid}  line {span_lines(self.text, start, end)}  {statement[:40] or '(no statement yet)'}", sid)
            for sid, start, end, statement in zip(
                mine["segment_id"], mine["start"], mine["end"], mine["experiential_statement"]
            )
        ]
        self.passages.unobserve(self._on_pick, names="value")
        self.passages.options = options
        self.passages.value = None
        self.passages.observe(self._on_pick, names="value")

    # ---------------------------------------------------------------- actions
    def _occurrences(self) -> list[tuple[int, int]]:
        try:
            return phrase_occurrences(self.text, int(self.first.value), int(self.last.value), self.phrase.value)
        except CompendiumError:
            return []

    def selection(self) -> tuple[int, int]:
        """The character span the form currently selects (raises a TutorialError if it cannot)."""
        return lines_to_span(
            self.text, int(self.first.value), int(self.last.value), self.phrase.value, self.occurrence.value
        )

    def _update_occurrences(self) -> None:
        found = self._occurrences()
        if len(found) < 2:
            self.occurrence.layout.display = "none"
            if self.occurrence.options:
                self.occurrence.unobserve(self._on_selection, names="value")
                self.occurrence.options, self.occurrence.value = [], None
                self.occurrence.observe(self._on_selection, names="value")
            return
        options = []
        for k, (s, e) in enumerate(found, start=1):
            line = span_lines(self.text, s, e)
            context = " ".join(self.text[max(0, s - 30) : min(len(self.text), e + 30)].split())
            options.append((f"{k}: line {line}, ...{context}...", k))
        if [o[1] for o in options] != [o[1] for o in self.occurrence.options] or [o[0] for o in options] != [
            o[0] for o in self.occurrence.options
        ]:
            self.occurrence.unobserve(self._on_selection, names="value")
            self.occurrence.options, self.occurrence.value = options, None
            self.occurrence.observe(self._on_selection, names="value")
        self.occurrence.layout.display = None

    def _on_selection(self, change: object = None) -> None:
        if self.last.value < self.first.value:
            self.last.value = self.first.value  # observing 'last' brings us back here
            return
        self._update_occurrences()
        try:
            start, end = self.selection()
        except CompendiumError as err:
            self.preview.value = f'<div style="color:#b00020">{html.escape(one_line(err))}</div>'
            return
        shown = self.text[start:end]
        shown = shown if len(shown) <= 400 else shown[:400] + " ..."
        warn = interviewer_lines(self.text, start, end)
        note = (
            f'<div style="color:#9a5b00">Line {", ".join(map(str, warn))} is the interviewer\'s: IPA analyses '
            "the participant's words. Code it only if you mean to note how the question shaped the answer."
            "</div>"
            if warn
            else ""
        )
        self.preview.value = (
            f'<div style="border-left:3px solid #e69f00;padding-left:0.5em;margin:0.2em 0">'
            f"<i>Passage, line {span_lines(self.text, start, end)}:</i> "
            f"{html.escape(shown)}</div>{note}"
        )

    def save(self) -> str:
        """Save the passage in the form to the student's file; return its segment id."""
        self._require_name()
        start, end = self.selection()
        segment = new_segment(
            self.study,
            self.participant,
            start,
            end,
            None,
            descriptive=self.descriptive.value,
            linguistic=self.linguistic.value,
            conceptual=self.conceptual.value,
            statement=self.statement.value,
            analyst=self.student,
        )
        # Read the file again first: the same student may have another tutorial notebook open.
        coding = load_student_coding(self.path, self.study)
        coding, segment_id = add_segment(coding, segment)
        save_student_coding(self.path, coding)
        self.coding = coding
        self._refresh()
        return segment_id

    def _on_save(self, _: object = None) -> None:
        try:
            segment_id = self.save()
        except CompendiumError as err:
            self._say(f"Not saved: {one_line(err)}", ok=False)
            return
        row = self.coding[self.coding["segment_id"] == segment_id].iloc[0]
        empty = [
            k
            for k, c in (
                ("descriptive", "note_descriptive"),
                ("linguistic", "note_linguistic"),
                ("conceptual", "note_conceptual"),
                ("statement", "experiential_statement"),
            )
            if not row[c]
        ]
        message = f"Saved {segment_id} (line {span_lines(self.text, row.start, row.end)}) to {self._shown(self.path)}."
        warn = interviewer_lines(self.text, int(row.start), int(row.end))
        if warn:
            message += f" Note: line {', '.join(map(str, warn))} is the interviewer's."
        if empty:
            message += f" Still empty: {', '.join(empty)}; you can add them and save again."
        message += " Press New passage to start the next one."
        self._say(message)

    def clear(self) -> None:
        """Empty the form for a new passage (the saved passages are kept)."""
        self.passages.unobserve(self._on_pick, names="value")
        self.passages.value = None
        self.passages.observe(self._on_pick, names="value")
        self.phrase.value = ""
        for box in (self.descriptive, self.linguistic, self.conceptual, self.statement):
            box.value = ""
        self._on_selection()

    def _on_new(self, _: object = None) -> None:
        self.clear()
        self._say("The form is empty: choose the lines of your next passage.")

    def compare(self) -> pd.DataFrame:
        """The comparison of this transcript's coding with the study's (shown below the form)."""
        table = compare_coding(self._mine(), self.study, [self.participant] if len(self._mine()) else [])
        self.comparison.value = comparison_html(table)
        return table

    def _on_compare(self, _: object = None) -> None:
        table = self.compare()
        self._say(
            f"Your {numbered(len(self._mine()), 'passage')} beside the study's reading of {self.participant}; "
            "see the table below."
            if len(table)
            else "Code a passage first."
        )

    def _on_pick(self, change: dict) -> None:
        """Load a saved passage into the form, so it can be read, changed and saved again."""
        segment_id = change.get("new") if isinstance(change, dict) else None
        if not segment_id:
            return
        row = self.coding[self.coding["segment_id"] == segment_id].iloc[0]
        first, last = line_span(self.text, row.start, row.end)
        self.first.value, self.last.value = 1, len(line_bounds(self.text))  # widen first so both values fit
        self.first.value, self.last.value = first, last
        whole = lines_to_span(self.text, first, last)
        self.phrase.value = "" if whole == (row.start, row.end) else row.excerpt
        found = self._occurrences()
        if len(found) > 1 and (row.start, row.end) in found:
            self.occurrence.value = found.index((row.start, row.end)) + 1
        self.descriptive.value, self.linguistic.value = row.note_descriptive, row.note_linguistic
        self.conceptual.value, self.statement.value = row.note_conceptual, row.experiential_statement
        self._say(f"Loaded {segment_id}: change it and press Save to update it, or New passage for another.")

    def _on_remove(self, _: object = None) -> None:
        segment_id = self.passages.value
        if not segment_id or self._need_name():
            if not segment_id:
                self._say("Choose one of your passages first.", ok=False)
            return
        try:
            coding = remove_segment(load_student_coding(self.path, self.study), segment_id)
            save_student_coding(self.path, coding)
        except CompendiumError as err:
            self._say(f"Not removed: {one_line(err)}", ok=False)
            return
        self.coding = coding
        self._refresh()
        self._say(f"Removed {segment_id} from {self._shown(self.path)}.")
