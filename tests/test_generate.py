"""Tests of the seeded synthetic-study generator (compendium.maintenance.generate)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

import pytest

from compendium import anonymise, cli
from compendium.errors import CompendiumError
from compendium.maintenance.generate import MARKER, generate_study
from compendium.maintenance.names import MEN, SURNAMES, WOMEN
from compendium.paths import Paths, paths, root
from compendium.validate import SPEAKER, validate


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()}


@pytest.fixture(scope="module")
def study80(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_study(80, tmp_path_factory.mktemp("gen") / "study80", seed=7, source=paths())


@pytest.mark.parametrize("n", [8, 80])
def test_output_passes_validation_and_anonymisation_gate(n: int, tmp_path: Path, study80: Path) -> None:
    out = study80 if n == 80 else generate_study(n, tmp_path / "study", source=paths())
    assert validate(Paths(out)) == {"transcripts": n, "themes": 12}
    # transcripts, participants, coding, memos, codebook, datapackage (+ the allow-list, if the study has one)
    assert anonymise.audit(Paths(out)) == n + 5 + Paths(out).allowlist.is_file()


def test_ids_pseudonyms_and_speaker_labels(study80: Path) -> None:
    people = _rows(Paths(study80).participants)
    assert [r["participant_id"] for r in people] == [f"P{i:03d}" for i in range(1, 81)]
    assert len({r["pseudonym"] for r in people}) == 80
    assert not {"Jennifer", "Lauren", "Amy", "Susan", "Michael", "Nicole", "Julie", "Eric"} & {
        r["pseudonym"] for r in people
    }
    for r in people:
        assert 45 <= int(r["duration_min"]) <= 75
        text = Paths(study80).transcript(r["participant_id"]).read_text(encoding="utf-8")
        labels = {SPEAKER.match(line)["speaker"] for line in text.splitlines()}
        assert labels == {"Interviewer", r["pseudonym"]}
    months = [r["interview_month"] for r in people]
    assert months == sorted(months) and "2020-11" <= months[0] and months[-1] <= "2021-05"


def test_every_excerpt_matches_its_span_in_the_new_transcript(study80: Path) -> None:
    p = Paths(study80)
    coding = _rows(p.coding)
    texts = {pid: p.transcript(pid).read_text(encoding="utf-8") for pid in {r["participant_id"] for r in coding}}
    assert len(texts) == 80  # every participant has at least one coded segment
    for r in coding:
        assert texts[r["participant_id"]][int(r["start"]) : int(r["end"])] == r["excerpt"], r["segment_id"]
        assert re.fullmatch(r"P[0-9]{3}-S[0-9]{2}", r["segment_id"])
    ids = [r["segment_id"] for r in coding]
    assert len(ids) == len(set(ids))


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    a = _files(generate_study(20, tmp_path / "a", seed=11, source=paths()))
    b = _files(generate_study(20, tmp_path / "b", seed=11, source=paths()))
    c = _files(generate_study(20, tmp_path / "c", seed=12, source=paths()))
    assert a == b
    support = len(_files(paths().notebooks)) + paths().template.is_file() + paths().bibliography.is_file()
    assert len(a) == 20 + 6 + 2 + support  # transcripts, data files, two markers, notebooks and manuscript
    assert a.keys() == c.keys()
    assert a["data/synthetic/participants.csv"] != c["data/synthetic/participants.csv"]
    assert (
        a["data/synthetic/transcripts/P001.txt"] != c["data/synthetic/transcripts/P001.txt"]
        or a["data/synthetic/coding.csv"] != c["data/synthetic/coding.csv"]
    )
    assert a["data/synthetic/codebook.yaml"] == paths().codebook.read_bytes()


def test_eight_participants_use_each_source_once(tmp_path: Path) -> None:
    people = _rows(Paths(generate_study(8, tmp_path / "s", source=paths())).participants)
    source = _rows(paths().participants)
    key = ("qualification", "frameworks", "gender")
    assert sorted(tuple(r[k] for k in key) for r in people) == sorted(tuple(r[k] for k in key) for r in source)


def test_four_digit_ids_and_surnamed_pseudonyms_pass_the_name_check(tmp_path: Path) -> None:
    out = generate_study(1001, tmp_path / "big", seed=3, source=paths())
    p = Paths(out)
    people = _rows(p.participants)
    assert people[0]["participant_id"] == "P0001" and people[-1]["participant_id"] == "P1001"
    names = [r["pseudonym"] for r in people]
    assert len(set(names)) == 1001
    two_part = [n for n in names if " " in n]
    assert two_part and all(n.split()[0] in names for n in two_part)  # given name is itself a pseudonym
    assert anonymise.scan_files([p.memos, p.transcript("P1001")], p) == []
    # Coding notes name the participant mid-sentence; scanning the whole table takes seconds, so scan
    # the rows of the first 60 participants with a two-part pseudonym.
    ids = tuple(r["participant_id"] for r in people if " " in r["pseudonym"])[:60]
    lines = [line for line in p.coding.read_text(encoding="utf-8").splitlines() if line.startswith(ids)]
    assert any(n in line for line in lines for n in two_part)
    assert (
        anonymise.scan_text("\n".join(lines), "coding.csv", anonymise.load_allowlist(p), anonymise.known_names(p)) == []
    )
    memo_ids = [r["memo_id"] for r in _rows(p.memos)]
    assert memo_ids[0] == "M0001" and len(memo_ids) == len(set(memo_ids))


def test_name_lists_are_safe_for_the_gate() -> None:
    names = anonymise.first_names()
    assert [s for s in SURNAMES if s.lower() in names] == []
    for word in (*WOMEN, *MEN, *SURNAMES):
        assert re.fullmatch(r"[A-Z][a-z]{2,}", word), word
    assert len(set(WOMEN)) == len(WOMEN) and len(set(MEN)) == len(MEN) and not set(WOMEN) & set(MEN)


def test_output_is_a_compendium_root(study80: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPENDIUM_ROOT", raising=False)
    monkeypatch.chdir(study80 / "data")
    assert root() == study80.resolve()
    assert (study80 / "notebooks" / "01_read_corpus.ipynb").read_bytes() == (
        paths().notebooks / "01_read_corpus.ipynb"
    ).read_bytes()


def test_refuses_the_real_data_folder() -> None:
    real = paths()
    before = hashlib.sha256(b"".join(f.read_bytes() for f in sorted(real.data.rglob("*")) if f.is_file())).hexdigest()
    for target in (real.root, real.data, real.transcripts):
        with pytest.raises(CompendiumError, match="hand-written dataset"):
            generate_study(8, target, source=real)
    after = hashlib.sha256(b"".join(f.read_bytes() for f in sorted(real.data.rglob("*")) if f.is_file())).hexdigest()
    assert before == after


def test_refuses_a_foreign_folder_but_overwrites_its_own_output(tmp_path: Path) -> None:
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.md").write_text("mine\n", encoding="utf-8")
    with pytest.raises(CompendiumError, match="not written by the generator"):
        generate_study(8, foreign, source=paths())
    assert sorted(f.name for f in foreign.iterdir()) == ["thesis.md"]
    out = generate_study(12, tmp_path / "study", source=paths())
    generate_study(8, out, source=paths())  # smaller re-run: stale transcripts go
    assert (out / MARKER).is_file()
    assert sorted(f.stem for f in Paths(out).transcripts.glob("*.txt")) == [f"P{i:03d}" for i in range(1, 9)]


@pytest.mark.parametrize("n", [0, -3, 10000])
def test_rejects_impossible_sizes(n: int, tmp_path: Path) -> None:
    with pytest.raises(CompendiumError, match="from 1 to 9999"):
        generate_study(n, tmp_path / "s", source=paths())
    assert not (tmp_path / "s").exists()


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["generate", "5", str(tmp_path / "cli"), "--seed", "1"])
    assert "5 participants" in capsys.readouterr().out
    assert len(_rows(Paths(tmp_path / "cli").participants)) == 5
