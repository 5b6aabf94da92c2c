"""The teacher's class report: every student's work on one page, beside the study's reading.

``make class-report`` reads ``student_work/`` (or a folder of collected
submissions, one sub-folder per student, each as a student's ``student_work/<name>/``)
and writes ``build/class-report/index.html`` (one self-contained page, printable)
and ``build/class-report/passages.csv`` (the same passages as a table to share or
sort). The page shows, per student, progress through T1-T7; per passage the
study coded, the class's statements and themes side by side with the study's;
each case's personal themes; each student's group themes. Every piece of student
text is escaped: it is shown as text, never run as HTML.

A student whose files cannot be read is listed with the problem (and the rest of
the class is still reported).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data import Study
from ..errors import CompendiumError
from ..files import write_text
from ..paths import Paths
from ..themes import theme_key
from .compare import passages
from .exercises import TUTORIALS, tasks_done
from .saved import load_groups, load_pets
from .students import list_students, load_student_coding
from .text import TutorialError, span_lines

__all__ = ["StudentRecord", "gather", "passages_table", "class_report_html", "write_class_report"]


@dataclass
class StudentRecord:
    """One student's work as read from their folder."""

    name: str
    coding: pd.DataFrame
    pets: dict[str, list[dict]] = field(default_factory=dict)
    groups: list[dict] = field(default_factory=list)
    done: dict = field(default_factory=dict)
    problem: str = ""


def _paths_for(folder: Path) -> Paths:
    """Paths whose ``student_work`` is the given folder (student files are read from there)."""
    p = Paths(folder.parent)
    p.student_work = folder
    return p


def gather(folder: Path, study: Study) -> list[StudentRecord]:
    """Every student folder below ``folder``, read and checked; unreadable work is recorded, not fatal."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TutorialError(
            f"{folder}: no such folder of student work. fix: give the folder that holds one "
            "sub-folder per student (by default student_work/), e.g. make class-report "
            "CLASS=submissions/"
        )
    p = _paths_for(folder)
    records = []
    for name in list_students(folder):
        base = folder / name
        try:
            coding = load_student_coding(base / "coding.csv", study)
            pets, groups = load_pets(name, p), load_groups(name, p)
        except CompendiumError as err:
            records.append(StudentRecord(name, pd.DataFrame(), problem=str(err)))
            continue
        records.append(StudentRecord(name, coding, pets, groups, tasks_done(name, p, study)))
    if not records:
        raise TutorialError(
            f"{folder}: no student folders found. fix: each student's work is a sub-folder "
            "(student_work/<name>/ with coding.csv, pets.json, ...); collect them into one folder"
        )
    return records


def _pet_of(record: StudentRecord, participant: str, segment_id: str) -> str:
    return "; ".join(t["name"] for t in record.pets.get(participant, []) if segment_id in t["segments"])


def passages_table(records: list[StudentRecord], study: Study) -> pd.DataFrame:
    """One row per student passage: the student's statement and theme, and the study passage it meets."""
    labels = dict(zip(study.codebook["id"], study.codebook["label"]))
    rows = []
    for r in records:
        if r.problem:
            continue
        for s in passages(r.coding):
            text = study.transcripts[s.participant_id]
            theirs = passages(study.coding[study.coding["participant_id"] == s.participant_id])
            hits = [t for t in theirs if min(s.end, t.end) - max(s.start, t.start) > 0]
            base = {
                "student": r.name,
                "participant_id": s.participant_id,
                "lines": span_lines(text, s.start, s.end),
                "excerpt": s.excerpt,
                "statement": s.experiential_statement,
                "personal_theme": _pet_of(r, s.participant_id, s.segment_id),
                "_pos": s.start,
            }
            if not hits:
                rows.append({**base, "study_segment": "", "study_statement": "", "study_theme": ""})
            for t in hits:
                rows.append(
                    {
                        **base,
                        "study_segment": t.segment_id,
                        "study_statement": t.experiential_statement,
                        "study_theme": f"{t.theme_id} {labels.get(t.theme_id, '')}",
                    }
                )
    columns = [
        "student",
        "participant_id",
        "lines",
        "excerpt",
        "statement",
        "personal_theme",
        "study_segment",
        "study_statement",
        "study_theme",
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows).sort_values(["participant_id", "_pos", "student"], kind="stable")
    return out[columns].reset_index(drop=True)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:72em;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:2px solid #ddd;padding-bottom:.2em}h3{margin-bottom:.3em}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.2em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}th{background:#f3f3f3}
