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
"""
from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd
from IPython.display import Markdown as IPyMarkdown

from ..cases import check_participant
from ..data import Study
from ..text import numbered
from ..transcripts import line_span
from ..errors import CompendiumError
from ..paths import Paths, paths
from .compare import compare_coding, compare_groups, compare_pets, comparison_summary
from .students import (add_segment, adopt_earlier_coding, empty_coding, load_pets, load_student_coding, new_segment, remove_group,
                       remove_pet, remove_segment, resolve_student, save_group, save_pet, save_student_coding,
                       set_profile, student_file, load_groups)
from .text import Markdown, check_mode, interviewer_lines, line_bounds, lines_to_span, phrase_occurrences, span_lines

__all__ = ["CodingWidget", "ThemeWidget", "GroupWidget", "reveal", "transcript_html", "comparison_html",
           "OUTCOME_COLOURS"]

OUTCOME_COLOURS = {"both read this": "#d9f0d3", "only you": "#dbe9f6", "only the study": "#eeeeee"}
MARK = "background:#fff3b0"
LABEL = {"description_width": "9em"}




def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def transcript_html(text: str, marked: list[tuple[int, int]] | None = None, height: str = "26em") -> str:
    """A transcript as a scrolling HTML box: line numbers, bold speakers, marked spans highlighted."""
    spans = _merge(list(marked or []))
    rows = []
    for number, (a, b) in enumerate(line_bounds(text), start=1):
        pieces, pos = [], a
        for s, e in spans:
            s, e = max(s, a), min(e, b)
            if s >= e:
                continue
            pieces.append(html.escape(text[pos:s]))
            pieces.append(f'<mark style="{MARK}">{html.escape(text[s:e])}</mark>')
            pos = e
        pieces.append(html.escape(text[pos:b]))
        line = "".join(pieces)
        head, sep, rest = line.partition(": ")
        if sep and "<" not in head:
            line = f"<b>{head}</b>: {rest}"
        rows.append(f'<div style="display:flex;gap:0.6em;margin:0 0 0.35em 0">'
                    f'<span style="color:#777;min-width:2.2em;text-align:right;user-select:none">{number}</span>'
                    f'<span>{line}</span></div>')
    return (f'<div class="cw-lines" style="max-height:{height};overflow-y:auto;border:1px solid #ccc;'
            f'padding:0.4em;font-size:0.92em;line-height:1.35">{"".join(rows)}</div>')


def comparison_html(comparison: pd.DataFrame) -> str:
    """The comparison table as HTML, one coloured row per passage (or pair of passages that meet)."""
    summary = html.escape(str(comparison_summary(comparison)))
    if comparison.empty:
        return f"<p>{summary}</p>"
    head = ("<tr><th>lines</th><th>outcome</th><th>yours</th><th>your statement</th><th>study</th>"
            "<th>study's statement</th><th>passage</th><th>to think about</th></tr>")
    body = []
    for r in comparison.itertuples(index=False):
        cells = [r.lines, r.outcome, r.your_segment, r.your_statement, r.study_segment, r.study_statement,
                 r.excerpt, r.feedback]
        tds = "".join(f'<td style="padding:0.25em 0.5em;vertical-align:top">{html.escape(str(c))}</td>' for c in cells)
        body.append(f'<tr style="background:{OUTCOME_COLOURS[r.outcome]}">{tds}</tr>')
    return (f"<p>{summary}</p><table style=\"border-collapse:collapse;font-size:0.9em\">"
            f"{head}{''.join(body)}</table>")


def _markdown_html(text: str) -> str:
    """Markdown (already escaped for student text) rendered to HTML for an HTML widget."""
    from markdown_it import MarkdownIt  # locked already (a dependency of the notebook stack)

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(str(text))


def reveal(answer: str, mode: str) -> object:
    """The model answer: shown at once in solution mode, behind a button in exercise mode.

    In exercise mode the answer is not in any output until the button is pressed,
    so a rendered exercise handout does not carry it.
    """
    check_mode(mode)
    text = "**Model answer**\n\n" + str(answer)
    if mode == "solution":
        return Markdown(text)
    button = w.Button(description="Show the model answer", icon="eye", layout=w.Layout(width="auto"))
    button.add_class("tutorial-reveal")
    out = w.Output()

    def show(_: object) -> None:
        out.clear_output()
        out.append_display_data(IPyMarkdown(text))
        button.disabled = True

    button.on_click(show)
    return w.VBox([button, out])


class _Workspace:
    """What every workspace shares: the student's name (set once), a status line, one-line errors."""

    def __init__(self, student: str, p: Paths | None, prefix: str) -> None:
        self.p = p or paths()
        self._given = str(student or "")
        self.prefix = prefix
        self.status = w.HTML()
        self.status.add_class(f"{prefix}-status")
        self.name_box = w.Text(description="Your name", placeholder="letters, digits, - or _", style=LABEL,
                               layout=w.Layout(width="24em"))
        self.name_button = w.Button(description="Use this name", icon="user", layout=w.Layout(width="auto"))
        self.name_box.add_class(f"{prefix}-name-box")
        self.name_button.add_class(f"{prefix}-name-set")
        self.name_button.on_click(self._on_name)
        self.name_row = w.HBox([self.name_box, self.name_button])
        self.name_error = ""
        try:
            self.student = resolve_student(self._given, self.p)
        except CompendiumError as err:
            self.student, self.name_error = "", _one_line(err)
        self.name_row.layout.display = "none" if self.student else None

    def _say(self, message: str, ok: bool = True) -> None:
        colour = "#1b6e20" if ok else "#b00020"
        self.status.value = f'<div style="color:{colour};white-space:normal">{html.escape(message)}</div>'

    def _on_name(self, _: object = None) -> None:
        try:
            self.student = set_profile(self.name_box.value, self.p)
        except CompendiumError as err:
            self._say(_one_line(err), ok=False)
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

    def _shown(self, path: object) -> str:
        try:
            return str(path.relative_to(self.p.root))  # type: ignore[attr-defined]
        except (ValueError, AttributeError):
            return str(path)

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.ui._repr_mimebundle_(**kwargs)  # type: ignore[attr-defined]


