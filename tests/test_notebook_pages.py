"""The executed notebooks' web pages: all rendered by one pandoc process (manuscript/notebook_pages.lua)."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lxml.html
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from compendium.paths import Paths, paths
from test_manuscript import external_loads

REPO = paths().root
PANDOC = str(Path(sys.prefix) / "bin" / "pandoc")
PAGES_LUA = REPO / "manuscript" / "notebook_pages.lua"
HOSTILE = '<script>alert("data")</script><img src=x onerror=alert(1)>'


def _render(folder: Path, *notebooks: Path) -> subprocess.CompletedProcess[str]:
    folder.mkdir(exist_ok=True)
    command = [PANDOC, "lua", str(PAGES_LUA), str(folder), *map(str, notebooks)]
    return subprocess.run(command, capture_output=True, text=True)


def test_a_page_is_what_pandoc_makes_of_that_notebook_alone(built_copy: Paths, tmp_path: Path) -> None:
    # One process for every page must not change a page: the same bytes as pandoc's own command line
    # (which picks one representation of each output as the script does) for a case and the cross-case step.
    for name in ("02_analyse_case_P03", "03_analyse_across_cases"):
        page = built_copy.output / "notebooks" / f"{name}.html"
        alone = tmp_path / f"{name}.html"
        notebook = built_copy.executed / f"{name}.ipynb"
        subprocess.run(
            [
                PANDOC,
                str(notebook),
                "-f",
                "ipynb",
                "-t",
                "html5",
                "-s",
                "--metadata",
                f"title={name}",
                "-o",
                str(alone),
            ],
            check=True,
        )
        assert page.read_bytes() == alone.read_bytes(), name


def _notebook(path: Path, png: bytes) -> Path:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# A page\n\nProse the compendium wrote."),
            new_code_cell(
                "table",
                outputs=[
                    new_output(
                        "execute_result",
                        data={
                            "text/html": "<table><tr><td>&lt;b&gt;kept&lt;/b&gt;</td></tr></table>",
                            "text/plain": "x",
                        },
                        execution_count=1,
                    )
                ],
            ),
            new_code_cell(
                "figure",
                outputs=[
                    new_output(
                        "display_data", data={"image/png": base64.b64encode(png).decode(), "text/plain": "<Figure>"}
                    )
                ],
            ),
            new_code_cell("print(quote)", outputs=[new_output("stream", name="stdout", text=HOSTILE + "\n")]),
            new_code_cell(
                "quote", outputs=[new_output("execute_result", data={"text/plain": HOSTILE}, execution_count=2)]
            ),
        ]
    )
    nbformat.write(nb, path)
    return path


def test_a_page_embeds_its_pictures_and_keeps_the_datas_text_as_text(tmp_path: Path) -> None:
    png = (REPO / "figures" / "recurrence_heatmap.png").read_bytes()
    source = _notebook(tmp_path / "hostile.ipynb", png)
    done = _render(tmp_path / "pages", source)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "pages" / "hostile.html"
    tree = lxml.html.fromstring(page.read_bytes())
    assert tree.findtext(".//title") == "hostile"
    # One representation per output: the table as HTML (its own escaping kept), the figure as a picture.
    assert [td.text for td in tree.iter("td")] == ["<b>kept</b>"]
    images = tree.xpath("//img/@src")
    assert images == ["data:image/png;base64," + base64.b64encode(png).decode()], "the figure is not embedded"
    assert "<Figure>" not in tree.text_content()
    # Printed and returned text from the data is shown as written, never run: no script, no img from it.
    assert tree.xpath("//script") == [] and len(tree.xpath("//img")) == 1
    assert tree.text_content().count(HOSTILE) == 2
    assert external_loads(page) == []
    assert not list((tmp_path / "pages").glob("*.tmp"))


def test_an_unreadable_notebook_stops_with_one_message_and_no_partial_page(tmp_path: Path) -> None:
    good = _notebook(tmp_path / "good.ipynb", b"\x89PNG\r\n\x1a\n")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    done = _render(tmp_path / "pages", good, broken)
    assert done.returncode == 1
    assert done.stderr.startswith(f"pages: {broken}: not readable as a notebook"), done.stderr
    assert "fix: delete it and run `make all` again" in done.stderr
    assert "traceback" not in done.stderr.lower()
    assert sorted(f.name for f in (tmp_path / "pages").iterdir()) == ["good.html"]  # the one before it is whole


def test_make_renders_again_only_the_pages_that_are_due(clone_built: Callable[[str], Paths], run_make) -> None:
    p = clone_built("pages")
    pages = p.output / "notebooks"
    kept = (pages / "02_analyse_case_P01.html").stat().st_mtime_ns
    old = (pages / "04_describe_sample.html").read_bytes()
    notebook = p.executed / "04_describe_sample.ipynb"
    notebook.write_bytes(notebook.read_bytes().replace(b"participants", b"clinicians"))  # executed anew
    changed = run_make(p.root, "all")
    assert changed.returncode == 0, changed.stdout[-3000:]
    assert f"pages: 1 notebook page(s) in {p.shown(pages)}" in changed.stdout
    assert b"clinicians" in (pages / "04_describe_sample.html").read_bytes() and b"clinicians" not in old
    (pages / "02_analyse_case_P05.html").unlink()  # deleted (by hand, or by the gate)
    deleted = run_make(p.root, "all")
    assert deleted.returncode == 0, deleted.stdout[-3000:]
    assert f"pages: 1 notebook page(s) in {p.shown(pages)}" in deleted.stdout
    assert "notebook:" not in changed.stdout + deleted.stdout and "manuscript: wrote" not in deleted.stdout
    assert (pages / "02_analyse_case_P05.html").is_file()
    assert (pages / "02_analyse_case_P01.html").stat().st_mtime_ns == kept
    assert not (p.build / "pages.due").exists()
    assert "Nothing to be done" in run_make(p.root, "all").stdout
