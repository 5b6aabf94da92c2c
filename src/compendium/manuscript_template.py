"""Filling the manuscript template: values and checked quotes -> Markdown, and the COREQ checklist.

The template (``manuscript/template.md``, jinja2) reaches the data only through
:func:`render_markdown`: numbers from the values, quotes through
:class:`ThemeView` (each checked against its transcript when used), tables as
pipe tables. Every string that comes from the data goes through
:func:`compendium.markup.escape`, so it stays text in every output format.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import consent, markup, provenance, study, text
from .errors import CompendiumError
from .files import load_yaml
from .manuscript_context import QuoteIntegrityError, check_quote
from .paths import Paths

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "TEMPLATES",
    "render_markdown",
    "render_once",
    "ThemeView",
    "pipe_table",
    "coreq_table",
    "display_excerpt",
    "short_phrase",
]

TEMPLATES = Path(__file__).with_name("templates")
_SENTENCE_END = tuple(".?!…\"'’”")
_VOWEL_SOUND = ("a", "e", "i", "o", "u")


def display_excerpt(excerpt: str) -> str:
    """The excerpt with an ellipsis where it starts or ends mid-sentence (APA), whitespace runs as one space.

    >>> display_excerpt("she said no. Then she left")
    '…she said no. Then she left…'
    >>> display_excerpt("It was fine.")
    'It was fine.'
    """
    text = " ".join(str(excerpt).split())
    if text[:1].islower():
        text = "…" + text
    if text and not text.endswith(_SENTENCE_END):
        text = text.rstrip(",;:-–— ") + "…"
    return text


def short_phrase(excerpt: str, low: int = 5, high: int = 16) -> str:
    """A short verbatim piece of an excerpt to embed in a sentence: its shortest sentence of
    ``low`` to ``high`` words, else its first clause of that length, else its first ``high`` words.

    >>> short_phrase("Yes. It felt like leaving her post for good. And then, for years and years, I just carried on.")
    'It felt like leaving her post for good.'
    """
    text = " ".join(str(excerpt).split())
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", text) if low <= len(s.split()) <= high]
    if sentences:
        return min(sentences, key=lambda s: (len(s.split()), text.index(s)))
    clauses = [c.strip() for c in re.split(r"[,;:]\s+", text) if low <= len(c.split()) <= high]
    if clauses:
        return clauses[0]
    return " ".join(text.split()[:high])


def _profession(row: pd.Series) -> str:
    """The qualification as running text: lower-case first letter, "&" as "and"."""
    text = str(row["profession"]).replace(" & ", " and ")
    return text[:1].lower() + text[1:]


def _where(row: pd.Series) -> str:
    lines = str(row["lines"])
    return f"lines {lines.replace('-', '–')}" if "-" in lines else f"line {lines}"


class ThemeView:
    """What a theme's commentary in the template may use: its quotes (checked), who said them,
    how many clinicians voiced it and who did not."""

    def __init__(
        self,
        theme_id: str,
        rows: pd.DataFrame,
        voiced: list[str],
        silent: list[str],
        n: int,
        check: Callable[[pd.Series], None],
    ) -> None:
        self.id, self._rows, self._check = theme_id, rows, check
        self.voiced_by, self.not_voiced_by, self.n = voiced, silent, n
        self.present = len(voiced)
        self._checked: dict[int, pd.Series] = {}  # each quote is looked up and checked once per filling

    def _row(self, rank: int) -> pd.Series:
        if rank in self._checked:
            return self._checked[rank]
        rows = self._rows[self._rows["rank"] == rank]
        if rows.empty:
            raise QuoteIntegrityError(
                f"The template asks for quote {rank} of theme {self.id}, which the quote bank does not hold.",
                fix="lower the rank in manuscript/template.md or raise quotes_per_theme in notebook 03",
            )
        row = rows.iloc[0]
        self._check(row)
        self._checked[rank] = row
        return row

    def name(self, rank: int) -> str:
        """The pseudonym of the clinician quoted at ``rank``."""
        return markup.escape(self._row(rank)["pseudonym"])

    def who(self, rank: int) -> str:
        """ "Amy, a clinical psychologist," as an appositive (with both commas)."""
        row = self._row(rank)
        job = _profession(row)
        article = "an" if job.startswith(_VOWEL_SOUND) else "a"
        return f"{markup.escape(row['pseudonym'])}, {article} {markup.escape(job)},"

    def quote(self, rank: int) -> str:
        """A block quote: the excerpt, then (pseudonym, profession, lines)."""
        row = self._row(rank)
        return (
            f"> {markup.escape(display_excerpt(row['excerpt']))} ({markup.escape(row['pseudonym'])}, "
            f"{markup.escape(_profession(row))}, {_where(row)})"
        )

    def phrase(self, rank: int) -> str:
        """A short verbatim phrase of the excerpt at ``rank`` in double quotes, with its line reference."""
        row = self._row(rank)
        piece = short_phrase(row["excerpt"])
        shown = display_excerpt(piece).rstrip(".")
        if not shown.endswith("…") and piece != str(row["excerpt"]).strip() and not piece.endswith(_SENTENCE_END):
            shown += "…"
        return f"\u201c{markup.escape(shown)}\u201d ({_where(row)})"

    def count(self, start: bool = False) -> str:
        """ "five of the eight clinicians", "all eight clinicians"."""
        return text.of_the(self.present, self.n, "clinician", start=start)

    def voices(self) -> str:
        """The pseudonyms of everyone who voiced the theme, as a list in running text."""
        return markup.escape(text.listing(self.voiced_by))

    def convergence(self) -> str:
        """One computed sentence on who shares the theme and who does not."""
        names = text.listing(self.voiced_by)
        if not self.not_voiced_by:
            return f"All {text.number_word(self.n)} clinicians spoke to this theme ({markup.escape(names)})."
        silent = text.listing(self.not_voiced_by)
        return (
            f"{text.of_the(self.present, self.n, 'clinician', start=True)} spoke to this theme "
            f"({markup.escape(names)}); {markup.escape(silent)} did not."
        )


def pipe_table(df: pd.DataFrame, literal: set[str] | frozenset[str] = frozenset()) -> str:
    """A pandoc pipe table whose cells (and headers) are escaped data text; columns named in
    ``literal`` hold Markdown the compendium itself wrote (links to notebook pages)."""
    cells = df.astype(str).copy()
    for column in cells.columns:
        if column not in literal:
            cells[column] = cells[column].map(markup.escape)
    cells.columns = [markup.escape(c) for c in cells.columns]
    return cells.to_markdown(index=False, tablefmt="pipe", disable_numparse=True).strip()


def _address(figures: dict[str, str] | None, stem: str) -> str:
    return (figures or {}).get(stem, f"figures/{stem}.png")


def render_once(
    ctx: dict, p: Paths, stems: tuple[str, ...]
) -> tuple[Callable[[dict[str, str] | None], str], list[str]]:
    """Fill the template once (every quote checked once) for several figure addresses.

    Returns a function that gives the Markdown with the figures at the addresses it is passed
    (as :func:`render_markdown`'s ``figures``), and the segment ids of the quotes used. Each
    figure's address is first a random placeholder that no data text can hold.
    """
    import secrets

    tokens = {stem: f"compendium-figure-{secrets.token_hex(16)}-{stem}" for stem in stems}
    markdown, used = render_markdown(ctx, p, figures=tokens)

    def with_figures(figures: dict[str, str] | None = None) -> str:
        out = markdown
        for stem, token in tokens.items():
            out = out.replace(token, _address(figures, stem))
        return out

    return with_figures, used


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        comment_start_string="<#--",
        comment_end_string="--#>",
    )
    env.filters["words"] = text.number_word
    env.filters["Words"] = lambda k: text.spelled(k).capitalize()
    env.filters["stat"] = lambda v: f"{float(v):.1f}"
    env.filters["esc"] = markup.escape
    return env


@functools.lru_cache(maxsize=4)
def compiled_template(source: str) -> jinja2.Template:
    """The template's text compiled by jinja2 (about 0.05 CPU-s), kept for the same text: the build
    server compiles the current template once (see :mod:`compendium.server`), for every manuscript
    its children write until the template changes. What each filling needs (the quotes, the tables,
    the figures' addresses) is passed to ``render``, not kept in the compiled template."""
    return _environment().from_string(source)


def render_markdown(ctx: dict, p: Paths, figures: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Fill the template; returns the Markdown and the segment ids of the quotes used.

    ``figures`` maps a figure's stem to the address the output format should use (a ``data:``
    URI for HTML and DOCX, a path inside the typst folder for the PDF); by default its path.
    Every string that comes from the data goes through :func:`compendium.markup.escape`.
    """
    import jinja2

    from .data import load_coding, load_participants

    used: list[str] = []
    bank: pd.DataFrame = ctx["bank"]
    participants, coding = load_participants(p), load_coding(p)
    conv: pd.DataFrame = ctx.get("convergence", pd.DataFrame(columns=["theme_id", "voiced_by", "not_voiced_by"]))
    recurrent = set(ctx["cross_case"]["recurrence"]["recurrent_ids"])
    n = int(ctx["sample"]["n"])

    def check(row: pd.Series) -> None:
        check_quote(row, p, participants, coding)
        if row["segment_id"] not in used:
            used.append(row["segment_id"])

    def split(names: str) -> list[str]:
        return [x.strip() for x in str(names).split(",") if x.strip()]

    views: dict[str, ThemeView] = {}  # one per theme for the whole filling (the template asks often)

    def view(theme_id: str) -> ThemeView:
        if theme_id not in views:
            row = conv[conv["theme_id"] == theme_id]
            voiced = split(row.iloc[0]["voiced_by"]) if not row.empty else []
            silent = split(row.iloc[0]["not_voiced_by"]) if not row.empty else []
            views[theme_id] = ThemeView(theme_id, bank[bank["theme_id"] == theme_id], voiced, silent, n, check)
        return views[theme_id]

    def quote(theme_id: str, rank: int = 1) -> str:
        return view(theme_id).quote(rank)

    def theme(theme_id: str, caller: Callable[[ThemeView], str]) -> str:
        """A theme's commentary, or a visible note when the theme is no longer among the results."""
        v = view(theme_id)
        label = markup.escape(ctx["themes"][theme_id]["label"])
        quotes = len(v._rows)
        if theme_id not in recurrent:
            needed = ctx["cross_case"]["recurrence"]["participants_needed"]
            return (
                f"*Note.* In this build theme {theme_id} ({label}) was voiced by {v.count()}, fewer than the "
                f"{text.number_word(needed)} the recurrence rule requires, so it is not reported as a theme "
                "and its commentary is left out.\n"
            )
        if quotes < 2:
            return (
                f"*Note.* The quote bank holds {text.count(quotes, 'quotation')} for theme {theme_id} ({label}); "
                "its commentary needs at least two and is left out of this build.\n"
            )
        return caller(v)

    def table(stem: str) -> str:
        path = p.tables / f"{stem}.csv"
        if not path.is_file():
            raise CompendiumError(f"{p.shown(path)} is missing.", fix="run `make analysis`")
        provenance.record("read", path)
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        return pipe_table(df)

    def abbreviations(stem: str, known: dict[str, str]) -> str:
        """An APA table note spelling out those of ``known`` that occur in the table (none: no note)."""
        df = pd.read_csv(p.tables / f"{stem}.csv", dtype=str, keep_default_na=False)
        words = set(re.findall(r"[A-Za-z]+", " ".join(df.astype(str).to_numpy().ravel())))
        found = [
            f"{markup.escape(abbr)} = {markup.escape(full)}" for abbr, full in sorted(known.items()) if abbr in words
        ]
        return f"*Note.* {'; '.join(found)}." if found else ""

    def figure(stem: str, caption: str) -> str:
        return f"![{caption}]({_address(figures, stem)}){{width=100%}}"

    helpers = dict(
        quote=quote,
        table=table,
        figure=figure,
        theme=theme,
        abbreviations=abbreviations,
        pl=text.plural,
        of_the=text.of_the,
        each_of=text.each_of,
        count=text.count,
        listing=text.listing,
    )
    template_path = p.template
    if not template_path.is_file():
        raise CompendiumError(f"{template_path}: manuscript template not found.", fix="restore manuscript/template.md")
    provenance.record("read", template_path)
    try:
        rendered = compiled_template(template_path.read_text(encoding="utf-8")).render({**helpers, **ctx})
    except jinja2.TemplateError as err:
        raise CompendiumError(
            f"{p.shown(template_path)}, line {_template_line(err)}: {err}",
            fix="check the placeholder names against manuscript/values/*.json",
        ) from None
    # restricted builds: the mark in title, notice and captions; any build: quotations withheld for consent
    return study.mark_manuscript(rendered, p, withheld=consent.withheld_counts(coding, participants)), used


def _template_line(err: Exception) -> int | str:
    """The template's line a jinja2 error points at: a syntax error carries it, an error while
    filling (an unknown placeholder) only in the frame jinja2 gives the template's code."""
    line = getattr(err, "lineno", None)
    tb = err.__traceback__
    while line is None and tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line if line is not None else "?"


def coreq_table(markdown: str, ctx: dict) -> pd.DataFrame:
    """The 32-item COREQ checklist mapped to the sections of this manuscript that report each item."""
    items = load_yaml((TEMPLATES / "coreq.yaml").read_text(encoding="utf-8"))["items"]
    headings = re.findall(r"^#+\s+(.+?)\s*(?:\{.*\})?$", markdown, flags=re.M)
    rows = []
    for item in items:
        section = item.get("section")
        reported = bool(section) and section in headings
        if item.get("requires") and item["requires"].split(".")[0] not in ctx:
            raise CompendiumError(
                f"templates/coreq.yaml, item {item['n']}: requires {item['requires']!r}, but the "
                f"manuscript has no value {item['requires'].split('.')[0]!r}.",
                fix=f"name one of {', '.join(sorted(k for k in ctx if not k.startswith('_')))}",
            )
        if reported and item.get("requires"):
            value: object = ctx
            for key in item["requires"].split("."):
                value = value.get(key) if isinstance(value, dict) else None
            reported = bool(value)
        rows.append(
            {
                "No.": item["n"],
                "Domain": item["domain"],
                "Item": item["item"],
                "Reported in": section if reported else "Not reported",
                "Note": item.get("note", "") if not reported else "",
            }
        )
    return pd.DataFrame(rows)
