"""The manuscript's reading with citeproc's rendering kept (src/compendium/manuscript_citeproc.py).

Every tree it gives is compared, node for node, with pandoc's own reading with ``--citeproc``:
the first reading (nothing kept), a later one whose citations are the same (citeproc kept), and
each change that must make citeproc run again.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from compendium import manuscript_citeproc
from compendium.manuscript_typeset import csl_path, pandoc
from compendium.paths import Paths

ROOT = Path(__file__).resolve().parents[1]

DOCUMENT = """---
title: A test
lang: en-AU
---

Self-compassion has been studied widely [@neff2003a; @neff2003b], and @smith2009 describe the method.

| a | b |
|:--|:--|
| x | y |

# References

::: {#refs}
:::
"""


def _keys(bib: str) -> list[str]:
    import re

    return re.findall(r"^@\w+\{([^,]+),", bib, flags=re.M)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder with the style, the compendium's bibliography and filters, and a document citing
    three of its entries."""
    shutil.copy(csl_path(), tmp_path / "apa.csl")
    shutil.copy(ROOT / "manuscript" / "references.bib", tmp_path / "references.bib")
    for name in ("guard.lua", "tablenote.lua", "apa.lua"):
        shutil.copy(ROOT / "manuscript" / name, tmp_path / name)
    keys = _keys((tmp_path / "references.bib").read_text(encoding="utf-8"))
    text = DOCUMENT.replace("neff2003a", keys[0]).replace("neff2003b", keys[1]).replace("smith2009", keys[2])
    (tmp_path / "doc.md").write_text(text, encoding="utf-8")
    return tmp_path


BEFORE = ["-f", "markdown", "--sandbox", "--lua-filter", "guard.lua", "--lua-filter", "tablenote.lua"]
CITING = ["--citeproc", "--csl", "apa.csl", "--bibliography", "references.bib", "-M", "link-citations=true"]
AFTER = ["--lua-filter", "apa.lua"]


def _pandocs_own(folder: Path) -> dict:
    out = subprocess.run(
        [pandoc(), "doc.md", *BEFORE, *CITING, *AFTER, "-t", "json"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _counted_read(root: Path, source: str, parts: tuple, target: Path, cache: Path, runs: list | None) -> dict:
    """The tree from manuscript_citeproc.read, checked against the file it wrote; ``runs``
    collects the pandoc conversions it started."""
    original = manuscript_citeproc.pandocs_started

    def counted(conversions: list[list[str]], cwd: Path):
        if runs is not None:
            runs.extend(conversions)
        return original(conversions, cwd)

    manuscript_citeproc.pandocs_started = counted  # type: ignore[assignment]
    try:
        tree, extra = manuscript_citeproc.read(source, *parts, target, root, cache, lambda: "meanwhile")
    finally:
        manuscript_citeproc.pandocs_started = original  # type: ignore[assignment]
    assert extra == "meanwhile"
    assert json.loads(target.read_text(encoding="utf-8")) == tree
    return tree


def _read(folder: Path, runs: list[list[str]] | None = None) -> dict:
    return _counted_read(folder, "doc.md", (BEFORE, CITING, AFTER), folder / "doc.json", folder / "citeproc.json", runs)


def _with_citeproc(runs: list[list[str]]) -> int:
    return sum("--citeproc" in run for run in runs)


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "doc.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.mark.heavy  # runs pandoc, through the manuscript's own functions (which the hint search cannot see)
def test_the_same_citations_are_not_rendered_again_and_the_tree_is_pandocs_own(folder: Path) -> None:
    first: list[list[str]] = []
    assert _read(folder, first) == _pandocs_own(folder)
    assert _with_citeproc(first) == 1 and (folder / "citeproc.json").is_file()

    _edit(folder, "studied widely", "studied, and measured, widely")
    again: list[list[str]] = []
    tree = _read(folder, again)
    assert tree == _pandocs_own(folder)
    assert len(again) == 1 and _with_citeproc(again) == 0  # one reading, without citeproc
    assert "measured," in json.dumps(tree)
    rendered = json.dumps(tree)
    assert "ref-" in rendered and "csl-entry" in rendered  # the reference list is there


@pytest.mark.heavy  # runs pandoc, through the manuscript's own functions (which the hint search cannot see)
@pytest.mark.parametrize(
    "change",
    [
        "a locator",
        "another citation",
        "a citation removed",
        "the bibliography",
        "the style",
        "the filter after citeproc",
    ],
)
def test_any_change_to_what_citeproc_renders_makes_it_run_again(folder: Path, change: str) -> None:
    before = _read(folder)
    keys = _keys((folder / "references.bib").read_text(encoding="utf-8"))
    if change == "a locator":
        _edit(folder, f"[@{keys[0]};", f"[@{keys[0]}, p. 12;")
    elif change == "another citation":
        _edit(folder, "describe the method.", f"describe the method [@{keys[3]}].")
    elif change == "a citation removed":
        _edit(folder, f"; @{keys[1]}]", "]")
    elif change == "the bibliography":
        bib = (folder / "references.bib").read_text(encoding="utf-8")
        (folder / "references.bib").write_text(bib.replace("title = {", "title = {Changed ", 1), encoding="utf-8")
    elif change == "the style":
        csl = (folder / "apa.csl").read_text(encoding="utf-8")
        (folder / "apa.csl").write_text(csl.replace('delimiter=", "', 'delimiter=" / "', 1), encoding="utf-8")
    else:
        (folder / "apa.lua").write_text(
            (folder / "apa.lua")
            .read_text(encoding="utf-8")
            .replace("  return cite\n", '  cite.content:insert(pandoc.Str("!"))\n  return cite\n'),
            encoding="utf-8",
        )
    runs: list[list[str]] = []
    tree = _read(folder, runs)
    assert _with_citeproc(runs) == 1
    assert tree == _pandocs_own(folder) != before
    # and the new rendering is the one kept next
    again: list[list[str]] = []
    assert _read(folder, again) == tree and _with_citeproc(again) == 0


NOTE_STYLE = """<?xml version="1.0" encoding="utf-8"?>
<style xmlns="http://purl.org/net/xbiblio/csl" class="note" version="1.0">
  <info><title>A note style</title><id>note</id><updated>2024-01-01T00:00:00+00:00</updated></info>
  <citation><layout suffix="." delimiter="; "><text variable="title"/></layout></citation>
  <bibliography><layout><text variable="title"/></layout></bibliography>
</style>
"""


@pytest.mark.heavy  # runs pandoc, through the manuscript's own functions (which the hint search cannot see)
@pytest.mark.parametrize(
    "case", ["note style", "citation in a footnote", "no reference-list div", "broken record", "damaged record"]
)
def test_where_citeproc_may_need_the_whole_document_it_reads_it_every_time(folder: Path, case: str) -> None:
    if case == "note style":
        (folder / "apa.csl").write_text(NOTE_STYLE, encoding="utf-8")
    elif case == "citation in a footnote":
        keys = _keys((folder / "references.bib").read_text(encoding="utf-8"))
        _edit(folder, "describe the method.", f"describe the method.^[As in @{keys[4]}.]")
    elif case == "no reference-list div":
        _edit(folder, "::: {#refs}\n:::\n", "")
    for attempt in range(2):
        if case == "broken record" and attempt == 1:
            (folder / "citeproc.json").write_text('{"files_key": "", "cites": [', encoding="utf-8")
        if case == "damaged record" and attempt == 1:  # the right keys, but not the citations they promise
            record = json.loads((folder / "citeproc.json").read_text(encoding="utf-8"))
            (folder / "citeproc.json").write_text(json.dumps({**record, "cites": []}), encoding="utf-8")
        runs: list[list[str]] = []
        assert _read(folder, runs) == _pandocs_own(folder)
        assert _with_citeproc(runs) == 1
        if attempt == 0 and case != "damaged record":
            _edit(folder, "studied", "examined")  # the same citations, other text
    if case.endswith("record"):
        assert _read(folder) == _pandocs_own(folder)  # and a sound record is kept again
    else:
        assert not (folder / "citeproc.json").exists()


def test_a_missing_bibliography_is_pandocs_error_not_a_traceback(folder: Path) -> None:
    from compendium.errors import CompendiumError

    _read(folder)
    (folder / "references.bib").unlink()
    with pytest.raises(CompendiumError, match="pandoc failed"):
        _read(folder)


def test_the_built_manuscript_keeps_its_citations_and_reads_as_pandoc_does(built_copy: Paths, tmp_path: Path) -> None:
    """The real manuscript: its citations are the kind that can be kept, and the kept reading
    of the built Markdown is pandoc's own."""
    from compendium.manuscript import _reading_parts

    root = built_copy.root
    work = built_copy.build / "manuscript"
    before, citing, after = _reading_parts(built_copy, work / "apa.csl")
    source = "build/manuscript/manuscript.md"
    own = subprocess.run(
        [pandoc(), source, *before, *citing, *after, "-t", "json"], cwd=root, capture_output=True, text=True, check=True
    )
    cache = tmp_path / "citeproc.json"
    for expected_runs in (2, 1):  # nothing kept: with and without citeproc side by side; then one reading
        runs: list[list[str]] = []
        tree = _counted_read(root, source, (before, citing, after), tmp_path / "tree.json", cache, runs)
        assert tree == json.loads(own.stdout)
        assert len(runs) == expected_runs, runs
        assert cache.is_file(), "the manuscript's citations can no longer be kept (see manuscript_citeproc)"
