"""``compendium generate --like STUDY OUT``: a synthetic twin of a (restricted) study.

The twin keeps what a paper publishes and nothing it does not:

* the same participants (ids), attributes, durations and consent-free flags,
  so N, age bands, professions, durations' range and mean are those of the
  study (per-person attributes without ``consent_attributes`` are swapped
  among the participants who withheld them, keeping every count);
* the same codebook, and the same number of coded segments per participant
  and theme, so who contributes to which theme (and how much) is unchanged;
* new pseudonyms, and text written here from a small fixed vocabulary: no
  sentence, note or memo of the study is copied (seeded, so the same study and
  seed give the same bytes).

The result is a data folder declared ``synthetic`` that passes ``validate``; an
author can publish a compendium of their study on it, as this one is published.
"""

from __future__ import annotations

import json
import random
from pathlib import Path


from ..errors import CompendiumError
from ..files import csv_text, load_yaml, read_csv_rows, write_text
from ..paths import Paths
from .names import MEN, WOMEN

__all__ = ["generate_like", "aggregates", "MARKER"]

MARKER = "twin_study.json"
_OPENERS = ("I think", "For me", "Mostly", "In my work", "Often", "When it goes well", "Honestly", "Over time")
_WORDS = (
    "the client",
    "a young person",
    "their family",
    "the session",
    "some kindness",
    "a small step",
    "the pressure",
    "a pattern",
    "their story",
    "a feeling",
    "the care",
    "some space",
    "the work",
    "a routine",
    "their own needs",
    "the relationship",
    "a habit",
    "the week",
    "their worry",
    "a choice",
)
_VERBS = ("notices", "softens", "carries", "brings up", "changes", "holds", "names", "shapes", "eases", "tests")
_PROMPTS = (
    "Could you say more about that?",
    "What does that look like in a session?",
    "How did that come about?",
    "What happened next?",
    "How do you make sense of that?",
)


def _sentence(rng: random.Random, words: int) -> str:
    """Plain synthetic talk of about ``words`` words (lower case after the opener: no name-like words)."""
    parts: list[str] = []
    while sum(len(x.split()) for x in parts) < words:
        parts.append(f"{rng.choice(_OPENERS)} {rng.choice(_WORDS)} {rng.choice(_VERBS)} {rng.choice(_WORDS)}.")
    return " ".join(parts)


def _source(study: Path | str) -> Paths:
    p = Paths.__new__(Paths)
    base = Paths(Path(study).resolve().parent)  # layout of a data folder; only the input names are used
    for name in ("participants", "coding", "memos", "codebook", "datapackage", "transcripts", "allowlist"):
        setattr(p, name, Path(study).resolve() / getattr(base, name).relative_to(base.data))
    p.data = Path(study).resolve()
    return p