class CodingWidget(_Workspace):
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
        self.first = w.BoundedIntText(value=1, min=1, max=n, description="First line", style=LABEL,
                                      layout=w.Layout(width="16em"))
        self.last = w.BoundedIntText(value=1, min=1, max=n, description="Last line", style=LABEL,
                                     layout=w.Layout(width="16em"))
        self.phrase = w.Text(description="Phrase (optional)", placeholder="words inside these lines", style=LABEL,
                             layout=wide())
        self.occurrence = w.Dropdown(description="Which one", options=[], value=None, style=LABEL, layout=wide())
        self.occurrence.layout.display = "none"
        self.preview = w.HTML()
        self.descriptive = w.Textarea(description="Descriptive", placeholder="what is said", style=LABEL, layout=wide())
        self.linguistic = w.Textarea(description="Linguistic", placeholder="how it is said: quote the words you mean",
                                     style=LABEL, layout=wide())
        self.conceptual = w.Textarea(description="Conceptual", placeholder="what it might mean", style=LABEL,
                                     layout=wide())
        self.statement = w.Text(description="Statement", placeholder="experiential statement: a short phrase",
                                style=LABEL, layout=wide())
        self.save_button = w.Button(description="Save passage", button_style="success", icon="save")
        self.new_button = w.Button(description="New passage", icon="file", layout=w.Layout(width="auto"))
        self.compare_button = w.Button(description="Compare with the study", icon="balance-scale",
                                       layout=w.Layout(width="auto"))
        self.passages = w.Dropdown(description="Your passages", style=LABEL, layout=w.Layout(width="70%"))
        self.remove_button = w.Button(description="Remove", icon="trash", layout=w.Layout(width="auto"))
        self.comparison = w.HTML()
        for widget, name in ((self.first, "cw-first"), (self.last, "cw-last"), (self.phrase, "cw-phrase"),
                             (self.occurrence, "cw-occurrence"), (self.preview, "cw-preview"),
                             (self.descriptive, "cw-descriptive"), (self.linguistic, "cw-linguistic"),
                             (self.conceptual, "cw-conceptual"), (self.statement, "cw-statement"),
                             (self.save_button, "cw-save"), (self.new_button, "cw-new"),
                             (self.compare_button, "cw-compare"), (self.passages, "cw-passages"),
                             (self.remove_button, "cw-remove"), (self.comparison, "cw-compare-view")):
            widget.add_class(name)

        for box in (self.first, self.last, self.phrase, self.occurrence):
            box.observe(self._on_selection, names="value")
        self.passages.observe(self._on_pick, names="value")
        self.save_button.on_click(self._on_save)
        self.new_button.on_click(self._on_new)
        self.compare_button.on_click(self._on_compare)
        self.remove_button.on_click(self._on_remove)

        form = w.VBox([w.HBox([self.first, self.last]), self.phrase, self.occurrence, self.preview,
                       self.descriptive, self.linguistic, self.conceptual, self.statement,
                       w.HBox([self.save_button, self.new_button, self.compare_button]), self.status,
                       w.HBox([self.passages, self.remove_button])], layout=w.Layout(width="45%"))
        self.ui = w.VBox([self.header, self.name_row,
                          w.HBox([w.VBox([self.transcript], layout=w.Layout(width="55%")), form]), self.comparison])
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
        where = (f"your work is saved to <code>{html.escape(self._shown(self.path))}</code>" if self.student
                 else "set your name to save your work")
        self.header.value = (f"<b>Coding workspace</b>: {html.escape(self.study.pseudonyms[self.participant])} "
                             f"({self.participant}); {where}")
        self.coding = empty_coding()
        if self.student:
            try:
                if adopt_earlier_coding(self.student, self.p):
                    self._say(f"Your earlier coding (student_work/{self.student}.csv) is now in "
                              f"{self._shown(self.path)}; the old file is left as it was.")
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
        options = [(f"{r.segment_id}  line {span_lines(self.text, r.start, r.end)}  "
                    f"{r.experiential_statement[:40] or '(no statement yet)'}", r.segment_id) for r in mine.itertuples()]
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
        return lines_to_span(self.text, int(self.first.value), int(self.last.value), self.phrase.value,
                             self.occurrence.value)

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
            context = " ".join(self.text[max(0, s - 30):min(len(self.text), e + 30)].split())
            options.append((f"{k}: line {line}, ...{context}...", k))
        if [o[1] for o in options] != [o[1] for o in self.occurrence.options] or \
                [o[0] for o in options] != [o[0] for o in self.occurrence.options]:
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
            self.preview.value = f'<div style="color:#b00020">{html.escape(_one_line(err))}</div>'
            return
        shown = self.text[start:end]
        shown = shown if len(shown) <= 400 else shown[:400] + " ..."
        warn = interviewer_lines(self.text, start, end)
        note = (f'<div style="color:#9a5b00">Line {", ".join(map(str, warn))} is the interviewer\'s: IPA analyses '
                "the participant's words. Code it only if you mean to note how the question shaped the answer."
                "</div>" if warn else "")
        self.preview.value = (f'<div style="border-left:3px solid #e69f00;padding-left:0.5em;margin:0.2em 0">'
                              f'<i>Passage, line {span_lines(self.text, start, end)}:</i> '
                              f"{html.escape(shown)}</div>{note}")

    def save(self) -> str:
        """Save the passage in the form to the student's file; return its segment id."""
        if not self.student:
            from .text import TutorialError

            raise TutorialError("no name set yet. fix: type your name in the Your name box and press Use this name")
        start, end = self.selection()
        segment = new_segment(self.study, self.participant, start, end, None,
                              descriptive=self.descriptive.value, linguistic=self.linguistic.value,
                              conceptual=self.conceptual.value, statement=self.statement.value,
                              analyst=self.student)
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
            self._say(f"Not saved: {_one_line(err)}", ok=False)
            return
        row = self.coding[self.coding["segment_id"] == segment_id].iloc[0]
        empty = [k for k, c in (("descriptive", "note_descriptive"), ("linguistic", "note_linguistic"),
                                ("conceptual", "note_conceptual"), ("statement", "experiential_statement"))
                 if not row[c]]
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
        self._say(f"Your {numbered(len(self._mine()), 'passage')} beside the study's reading of {self.participant}; "
                  "see the table below." if len(table) else "Code a passage first.")

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
            self._say(f"Not removed: {_one_line(err)}", ok=False)
            return
        self.coding = coding
        self._refresh()
        self._say(f"Removed {segment_id} from {self._shown(self.path)}.")


