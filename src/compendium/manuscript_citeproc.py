"""The manuscript's document tree as pandoc reads it with ``--citeproc``, with citeproc's work kept.

Rendering the citations and the reference list in APA style is most of pandoc's reading
(about 0.3 s of 0.55). An edit to the data changes numbers, tables and quotes, not the
citations, so what citeproc rendered last time is kept in ``build/manuscript/citeproc.json``:
each citation as rendered, in document order, and the reference list.

It is kept under a key: every citation as pandoc read it (keys, prefixes, locators, the source
text), the reference-list placeholder, the document's metadata, the reading's arguments, and the
bytes of the CSL style, the bibliography and the filters that run after citeproc, with the pandoc
binary. When a later reading without citeproc gives the same key, its citations and reference
list are replaced by the kept ones. Otherwise pandoc reads with citeproc, as it always did.

An entry is kept only when it was checked: the reading without citeproc, with the kept parts put
in, equals pandoc's own reading with citeproc, node for node. And only for documents in which
citeproc's output depends on the citations alone: an in-text style (a note style moves citations
into footnotes), no citation in a footnote or in the metadata, one reference-list placeholder
(``::: {#refs}``). Anything else is read with citeproc every time. ``make clean`` deletes the
entry. tests/test_manuscript_citeproc.py compares both ways with pandoc's own reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .files import atomic_write
from .manuscript_typeset import pandoc, pandocs_started

__all__ = ["read"]

T = TypeVar("T")
_IN_TEXT = re.compile(rb"<style\b[^>]*\bclass=\"in-text\"")


def _parts(tree: dict) -> tuple[list[dict], list[dict]] | None:
    """The Cite nodes of ``tree``'s blocks in document order, and its reference-list Div
    (``#refs``), or None when citeproc's output may depend on more than the citations: a
    citation in a footnote or in the metadata, or not exactly one reference-list Div."""
    cites: list[dict] = []
    refs: list[dict] = []
    in_notes = 0

    def walk(node: Any, in_note: bool) -> None:
        nonlocal in_notes
        if isinstance(node, list):
            for item in node:
                walk(item, in_note)
        elif isinstance(node, dict):
            kind = node.get("t")
            if kind == "Cite":
                cites.append(node)
                in_notes += in_note
                return
            if kind == "Div" and node["c"][0][0] == "refs":
                refs.append(node)
            for value in node.values():
                walk(value, in_note or kind == "Note")

    walk(tree.get("meta", {}), True)  # a citation in the metadata counts as one in a note
    walk(tree["blocks"], False)
    if in_notes or len(refs) != 1:
        return None
    return cites, refs


def _spliced(tree: dict, cites: list[dict], refs: dict, meta: dict) -> dict:
    """``tree`` (changed in place) with its Cite nodes, in order, and its reference-list Div replaced."""
    found = iter(cites)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            for i, item in enumerate(node):
                node[i] = walk(item)
        elif isinstance(node, dict):
            kind = node.get("t")
            if kind == "Cite":
                return next(found)
            if kind == "Div" and node["c"][0][0] == "refs":
                return refs
            for key, value in node.items():
                if isinstance(value, (list, dict)):
                    node[key] = walk(value)
        return node

    walk(tree["blocks"])
    tree["meta"] = meta
    return tree


def _files_key(args: list[str], root: Path, files: list[Path]) -> str | None:
    """What the kept rendering depends on besides the document: pandoc, the arguments, the files'
    bytes (None when one cannot be read: pandoc then reads with citeproc and says what is wrong)."""
    digest = hashlib.sha256()
    try:
        binary = Path(pandoc()).resolve()
        stat = binary.stat()
        digest.update(json.dumps([str(binary), stat.st_size, stat.st_mtime_ns, args]).encode())
        for path in files:
            digest.update(hashlib.sha256((root / path).read_bytes()).digest())
    except OSError:
        return None
    return digest.hexdigest()


def _key(files_key: str, tree: dict, parts: tuple[list[dict], list[dict]]) -> str:
    cites, refs = parts
    document = json.dumps([cites, refs, tree["meta"]], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(f"{files_key}\n{document}".encode()).hexdigest()


def read(
    source: str,
    before: list[str],
    citing: list[str],
    after: list[str],
    target: Path,
    root: Path,
    cache: Path,
    meanwhile: Callable[[], T],
) -> tuple[dict, T]:
    """Read ``source`` as ``pandoc source *before *citing *after -t json`` would, in ``root``; write
    the tree to ``target`` and return it, with what ``meanwhile()`` returned (called while pandoc reads).

    ``citing`` holds ``--citeproc`` and the arguments that give citeproc its style and bibliography
    (``--csl``, ``--bibliography``, also read as metadata without it); ``after``, the filters that
    run after citeproc. Pandoc's warnings and errors stop the build as in :func:`run_pandocs`.
    """
    plain_citing = [arg for arg in citing if arg != "--citeproc"]
    pairs = list(zip(citing + after, (citing + after)[1:]))
    files = [Path(value) for flag, value in pairs if flag in ("--csl", "--bibliography", "--lua-filter")]
    csl = next((root / value for flag, value in pairs if flag == "--csl"), None)
    files_key = (_files_key([*before, *citing, *after], root, files) if csl is not None else None) or ""
    # A note style moves citations into footnotes: citeproc needs the whole document.
    eligible = bool(files_key) and csl is not None and _IN_TEXT.search(csl.read_bytes()[:4096]) is not None
    raw_path = target.with_name(target.stem + "_without_citeproc.json")
    rel = lambda path: os.path.relpath(path, root)  # noqa: E731
    full_run = [source, *before, *citing, *after, "-t", "json", "-o", rel(target)]
    raw_run = [source, *before, *plain_citing, "-t", "json", "-o", rel(raw_path)]

    kept: dict = {}
    if eligible:
        try:
            kept = json.loads(cache.read_text(encoding="utf-8"))
            if not isinstance(kept, dict) or kept.get("files_key") != files_key:
                kept = {}
        except (OSError, ValueError):
            kept = {}

    if kept:  # probably the same citations: read without citeproc, then compare
        with pandocs_started([raw_run], root):
            extra = meanwhile()
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
        parts = _parts(raw)
        if parts is not None and _key(files_key, raw, parts) == kept.get("key"):
            try:
                tree = _spliced(raw, kept["cites"], kept["refs"], kept["meta"])
            except (KeyError, TypeError, IndexError, StopIteration):  # a damaged record: read with citeproc
                tree = {}
                raw = json.loads(raw_path.read_text(encoding="utf-8"))
            if tree:
                text = json.dumps(tree, ensure_ascii=False)
                atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"), recorded=False)
                return tree, extra
        with pandocs_started([full_run], root):
            pass
    else:
        with pandocs_started([full_run, raw_run] if eligible else [full_run], root):
            extra = meanwhile()
        raw = json.loads(raw_path.read_text(encoding="utf-8")) if eligible else {}
    tree = json.loads(target.read_text(encoding="utf-8"))
    if eligible:
        _keep(raw, tree, files_key, cache)
    return tree, extra


def _keep(raw: dict, tree: dict, files_key: str, cache: Path) -> None:
    """Keep what citeproc rendered in ``tree`` if putting it into ``raw`` (used up) gives ``tree`` exactly."""
    raw_parts, parts = _parts(raw), _parts(tree)
    if raw_parts is not None and parts is not None and len(raw_parts[0]) == len(parts[0]):
        key = _key(files_key, raw, raw_parts)  # before ``raw`` gets the rendering
        cites, (refs,) = parts
        if _spliced(raw, cites, refs, tree["meta"]) == tree:
            entry = {"files_key": files_key, "key": key, "cites": cites, "refs": refs, "meta": tree["meta"]}
            text = json.dumps(entry, ensure_ascii=False)
            atomic_write(cache, lambda tmp: tmp.write_text(text, encoding="utf-8"), recorded=False)
            return
    cache.unlink(missing_ok=True)
