"""Across cases: group experiential themes, recurrence, convergence and the quote bank."""

from __future__ import annotations

import math

import pandas as pd

from . import consent
from .errors import CompendiumError
from .text import number_word

__all__ = [
    "theme_key",
    "check_threshold",
    "table2",
    "theme_counts",
    "recurrence",
    "recurrence_summary",
    "convergence",
    "quote_bank",
    "quote_rule",
    "QUOTE_RULE",
]

LEVELS = ("superordinate", "subordinate", "minor")
QUOTE_RULE = (
    "Themes are taken in the order of Table 2. For each theme, the clinicians who coded at least one passage of "
    "{min_words} to {max_words} words to it are put in order: first those who had supplied the fewest quotations "
    "to earlier themes, then those with more such passages in this theme, then the order of the participant list. "
    "The longest passage of each of the first {per_theme} clinicians is quoted (of two equally long passages, the "
    "earlier one). A theme's quotations therefore come from different clinicians, and no clinician supplies much "
    "more than an equal share of the results' quotations."
)


def quote_rule(per_theme: int, min_words: int, max_words: int) -> str:
    """:data:`QUOTE_RULE` with its settings written as APA numbers ("three", "15").

    >>> quote_rule(3, 15, 90).count("the first three clinicians")
    1
    """
    return QUOTE_RULE.format(
        per_theme=number_word(per_theme), min_words=number_word(min_words), max_words=number_word(max_words)
    )


def theme_key(theme_id: str) -> tuple[int, ...]:
    """Sort key that puts 1.2 before 1.10 and 3.1 before 3.1.1."""
    return tuple(int(x) for x in str(theme_id).split("."))


def _sorted_codebook(codebook: pd.DataFrame) -> pd.DataFrame:
    return codebook.sort_values("id", key=lambda c: c.map(theme_key)).reset_index(drop=True)


def check_threshold(threshold: object) -> float:
    """A recurrence threshold is a proportion of participants in (0, 1]."""
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold <= 1:
        raise CompendiumError(
            f"Recurrence threshold {threshold!r} is not a proportion.",
            fix="give a number above 0 and at most 1 (e.g. 0.3333 for 'at least a third of participants')",
        )
    return float(threshold)


def table2(codebook: pd.DataFrame) -> pd.DataFrame:
    """Table 2: superordinate -> subordinate -> minor themes, one row per lowest-level theme.

    Repeated parent labels are left blank, as in a printed table.

    Examples
    --------
    >>> cb = pd.DataFrame({"id": ["1", "1.1", "1.1.1", "1.2"], "level": ["superordinate", "subordinate", "minor", "subordinate"],
    ...                    "parent": [None, "1", "1.1", "1"], "label": ["A", "B", "C", "D"]})
    >>> table2(cb).values.tolist()
    [['1. A', '1.1 B', '1.1.1 C'], ['', '1.2 D', '']]
    """
    cb = _sorted_codebook(codebook)
    name = {
        str(r.id): (f"{r.id}. {r.label}" if r.level == "superordinate" else f"{r.id} {r.label}")
        for r in cb.itertuples()
    }
    children = {str(tid): [str(c.id) for c in cb.itertuples() if c.parent == tid] for tid in cb["id"]}
    rows = []
    for sup in cb.loc[cb["level"] == "superordinate", "id"].astype(str):
        for sub in children[sup]:
            for minor in children[sub] or [""]:
                rows.append([name[sup], name[sub], name[minor] if minor else ""])
    df = pd.DataFrame(rows, columns=["Superordinate theme", "Subordinate theme", "Minor theme"])
    for col in ("Superordinate theme", "Subordinate theme"):
        df[col] = df[col].where(df[col] != df[col].shift(), "")
    return df


