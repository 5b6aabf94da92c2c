"""A seeded generator of larger synthetic studies built from the hand-written eight.

``generate_study(80, "/tmp/study80")`` writes a complete compendium root (data,
notebooks, manuscript template) whose data pass ``validate`` and the
anonymisation gate, so the pipeline runs on it with ``COMPENDIUM_ROOT``. It
feeds the scale benchmark and gives a teacher a fresh dataset for students. The
canonical dataset stays the hand-written eight in ``data/synthetic``.

How a generated participant is made:

* a source participant is drawn (sources are dealt out in shuffled rounds, so
  with ``n = 8`` each source is used once);
* the transcript keeps the source's opening and closing exchanges; each middle
  exchange (an interviewer turn with the answer that follows) is kept or
  dropped at random, coded exchanges more often than uncoded ones; up to two
  coded exchanges from another source of the same gender are spliced in;
* coded turns are kept word for word, the speaker label becomes the new
  pseudonym, and every coding row is re-derived with offsets into the NEW
  transcript (``transcript[start:end] == excerpt`` by construction);
* attributes the transcript speaks to (gender, profession, qualification,
  frameworks, years with the population, interview mode) come from the source;
  the others are sampled from the allowed values in ``datapackage.json``,
  weighted by how often the hand-written eight use them;
* the source's memos follow the participant, renamed and re-dated.

Everything random comes from ``random.Random`` seeded with the seed (one
stream per participant), and nothing depends on the clock or on hash order, so
the same ``n`` and seed give byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..data import SPEAKER_INTERVIEWER
from ..errors import CompendiumError
from ..files import csv_text, write_bytes, write_json, write_text
from ..paths import Paths, paths
from ..transcripts import line_bounds, line_of
from .names import pseudonyms

__all__ = ["generate_study", "MARKER", "MAX_PARTICIPANTS"]

MARKER = "generated_study.json"  # written first into every output folder; lets a re-run overwrite it
MAX_PARTICIPANTS = 9999  # the schema's id pattern P[0-9]{2,4}
MAX_MEMOS = 9999  # memo ids M[0-9]{2,4}: later participants get no memos of their own beyond this

# Chances used when recombining a transcript.
KEEP_CODED = 0.85  # a coded middle exchange stays
KEEP_UNCODED = 0.7  # an uncoded middle exchange stays
BORROWED = (0, 0, 1, 1, 2)  # coded exchanges spliced in from another source of the same gender
FRAME = 2  # opening and closing exchanges kept in place
DURATION = (45, 75)  # minutes, inclusive
KEPT = 0.86  # typical share of a source transcript's text that a recombined one keeps
# Attributes the transcript itself speaks to: taken from the source participant.
INHERITED = ("gender", "qualification", "profession_group", "frameworks", "years_with_population", "interview_mode")
# Attributes sampled from datapackage.json's allowed values.
SAMPLED = (
    "age_band",
    "background",
    "parent_mental_illness",
    "own_mental_health_challenges",
    "member_check",
    "voucher_donated",
)
EDITED = "transcript edited"  # member_check value that goes with a removal marker in the transcript
REMOVAL = re.compile(r"^\[.*member check.*\]$", re.IGNORECASE)
COUNT_WORDS = "zero one two three four five six seven eight nine ten eleven twelve".split()


@dataclass(frozen=True)
class _Segment:
    start: int  # offsets into the turn's text (after "Label: ")
    end: int
    row: dict[str, str]


@dataclass(frozen=True)
class _Turn:
    interviewer: bool
    text: str
    segments: tuple[_Segment, ...]


@dataclass(frozen=True)
class _Block:
    """One exchange: an interviewer turn and the participant's answer (or the opening lines)."""

    source: str  # participant id of the source
    turns: tuple[_Turn, ...]

    @property
    def coded(self) -> bool:
        return any(t.segments for t in self.turns)

    @property
    def removal(self) -> bool:
        return any(not t.interviewer and REMOVAL.match(t.text) for t in self.turns)


