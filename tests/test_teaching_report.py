"""The teacher's class report and the students' working copies (``make class-report``, ``make lab``).

The report is built from two fixture students (``tests/fixtures/students/``:
ana has passages, personal themes in two cases and a group theme; ben has
statements and a theme name with HTML in them) into a temporary folder.
"""

from __future__ import annotations

import csv
import html.parser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from compendium.data import Study, load_study
from compendium.paths import Paths, paths
from compendium.teaching import lab, report
from compendium.teaching.text import TutorialError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "students"


@pytest.fixture(scope="module")
def study() -> Study:
    return load_study()


class _Tags(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_class_report_of_two_fixture_students(study: Study, tmp_path: Path) -> None:
    before = {f: f.read_bytes() for f in FIXTURES.rglob("*") if f.is_file()}
    page, table = report.write_class_report(FIXTURES, study, tmp_path / "out", source="fixtures/")
    assert (page.name, table.name) == ("index.html", "passages.csv")
    text = page.read_text(encoding="utf-8")
    parsed = _Tags()
    parsed.feed(text)
    assert "script" not in parsed.tags
    shown = "".join(parsed.text)
    # student text is escaped: it shows as text, it is never markup
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; guilt" in text and "<script>" not in text
    assert "Guilt &lt;i&gt;everywhere&lt;/i&gt;" in text and "<b>somehow</b>" not in text
    assert "<script>alert('x')</script> & guilt about going out" in shown
    # progress: ana has done more than ben, both are listed
    progress = text.split("Progress through T1-T7")[1].split("</table>")[0]
    rows = {r.split("</td>")[0].split("<td>")[-1]: r for r in progress.split("<tr>") if r.startswith("<td>")}
    assert rows["ana"].count('class="done"') > rows["ben"].count('class="done"')
    assert 'T4<br><span class="note">Personal experiential themes, ~60 min' in text
    # passages side by side with the study's: ana's line 14 phrase meets P01-S02
    assert "A night off feels like deserting mum" in shown and "A night off felt like abandoning mum" in shown
    assert "Rest as betrayal" in shown and "Kindness costs the family" in shown
    assert shown.count("the study") >= 2  # each case's personal themes end with the study's
    assert "@media print" in text and "http" not in text.split("</style>")[0]
    with open(table, encoding="utf-8", newline="") as fh:
        passages = list(csv.DictReader(fh))
    assert {p["student"] for p in passages} == {"ana", "ben"}
    line14 = [p for p in passages if p["student"] == "ana" and p["lines"] == "14"]
    assert [(p["study_segment"], p["personal_theme"]) for p in line14] == [("P01-S02", "Rest as betrayal")]
    assert before == {f: f.read_bytes() for f in FIXTURES.rglob("*") if f.is_file()}, "the report changed its input"


def test_an_unreadable_student_is_reported_not_fatal(study: Study, tmp_path: Path) -> None:
    folder = tmp_path / "class"
    shutil.copytree(FIXTURES, folder)
    (folder / "ben" / "coding.csv").write_text("segment_id\nP01-U01\n", encoding="utf-8")
    records = report.gather(folder, study)
    assert [r.name for r in records] == ["ana", "ben"] and "lacks the column" in records[1].problem
    page = report.class_report_html(records, study)
    assert "files cannot be read" in page and "Rest as betrayal" in page
    with pytest.raises(TutorialError, match="no student folders found"):
        report.gather(tmp_path / "class" / "ana", study)
    with pytest.raises(TutorialError, match="no such folder"):
        report.gather(tmp_path / "nowhere", study)


def test_class_report_command_refuses_in_one_line(tmp_path: Path) -> None:
    env = {"COMPENDIUM_ROOT": str(paths().root), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "compendium",
            "class-report",
            "--from",
            str(tmp_path / "none"),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "fix:" in done.stderr and len(done.stderr.splitlines()) == 1
    ok = subprocess.run(
        [sys.executable, "-m", "compendium", "class-report", "--from", str(FIXTURES), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out" / "index.html").is_file() and "class-report: wrote" in ok.stdout


# ------------------------------------------------------------------ make lab's working copies
@pytest.fixture
def copy(tmp_path: Path) -> Paths:
    real = paths()
    shutil.copytree(real.notebooks / "tutorial", tmp_path / "notebooks" / "tutorial")
    return Paths(tmp_path)


def test_working_copies_are_made_refreshed_and_never_overwritten_without_asking(copy: Paths) -> None:
    said = lab.working_copies(copy)
    folder = copy.student_work / "notebooks"
    assert len(said) == 7 and all(line.endswith("new working copy") for line in said)
    assert sorted(f.name for f in folder.glob("*.ipynb")) == sorted(
        f.name for f in (copy.notebooks / "tutorial").glob("*.ipynb")
    )
    assert lab.working_copies(copy) == []  # nothing changed
    source2 = copy.notebooks / "tutorial" / "T2_write_notes.ipynb"
    source3 = copy.notebooks / "tutorial" / "T3_write_statements.ipynb"
    for source in (source2, source3):
        nb = json.loads(source.read_text())
        nb["cells"][0]["source"].append("\nA new paragraph.")
        source.write_text(json.dumps(nb))
    mine = folder / "T3_write_statements.ipynb"
    mine.write_text(mine.read_text().replace('my_statement: str = \\"\\"', 'my_statement: str = \\"mine\\"'))
    student_work = mine.read_bytes()
    said = lab.working_copies(copy)
    assert "T2_write_notes: refreshed (a newer version; you had not changed your copy)" in said
    assert any(
        line.startswith(
            "T3_write_statements: a newer version exists; your copy (with your work) is kept. "
            "To take the new one: make lab REFRESH=T3"
        )
        for line in said
    )
    assert mine.read_bytes() == student_work and (folder / "T2_write_notes.ipynb").read_bytes() == source2.read_bytes()
    said = lab.working_copies(copy, replace=["t3"])
    assert said == [
        "T3_write_statements: replaced by the new version; your copy is kept as T3_write_statements.mine-1.ipynb"
    ]
    assert (folder / "T3_write_statements.mine-1.ipynb").read_bytes() == student_work
    assert mine.read_bytes() == source3.read_bytes()
    with pytest.raises(TutorialError, match="REFRESH=T9 names no tutorial"):
        lab.working_copies(copy, replace=["T9"])