def generate_like(study: Path | str, out: Path | str, seed: int = 2022) -> Path:
    """Write the synthetic twin of the data folder ``study`` into the new data folder ``out``."""
    src = _source(study)
    out = Path(out).resolve()
    if not src.participants.is_file() or not src.coding.is_file():
        raise CompendiumError(
            f"{src.data}: not a study folder (participants.csv and coding.csv expected).",
            fix="give the folder that holds participants.csv, coding.csv and transcripts/",
        )
    if out == src.data or out.is_relative_to(src.data) or src.data.is_relative_to(out):
        raise CompendiumError(
            f"generate --like: {out} overlaps the study folder {src.data}.", fix="write the twin to a new folder"
        )
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise CompendiumError(
            f"generate --like: {out} is not empty and was not written by --like (no {MARKER}).",
            fix="choose a new or empty folder",
        )
    rng = random.Random(seed)
    pcols, participants = read_csv_rows(src.participants)
    ccols, coding = read_csv_rows(src.coding)
    mcols, memos = read_csv_rows(src.memos)
    # new pseudonyms, by gender, none of the study's
    taken = {r["pseudonym"] for r in participants}
    pools = {"Man": [n for n in MEN if n not in taken], "": [n for n in WOMEN if n not in taken]}
    for pool in pools.values():
        rng.shuffle(pool)
    names: dict[str, str] = {}
    for row in participants:
        pool = pools["Man"] if row.get("gender") == "Man" else pools[""]
        if not pool:
            raise CompendiumError("generate --like: more participants than the twin has pseudonyms for.")
        names[row["participant_id"]] = pool.pop()
    withheld = [r for r in participants if r.get("consent_attributes", "true").lower() == "false"]
    twin_rows = []
    for row in participants:
        new = dict(row, pseudonym=names[row["participant_id"]])
        for flag in ("consent_quotes", "consent_archive", "consent_attributes"):
            if flag in new:
                new[flag] = "true"
        twin_rows.append(new)
    if len(withheld) > 1:  # attributes nobody may see per person: permuted among those who withheld them
        from ..consent import ATTRIBUTES

        order = [r["participant_id"] for r in withheld]
        shuffled = order[1:] + order[:1]
        values = {r["participant_id"]: {c: r[c] for c in ATTRIBUTES if c in r and c != "gender"} for r in withheld}
        for row in twin_rows:
            if row["participant_id"] in order:
                row.update(values[shuffled[order.index(row["participant_id"])]])
    # transcripts: per participant, one exchange per coded segment (same theme), plus uncoded talk
    by_pid: dict[str, list[dict[str, str]]] = {}
    for row in coding:
        by_pid.setdefault(row["participant_id"], []).append(row)
    transcripts: dict[str, str] = {}
    new_coding: list[dict[str, str]] = []
    for row in participants:
        pid, name = row["participant_id"], names[row["participant_id"]]
        lines = ["Interviewer: Thank you for joining me today. Shall we begin?", f"{name}: Yes, that sounds good."]
        text = "\n".join(lines) + "\n"
        for seg in sorted(by_pid.get(pid, []), key=lambda r: int(r["start"])):
            length = len(seg["excerpt"].split())
            excerpt = _sentence(rng, max(15, min(80, length)))
            text += f"Interviewer: {rng.choice(_PROMPTS)}\n{name}: "
            start = len(text)
            text += excerpt
            end = len(text)
            text += f" {_sentence(rng, 6)}\n"
            new_coding.append(
                dict(
                    seg,
                    start=str(start),
                    end=str(end),
                    excerpt=excerpt,
                    **{
                        c: f"Synthetic twin note ({c.replace('_', ' ')}) for theme {seg['theme_id']}."
                        for c in ccols
                        if c.startswith("note_")
                    },
                    experiential_statement=f"Twin statement for theme {seg['theme_id']}",
                )
            )
        text += f"Interviewer: Thank you, that is everything from me.\n{name}: Thank you.\n"
        transcripts[pid] = text
    twin_memos = [
        dict(m, text=f"Synthetic twin memo ({m.get('kind', 'memo')}); the study's memo is not copied.") for m in memos
    ]
    package = json.loads(src.datapackage.read_text(encoding="utf-8"))
    package["compendium"] = {"kind": "synthetic", "note": "synthetic twin written by compendium generate --like"}
    package["name"] = str(package.get("name", "study")).replace("-synthetic", "") + "-twin"
    package["description"] = (
        "Synthetic twin: the structure and published aggregates of a study, with text written "
        "by compendium generate --like. No interview text is included."
    )
    write_text(out / MARKER, json.dumps({"seed": seed, "participants": len(participants)}, indent=2) + "\n")
    for pid, text in transcripts.items():
        write_text(out / "transcripts" / f"{pid}.txt", text)
    write_text(out / "participants.csv", csv_text(pcols, twin_rows))
    write_text(out / "coding.csv", csv_text(ccols, new_coding))
    write_text(out / "memos.csv", csv_text(mcols, twin_memos))
    write_text(out / "datapackage.json", json.dumps(package, indent=2, ensure_ascii=False) + "\n")
    write_text(out / "codebook.yaml", src.codebook.read_text(encoding="utf-8"))
    if src.allowlist.is_file():
        write_text(out / "anonymisation_allowlist.yaml", src.allowlist.read_text(encoding="utf-8"))
    write_text(
        out / "README.md",
        "# Synthetic twin\n\nWritten by `compendium generate --like`: the participants, "
        "attributes, durations, codebook and the number of coded segments per participant and theme of a "
        "study, with new pseudonyms and newly generated text. No sentence of the study is included.\n",
    )
    return out


def aggregates(data: Path | str) -> dict:
    """The published aggregates of a data folder: N, age bands, professions, themes, who contributes, durations."""
    src = _source(data)
    _, participants = read_csv_rows(src.participants)
    _, coding = read_csv_rows(src.coding)
    themes = [t["id"] for t in load_yaml(src.codebook.read_text(encoding="utf-8"))["themes"]]
    durations = [int(r["duration_min"]) for r in participants]

    def count(col: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in participants:
            out[r[col]] = out.get(r[col], 0) + 1
        return dict(sorted(out.items()))

    contributes: dict[str, list[str]] = {}
    for r in coding:
        contributes.setdefault(r["theme_id"], [])
        if r["participant_id"] not in contributes[r["theme_id"]]:
            contributes[r["theme_id"]].append(r["participant_id"])
    segments: dict[str, int] = {}
    for r in coding:
        key = f"{r['participant_id']}/{r['theme_id']}"
        segments[key] = segments.get(key, 0) + 1
    return {
        "n": len(participants),
        "age_band": count("age_band"),
        "gender": count("gender"),
        "profession_group": count("profession_group"),
        "qualification": count("qualification"),
        "themes": themes,
        "contributes": {k: sorted(v) for k, v in sorted(contributes.items())},
        "segments": dict(sorted(segments.items())),
        "duration": {"min": min(durations), "max": max(durations), "mean": round(sum(durations) / len(durations), 2)},
    }
