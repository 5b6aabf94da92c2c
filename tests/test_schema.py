"""datapackage.json is the only schema: loaders, the QDA import and the student files follow it.

Each test that changes the schema works on a temporary copy of the data folder;
the repository's own data are only read.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from compendium import provenance, schema
from compendium.data import load_coding, load_memos, load_participants, load_study
from compendium.errors import CompendiumError, DataError, Problem
from compendium.paths import Paths, paths
from compendium.refiqda.importer import frame
from compendium.teaching import students as s
from compendium.validate import validate


@pytest.fixture
def copy(tmp_path: Path) -> Paths:
    """A temporary compendium holding a copy of the data folder (what the loaders and validate read)."""
    real = paths()
    shutil.copytree(real.data, tmp_path / "data" / "synthetic")
    shutil.copy2(real.root / "pyproject.toml", tmp_path / "pyproject.toml")
    return Paths(tmp_path)


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def _change_schema(p: Paths, table: str, rename: dict[str, str], add: list[dict], values: dict[str, list[str]]) -> None:
    """Rename and add columns of one table, in datapackage.json and in the CSV file alike."""
    doc = json.loads(p.datapackage.read_text(encoding="utf-8"))
    resource = next(r for r in doc["resources"] if r["name"] == table)
    for field in resource["schema"]["fields"]:
        field["name"] = rename.get(field["name"], field["name"])
    resource["schema"]["fields"] += add
    p.datapackage.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    path = p.data / resource["path"]
    header, rows = _rows(path)
    rows = [{rename.get(k, k): v for k, v in row.items()} for row in rows]
    for name, cells in values.items():
        for row, cell in zip(rows, cells, strict=True):
            row[name] = cell
    _write_rows(path, [rename.get(c, c) for c in header] + [f["name"] for f in add], rows)


# ------------------------------------------------------------------ the schema itself
def test_the_columns_and_types_are_those_of_datapackage_json() -> None:
    p = paths()
    doc = json.loads(p.datapackage.read_text(encoding="utf-8"))
    for resource in doc["resources"]:
        table = schema.table_schema(resource["name"], p)
        assert table.columns == [f["name"] for f in resource["schema"]["fields"]]
        assert table.columns == _rows(p.data / resource["path"])[0]  # the file's header, in order
    coding = schema.table_schema("coding", p)
    assert coding.integers == ["start", "end", "coding_round"]
    assert coding.primary_key == ["segment_id"]
    assert schema.table_schema("participants", p).of_type("yearmonth") == ["interview_month"]
    with pytest.raises(CompendiumError, match="declares no table 'sessions'"):
        schema.table_schema("sessions", p)


def test_the_schema_is_parsed_once_per_version_and_every_use_is_recorded(
    copy: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "provenance.log"
    monkeypatch.setenv(provenance.ENV, str(log))
    first = schema.load_schema(copy)
    assert schema.load_schema(copy) is first  # not parsed again
    load_coding(copy)
    reads = [json.loads(line)["path"] for line in log.read_text(encoding="utf-8").splitlines()]
    assert reads.count(str(copy.datapackage.resolve())) == 3  # each use is a read of the input
    _change_schema(copy, "memos", {"text": "memo"}, [], {})
    changed = schema.load_schema(copy)
    assert changed is not first and "memo" in changed.table("memos").columns
    assert list(load_memos(copy).columns)[-1] == "memo"


def test_a_missing_or_broken_datapackage_is_a_readable_error(copy: Paths) -> None:
    copy.datapackage.write_text("{not json", encoding="utf-8")
    with pytest.raises(CompendiumError, match="cannot be read as JSON") as err:
        load_coding(copy)
    assert "git checkout" in err.value.fix
    copy.datapackage.unlink()
    with pytest.raises(CompendiumError, match="datapackage.json: file not found"):
        load_participants(copy)


# ------------------------------------------------------------------ the loaders follow a changed schema
def test_loaders_and_the_qda_import_follow_a_changed_datapackage(copy: Paths) -> None:
    coding_before = load_coding(copy)
    words = [str(len(e.split())) for e in coding_before["excerpt"]]
    _change_schema(
        copy,
        "coding",
        {"analyst": "coder"},
        [{"name": "word_count", "type": "integer", "constraints": {"required": True}}],
        {"word_count": words},
    )
    n = len(load_participants(copy))
    _change_schema(
        copy,
        "participants",
        {},
        [{"name": "follow_up", "type": "boolean"}],
        {"follow_up": ["TRUE", "false"] * (n // 2) + ["true"] * (n % 2)},
    )
    validate(copy)  # the changed copy is valid data

    coding = load_coding(copy)
    assert list(coding.columns) == [c if c != "analyst" else "coder" for c in coding_before.columns] + ["word_count"]
    assert coding["word_count"].dtype.kind == "i" and coding["word_count"].tolist() == [int(w) for w in words]
    assert coding["start"].dtype.kind == "i" and coding["coder"].tolist() == coding_before["analyst"].tolist()
    participants = load_participants(copy)
    assert participants["follow_up"].dtype == bool and participants["follow_up"].tolist()[:2] == [True, False]
    assert participants["duration_min"].dtype.kind == "i"
    # the REFI-QDA import writes a table of exactly these columns and types
    imported = frame([{c: row[c] for c in coding.columns} for row in coding.head(2).to_dict("records")], copy)
    assert list(imported.columns) == list(coding.columns) and imported["word_count"].dtype.kind == "i"
    _change_schema(copy, "coding", {}, [{"name": "comment", "type": "string"}], {})
    assert frame(coding.head(1).to_dict("records"), copy)["comment"].tolist() == [""]  # a column import cannot fill


def test_the_student_loader_follows_a_changed_datapackage(copy: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    header_before = schema.table_schema("coding", copy).columns
    _change_schema(copy, "coding", {"analyst": "coder"}, [{"name": "comment", "type": "string"}], {})
    # the tutorials read the compendium's own data folder: here, the copy
    monkeypatch.setenv("COMPENDIUM_ROOT", str(copy.root))
    monkeypatch.delenv("COMPENDIUM_DATA", raising=False)
    monkeypatch.delenv("COMPENDIUM_OUT", raising=False)
    study = load_study(copy)
    expected = [c if c != "analyst" else "coder" for c in header_before] + ["comment"]
    assert list(s.empty_coding().columns) == expected
    coding, _ = s.add_segment(s.empty_coding(), s.new_segment(study, "P01", 4172, 4371, statement="Rest as desertion"))
    path = s.student_file("ana", copy)
    s.save_student_coding(path, coding)
    assert _rows(path)[0] == expected
    back = s.load_student_coding(path, study, copy)
    assert list(back.columns) == expected and back["start"].tolist() == [4172]
    old = path.with_name("old.csv")
    _write_rows(
        old,
        header_before,
        [{c: str(v) for c, v in row.items() if c in header_before} for row in back.to_dict("records")],
    )
    with pytest.raises(s.StudentWorkError, match=r"lacks the column\(s\) coder, comment"):
        s.load_student_coding(old, study, copy)


# ------------------------------------------------------------------ a student's errors read like validate's
def _one(problems: list[Problem], file: str) -> Problem:
    mine = [q for q in problems if q.file.endswith(file)]
    assert len(mine) == 1, mine
    return mine[0]


@pytest.mark.parametrize(
    "what,change",
    [
        ("a bad integer", lambda rows: rows[0].update(start="x42")),
        ("a duplicate id", lambda rows: rows[1].update(segment_id=rows[0]["segment_id"])),
        ("an unknown participant", lambda rows: rows[0].update(participant_id="P42")),
        ("a span past the end", lambda rows: rows[0].update(end="99999")),
    ],
)
def test_a_students_error_reads_like_validates(copy: Paths, tmp_path: Path, what: str, change) -> None:
    header, rows = _rows(copy.coding)
    # the same change in the study's coding.csv ...
    changed = [dict(r) for r in rows]
    change(changed)
    _write_rows(copy.coding, header, changed)
    with pytest.raises(DataError) as err:
        validate(copy)
    theirs = _one(err.value.problems, "coding.csv")
    # ... and in a student's file holding the same first two rows
    _write_rows(copy.coding, header, rows)
    study = load_study(copy)
    path = tmp_path / "student_work" / "ana" / "coding.csv"
    path.parent.mkdir(parents=True)
    mine = [dict(r) for r in rows[:2]]
    change(mine)
    _write_rows(path, header, mine)
    with pytest.raises(s.StudentWorkError) as err:
        s.load_student_coding(path, study, copy)
    ours = _one(err.value.problems, str(path))
    assert (ours.message, ours.row, ours.column) == (theirs.message, theirs.row, theirs.column), what
    assert ours.file == str(path) and ours.row in (1, 2) and ours.column
    assert ours.fix.endswith(
        "or move the file aside (rename it to coding.broken.csv) to start a fresh file at your next save"
    )
    if what == "an unknown participant":  # a student is pointed to the study's participants, not to participants.csv
        assert "participant_id 'P42' is not in the participants table" in ours.message
        assert "use a participant of the study (P01, P02" in ours.fix
    else:
        assert ours.fix.startswith(theirs.fix)
    assert f"{path}, row {ours.row}, column '{ours.column}': " in str(err.value)
