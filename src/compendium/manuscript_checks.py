"""Checks of the rendered manuscript: it holds only what the template put there.

Run on each staged format before any output is replaced: the HTML against an
allowlist of tags, attributes, links and images (:func:`check_html`), the DOCX
for its embedded media and external links (:func:`check_docx`), the JATS file
for well-formed XML with the parts a journal needs (:func:`check_jats`).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import CompendiumError

__all__ = ["OutputCheckError", "check_html", "check_docx", "check_jats", "HTML_TAGS", "HTML_ATTRS", "LINK_PREFIXES"]

HTML_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "footer",
    "main",
    "section",
    "nav",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "div",
    "span",
    "a",
    "em",
    "strong",
    "i",
    "b",
    "u",
    "sup",
    "sub",
    "small",
    "blockquote",
    "q",
    "cite",
    "code",
    "pre",
    "br",
    "hr",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "colgroup",
    "col",
    "caption",
    "figure",
    "figcaption",
    "img",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "abbr",
}
HTML_ATTRS = {
    "id",
    "class",
    "href",
    "src",
    "alt",
    "title",
    "lang",
    "xml:lang",
    "dir",
    "charset",
    "name",
    "content",
    "style",
    "role",
    "colspan",
    "rowspan",
    "start",
    "type",
    "width",
    "height",
    "aria-hidden",
    "aria-label",
    "data-cites",
    "data-entry-spacing",
    "data-line-spacing",
    "xmlns",
}
LINK_PREFIXES = ("#", "notebooks/", "https://doi.org/")
_SAFE_CSS = re.compile(r"^[\w\s:;.,%#'\"()-]*$")


class OutputCheckError(CompendiumError):
    """A rendered manuscript holds something the template did not put there."""


def check_html(path: Path, images: list[str]) -> None:
    """Allowlist check of the rendered HTML: known tags and attributes only, no event handlers,
    links only in-page, to the notebook pages or to DOIs, images only the build's own figures."""
    import lxml.html

    tree = lxml.html.fromstring(path.read_bytes())
    problems: list[str] = []
    seen_images: list[str] = []
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        tag = element.tag.lower()
        if tag not in HTML_TAGS:
            problems.append(f"element <{tag}>")
        for attr, value in element.attrib.items():
            name = attr.lower()
            if name.startswith("on") or name not in HTML_ATTRS:
                problems.append(f"attribute {attr}= on <{tag}>")
            elif name == "href" and not value.startswith(LINK_PREFIXES):
                problems.append(f"link to {value[:60]!r}")
            elif name == "src":
                seen_images.append(value)
                if value not in images:
                    problems.append(f"image {value[:60]!r}")
            elif name == "style" and (not _SAFE_CSS.match(value) or "url" in value.lower()):
                problems.append(f"inline style {value[:60]!r}")
        if tag == "meta" and element.get("http-equiv"):
            problems.append("a <meta http-equiv> element")
        if tag == "style" and re.search(r"url\s*\(|@import|expression\s*\(", element.text_content() or "", re.I):
            problems.append("a style sheet that loads a resource")
    if sorted(seen_images) != sorted(images):
        problems.append(f"{len(seen_images)} images where the template places {len(images)}")
    if problems:
        raise OutputCheckError(
            f"{path.name}: the rendered HTML holds what the template did not put there: "
            f"{'; '.join(sorted(set(problems))[:10])}.",
            fix="look for markup in the data (`make validate`) or in manuscript/template.md; no output was replaced",
        )


def check_docx(path: Path, figures: int) -> None:
    """The DOCX embeds exactly the build's figures and links only to DOIs and its own headings."""
    import zipfile

    with zipfile.ZipFile(path) as docx:
        media = [n for n in docx.namelist() if n.startswith("word/media/")]
        rels = "".join(docx.read(n).decode("utf-8") for n in docx.namelist() if n.endswith(".rels"))
    external = re.findall(r'Target="([^"]*)"\s+TargetMode="External"|TargetMode="External"\s+Target="([^"]*)"', rels)
    bad = [a or b for a, b in external if not (a or b).startswith(LINK_PREFIXES)]
    if len(media) != figures or bad:
        raise OutputCheckError(
            f"{path.name}: {len(media)} embedded media files (expected {figures}) and external targets {bad[:5]}.",
            fix="look for markup in the data (`make validate`); no output was replaced",
        )


def check_jats(path: Path) -> None:
    """The JATS file is well-formed XML with an article title, an abstract and a reference list."""
    from lxml import etree

    try:
        root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except etree.XMLSyntaxError as err:
        raise OutputCheckError(f"{path.name} is not well-formed XML: {err}") from None
    missing = [
        x
        for x in (
            "front/article-meta/title-group/article-title",
            "front/article-meta/abstract",
            "front/article-meta/kwd-group",
            "back/ref-list",
        )
        if root.find(x) is None
    ]
    if missing:
        raise OutputCheckError(
            f"{path.name}: missing {', '.join(missing)}.",
            fix="check manuscript/jats.lua and the Abstract and Keywords in manuscript/template.md",
        )