@dataclass
class _Source:
    pid: str
    row: dict[str, str]
    blocks: list[_Block]
    memos: list[dict[str, str]]
    chars: int
    rename: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.rename = re.compile(rf"\b{re.escape(self.row['pseudonym'])}\b")

    @property
    def middle(self) -> list[_Block]:
        return self.blocks[FRAME:-FRAME] if len(self.blocks) > 2 * FRAME else []


@dataclass
class _Corpus:
    """The hand-written study, parsed once."""

    participant_columns: list[str]
    coding_columns: list[str]
    memo_columns: list[str]
    sources: dict[str, _Source]
    general_memos: list[dict[str, str]]  # memos about no single participant (cross-case, team)
    enums: dict[str, list[str]]
    digest: str


# ---------------------------------------------------------------- reading the source


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    if not path.is_file():
        raise CompendiumError(
            f"{path}: file not found.",
            fix="generate from a compendium root whose "
            "data/synthetic is complete (run `python -m compendium validate` there).",
        )
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _parse_transcript(pid: str, pseudonym: str, text: str, rows: list[dict[str, str]], name: str) -> list[_Block]:
    """Split a transcript into exchanges and attach each coded segment to its turn."""
    by_line: dict[int, list[dict[str, str]]] = {}
    bounds = line_bounds(text)
    lines = [text[a:b] for a, b in bounds]
    for row in rows:
        start, end = int(row["start"]), int(row["end"])
        number = line_of(text, start) - 1
        if number >= len(lines) or text[start:end] != row["excerpt"] or end > bounds[number][1]:
            raise CompendiumError(
                f"{name}: segment {row['segment_id']} does not lie inside one speaker turn of {pid}.txt, or its "
                "excerpt does not match the transcript.",
                fix="run `python -m compendium validate` on the "
                "source and correct the span; the generator needs every coded segment inside one turn.",
            )
        by_line.setdefault(number, []).append(row)
    blocks: list[list[_Turn]] = []
    for number, line in enumerate(lines):
        label, sep, body = line.partition(": ")
        if not sep or label not in (SPEAKER_INTERVIEWER, pseudonym):
            raise CompendiumError(
                f"{pid}.txt, line {number + 1}: speaker label {label!r} is neither {SPEAKER_INTERVIEWER!r} nor the "
                f"pseudonym {pseudonym!r}.",
                fix="run `python -m compendium validate` on the source first.",
            )
        offset = bounds[number][0] + len(label) + 2
        segments = []
        for row in by_line.get(number, []):
            start, end = int(row["start"]) - offset, int(row["end"]) - offset
            if start < 0:
                raise CompendiumError(
                    f"{name}: segment {row['segment_id']} starts inside the speaker label on "
                    f"line {number + 1} of {pid}.txt.",
                    fix="start the span after 'Label: '.",
                )
            segments.append(_Segment(start, end, row))
        turn = _Turn(label == SPEAKER_INTERVIEWER, body, tuple(sorted(segments, key=lambda s: s.start)))
        if turn.interviewer or not blocks:
            blocks.append([turn])
        else:
            blocks[-1].append(turn)
    return [_Block(pid, tuple(b)) for b in blocks]


def _load(source: Paths) -> _Corpus:
    participant_columns, participants = _read_csv(source.participants)
    coding_columns, coding = _read_csv(source.coding)
    memo_columns, memos = _read_csv(source.memos)
    package = json.loads(source.datapackage.read_text(encoding="utf-8"))
    enums: dict[str, list[str]] = {}
    for resource in package["resources"]:
        if resource["name"] == "participants":
            for fld in resource["schema"]["fields"]:
                if "enum" in fld.get("constraints", {}):
                    enums[fld["name"]] = list(fld["constraints"]["enum"])
                elif fld["type"] == "boolean":
                    enums[fld["name"]] = ["true", "false"]
    missing = [c for c in SAMPLED if c not in enums]
    if missing:
        raise CompendiumError(
            f"{source.datapackage}: no allowed values for {', '.join(missing)}.",
            fix="restore the participants schema (enum constraints) in datapackage.json.",
        )
    sources: dict[str, _Source] = {}
    digest = hashlib.sha256()
    for path in (source.participants, source.coding, source.memos, source.codebook, source.datapackage):
        digest.update(path.read_bytes())
    for row in participants:
        pid = row["participant_id"]
        text = source.transcript(pid).read_text(encoding="utf-8")
        digest.update(text.encode("utf-8"))
        rows = [r for r in coding if r["participant_id"] == pid]
        blocks = _parse_transcript(pid, row["pseudonym"], text, rows, str(source.coding))
        sources[pid] = _Source(pid, row, blocks, [m for m in memos if m["participant_id"] == pid], len(text))
    general = [m for m in memos if not m["participant_id"]]
    return _Corpus(participant_columns, coding_columns, memo_columns, sources, general, enums, digest.hexdigest())


