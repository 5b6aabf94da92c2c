"""Second-coder comparison: another coder's ``.qdpx`` against ``data/synthetic/coding.csv``.

Two measures, both computed per theme, per participant, and overall:

- **segments**: a segment of ours and one of theirs on the same participant
  and theme *agree* when their spans overlap; the rest were coded by one coder
  only. Overlap is counted in characters.
- **characters**: each character of each transcript is a unit that a coder
  either coded with a theme or not. Percentage agreement is the share of
  units on which both coders made the same decision; Cohen's kappa is
  ``(p_o - p_e) / (1 - p_e)`` with ``p_e`` from each coder's own share of coded
  units (Cohen 1960). This is the character-level definition NVivo's coding
  comparison query uses (there per node and source); here the units of a row
  are pooled over the transcripts (and, for a participant row, over the
  themes), so a row's kappa is not an average of other rows' kappas. When
  neither coder coded anything in a row, ``p_e = 1`` and kappa is reported as
  1 (complete agreement), as NVivo does.

QualCoder's coder comparison uses the same percentage agreement but computes
its kappa differently (over the characters coded by at least one coder, with
the chance terms multiplied rather than added: ``report_compare_coder_file.py``
in QualCoder); the column ``kappa_qualcoder`` repeats that figure so the two
programs' reports can be set side by side. It is not Cohen's kappa.

Reference: Cohen, J. (1960). A coefficient of agreement for nominal scales.
*Educational and Psychological Measurement*, 20(1), 37-46.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import load_codebook, load_coding, load_transcript
from ..files import to_markdown, write_text
from ..paths import Paths, paths
from .export import refuse_data_folder
from .importer import import_qdpx

__all__ = ["Comparison", "agreement", "qualcoder_kappa", "compare", "compare_qdpx", "write_report"]

KAPPA_REFERENCE = (
    "Cohen, J. (1960). A coefficient of agreement for nominal scales. Educational and "
    "Psychological Measurement, 20(1), 37-46."
)
ROW_COLUMNS = [
    "level",
    "theme_id",
    "participant_id",
    "segments_both",
    "segments_ours_only",
    "segments_theirs_only",
    "chars_ours",
    "chars_theirs",
    "chars_overlap",
    "chars_total",
    "percent_agreement",
    "kappa",
    "kappa_qualcoder",
]


@dataclass
class Comparison:
    """The comparison table and the disagreements to show in context."""

    table: pd.DataFrame
    disagreements: list[dict] = field(default_factory=list)
    ours: pd.DataFrame | None = None
    theirs: pd.DataFrame | None = None
    messages: list[str] = field(default_factory=list)


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Percentage agreement and Cohen's kappa of two coders' yes/no decisions on the same units."""
    n = a.size
    if n == 0:
        return 100.0, 1.0
    a, b = a.astype(bool), b.astype(bool)
    p_o = float(np.mean(a == b))
    pa, pb = float(a.mean()), float(b.mean())
    p_e = pa * pb + (1 - pa) * (1 - pb)
    kappa = 1.0 if p_e >= 1.0 else (p_o - p_e) / (1 - p_e)
    return 100.0 * p_o, kappa


def qualcoder_kappa(a: np.ndarray, b: np.ndarray) -> float | None:
    """The kappa QualCoder's coder comparison reports (see the module docstring); ``None`` if nobody coded."""
    a, b = a.astype(bool), b.astype(bool)
    union = int((a | b).sum())
    if union == 0:
        return None
    p_o = (a & b).sum() / union
    p_yes = a.sum() / union * b.sum() / union
    p_no = (union - a.sum()) / union * (union - b.sum()) / union
    p_e = p_yes * p_no
    return float((p_o - p_e) / (1 - p_e))


def _mask(coding: pd.DataFrame, pid: str, theme: str, length: int) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for seg in coding[(coding["participant_id"] == pid) & (coding["theme_id"] == theme)].itertuples():
        mask[seg.start : seg.end] = True
    return mask