def theme_counts(coding: pd.DataFrame, codebook: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Segments per codable theme (rows) and participant (columns, by pseudonym, in participant order)."""
    cb = _sorted_codebook(codebook)
    codable = cb[cb["codable"]]["id"].tolist()
    order = participants["participant_id"].tolist()
    counts = pd.crosstab(coding["theme_id"], coding["participant_id"]).reindex(
        index=codable, columns=order, fill_value=0
    )
    counts.columns = participants.set_index("participant_id").loc[order, "pseudonym"].tolist()
    counts.index.name = "theme_id"
    return counts.astype(int)


def recurrence(counts: pd.DataFrame, codebook: pd.DataFrame, threshold: float = 1 / 3) -> pd.DataFrame:
    """Theme x participant matrix with presence, the share of participants and whether the theme recurs.

    A theme is recurrent when present in at least ``threshold`` of the participants.

    Examples
    --------
    >>> counts = pd.DataFrame({"A": [2, 0], "B": [1, 0], "C": [0, 1]}, index=pd.Index(["1.1", "1.2"], name="theme_id"))
    >>> cb = pd.DataFrame({"id": ["1.1", "1.2"], "label": ["x", "y"]})
    >>> recurrence(counts, cb, 0.5)[["present_in", "recurrent"]].values.tolist()
    [[2, True], [1, False]]
    """
    check_threshold(threshold)
    n = counts.shape[1]
    needed = math.ceil(threshold * n - 1e-9)
    labels = dict(zip(codebook["id"], codebook["label"]))
    out = counts.copy()
    out.insert(0, "theme", [labels[t] for t in counts.index])
    out["segments"] = counts.sum(axis=1)
    out["present_in"] = (counts > 0).sum(axis=1)
    out["share"] = (out["present_in"] / n).round(2)
    out["recurrent"] = out["present_in"] >= needed
    return out.reset_index()


def recurrence_summary(rec: pd.DataFrame, n_participants: int, threshold: float) -> dict:
    """Numbers the manuscript quotes about recurrence."""
    from fractions import Fraction

    share = Fraction(threshold).limit_denominator(12)
    return {
        "threshold": round(float(threshold), 4),
        "threshold_text": f"{share.numerator}/{share.denominator}",
        "participants_needed": math.ceil(threshold * n_participants - 1e-9),
        "themes_checked": int(len(rec)),
        "themes_recurrent": int(rec["recurrent"].sum()),
        "recurrent_ids": rec.loc[rec["recurrent"], "theme_id"].tolist(),
        "not_recurrent_ids": rec.loc[~rec["recurrent"], "theme_id"].tolist(),
        "themes_in_all": rec.loc[rec["present_in"] == n_participants, "theme_id"].tolist(),
        "min_present": int(rec["present_in"].min()),
        "max_present": int(rec["present_in"].max()),
    }


def convergence(rec: pd.DataFrame, pseudonyms: list[str]) -> pd.DataFrame:
    """Who shares each theme and who does not: convergence and divergence across the cases."""
    n = len(pseudonyms)
    rows = []
    for _, r in rec.iterrows():  # by column name: pseudonyms need not be Python identifiers
        present = [p for p in pseudonyms if r[p] > 0]
        absent = [p for p in pseudonyms if r[p] == 0]
        if len(present) == n:
            pattern = "shared by all"
        elif len(present) >= math.ceil(2 * n / 3):
            pattern = "shared by most"
        elif r["recurrent"]:
            pattern = "shared by some"
        else:
            pattern = "particular to a few"
        rows.append(
            {
                "theme_id": r["theme_id"],
                "theme": r["theme"],
                "present_in": len(present),
                "pattern": pattern,
                "voiced_by": ", ".join(present),
                "not_voiced_by": ", ".join(absent),
            }
        )
    return pd.DataFrame(rows)


def quote_bank(
    cases: pd.DataFrame, participants: pd.DataFrame, per_theme: int = 3, min_words: int = 15, max_words: int = 90
) -> pd.DataFrame:
    """Exemplar excerpts per theme chosen by :data:`QUOTE_RULE` from the per-case tables.

    A theme's quotations come from ``per_theme`` different clinicians; clinicians who have
    supplied fewer quotations so far come first, so no one voice dominates the results.

    ``cases`` has the columns of :func:`compendium.cases.case_table`.
    """
    if per_theme < 1 or min_words < 1 or max_words < min_words:
        raise CompendiumError("Quote bank settings must satisfy per_theme >= 1 and 1 <= min_words <= max_words.")
    profession = dict(zip(participants["participant_id"], participants["qualification"]))
    order = {pid: i for i, pid in enumerate(participants["participant_id"])}
    df = cases.copy()
    df = df[~df["excerpt"].map(consent.is_withheld)].copy()  # no quote from a participant who declined quotation
    df["words"] = df["excerpt"].str.split().map(len)
    df = df[(df["words"] >= min_words) & (df["words"] <= max_words)]
    supplied = {pid: 0 for pid in order}  # quotations each clinician has given to earlier themes
    rows = []
    for theme_id in sorted(df["theme_id"].unique(), key=theme_key):
        t = df[df["theme_id"] == theme_id]
        passages = t.groupby("participant_id").size()
        ranking = sorted(
            passages.index, key=lambda pid: (supplied.get(pid, 0), -int(passages[pid]), order.get(pid, len(order)), pid)
        )
        for rank, pid in enumerate(ranking[:per_theme], start=1):
            pick = t[t["participant_id"] == pid].sort_values(["words", "segment_id"], ascending=[False, True]).iloc[0]
            supplied[pid] = supplied.get(pid, 0) + 1
            lines = str(pick.line_start) if pick.line_start == pick.line_end else f"{pick.line_start}-{pick.line_end}"
            rows.append(
                {
                    "theme_id": theme_id,
                    "theme": pick.theme_label,
                    "rank": rank,
                    "segment_id": pick.segment_id,
                    "participant_id": pid,
                    "pseudonym": pick.pseudonym,
                    "profession": profession[pid],
                    "lines": lines,
                    "line_start": int(pick.line_start),
                    "line_end": int(pick.line_end),
                    "words": int(pick.words),
                    "excerpt": pick.excerpt,
                }
            )
    return pd.DataFrame(rows)