class ThemeWidget(_Workspace):
    """Name personal experiential themes from your own statements of one case; then compare with the study's."""

    def __init__(self, study: Study, participant: str, student: str = "", p: Paths | None = None) -> None:
        super().__init__(student, p, "pw")
        self.study = study
        self.participant = check_participant(study, participant)
        self.header = w.HTML(f"<b>Your personal experiential themes</b> for {html.escape(study.pseudonyms[participant])}"
                             f" ({participant}): tick the statements that belong together, name what they share, "
                             "save.")
        self.items = w.VBox()
        self.items.add_class("pw-items")
        self.name = w.Text(description="Theme name", placeholder="in your own words", style=LABEL,
                           layout=w.Layout(width="98%"))
        self.save_button = w.Button(description="Save theme", button_style="success", icon="save")
        self.compare_button = w.Button(description="Compare with the study's reading", icon="balance-scale",
                                       layout=w.Layout(width="auto"))
        self.saved = w.Dropdown(description="Your themes", style=LABEL, layout=w.Layout(width="70%"))
        self.remove_button = w.Button(description="Remove", icon="trash", layout=w.Layout(width="auto"))
        self.listing = w.HTML()
        self.comparison = w.HTML()
        for widget, cls in ((self.name, "pw-name"), (self.save_button, "pw-save"), (self.compare_button, "pw-compare"),
                            (self.saved, "pw-saved"), (self.remove_button, "pw-remove"), (self.listing, "pw-list"),
                            (self.comparison, "pw-compare-view")):
            widget.add_class(cls)
        self.checks: dict[str, w.Checkbox] = {}
        self.save_button.on_click(self._on_save)
        self.compare_button.on_click(self._on_compare)
        self.remove_button.on_click(self._on_remove)
        self.saved.observe(self._on_pick, names="value")
        self.ui = w.VBox([self.header, self.name_row, self.items, self.name,
                          w.HBox([self.save_button, self.compare_button]), self.status,
                          w.HBox([self.saved, self.remove_button]), self.listing, self.comparison])
        self.ui.add_class("pw-root")
        self._named()
        if self.name_error:
            self._say(self.name_error, ok=False)

    def _named(self) -> None:
        self.checks = {}
        rows: list[w.Widget] = []
        if self.student:
            try:
                coding = load_student_coding(student_file(self.student, self.p), self.study)
            except CompendiumError as err:
                self._say(_one_line(err), ok=False)
                coding = empty_coding()
            mine = coding[(coding["participant_id"] == self.participant) & (coding["experiential_statement"] != "")]
            text = self.study.transcripts[self.participant]
            for r in mine.itertuples():
                box = w.Checkbox(value=False, indent=False, layout=w.Layout(width="98%"),
                                 description=f"{r.segment_id} (line {span_lines(text, r.start, r.end)}): "
                                             f"{r.experiential_statement}")
                box.add_class("pw-item")
                box.add_class(f"pw-item-{r.segment_id}")
                self.checks[r.segment_id] = box
                rows.append(box)
        if not rows:
            rows = [w.HTML(f"<i>No statements of yours for {self.participant} yet: code passages and write their "
                           "statements in the coding workspace first.</i>")]
        self.items.children = rows
        self._refresh()

    def _refresh(self) -> None:
        pets = load_pets(self.student, self.p).get(self.participant, []) if self.student else []
        self.saved.unobserve(self._on_pick, names="value")
        self.saved.options = [(f"{t['name']} ({len(t['segments'])})", t["name"]) for t in pets]
        self.saved.value = None
        self.saved.observe(self._on_pick, names="value")
        self.listing.value = "".join(
            f"<div><b>{html.escape(t['name'])}</b>: {html.escape(', '.join(t['segments']))}</div>" for t in pets)

    def save(self) -> dict:
        """Save the ticked statements under the typed name; returns the theme."""
        if not self.student:
            from .text import TutorialError

            raise TutorialError("no name set yet. fix: type your name in the Your name box and press Use this name")
        ticked = [sid for sid, box in self.checks.items() if box.value]
        theme = save_pet(self.student, self.study, self.participant, self.name.value, ticked, self.p)
        self._refresh()
        return theme

    def _on_save(self, _: object = None) -> None:
        try:
            theme = self.save()
        except CompendiumError as err:
            self._say(f"Not saved: {_one_line(err)}", ok=False)
            return
        self._say(f"Saved your theme '{theme['name']}' ({numbered(len(theme['segments']), 'statement')}). Untick, "
                  "name the next one, or compare with the study's reading.")
        self.name.value = ""
        for box in self.checks.values():
            box.value = False

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
            self._say(f"Not removed: {_one_line(err)}", ok=False)
            return
        self._refresh()
        self._say("Removed.")

    def _on_compare(self, _: object = None) -> None:
        if self._need_name():
            return
        try:
            self.comparison.value = _markdown_html(compare_pets(self.student, self.study, self.participant, self.p))
        except CompendiumError as err:
            self._say(_one_line(err), ok=False)
            return
        self._say("Your themes beside the study's reading: see below.")