td.done{background:#d9f0d3}td.part{background:#fff3b0}td.none{background:#f6f6f6;color:#777}
.study{background:#eef3fb}.quote{color:#555;font-style:italic}.problem{color:#b00020}
.note{color:#555;font-size:.92em}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{page-break-before:always}h2.first{page-break-before:avoid}
.noprint{display:none}tr,td{page-break-inside:avoid}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def class_report_html(records: list[StudentRecord], study: Study, source: str = "student_work/") -> str:
    """The report page as one HTML string (inline CSS, no scripts, nothing fetched)."""
    ok = [r for r in records if not r.problem]
    parts = [
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
        f"<style>{CSS}</style></head><body>",
        "<h1>Class report: IPA tutorials</h1>",
        f"<p>{len(records)} student{'s' if len(records) != 1 else ''}, read from <code>{_e(source)}</code>. "
        "Print this page (or save it as PDF) to share it; the same passages are in <code>passages.csv</code> "
        "beside it. The study's coding is one analyst's reading, shown for discussion, not as a key.</p>",
    ]
    # progress
    parts.append(
        '<h2 class="first">Progress through T1-T7</h2><table><tr><th>student</th>'
        + "".join(
            f'<th>{k}<br><span class="note">{_e(v["title"])}, ~{v["minutes"]} min</span></th>'
            for k, v in TUTORIALS.items()
        )
        + "</tr>"
    )
    for r in records:
        if r.problem:
            parts.append(
                f'<tr><td>{_e(r.name)}</td><td colspan="{len(TUTORIALS)}" class="problem">files '
                f"cannot be read: {_e(r.problem)}</td></tr>"
            )
            continue
        cells = []
        for k, v in TUTORIALS.items():
            n = len(v["tasks"])
            got = sum(bool(r.done.get((k, i))) for i in range(n))
            cls = "done" if got == n else "part" if got else "none"
            cells.append(f'<td class="{cls}">{got}/{n}</td>')
        parts.append(f"<tr><td>{_e(r.name)}</td>{''.join(cells)}</tr>")
    parts.append("</table>")
    # passages side by side
    table = passages_table(ok, study)
    parts.append("<h2>Passages: the class beside the study</h2>")
    if table.empty:
        parts.append("<p>No passages coded yet.</p>")
    for pid, g in table.groupby("participant_id", sort=True):
        parts.append(
            f"<h3>{_e(pid)} {_e(study.pseudonyms.get(str(pid), ''))}</h3><table><tr><th>lines</th>"
            "<th>passage</th><th>student</th><th>statement</th><th>personal theme</th>"
            '<th class="study">study\'s statement</th><th class="study">study\'s theme</th></tr>'
        )
        for _, row in g.iterrows():
            parts.append(
                f'<tr><td>{_e(row.lines)}</td><td class="quote">{_e(_short(row.excerpt))}</td>'
                f"<td>{_e(row.student)}</td><td>{_e(row.statement)}</td><td>{_e(row.personal_theme)}</td>"
                f'<td class="study">{_e(row.study_statement) or "<i>not coded by the study</i>"}</td>'
                f'<td class="study">{_e(row.study_theme)}</td></tr>'
            )
        parts.append("</table>")
    # personal themes per case
    parts.append("<h2>Personal experiential themes, case by case</h2>")
    cases = sorted({pid for r in ok for pid, t in r.pets.items() if t})
    if not cases:
        parts.append("<p>No personal themes named yet.</p>")
    segs = study.coding
    labels = dict(zip(study.codebook["id"], study.codebook["label"]))
    for pid in cases:
        parts.append(
            f"<h3>{_e(pid)} {_e(study.pseudonyms.get(pid, ''))}</h3><table><tr><th>student</th>"
            "<th>their themes (statements)</th></tr>"
        )
        for r in ok:
            themes = r.pets.get(pid, [])
            if not themes:
                continue
            said = dict(zip(r.coding["segment_id"], r.coding["experiential_statement"]))
            items = "".join(
                f"<li><b>{_e(t['name'])}</b>: {_e('; '.join(said.get(i, i) for i in t['segments']))}</li>"
                for t in themes
            )
            parts.append(f"<tr><td>{_e(r.name)}</td><td><ul>{items}</ul></td></tr>")
        study_themes = segs[segs["participant_id"] == pid].groupby("theme_id")["experiential_statement"].apply(list)
        items = "".join(
            f"<li><b>{_e(tid)} {_e(labels.get(tid, ''))}</b>: {_e('; '.join(study_themes[tid]))}</li>"
            for tid in sorted(study_themes.index, key=theme_key)
        )
        parts.append(f'<tr class="study"><td>the study</td><td><ul>{items}</ul></td></tr></table>')
    # group themes
    parts.append("<h2>Group experiential themes</h2>")
    with_groups = [r for r in ok if r.groups]
    if not with_groups:
        parts.append("<p>No group themes built yet.</p>")
    else:
        parts.append("<table><tr><th>student</th><th>group theme</th><th>from personal themes</th></tr>")
        for r in with_groups:
            for group in r.groups:
                parts.append(
                    f"<tr><td>{_e(r.name)}</td><td><b>{_e(group['name'])}</b></td><td>"
                    f"{_e('; '.join(f'{pid}: {n}' for pid, n in group['pets']))}</td></tr>"
                )
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _short(text: str, width: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 3].rsplit(" ", 1)[0] + "..."


def write_class_report(folder: Path, study: Study, out: Path, source: str = "") -> list[Path]:
    """Write ``index.html`` and ``passages.csv`` into ``out``; returns both paths."""
    records = gather(folder, study)
    out = Path(out)
    page = write_text(out / "index.html", class_report_html(records, study, source or str(folder)))
    table = write_text(out / "passages.csv", passages_table(records, study).to_csv(index=False, lineterminator="\n"))
    return [page, table]
