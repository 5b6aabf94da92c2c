"""Loading the study's inputs from ``data/synthetic`` into tidy tables.

Loaders assume the data passed ``compendium validate`` (the pipeline runs it
first); they still fail with a readable message if a file is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import consent
from .errors import CompendiumError
from .files import load_yaml
from .paths import Paths, paths
from .provenance import record
from .schema import read_table, table_schema

__all__ = [
    "Study",
    "load_study",
    "load_participants",
    "load_coding",
    "load_codebook",
    "load_memos",
    "load_transcript",
    "SPEAKER_INTERVIEWER",
    "load_case_tables",
    "read_pseudonyms",
]

SPEAKER_INTERVIEWER = "Interviewer"


def _need(path: Path) -> Path:
    if not path.is_file():
        raise CompendiumError(
            f"{path}: file not found.",
            fix=f"restore it from git (`git checkout -- {path.name}`) "
            "or run the pipeline from the compendium's root folder.",
        )
    record("read", path)
    return path


def _read_table(name: str, path: Path, p: Paths) -> pd.DataFrame:
    """One table of the data package, typed by its schema in ``datapackage.json``."""
    return read_table(_need(path), table_schema(name, p))


def read_pseudonyms(p: Paths) -> dict[str, str]:
    """participant_id -> pseudonym, read leniently: empty if participants.csv cannot be read.

    For the checks that run before (or instead of) full validation: the speaker
    labels of the transcripts and the names the anonymisation gate lets through.
    """
    import csv
    import io

    try:
        rows = csv.DictReader(io.StringIO(p.participants.read_text(encoding="utf-8")))
        return {r["participant_id"]: r["pseudonym"] for r in rows if r.get("participant_id") and r.get("pseudonym")}
    except (OSError, UnicodeDecodeError, KeyError, csv.Error):
        return {}


def load_participants(p: Paths | None = None) -> pd.DataFrame:
    """The participants table, one row per clinician, typed by ``datapackage.json``."""
    p = p or paths()
    df = _read_table("participants", p.participants, p)
    return consent.redact_participants(
        consent.typed(df)
    )  # consent flags as booleans; undisclosable attributes withheld


def load_coding(p: Paths | None = None) -> pd.DataFrame:
    """The coding table, one row per coded segment, typed by ``datapackage.json``."""
    p = p or paths()
    return _read_table("coding", p.coding, p)


def load_memos(p: Paths | None = None) -> pd.DataFrame:
    """The memos, one row per dated memo (dates stay as written, ``YYYY-MM-DD``)."""
    p = p or paths()
    return _read_table("memos", p.memos, p)


def load_codebook(p: Paths | None = None) -> pd.DataFrame:
    """The codebook as a table: id, level, parent, codable, label, definition, include, exclude."""
    p = p or paths()
    doc = load_yaml(_need(p.codebook).read_text(encoding="utf-8"))
    df = pd.DataFrame(doc["themes"])
    df["parent"] = df["parent"].astype(object).where(df["parent"].notna(), None)
    return df


def load_transcript(participant_id: str, p: Paths | None = None) -> str:
    """One transcript as text (UTF-8, LF)."""
    p = p or paths()
    return _need(p.transcript(participant_id)).read_text(encoding="utf-8")


@dataclass
class Study:
    """Everything the analysis reads, loaded once."""

    participants: pd.DataFrame
    coding: pd.DataFrame
    codebook: pd.DataFrame
    memos: pd.DataFrame
    transcripts: dict[str, str]

    @property
    def pseudonyms(self) -> dict[str, str]:
        return dict(zip(self.participants["participant_id"], self.participants["pseudonym"]))


def load_study(p: Paths | None = None, transcripts_of: list[str] | None = None) -> Study:
    """Load participants, coding, codebook, memos and the transcripts (all, or only ``transcripts_of``).

    A case analysis reads only its own transcript, so its recorded inputs (and
    the Makefile's dependencies) are exactly what it uses.
    """
    p = p or paths()
    participants = load_participants(p)
    wanted = [pid for pid in participants["participant_id"] if transcripts_of is None or pid in transcripts_of]
    transcripts = {pid: load_transcript(pid, p) for pid in wanted}
    return consent.apply(
        Study(participants, load_coding(p), load_codebook(p), load_memos(p), transcripts)
    )  # text without consent to quotation withheld


def load_case_tables(participant_ids: list[str], p: Paths | None = None) -> pd.DataFrame:
    """The per-case tables written by the case notebook, stacked (the input of the cross-case step)."""
    p = p or paths()
    missing = [pid for pid in participant_ids if not p.case_table(pid).is_file()]
    if missing:
        raise CompendiumError(
            f"Per-case tables missing for {', '.join(missing)} in {p.case_tables}.",
            fix="run the case analyses first (`make analysis`), which executes the case notebook per participant.",
        )
    frames = [
        pd.read_csv(_need(p.case_table(pid)), dtype={"theme_id": str}, keep_default_na=False) for pid in participant_ids
    ]
    return pd.concat(frames, ignore_index=True)