# ---------------------------------------------------------------- building one participant


def _rename(text: str, pattern: re.Pattern[str], new: str) -> tuple[str, list[tuple[int, int]]]:
    """Replace a pseudonym; return the text and (old end, shift) pairs to map offsets."""
    shifts: list[tuple[int, int]] = []
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts += [text[last : match.start()], new]
        shifts.append((match.end(), len(new) - (match.end() - match.start())))
        last = match.end()
    parts.append(text[last:])
    return "".join(parts), shifts


def _moved(offset: int, shifts: list[tuple[int, int]]) -> int:
    return offset + sum(shift for end, shift in shifts if end <= offset)


def _weighted(rng: random.Random, allowed: list[str], seen: list[str]) -> str:
    """An allowed value, weighted by its count in the hand-written study plus one."""
    weights = [1 + seen.count(value) for value in allowed]
    return rng.choices(allowed, weights=weights)[0]


def _plausible_ages(bands: list[str], years: str) -> list[str]:
    """Age bands old enough for the years of experience (qualified at about 22)."""
    least = int(re.findall(r"\d+", years)[0]) + 22 if re.search(r"\d", years) else 0
    keep = []
    for band in bands:
        numbers = [int(x) for x in re.findall(r"\d+", band)]
        upper = numbers[1] if len(numbers) > 1 else 200
        if upper >= least:
            keep.append(band)
    return keep or bands