class GroupWidget(_Workspace):
    """Build group experiential themes from your personal themes of two or more cases; then compare."""

    def __init__(self, study: Study, student: str = "", p: Paths | None = None) -> None:
        super().__init__(student, p, "gw")
        self.study = study
        self.header = w.HTML("<b>Your group experiential themes</b>: tick personal themes of at least two cases "
                             "that share something, name it, save.")
        self.items = w.VBox()
        self.name = w.Text(description="Group theme", placeholder="in your own words", style=LABEL,
                           layout=w.Layout(width="98%"))
        self.save_button = w.Button(description="Save group theme", button_style="success", icon="save",
                                    layout=w.Layout(width="auto"))
        self.compare_button = w.Button(description="Compare with the study's group themes", icon="balance-scale",
                                       layout=w.Layout(width="auto"))
        self.listing = w.HTML()
        self.comparison = w.HTML()
        self.remove = w.Dropdown(description="Your groups", style=LABEL, layout=w.Layout(width="70%"))
        self.remove_button = w.Button(description="Remove", icon="trash", layout=w.Layout(width="auto"))
        for widget, cls in ((self.items, "gw-items"), (self.name, "gw-name"), (self.save_button, "gw-save"),
                            (self.compare_button, "gw-compare"), (self.listing, "gw-list"),
                            (self.comparison, "gw-compare-view"), (self.remove, "gw-saved"),
                            (self.remove_button, "gw-remove")):
            widget.add_class(cls)
        self.checks: dict[tuple[str, str], w.Checkbox] = {}
        self.save_button.on_click(self._on_save)
        self.compare_button.on_click(self._on_compare)
        self.remove_button.on_click(self._on_remove)
        self.ui = w.VBox([self.header, self.name_row, self.items, self.name,
                          w.HBox([self.save_button, self.compare_button]), self.status,
                          w.HBox([self.remove, self.remove_button]), self.listing, self.comparison])
        self.ui.add_class("gw-root")
        self._named()
        if self.name_error:
            self._say(self.name_error, ok=False)

    def _named(self) -> None:
        self.checks = {}
        rows: list[w.Widget] = []
        pets = {}
        if self.student:
            try:
                pets = load_pets(self.student, self.p)
            except CompendiumError as err:
                self._say(_one_line(err), ok=False)
        for pid, themes in sorted(pets.items()):
            for j, t in enumerate(themes):
                box = w.Checkbox(value=False, indent=False, layout=w.Layout(width="98%"),
                                 description=f"{pid} {self.study.pseudonyms.get(pid, '')}: {t['name']} "
                                             f"({len(t['segments'])})")
                box.add_class("gw-item")
                box.add_class(f"gw-item-{pid}-{j + 1}")
                self.checks[(pid, t["name"])] = box
                rows.append(box)
        if len({pid for pid, _ in self.checks}) < 2:
            rows.append(w.HTML("<i>A group theme needs personal themes of at least two cases: name them in T4 "
                               "and T5 first.</i>"))
        self.items.children = rows
        self._refresh()

    def _refresh(self) -> None:
        groups = load_groups(self.student, self.p) if self.student else []
        self.remove.options = [g["name"] for g in groups]
        self.remove.value = None
        self.listing.value = "".join(
            f"<div><b>{html.escape(g['name'])}</b>: "
            f"{html.escape('; '.join(f'{pid}: {n}' for pid, n in g['pets']))}</div>" for g in groups)

    def save(self) -> dict:
        """Save the ticked personal themes as one group theme under the typed name."""
        if not self.student:
            from .text import TutorialError

            raise TutorialError("no name set yet. fix: type your name in the Your name box and press Use this name")
        ticked = [key for key, box in self.checks.items() if box.value]
        group = save_group(self.student, self.name.value, ticked, self.p)
        self._refresh()
        return group

    def _on_save(self, _: object = None) -> None:
        try:
            group = self.save()
        except CompendiumError as err:
            self._say(f"Not saved: {_one_line(err)}", ok=False)
            return
        cases = len({pid for pid, _ in group["pets"]})
        self._say(f"Saved your group theme '{group['name']}' (from {cases} cases).")
        self.name.value = ""
        for box in self.checks.values():
            box.value = False

    def _on_remove(self, _: object = None) -> None:
        if not self.remove.value:
            self._say("Choose one of your group themes first.", ok=False)
            return
        try:
            remove_group(self.student, self.remove.value, self.p)
        except CompendiumError as err:
            self._say(f"Not removed: {_one_line(err)}", ok=False)
            return
        self._refresh()
        self._say("Removed.")

    def _on_compare(self, _: object = None) -> None:
        if self._need_name():
            return
        try:
            self.comparison.value = _markdown_html(compare_groups(self.student, self.study, self.p))
        except CompendiumError as err:
            self._say(_one_line(err), ok=False)
            return
        self._say("Your group themes beside the study's: see below.")