def _segments(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Per (participant, theme): segments coded by both (overlapping spans), by one only; disagreements."""
    counts, shown = [], []
    keys = sorted(
        set(zip(ours["participant_id"], ours["theme_id"])) | set(zip(theirs["participant_id"], theirs["theme_id"]))
    )
    for pid, theme in keys:
        a = ours[(ours["participant_id"] == pid) & (ours["theme_id"] == theme)].to_dict("records")
        b = theirs[(theirs["participant_id"] == pid) & (theirs["theme_id"] == theme)].to_dict("records")
        b_matched = [False] * len(b)
        both = ours_only = 0
        for seg in a:
            hits = [j for j, other in enumerate(b) if other["start"] < seg["end"] and seg["start"] < other["end"]]
            if hits:
                both += 1
                for j in hits:
                    b_matched[j] = True
                if not any((b[j]["start"], b[j]["end"]) == (seg["start"], seg["end"]) for j in hits):
                    shown.append(
                        {
                            "kind": "different span",
                            "participant_id": pid,
                            "theme_id": theme,
                            "ours": (seg["start"], seg["end"]),
                            "theirs": (min(b[j]["start"] for j in hits), max(b[j]["end"] for j in hits)),
                            "segment_id": seg["segment_id"],
                        }
                    )
            else:
                ours_only += 1
                shown.append(
                    {
                        "kind": "ours only",
                        "participant_id": pid,
                        "theme_id": theme,
                        "ours": (seg["start"], seg["end"]),
                        "theirs": None,
                        "segment_id": seg["segment_id"],
                    }
                )
        for j, other in enumerate(b):
            if not b_matched[j]:
                shown.append(
                    {
                        "kind": "theirs only",
                        "participant_id": pid,
                        "theme_id": theme,
                        "ours": None,
                        "theirs": (other["start"], other["end"]),
                        "segment_id": other["segment_id"],
                    }
                )
        counts.append(
            {
                "participant_id": pid,
                "theme_id": theme,
                "segments_both": both,
                "segments_ours_only": ours_only,
                "segments_theirs_only": b_matched.count(False),
            }
        )
    return pd.DataFrame(
        counts, columns=["participant_id", "theme_id", "segments_both", "segments_ours_only", "segments_theirs_only"]
    ), shown


def _round(value: float | None) -> float | str:
    return "" if value is None else round(value, 4)


def compare(ours: pd.DataFrame, theirs: pd.DataFrame, themes: list[str], texts: dict[str, str]) -> Comparison:
    """Compare two coding tables over the codable ``themes`` and the transcripts ``texts``."""
    seg_counts, shown = _segments(ours, theirs)
    pids = sorted(texts)
    masks = {
        (pid, theme): (_mask(ours, pid, theme, len(texts[pid])), _mask(theirs, pid, theme, len(texts[pid])))
        for pid in pids
        for theme in themes
    }
    rows = []

    def row(level: str, theme: str, pid: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
        a = np.concatenate([x for x, _ in pairs]) if pairs else np.zeros(0, bool)
        b = np.concatenate([y for _, y in pairs]) if pairs else np.zeros(0, bool)
        percent, kappa = agreement(a, b)
        sel = seg_counts
        if theme != "all":
            sel = sel[sel["theme_id"] == theme]
        if pid != "all":
            sel = sel[sel["participant_id"] == pid]
        return {
            "level": level,
            "theme_id": theme,
            "participant_id": pid,
            "segments_both": int(sel["segments_both"].sum()),
            "segments_ours_only": int(sel["segments_ours_only"].sum()),
            "segments_theirs_only": int(sel["segments_theirs_only"].sum()),
            "chars_ours": int(a.sum()),
            "chars_theirs": int(b.sum()),
            "chars_overlap": int((a & b).sum()),
            "chars_total": int(a.size),
            "percent_agreement": round(percent, 2),
            "kappa": round(kappa, 4),
            "kappa_qualcoder": _round(qualcoder_kappa(a, b)),
        }

    for theme in themes:
        rows.append(row("theme", theme, "all", [masks[(pid, theme)] for pid in pids]))
    for pid in pids:
        rows.append(row("participant", "all", pid, [masks[(pid, theme)] for theme in themes]))
    rows.append(row("overall", "all", "all", list(masks.values())))
    shown.sort(key=lambda d: (d["participant_id"], (d["ours"] or d["theirs"])[0], d["theme_id"]))
    return Comparison(pd.DataFrame(rows, columns=ROW_COLUMNS), shown, ours, theirs)


def compare_qdpx(other: Path | str, p: Paths | None = None) -> Comparison:
    """Import another coder's ``.qdpx`` and compare it with ``coding.csv``."""
    p = p or paths()
    result = import_qdpx(other, p)
    ours = load_coding(p)
    codebook = load_codebook(p)
    themes = [t for t, codable in zip(codebook["id"], codebook["codable"]) if bool(codable)]
    pids = sorted(set(ours["participant_id"]) | set(result.coding["participant_id"]))
    texts = {pid: load_transcript(pid, p) for pid in pids}
    comparison = compare(ours, result.coding, themes, texts)
    # what the import says about filling coding.csv does not concern a comparison
    comparison.messages = [m for m in result.messages if not m.startswith("coding.csv needs every cell filled")]
    if len(result.set_aside):
        comparison.messages.append(
            f"{len(result.set_aside)} of their segments are coded to codes outside codebook.yaml and are not compared."
        )
    return comparison


def _context_html(text: str, spans: list[tuple[str, tuple[int, int]]], width: int = 160) -> str:
    """The passage around the spans, escaped, with each coder's span marked."""
    lo = max(0, min(s for _, (s, _e) in spans) - width)
    hi = min(len(text), max(e for _, (_s, e) in spans) + width)
    bounds = sorted({lo, hi, *[max(lo, s) for _, (s, _e) in spans], *[min(hi, e) for _, (_s, e) in spans]})
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        who = [name for name, (s, e) in spans if s <= a and b <= e]
        piece = html.escape(text[a:b]).replace("\n", "<br>\n")
        parts.append(f'<mark class="{"both" if len(who) > 1 else who[0]}">{piece}</mark>' if who else piece)
    return ("&hellip;" if lo else "") + "".join(parts) + ("&hellip;" if hi < len(text) else "")


def _html(comparison: Comparison, other: str, labels: dict[str, str], p: Paths) -> str:
    esc = html.escape
    table = comparison.table
    head = "".join(f"<th>{esc(c)}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in r) + "</tr>" for r in table.itertuples(index=False)
    )
    items = []
    for d in comparison.disagreements:
        text = load_transcript(d["participant_id"], p)
        spans = [(name, d[name]) for name in ("ours", "theirs") if d[name] is not None]
        label = f"{d['theme_id']} {labels.get(d['theme_id'], '')}".strip()
        items.append(
            f"<section><h3>{esc(d['participant_id'])} &middot; {esc(label)} &middot; {esc(d['kind'])} "
            f'({esc(d["segment_id"])})</h3><p class="context">{_context_html(text, spans)}</p></section>'
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Coding comparison</title>
<style>
body {{ font-family: sans-serif; max-width: 60rem; margin: 2rem auto; line-height: 1.45; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; }}
mark.ours {{ background: #E69F00; }} mark.theirs {{ background: #56B4E9; }}
mark.both {{ background: #009E73; color: #fff; }}
.context {{ white-space: normal; border-left: 3px solid #ccc; padding-left: 0.8rem; }}
</style></head><body>
<h1>Coding comparison</h1>
<p>Ours: <code>data/synthetic/coding.csv</code>. Theirs: <code>{esc(other)}</code>.
Percentage agreement and Cohen's kappa on characters (each character of each transcript, coded with the
theme or not; {esc(KAPPA_REFERENCE)}). Segments agree when their spans overlap on the same theme.</p>
<p>Marks: <mark class="ours">ours only</mark> <mark class="theirs">theirs only</mark>
<mark class="both">both</mark>.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<h2>Disagreements in context ({len(comparison.disagreements)})</h2>
{chr(10).join(items) if items else "<p>None: both coders coded the same spans with the same themes.</p>"}
</body></html>
"""


def write_report(comparison: Comparison, out_dir: Path | str, other: str, p: Paths | None = None) -> list[Path]:
    """Write ``comparison.csv``, ``comparison.md`` and ``comparison.html`` into ``out_dir`` (never ``data/``)."""
    p = p or paths()
    out = Path(out_dir)
    refuse_data_folder(out, p)
    codebook = load_codebook(p)
    labels = dict(zip(codebook["id"], codebook["label"]))
    table = comparison.table
    overall = table[table["level"] == "overall"].iloc[0]
    md = [
        f"# Coding comparison with {other}",
        "",
        f"Overall: {overall['segments_both']} segments coded by both, {overall['segments_ours_only']} by us "
        f"only, {overall['segments_theirs_only']} by them only; character agreement "
        f"{overall['percent_agreement']:.2f} %, Cohen's kappa {overall['kappa']:.4f}.",
        "",
        "Kappa: Cohen's kappa on characters (each character of each transcript coded with a theme or not, "
        f"pooled over the rows' transcripts and themes); {KAPPA_REFERENCE} `kappa_qualcoder` is the figure "
        "QualCoder's coder comparison reports for the same characters (computed over the characters coded by "
        "at least one coder; not Cohen's kappa); percentage agreement is defined as in both programs.",
        "",
        to_markdown(table),
    ]
    return [
        write_text(out / "comparison.csv", table.to_csv(index=False, lineterminator="\n")),
        write_text(out / "comparison.md", "\n".join(md)),
        write_text(out / "comparison.html", _html(comparison, other, labels, p)),
    ]
