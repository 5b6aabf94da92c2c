"""Atomic writes (:mod:`compendium.files`) and provenance records (:mod:`compendium.provenance`)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from compendium import provenance
from compendium.files import atomic_write, write_bytes, write_figure, write_json, write_table, write_text
from compendium.paths import Paths
from compendium.plots import recurrence_heatmap


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------------------- atomic writes


def test_write_text_creates_folders_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "notes.txt"
    assert write_text(target, "héllo\nwörld\n") == target
    assert target.read_bytes() == "héllo\nwörld\n".encode()  # UTF-8, LF kept as is
    assert listing(target.parent) == ["notes.txt"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_overwrite_replaces_the_content(tmp_path: Path) -> None:
    target = tmp_path / "t.bin"
    write_bytes(target, b"old")
    write_bytes(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"
    assert listing(tmp_path) == ["t.bin"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_writer_keeps_the_old_file_and_removes_the_temp(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "table.csv"
    target.write_text("old,content\n", encoding="utf-8")
    seen: list[Path] = []

    def writer(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("half a tab", encoding="utf-8")
        raise error("disk full")

    with pytest.raises(error, match="disk full"):
        atomic_write(target, writer)
    assert target.read_text(encoding="utf-8") == "old,content\n"
    assert listing(tmp_path) == ["table.csv"]
    # the temporary file was a hidden sibling of the target (so the rename is atomic) and is gone
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".table.csv.") and not seen[0].exists()


def test_failed_writer_on_a_new_path_leaves_nothing(tmp_path: Path) -> None:
    def writer(tmp: Path) -> None:
        raise ValueError("bad figure")

    with pytest.raises(ValueError):
        atomic_write(tmp_path / "new.svg", writer)
    assert listing(tmp_path) == []


def test_write_json_is_stable(tmp_path: Path) -> None:
    target = write_json(tmp_path / "v.json", {"b": 1, "a": ["ä", 2.5]})
    assert target.read_text(encoding="utf-8") == '{\n  "a": [\n    "ä",\n    2.5\n  ],\n  "b": 1\n}\n'


# ---------------------------------------------------------------------------- tables


def md_rows(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()]


def test_write_table_writes_csv_and_markdown(tmp_path: Path) -> None:
    df = pd.DataFrame({"theme_id": ["1.2", "3.1.1"], "n": [3, 10], "label": ["Bee", "a, b"]})
    csv, md = write_table(df, tmp_path / "tables", "demo")
    assert (csv, md) == (tmp_path / "tables" / "demo.csv", tmp_path / "tables" / "demo.md")
    assert csv.read_bytes() == b'theme_id,n,label\n1.2,3,Bee\n3.1.1,10,"a, b"\n'
    text = md.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("|") and line.endswith("|") for line in lines)
    assert set(lines[1]) <= set("|-:")  # the pipe table's header rule
    rows = md_rows(text)
    assert rows[0] == ["theme_id", "n", "label"]
    assert rows[2:] == [["1.2", "3", "Bee"], ["3.1.1", "10", "a, b"]]
    assert listing(tmp_path / "tables") == ["demo.csv", "demo.md"]


def test_write_table_markdown_keeps_text_verbatim(tmp_path: Path) -> None:
    """Text cells that look like numbers ("1.10", "007") must not be reformatted in the Markdown table."""
    df = pd.DataFrame({"theme_id": ["1.2", "1.10"], "code": ["007", "010"]})
    _, md = write_table(df, tmp_path, "ids")
    assert md_rows(md.read_text(encoding="utf-8"))[2:] == [["1.2", "007"], ["1.10", "010"]]


# ---------------------------------------------------------------------------- figures


def heatmap() -> plt.Figure:
    counts = pd.DataFrame({"Ann": [2, 0], "Ben": [1, 3]}, index=pd.Index(["1.2", "1.10"], name="theme_id"))
    return recurrence_heatmap(counts, {"1.2": "Bee", "1.10": "Jay"})


def test_write_figure_is_byte_identical(tmp_path: Path) -> None:
    fig = heatmap()
    try:
        first = write_figure(fig, tmp_path / "one", "heat")
        second = write_figure(fig, tmp_path / "two", "heat")
    finally:
        plt.close(fig)
    again = heatmap()  # a fresh figure from the same data
    try:
        third = write_figure(again, tmp_path / "three", "heat")
    finally:
        plt.close(again)
    assert [p.name for p in first] == ["heat.svg", "heat.png"]
    for a, b, c in zip(first, second, third):
        assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert first[1].read_bytes().startswith(b"\x89PNG")
    assert listing(tmp_path / "one") == ["heat.png", "heat.svg"]


def test_svg_has_no_date(tmp_path: Path) -> None:
    fig = heatmap()
    try:
        svg, png = write_figure(fig, tmp_path, "heat")
    finally:
        plt.close(fig)
    text = svg.read_text(encoding="utf-8")
    assert text.startswith("<?xml") and "<svg" in text
    assert "<dc:date>" not in text
    assert b"Software" not in png.read_bytes()


# ---------------------------------------------------------------------------- provenance


def test_record_is_a_no_op_outside_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(provenance.ENV, raising=False)
    provenance.record("read", tmp_path / "x")
    write_text(tmp_path / "y.txt", "y")
    assert listing(tmp_path) == ["y.txt"]


def test_record_and_collect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = (tmp_path / "root").resolve()
    (root / "data").mkdir(parents=True)
    source = root / "data" / "in.csv"
    source.write_text("a\n", encoding="utf-8")
    log = tmp_path / "run.log"
    monkeypatch.setenv(provenance.ENV, str(log))

    provenance.record("read", source)
    provenance.record("read", source)  # read twice: listed once
    write_text(root / "out" / "t.csv", "x\n")  # files.py records its writes
    write_json(root / "out" / "v.json", {})
    provenance.record("read", root / "out" / "t.csv")  # read back after writing: an output, not an input

    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [e["kind"] for e in entries] == ["read", "read", "write", "write", "read"]
    assert entries[2]["path"] == str(root / "out" / "t.csv")
    assert provenance.collect(log, "01_demo", Paths(root)) == {
        "notebook": "01_demo",
        "inputs": ["data/in.csv"],
        "outputs": ["out/t.csv", "out/v.json"],
    }


def test_collect_without_a_log(tmp_path: Path) -> None:
    assert provenance.collect(tmp_path / "missing.log", "nb", Paths(tmp_path)) == {
        "notebook": "nb",
        "inputs": [],
        "outputs": [],
    }


def test_sha256_known_answer(tmp_path: Path) -> None:
    f = tmp_path / "abc"
    f.write_bytes(b"abc")
    assert provenance.sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_provenance_table(tmp_path: Path) -> None:
    p = Paths(tmp_path)
    inputs = {"data/a.csv": b"alpha\n", "data/b.csv": b"beta\n", "data/c.yaml": b"gamma\n"}
    for rel, content in inputs.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content)
    records = {
        "04_describe.json": {
            "notebook": "04_describe",
            "inputs": ["data/b.csv", "data/a.csv"],
            "outputs": [
                "manuscript/tables/t1.csv",
                "manuscript/tables/t1.md",
                "figures/durations.svg",
                "figures/durations.png",
                "manuscript/values/descriptives.json",
                "manuscript/tables/lonely.md",
            ],
        },
        "01_read.json": {"notebook": "01_read", "inputs": ["data/c.yaml"], "outputs": ["manuscript/tables/c.csv"]},
    }
    (tmp_path / "build" / "provenance").mkdir(parents=True)
    for name, rec in records.items():
        (tmp_path / "build" / "provenance" / name).write_text(json.dumps(rec), encoding="utf-8")

    def digest(rel: str) -> str:
        return hashlib.sha256(inputs[rel]).hexdigest()

    combined_04 = hashlib.sha256(
        "\n".join(sorted(f"{digest(r)}  {r}" for r in ("data/a.csv", "data/b.csv"))).encode()
    ).hexdigest()
    combined_01 = hashlib.sha256(f"{digest('data/c.yaml')}  data/c.yaml".encode()).hexdigest()

    summary, table = provenance.provenance_table(p)
    assert summary.columns.tolist() == ["artefact", "kind", "notebook", "inputs", "inputs_sha256"]
    assert summary.values.tolist() == [
        ["figures/durations.svg", "figure", "04_describe", 2, combined_04],  # PNG twin left out
        ["manuscript/tables/c.csv", "table", "01_read", 1, combined_01],
        ["manuscript/tables/lonely.md", "table", "04_describe", 2, combined_04],  # no CSV twin: kept
        ["manuscript/tables/t1.csv", "table", "04_describe", 2, combined_04],  # its .md shares this row
        ["manuscript/values/descriptives.json", "values", "04_describe", 2, combined_04],
    ]
    assert table.columns.tolist() == ["notebook", "input", "sha256"]
    assert table.values.tolist() == [
        ["01_read", "data/c.yaml", digest("data/c.yaml")],
        ["04_describe", "data/b.csv", digest("data/b.csv")],
        ["04_describe", "data/a.csv", digest("data/a.csv")],
    ]


def test_provenance_table_changes_when_an_input_changes(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("1\n", encoding="utf-8")
    (tmp_path / "build" / "provenance").mkdir(parents=True)
    (tmp_path / "build" / "provenance" / "x.json").write_text(
        json.dumps({"notebook": "x", "inputs": ["data/a.csv"], "outputs": ["manuscript/tables/x.csv"]}),
        encoding="utf-8",
    )
    before = provenance.provenance_table(Paths(tmp_path))[0]["inputs_sha256"].item()
    (tmp_path / "data" / "a.csv").write_text("2\n", encoding="utf-8")
    after = provenance.provenance_table(Paths(tmp_path))[0]["inputs_sha256"].item()
    assert before != after


def test_yaml_is_read_with_libyaml_and_gives_the_pure_python_parsers_values_and_lines() -> None:
    """load_yaml and compose_yaml use libyaml where PyYAML has it (the wheels do), and give what
    the pure-Python safe loader gives: the same values, the same nodes on the same lines."""
    import yaml

    from compendium.files import compose_yaml, load_yaml
    from compendium.paths import paths

    assert hasattr(yaml, "CSafeLoader"), "PyYAML without libyaml: every YAML read is about 15 times slower"
    text = paths().codebook.read_text(encoding="utf-8")
    assert load_yaml(text) == yaml.safe_load(text)

    def lines(node: yaml.Node) -> list[tuple[str, str, int]]:
        out = [(type(node).__name__, node.tag, node.start_mark.line)]
        if isinstance(node, yaml.ScalarNode):
            return [*out, (node.value, "", 0)]
        children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
        return out + [entry for child in children for entry in lines(child)]

    assert lines(compose_yaml(text)) == lines(yaml.compose(text, Loader=yaml.SafeLoader))
