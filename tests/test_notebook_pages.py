"""The executed notebooks' web pages: all rendered by one pandoc process (manuscript/notebook_pages.lua)."""

from __future__ import annotations

import base64
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lxml.html
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from compendium.paths import Paths, paths
from test_manuscript import external_loads

REPO = paths().root
PANDOC = str(Path(sys.prefix) / "bin" / "pandoc")
PAGES_LUA = REPO / "manuscript" / "notebook_pages.lua"
HOSTILE = '<script>alert("data")</script><img src=x onerror=alert(1)>'


def _render(folder: Path, *notebooks: Path) -> subprocess.CompletedProcess[str]:
    """Run the renderer as the Makefile does: the notebooks' paths on standard input, a line each."""
    folder.mkdir(exist_ok=True)
    listed = "".join(f"{nb}\n" for nb in notebooks)
    return subprocess.run([PANDOC, "lua", str(PAGES_LUA), str(folder)], input=listed, capture_output=True, text=True)


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


PICTURES = {"image/png", "image/svg+xml"}


def test_the_pipeline_notebooks_show_only_text_tables_and_pictures(built_copy: Paths) -> None:
    # A page passes a notebook's HTML output through as HTML and renders a Markdown output as
    # Markdown: a cell that displayed text from the data that way would make it markup. The pipeline's
    # outputs are printed text, plain results, tables pandas rendered (it escapes every cell) and pictures.
    for executed in sorted(built_copy.executed.glob("*.ipynb")):
        cells = nbformat.read(executed, as_version=4).cells
        for n, cell in enumerate(cells, start=1):
            for output in cell.get("outputs", []):
                where = f"{executed.name}, cell {n}"
                if output.output_type == "stream":
                    assert output.name == "stdout", where
                    continue
                kinds = set(output.get("data", {}))
                assert output.output_type in ("execute_result", "display_data"), where
                assert "text/plain" in kinds and kinds <= {"text/plain", "text/html"} | PICTURES, (where, kinds)
                if "text/html" in kinds:
                    html = output.data["text/html"]
                    assert (
                        html.startswith("<div>\n<style scoped>") and '<table border="1" class="dataframe">' in html
                    ), where


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


@pytest.mark.heavy  # runs pandoc (through _render, which the hint search cannot see)
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


@pytest.mark.heavy  # runs pandoc (through _render, which the hint search cannot see)
def test_a_study_of_hundreds_of_cases_gets_every_page_from_one_process(tmp_path: Path) -> None:
    # pandoc 3.9's `pandoc lua` crashed when given more than about 80 arguments: the 80-participant
    # build of make bench failed on it, which is why the list comes on standard input.
    first = _notebook(tmp_path / "02_analyse_case_P001.ipynb", b"\x89PNG\r\n\x1a\n")
    notebooks = [first] + [tmp_path / f"02_analyse_case_P{n:03d}.ipynb" for n in range(2, 301)]
    for nb in notebooks[1:]:
        shutil.copyfile(first, nb)
    done = _render(tmp_path / "pages", *notebooks)
    assert done.returncode == 0, done.stderr
    assert sorted(f.stem for f in (tmp_path / "pages").iterdir()) == sorted(nb.stem for nb in notebooks)


@pytest.mark.heavy  # runs pandoc (through _render, which the hint search cannot see)
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
    dry = run_make(p.root, "-n", "all")  # make -n only says what it would do: nothing is noted as due
    assert dry.returncode == 0 and "pandoc lua" in dry.stdout, dry.stdout[-3000:]
    assert not (p.build / "pages.due").exists() and not (pages / "02_analyse_case_P05.html").exists()
    deleted = run_make(p.root, "all")
    assert deleted.returncode == 0, deleted.stdout[-3000:]
    assert f"pages: 1 notebook page(s) in {p.shown(pages)}" in deleted.stdout
    assert "notebook:" not in changed.stdout + deleted.stdout and "manuscript: wrote" not in deleted.stdout
    assert (pages / "02_analyse_case_P05.html").is_file()
    assert (pages / "02_analyse_case_P01.html").stat().st_mtime_ns == kept
    assert not (p.build / "pages.due").exists()
    assert "Nothing to be done" in run_make(p.root, "all").stdout


def test_the_makefile_renders_a_long_list_of_due_pages(clone_built: Callable[[str], Paths], run_make) -> None:
    # The recipe as make runs it, with more pages due than `pandoc lua` takes as arguments.
    p = clone_built("pages-many")
    case = p.executed / "02_analyse_case_P01.ipynb"
    extra = [p.executed / f"02_analyse_case_X{n:03d}.ipynb" for n in range(120)]
    for nb in extra:
        shutil.copyfile(case, nb)
    (p.build / "pages.due").write_text("".join(f"{p.shown(nb)}\n" for nb in extra), encoding="utf-8")
    (p.build / "pages.done").unlink()
    done = run_make(p.root, "all")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "pages: 120 notebook page(s)" in done.stdout
    assert all((p.output / "notebooks" / f"{nb.stem}.html").is_file() for nb in extra)
