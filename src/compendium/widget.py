"""The coding workspace of the tutorials: an ipywidgets interface over :mod:`compendium.tutorial`.

A student reads a transcript with line numbers, chooses a passage (first and last
line, optionally a phrase inside them), writes the three kinds of exploratory
note and an experiential statement, and picks a codable theme. Each save goes to
the student's own file (``student_work/<name>.csv``), never to ``data/``; the
file is read back when the notebook is opened again. "Compare with the study"
then shows, passage by passage, where the student's coding meets the study's.

All decisions live in :mod:`compendium.tutorial`; this module only draws and
wires widgets, so the logic is tested without a browser.
"""
from __future__ import annotations

import html

import ipywidgets as w
import pandas as pd
from IPython.display import Markdown as IPyMarkdown

from .cases import check_participant
from .data import Study, line_span
from .errors import CompendiumError
from .paths import Paths, paths
from .tutorial import (Markdown, add_segment, check_mode, check_student, compare_coding, comparison_summary,
                       line_bounds, lines_to_span, load_student_coding, new_segment, remove_segment,
                       save_student_coding, span_lines, student_file, theme_choices)

__all__ = ["CodingWidget", "reveal", "transcript_html", "comparison_html", "OUTCOME_COLOURS"]

OUTCOME_COLOURS = {"same theme": "#d9f0d3", "different theme": "#fde0c5", "only you": "#dbe9f6",
                   "only the study": "#eeeeee"}