def _months(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    ly, lm = map(int, last.split("-"))
    found = []
    while (y, m) <= (ly, lm):
        found.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return found


def _month_start(month: str) -> dt.date:
    return dt.date.fromisoformat(f"{month}-01")


def _choose_blocks(rng: random.Random, src: _Source, donors: list[_Source], member_check: str) -> list[_Block]:
    """Opening, a random subset of the middle (plus borrowed coded exchanges), closing."""
    if len(src.blocks) <= 2 * FRAME:
        return list(src.blocks)
    middle: list[_Block] = []
    for block in src.middle:
        if block.removal and member_check != EDITED:
            continue  # a removal note only belongs to a transcript the participant edited
        if rng.random() < (KEEP_CODED if block.coded else KEEP_UNCODED):
            middle.append(block)
    if not any(b.coded for b in middle):
        coded = [b for b in src.middle if b.coded]
        if coded:
            middle.append(coded[0])
            middle.sort(key=src.middle.index)
    borrowed = rng.choice(BORROWED)
    pool = [b for d in donors for b in d.middle if b.coded and not b.removal]
    for block in rng.sample(pool, min(borrowed, len(pool))):
        middle.insert(rng.randint(0, len(middle)), block)
    return [*src.blocks[:FRAME], *middle, *src.blocks[-FRAME:]]


def _render(blocks: list[_Block], corpus: _Corpus, pid: str, pseudonym: str) -> tuple[str, list[dict[str, str]]]:
    """The new transcript and its coding rows with offsets into it."""
    lines: list[str] = []
    coding: list[dict[str, str]] = []
    position = 0
    for block in blocks:
        pattern = corpus.sources[block.source].rename
        for turn in block.turns:
            label = SPEAKER_INTERVIEWER if turn.interviewer else pseudonym
            text, shifts = _rename(turn.text, pattern, pseudonym)
            line = f"{label}: {text}"
            base = position + len(label) + 2
            for seg in turn.segments:
                start, end = base + _moved(seg.start, shifts), base + _moved(seg.end, shifts)
                row = {k: pattern.sub(pseudonym, v) for k, v in seg.row.items()}
                row.update(
                    segment_id=f"{pid}-S{len(coding) + 1:02d}",
                    participant_id=pid,
                    start=str(start),
                    end=str(end),
                    excerpt=line[start - position : end - position],
                )
                coding.append(row)
            lines.append(line)
            position += len(line) + 1
    return "\n".join(lines) + "\n", coding


def _count_text(n: int) -> str:
    return COUNT_WORDS[n] if n < len(COUNT_WORDS) else str(n)


# ---------------------------------------------------------------- writing


def _check_target(out: Path, source: Paths) -> None:
    """Refuse the real data folder and any non-empty folder the generator did not write."""
    out = out.resolve()
    protected = {source.data.resolve(), Paths(Path(__file__).resolve().parents[3]).data.resolve()}
    for data in protected:
        if Paths(out).data.resolve() == data or out == data or out.is_relative_to(data):
            raise CompendiumError(
                f"generate: refusing to write into {data}: that is the hand-written dataset, which the pipeline "
                "never modifies.",
                fix="give an empty or new output folder, e.g. `python -m compendium generate 80 /tmp/study80`.",
            )
    if out.exists() and not out.is_dir():
        raise CompendiumError(f"generate: {out} exists and is not a folder.", fix="choose a new folder name.")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise CompendiumError(
            f"generate: {out} is not empty and was not written by the generator (no {MARKER}).",
            fix="choose a new or empty folder; the generator only overwrites its own earlier output.",
        )


def generate_study(n: int, out: Path | str, seed: int = 2022, source: Paths | None = None) -> Path:
    """Write a synthetic study of ``n`` participants as a compendium root at ``out``.

    Parameters
    ----------
    n : number of participants, 1 to 9999 (ids P001.., four digits above 999).
    out : folder to write; must be new, empty or an earlier output of this function.
    seed : seed of the random choices; the same ``n`` and seed give identical bytes.
    source : compendium whose hand-written data are recombined (default: the current root).

    Returns
    -------
    The output folder.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PARTICIPANTS:
        raise CompendiumError(
            f"generate: the number of participants must be a whole number from 1 to {MAX_PARTICIPANTS} (got {n!r}).",
            fix="e.g. `python -m compendium generate 80 OUT`.",
        )
    source = source or paths()
    out = Path(out)
    _check_target(out, source)
    corpus = _load(source)
    if not corpus.sources:
        raise CompendiumError(f"{source.participants}: no participants to recombine.", fix="restore the file.")
    target = Paths(out)
    write_json(
        out / MARKER,
        {
            "generator": "compendium.maintenance.generate.generate_study",
            "participants": n,
            "seed": seed,
            "source_data_sha256": corpus.digest,
        },
    )

    # Deal sources out in shuffled rounds so each is used about equally often.
    ids = sorted(corpus.sources)
    order: list[str] = []
    for round_ in range((n + len(ids) - 1) // len(ids)):
        order += random.Random(f"{seed}:round:{round_}").sample(ids, len(ids))
    order = order[:n]
    master = random.Random(seed)
    width = 4 if n > 999 else 3
    pids = [f"P{i + 1:0{width}d}" for i in range(n)]
    names = pseudonyms(master, [corpus.sources[s].row["gender"] for s in order])
    source_rows = [s.row for s in corpus.sources.values()]
    months = _months(min(r["interview_month"] for r in source_rows), max(r["interview_month"] for r in source_rows))
    interview_months = sorted(master.choice(months) for _ in range(n))  # ids follow interview order

    participants: list[dict[str, str]] = []
    coding: list[dict[str, str]] = []
    memos: list[dict[str, str]] = []
    transcripts: dict[str, str] = {}
    for i, (pid, src_id, pseudonym, month) in enumerate(zip(pids, order, names, interview_months)):
        rng = random.Random(f"{seed}:participant:{i}")
        src = corpus.sources[src_id]
        row = {c: src.row[c] for c in corpus.participant_columns}
        for column in SAMPLED:
            allowed = corpus.enums[column]
            if column == "age_band":
                allowed = _plausible_ages(allowed, src.row["years_with_population"])
            row[column] = _weighted(rng, allowed, [r[column] for r in source_rows])
        donors = [s for s in corpus.sources.values() if s.pid != src_id and s.row["gender"] == src.row["gender"]]
        blocks = _choose_blocks(rng, src, donors, row["member_check"])
        text, rows = _render(blocks, corpus, pid, pseudonym)
        # Longer recombined transcripts get longer interviews (KEPT: the share of text usually kept).
        duration = round(int(src.row["duration_min"]) * len(text) / src.chars / KEPT) + rng.randint(-3, 3)
        row.update(
            participant_id=pid,
            pseudonym=pseudonym,
            interview_month=month,
            duration_min=str(min(max(duration, DURATION[0]), DURATION[1])),
        )
        participants.append(row)
        coding += rows
        transcripts[pid] = text
        shift = _month_start(month) - _month_start(src.row["interview_month"])
        for memo in src.memos:
            if len(memos) + len(corpus.general_memos) >= MAX_MEMOS:
                break
            memos.append(
                {
                    **memo,
                    "participant_id": pid,
                    "text": src.rename.sub(pseudonym, memo["text"]),
                    "date": (dt.date.fromisoformat(memo["date"]) + shift).isoformat(),
                }
            )

    # Cross-case and team memos come after the last case memo, as in the source.
    case_dates = [m["date"] for s in corpus.sources.values() for m in s.memos]
    anchor_old = dt.date.fromisoformat(max(case_dates)) if case_dates else _month_start(max(months))
    anchor_new = dt.date.fromisoformat(max(m["date"] for m in memos)) if memos else _month_start(interview_months[-1])
    count = re.compile(rf"\b{_count_text(len(ids))}\b")
    for memo in corpus.general_memos:
        memos.append(
            {
                **memo,
                "text": count.sub(_count_text(n), memo["text"]),
                "date": (anchor_new + (dt.date.fromisoformat(memo["date"]) - anchor_old)).isoformat(),
            }
        )
    memo_width = 2 if len(memos) <= 99 else 3 if len(memos) <= 999 else 4
    for k, memo in enumerate(memos, start=1):
        memo["memo_id"] = f"M{k:0{memo_width}d}"

    write_text(target.participants, csv_text(corpus.participant_columns, participants))
    write_text(target.coding, csv_text(corpus.coding_columns, coding))
    write_text(target.memos, csv_text(corpus.memo_columns, memos))
    for path in (source.codebook, source.datapackage, source.allowlist):
        if path.is_file():
            write_bytes(target.data / path.name, path.read_bytes())
    for pid, text in transcripts.items():
        write_text(target.transcript(pid), text)
    for stale in sorted(target.transcripts.glob("*.txt")):  # left by an earlier, larger run
        if stale.stem not in transcripts:
            stale.unlink()
    _copy_support(source, target)
    write_text(
        out / "pyproject.toml",
        (
            "# Marks this folder as a compendium root for compendium.paths. It holds a synthetic\n"
            f"# study written by `python -m compendium generate {n} OUT --seed {seed}`; not a Python project.\n"
            "[tool.compendium]\n"
            f"generated = true\nparticipants = {n}\nseed = {seed}\n"
        ),
    )
    return out


def _copy_support(source: Paths, target: Paths) -> None:
    """Notebooks, manuscript template and bibliography, so the pipeline can run on the output."""
    if source.notebooks.is_dir():
        for path in sorted(source.notebooks.rglob("*")):
            rel = path.relative_to(source.notebooks)
            if path.is_file() and not any(part.startswith(".") for part in rel.parts):
                write_bytes(target.notebooks / rel, path.read_bytes())
    for src_path, dst_path in ((source.template, target.template), (source.bibliography, target.bibliography)):
        if src_path.is_file():
            write_bytes(dst_path, src_path.read_bytes())