MARK = "background:#fff3b0"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[list[int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


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
    head = ("<tr><th>lines</th><th>outcome</th><th>yours</th><th>study</th><th>passage</th>"
            "<th>study's statement</th><th>what to look at</th></tr>")
    body = []
    for r in comparison.itertuples(index=False):
        yours = f"{r.your_segment} ({r.your_theme})" if r.your_segment else ""
        theirs = f"{r.study_segment} ({r.study_theme})" if r.study_segment else ""
        cells = [r.lines, r.outcome, yours, theirs, r.excerpt, r.study_statement, r.feedback]
        tds = "".join(f'<td style="padding:0.25em 0.5em;vertical-align:top">{html.escape(str(c))}</td>' for c in cells)
        body.append(f'<tr style="background:{OUTCOME_COLOURS[r.outcome]}">{tds}</tr>')
    return (f"<p>{summary}</p><table style=\"border-collapse:collapse;font-size:0.9em\">"
            f"{head}{''.join(body)}</table>")


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


class CodingWidget:
    """The coding workspace for one transcript and one student.

    Parameters
    ----------
    study : the loaded study (:func:`compendium.data.load_study`).
    participant : the transcript to code, e.g. "P01".
    student : the student's name; work is saved to ``student_work/<student>.csv``.
    p : paths of the compendium (default: the current root).
    """

    def __init__(self, study: Study, participant: str, student: str, p: Paths | None = None) -> None:
        self.study = study
        self.participant = check_participant(study, participant)
        self.student = check_student(student)
        self.p = p or paths()
        self.path = student_file(self.student, self.p)
        self.text = study.transcripts[participant]
        self.coding = load_student_coding(self.path, study)  # a corrupt file stops here with the fix
        n = len(line_bounds(self.text))
        wide = w.Layout(width="98%")
        label = {"description_width": "9em"}

        self.header = w.HTML(
            f"<b>Coding workspace</b>: {html.escape(study.pseudonyms[participant])} ({participant}); your work is "
            f"saved to <code>{html.escape(self._shown_path())}</code>")
        self.transcript = w.HTML()
        self.transcript.add_class("cw-transcript")
        self.first = w.BoundedIntText(value=1, min=1, max=n, description="First line", style=label,
                                      layout=w.Layout(width="16em"))
        self.last = w.BoundedIntText(value=1, min=1, max=n, description="Last line", style=label,
                                     layout=w.Layout(width="16em"))
        self.phrase = w.Text(description="Phrase (optional)", placeholder="words inside these lines", style=label,
                             layout=wide)
        self.preview = w.HTML()
        self.descriptive = w.Textarea(description="Descriptive", placeholder="what is said", style=label,
                                      layout=wide)
        self.linguistic = w.Textarea(description="Linguistic", placeholder="how it is said: words, images, pauses",
                                     style=label, layout=wide)
        self.conceptual = w.Textarea(description="Conceptual", placeholder="what it might mean", style=label,
                                     layout=wide)
        self.statement = w.Text(description="Statement", placeholder="experiential statement: a short phrase",
                                style=label, layout=wide)
        self.theme = w.Dropdown(options=theme_choices(study.codebook), value=None, description="Theme",
                                style=label, layout=wide)
        self.save_button = w.Button(description="Save passage", button_style="success", icon="save")
        self.compare_button = w.Button(description="Compare with the study", icon="balance-scale",
                                       layout=w.Layout(width="auto"))
        self.status = w.HTML()
        self.passages = w.Dropdown(description="Your passages", style=label, layout=w.Layout(width="70%"))
        self.remove_button = w.Button(description="Remove", icon="trash", layout=w.Layout(width="auto"))
        self.comparison = w.HTML()
        for widget, name in ((self.first, "cw-first"), (self.last, "cw-last"), (self.phrase, "cw-phrase"),
                             (self.preview, "cw-preview"), (self.descriptive, "cw-descriptive"),
                             (self.linguistic, "cw-linguistic"), (self.conceptual, "cw-conceptual"),
                             (self.statement, "cw-statement"), (self.theme, "cw-theme"),
                             (self.save_button, "cw-save"), (self.compare_button, "cw-compare"),
                             (self.status, "cw-status"), (self.passages, "cw-passages"),
                             (self.remove_button, "cw-remove"), (self.comparison, "cw-compare-view")):
            widget.add_class(name)

        for box in (self.first, self.last, self.phrase):
            box.observe(self._on_selection, names="value")
        self.passages.observe(self._on_pick, names="value")
        self.save_button.on_click(self._on_save)
        self.compare_button.on_click(self._on_compare)
        self.remove_button.on_click(self._on_remove)

        form = w.VBox([w.HBox([self.first, self.last]), self.phrase, self.preview, self.descriptive,
                       self.linguistic, self.conceptual, self.statement, self.theme,
                       w.HBox([self.save_button, self.compare_button]), self.status,
                       w.HBox([self.passages, self.remove_button])], layout=w.Layout(width="45%"))
        self.ui = w.VBox([self.header, w.HBox([w.VBox([self.transcript], layout=w.Layout(width="55%")), form]),
                          self.comparison])
        self.ui.add_class("cw-root")
        self._refresh()
        self._on_selection()

    # ---------------------------------------------------------------- display
    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        return self.ui._repr_mimebundle_(**kwargs)

    def _shown_path(self) -> str:
        try:
            return str(self.path.relative_to(self.p.root))
        except ValueError:
            return str(self.path)

    def _mine(self) -> pd.DataFrame:
        return self.coding[self.coding["participant_id"] == self.participant]

    def _refresh(self) -> None:
        mine = self._mine()
        self.transcript.value = transcript_html(self.text, list(zip(mine["start"], mine["end"])))
        options = [(f"{r.segment_id}  line {span_lines(self.text, r.start, r.end)}  {r.theme_id}  "
                    f"{r.experiential_statement[:40]}", r.segment_id) for r in mine.itertuples()]
        self.passages.unobserve(self._on_pick, names="value")
        self.passages.options = options
        self.passages.value = None
        self.passages.observe(self._on_pick, names="value")

    def _say(self, message: str, ok: bool = True) -> None:
        colour = "#1b6e20" if ok else "#b00020"
        body = html.escape(message).replace("\n", "<br>")
        self.status.value = f'<div style="color:{colour};white-space:normal">{body}</div>'

    # ---------------------------------------------------------------- actions
    def selection(self) -> tuple[int, int]:
        """The character span the form currently selects (raises a TutorialError if it cannot)."""
        return lines_to_span(self.text, int(self.first.value), int(self.last.value), self.phrase.value)

    def _on_selection(self, change: object = None) -> None:
        if self.last.value < self.first.value:
            self.last.value = self.first.value  # observing 'last' brings us back here
            return
        try:
            start, end = self.selection()
        except CompendiumError as err:
            self.preview.value = f'<div style="color:#b00020">{html.escape(str(err).splitlines()[0])}</div>'
            return
        shown = self.text[start:end]
        shown = shown if len(shown) <= 400 else shown[:400] + " ..."
        self.preview.value = (f'<div style="border-left:3px solid #e69f00;padding-left:0.5em;margin:0.2em 0">'
                              f'<i>Passage, line {span_lines(self.text, start, end)}:</i> '
                              f"{html.escape(shown)}</div>")

    def save(self) -> str:
        """Save the passage in the form to the student's file; return its segment id."""
        start, end = self.selection()
        segment = new_segment(self.study, self.participant, start, end, self.theme.value,
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
            self._say(f"Not saved: {err}", ok=False)
            return
        row = self.coding[self.coding["segment_id"] == segment_id].iloc[0]
        empty = [k for k, c in (("descriptive", "note_descriptive"), ("linguistic", "note_linguistic"),
                                ("conceptual", "note_conceptual"), ("statement", "experiential_statement"))
                 if not row[c]]
        message = (f"Saved {segment_id} (line {span_lines(self.text, row.start, row.end)}, theme {row.theme_id}) "
                   f"to {self._shown_path()}.")
        if empty:
            message += f" Still empty: {', '.join(empty)}; you can add them and save again."
        self._say(message)

    def compare(self) -> pd.DataFrame:
        """The comparison of this transcript's coding with the study's (shown below the form)."""
        table = compare_coding(self._mine(), self.study, [self.participant] if len(self._mine()) else [])
        self.comparison.value = comparison_html(table)
        return table

    def _on_compare(self, _: object = None) -> None:
        table = self.compare()
        self._say(f"Compared your {_plural(len(self._mine()), 'passage')} with the study's coding of "
                  f"{self.participant}; see the table below." if len(table) else "Code a passage first.")

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
        self.descriptive.value, self.linguistic.value = row.note_descriptive, row.note_linguistic
        self.conceptual.value, self.statement.value = row.note_conceptual, row.experiential_statement
        self.theme.value = row.theme_id
        self._say(f"Loaded {segment_id}: change it and press Save to update it.")

    def _on_remove(self, _: object = None) -> None:
        segment_id = self.passages.value
        if not segment_id:
            self._say("Choose one of your passages first.", ok=False)
            return
        try:
            coding = remove_segment(load_student_coding(self.path, self.study), segment_id)
            save_student_coding(self.path, coding)
        except CompendiumError as err:
            self._say(f"Not removed: {err}", ok=False)
            return
        self.coding = coding
        self._refresh()
        self._say(f"Removed {segment_id} from {self._shown_path()}.")
