"""Restricted studies: data and output roots, consent, marking, the pre-commit guard, share and twin.

The restricted fixture study is generated here, below pytest's temporary folder
(never inside a git work tree): the synthetic data with its declaration set to
``restricted`` and three participants who withheld one kind of consent each
(P03 quotation, P05 attributes, P06 archiving). Its text is synthetic; its
treatment is that of real transcripts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from compendium import anonymise, consent, study
from compendium.maintenance import guard, share, twin
from compendium.data import load_study
from compendium.errors import CompendiumError, DataError
from compendium.paths import Paths, paths, work_tree_of
from compendium.restricted import MARK, REGISTRY_ENV
from compendium.themes import quote_bank
from compendium.cases import case_table

NO_QUOTES, NO_ATTRIBUTES, NO_ARCHIVE = "P03", "P05", "P06"
IDENTIFIERS = {  # what the share test plants in P01's transcript, and the tag category it must become
    "jo.bloggs@example.com": "EMAIL",
    "0412 345 678": "PHONE",
    "Margaret": "NAME",
    "Wattle Creek Clinic": "CLINIC",
}


def _set_flags(participants: Path, flags: dict[str, dict[str, str]]) -> None:
    rows = list(csv.DictReader(io.StringIO(participants.read_text(encoding="utf-8"))))
    columns = list(rows[0])
    for row in rows:
        row.update(flags.get(row["participant_id"], {}))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    participants.write_text(buffer.getvalue(), encoding="utf-8")


def make_restricted_study(folder: Path, kind: str | None = "restricted") -> Path:
    """Copy the synthetic data to ``folder/study``, declare it ``kind`` and withhold three consents."""
    data = folder / "study"
    shutil.copytree(paths().root / "data" / "synthetic", data)
    package = json.loads((data / "datapackage.json").read_text(encoding="utf-8"))
    if kind is None:
        package.pop("compendium")
    else:
        package["compendium"] = {"kind": kind}
    (data / "datapackage.json").write_text(json.dumps(package, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _set_flags(
        data / "participants.csv",
        {
            NO_QUOTES: {"consent_quotes": "false"},
            NO_ATTRIBUTES: {"consent_attributes": "false"},
            NO_ARCHIVE: {"consent_archive": "false"},
        },
    )
    return data


def plant_identifiers(data: Path) -> None:
    """Put identifiers into P01's transcript, before and inside coded segments, moving the coding's offsets."""
    path = data / "transcripts" / "P01.txt"
    text = path.read_text(encoding="utf-8")
    coding = pd.read_csv(data / "coding.csv", dtype=str, keep_default_na=False)
    rows = coding[coding["participant_id"] == "P01"].sort_values("start", key=lambda c: c.astype(int))
    first = rows.iloc[0]
    inside = int(first["start"]) + first["excerpt"].index(" ") + 1  # after the excerpt's first word
    # (offset, text): one insertion before every segment, one inside the first segment
    insertions = [
        (text.index("\n") + 1, "Jennifer: You can reach me at jo.bloggs@example.com or 0412 345 678.\n"),
        (inside, "at Wattle Creek Clinic with my colleague Margaret "),
    ]
    for offset, new in sorted(insertions, reverse=True):
        text = text[:offset] + new + text[offset:]
        for i in coding.index[coding["participant_id"] == "P01"]:
            start, end = int(coding.at[i, "start"]), int(coding.at[i, "end"])
            if start >= offset:
                start += len(new)
            if end > offset:
                end += len(new)
            coding.at[i, "start"], coding.at[i, "end"] = str(start), str(end)
    path.write_text(text, encoding="utf-8")
    for i in coding.index[coding["participant_id"] == "P01"]:
        coding.at[i, "excerpt"] = text[int(coding.at[i, "start"]) : int(coding.at[i, "end"])]
    (data / "coding.csv").write_text(coding.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    (data / "deidentify.yaml").write_text(
        "replace:\n  - text: Wattle Creek Clinic\n    category: clinic\n", encoding="utf-8"
    )


@pytest.fixture
def restricted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """Paths of the fixture study with outputs beside it; the guard's registry in the temporary folder."""
    assert work_tree_of(tmp_path) is None, "the temporary folder must not be inside a git work tree"
    data = make_restricted_study(tmp_path)
    monkeypatch.setenv("COMPENDIUM_DATA", str(data))
    monkeypatch.delenv("COMPENDIUM_OUT", raising=False)
    monkeypatch.setenv(REGISTRY_ENV, str(tmp_path / "registry.txt"))
    return paths()


# ------------------------------------------------------------------ data and output roots
def test_default_roots_are_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPENDIUM_DATA", raising=False)
    monkeypatch.delenv("COMPENDIUM_OUT", raising=False)
    p = paths()
    assert p.data == p.root / "data" / "synthetic" and p.out_root == p.root
    assert p.tables == p.root / "manuscript" / "tables" and p.kind == "synthetic" and not p.restricted


def test_other_data_builds_beside_it(restricted: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert restricted.data == tmp_path / "study" and restricted.kind == "restricted"
    assert restricted.out_root == tmp_path / "study-outputs"
    assert restricted.tables == tmp_path / "study-outputs" / "manuscript" / "tables"
    assert restricted.notebooks == restricted.root / "notebooks"  # code stays in the repository
    monkeypatch.setenv("COMPENDIUM_OUT", str(tmp_path / "elsewhere"))
    assert paths().build == tmp_path / "elsewhere" / "build"


def test_undeclared_study_counts_as_restricted(tmp_path: Path) -> None:
    data = make_restricted_study(tmp_path, kind=None)
    assert study.declared_kind(data) is None and study.kind(data) == "restricted"
    (data / "datapackage.json").write_text("{not json", encoding="utf-8")
    assert study.kind(data) == "restricted"


def test_refuses_restricted_outputs_inside_a_work_tree(restricted: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    target = restricted.root / "restricted-out"
    monkeypatch.setenv("COMPENDIUM_OUT", str(target))
    with pytest.raises(CompendiumError, match="inside the git work tree"):
        paths()
    monkeypatch.setenv("COMPENDIUM_OUT", str(restricted.data / "out"))
    with pytest.raises(CompendiumError, match="inside the data folder"):
        paths()
    assert not target.exists()


def test_make_refuses_inside_the_work_tree(restricted: Paths, tmp_path: Path) -> None:
    """The Makefile asks paths.py before any rule runs: nothing is written."""
    # Reached through a link whose path has no space, so the test holds wherever the repository is cloned
    # (make itself refuses OUT paths with spaces, before paths.py is asked).
    link = tmp_path / "repo"
    link.symlink_to(restricted.root, target_is_directory=True)
    target = link / "restricted-out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "COMPENDIUM_"))}
    result = subprocess.run(
        ["make", "-C", str(restricted.root), "-n", "all", f"DATA={restricted.data}", f"OUT={target}"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "refusing to write outputs of the restricted study" in result.stderr and "fix:" in result.stderr
    assert not target.exists()


def test_refuses_restricted_data_inside_a_work_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "clone")], check=True)
    data = make_restricted_study(tmp_path / "clone")
    monkeypatch.setenv("COMPENDIUM_DATA", str(data))
    monkeypatch.setenv("COMPENDIUM_OUT", str(tmp_path / "out"))
    with pytest.raises(CompendiumError, match="one `git add` would publish it"):
        paths()


# ------------------------------------------------------------------ consent
def test_consent_flags_are_validated(restricted: Paths) -> None:
    assert "1 participant(s) declined quotation" in study.check_study(restricted)
    _set_flags(restricted.participants, {"P02": {"consent_archive": "yes"}})
    with pytest.raises(DataError) as err:
        study.check_study(restricted)
    assert "row 2" in str(err.value) and "consent_archive" in str(err.value) and "true or false" in str(err.value)
    table = pd.read_csv(restricted.participants, dtype=str).drop(columns=["consent_quotes"])
    restricted.participants.write_text(table.to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    with pytest.raises(DataError, match="no consent column"):
        study.check_study(restricted)


def test_synthetic_data_all_consent() -> None:
    table = pd.read_csv(paths().root / "data" / "synthetic" / "participants.csv", dtype=str)
    for flag in consent.FLAGS:
        assert table[flag].tolist() == ["true"] * 8, flag


def test_declined_quotation_is_counted_but_never_quoted(restricted: Paths) -> None:
    raw = pd.read_csv(restricted.coding, dtype=str, keep_default_na=False)
    s = load_study(restricted)
    mine = s.coding[s.coding["participant_id"] == NO_QUOTES]
    assert len(mine) == (raw["participant_id"] == NO_QUOTES).sum() > 0  # still counted
    for row in mine.itertuples():
        assert consent.is_withheld(row.excerpt) and s.transcripts[NO_QUOTES][row.start : row.end] == row.excerpt
    assert len(s.transcripts[NO_QUOTES]) == len(restricted.transcript(NO_QUOTES).read_text(encoding="utf-8"))
    assert s.transcripts[NO_QUOTES].startswith("Interviewer: ")  # labels kept, so lines and speakers still parse
    cases = pd.concat([case_table(s, pid) for pid in s.pseudonyms], ignore_index=True)
    bank = quote_bank(cases, s.participants)
    assert NO_QUOTES not in set(bank["participant_id"]) and len(bank) > 0
    assert s.participants.set_index("participant_id").loc[NO_ATTRIBUTES, "age_band"] == "withheld"
    assert (
        study.mark_manuscript("x", restricted, withheld=consent.withheld_counts(raw, s.participants)).count(
            "did not consent to quotation"
        )
        == 1
    )


# ------------------------------------------------------------------ marking
def test_marking_only_in_restricted_builds(restricted: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    markdown = '---\ntitle: "T"\n---\n\n::: {.synthetic-notice}\nSynthetic.\n:::\n\n![Figure 1.](figures/a.png)\n'
    marked = study.mark_manuscript(markdown, restricted)
    assert f'title: "{MARK}. T"' in marked and "Synthetic." not in marked and marked.count(MARK) == 3
    assert study.mark_table("| a |\n", restricted).endswith(f"*{MARK}*\n")
    assert "subtitle=" + MARK in study.pandoc_args(restricted)
    monkeypatch.delenv("COMPENDIUM_DATA")
    synthetic = paths()
    assert study.mark_manuscript(markdown, synthetic) == markdown
    assert study.mark_table("| a |\n", synthetic) == "| a |\n" and study.pandoc_args(synthetic) == []
    assert MARK not in "".join(f.read_text(encoding="utf-8") for f in (synthetic.root / "src").rglob("*.py"))


# ------------------------------------------------------------------ the pre-commit guard
def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update(
        {
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            **(env or {}),
        }
    )
    return subprocess.run(["git", "-C", str(repo), *args], env=base, capture_output=True, text=True)


@pytest.mark.heavy  # runs git and the hook (through _git, which the hint search cannot see)
def test_pre_commit_hook_refuses_restricted_material(restricted: Paths, tmp_path: Path) -> None:
    repo = tmp_path / "clone"
    _git(tmp_path, "init", "-q", str(repo))
    assert "installed" in guard.install(repo)
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert hook.is_file() and os.access(hook, os.X_OK)
    assert "up to date" in guard.install(repo)
    assert study.check_study(restricted).endswith("8 transcripts fingerprinted for the pre-commit guard")
    env = {REGISTRY_ENV: os.environ[REGISTRY_ENV], guard.SKIP_ENV: ""}

    (repo / "notes.md").write_text("Ordinary notes about the method.\n", encoding="utf-8")
    _git(repo, "add", "notes.md")
    assert _git(repo, "commit", "-qm", "clean", env=env).returncode == 0

    # a copied transcript (renamed, re-wrapped) is refused
    copied = restricted.transcript("P02").read_text(encoding="utf-8").replace("\n", " \n ")
    (repo / "my_notes.txt").write_text(copied, encoding="utf-8")
    _git(repo, "add", "my_notes.txt")
    result = _git(repo, "commit", "-qm", "leak", env=env)
    assert (
        result.returncode != 0 and "my_notes.txt: shares" in result.stderr and "restricted transcript" in result.stderr
    )
    _git(repo, "reset", "-q", "my_notes.txt")

    # a single quoted excerpt pasted into a draft is refused too
    excerpt = pd.read_csv(restricted.coding, dtype=str).query("participant_id == 'P04'")["excerpt"].iloc[0]
    (repo / "draft.md").write_text(f"As one clinician said, {excerpt}\n", encoding="utf-8")
    _git(repo, "add", "draft.md")
    assert _git(repo, "commit", "-qm", "quote", env=env).returncode != 0
    _git(repo, "reset", "-q", "draft.md")

    # a file carrying the mark: plain, and inside a DOCX's metadata
    (repo / "table.md").write_text(f"| a |\n|---|\n| 1 |\n\n*{MARK}*\n", encoding="utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("docProps/core.xml", f"<cp:coreProperties><dc:subject>{MARK}</dc:subject></cp:coreProperties>")
    (repo / "paper.docx").write_bytes(buffer.getvalue())
    _git(repo, "add", "table.md", "paper.docx")
    result = _git(repo, "commit", "-qm", "marked", env=env)
    assert result.returncode != 0
    assert "table.md: carries the restricted mark" in result.stderr and "paper.docx: carries" in result.stderr
    assert "refused" in result.stderr and guard.SKIP_ENV in result.stderr

    # skippable only on purpose
    result = _git(repo, "commit", "-qm", "on purpose", env={**env, guard.SKIP_ENV: "1"})
    assert result.returncode == 0 and "letting through on purpose" in result.stderr


def test_install_leaves_a_foreign_hook_alone(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", str(tmp_path / "clone"))
    hook = tmp_path / "clone" / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho mine\n", encoding="utf-8")
    assert "left alone" in guard.install(tmp_path / "clone")
    assert hook.read_text(encoding="utf-8") == "#!/bin/sh\necho mine\n"


# ------------------------------------------------------------------ share
def test_share_package_passes_the_gate_with_offsets_matching(restricted: Paths, tmp_path: Path) -> None:
    plant_identifiers(restricted.data)
    with pytest.raises(anonymise.AnonymisationError):  # the restricted input itself would not pass
        anonymise.audit(restricted)
    target = tmp_path / "study-outputs" / "share"
    log = share.make_share(target, restricted)
    data = target / "data"
    texts = {f.name: f.read_text(encoding="utf-8") for f in data.rglob("*") if f.is_file()}
    everything = "\n".join(texts.values())
    for original, category in IDENTIFIERS.items():
        assert original not in everything, original
        assert f"[{category} 1]" in texts["P01.txt"], category
    counts = log["replacements_per_category"]
    assert counts["EMAIL"] == counts["PHONE"] == counts["CLINIC"] == 1 and counts["NAME"] >= 1
    # offsets: every excerpt is its transcript's span, and the planted segment still holds its words
    coding = pd.read_csv(data / "coding.csv", dtype=str, keep_default_na=False)
    for row in coding.itertuples():
        text = (data / "transcripts" / f"{row.participant_id}.txt").read_text(encoding="utf-8")
        assert text[int(row.start) : int(row.end)] == row.excerpt, row.segment_id
    assert coding["excerpt"].str.contains(r"\[CLINIC 1\] with my colleague \[NAME 1\]", regex=True).any()
    # the gate passes on everything in the package (as a de-identified data folder)
    copy = Paths.__new__(Paths)
    copy.__dict__.update(restricted.__dict__)
    for name in ("participants", "coding", "memos", "codebook", "datapackage", "transcripts", "allowlist"):
        setattr(copy, name, data / getattr(restricted, name).relative_to(restricted.data))
    assert anonymise.scan_files([f for f in data.rglob("*") if f.suffix in {".txt", ".csv"}], copy) == []
    assert study.declared_kind(data) == "deidentified"
    # consent: not archived -> shape only; attributes withheld; the replacement table lives outside the package
    assert consent.is_withheld(texts[f"{NO_ARCHIVE}.txt"].split(": ", 1)[1].split("\n")[0])
    people = pd.read_csv(data / "participants.csv", dtype=str).set_index("participant_id")
    assert people.loc[NO_ATTRIBUTES, "age_band"] == "withheld" and people.loc["P01", "age_band"] != "withheld"
    table = target.parent / "share-replacements.csv"
    assert table.is_file() and "jo.bloggs@example.com" in table.read_text(encoding="utf-8")
    assert not any(
        "jo.bloggs" in f.read_text(encoding="utf-8", errors="replace") for f in target.rglob("*") if f.is_file()
    )
    log_md = (target / "anonymisation_log.md").read_text(encoding="utf-8")
    for part in ("## Rules", "| EMAIL | 1 | 1 |", "## Allow-listed", "## Still to check by hand", "126 of 126"):
        assert part in log_md, part


def test_share_refuses_synthetic_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("COMPENDIUM_DATA", raising=False)
    with pytest.raises(CompendiumError, match="not restricted"):
        share.make_share(tmp_path / "share")
    assert not (tmp_path / "share").exists()


def test_share_writes_nothing_when_the_gate_fails(restricted: Paths, tmp_path: Path) -> None:
    plant_identifiers(restricted.data)
    # a de-identifier that misses everything: the gate over the package must stop it before any file is written
    original = share.deidentify_text
    share.deidentify_text = lambda text, *a, **k: (text, lambda o, is_end=False: o)
    try:
        with pytest.raises(anonymise.AnonymisationError, match="jo.bloggs@example.com"):
            share.make_share(tmp_path / "share", restricted)
    finally:
        share.deidentify_text = original
    assert not (tmp_path / "share").exists() and not (tmp_path / "share-replacements.csv").exists()


# ------------------------------------------------------------------ twin
def test_twin_reproduces_the_aggregates_without_the_text(
    restricted: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = twin.generate_like(restricted.data, tmp_path / "twin")
    assert twin.aggregates(out) == twin.aggregates(restricted.data)
    assert study.declared_kind(out) == "synthetic"
    source = set().union(
        *(guard.fingerprints(f.read_text(encoding="utf-8")) for f in restricted.transcripts.glob("*.txt"))
    )
    made = set().union(
        *(guard.fingerprints(f.read_text(encoding="utf-8")) for f in (out / "transcripts").glob("*.txt"))
    )
    assert made and not source & made
    old = set(pd.read_csv(restricted.participants, dtype=str)["pseudonym"])
    assert not old & set(pd.read_csv(out / "participants.csv", dtype=str)["pseudonym"])
    monkeypatch.setenv("COMPENDIUM_DATA", str(out))
    from compendium.validate import validate

    assert validate(paths())["transcripts"] == 8 and anonymise.audit(paths()) > 0
    assert twin.generate_like(restricted.data, out) == out  # re-running overwrites its own output
    with pytest.raises(CompendiumError, match="overlaps"):
        twin.generate_like(restricted.data, restricted.data / "twin")


def test_cli_generate_like_and_count(restricted: Paths, tmp_path: Path) -> None:
    from compendium.cli import main

    assert main(["generate", "--like", str(restricted.data), str(tmp_path / "t")]) == 0
    assert (tmp_path / "t" / "participants.csv").is_file()
    assert main(["generate", "many", str(tmp_path / "u")]) == 1


# ------------------------------------------------------------------ end to end (slow)
@pytest.fixture(scope="module")
def restricted_build(tmp_path_factory: pytest.TempPathFactory, fresh_copy, run_make) -> dict:
    """A fresh copy of the compendium, `make all` and `make share` on the fixture study, outputs in a temporary root."""
    folder = tmp_path_factory.mktemp("restricted")
    data = make_restricted_study(folder)
    copy = fresh_copy("restricted_code")
    out = folder / "out"
    before = {f for f in copy.root.rglob("*") if f.is_file()}
    os.environ[REGISTRY_ENV] = str(folder / "registry.txt")
    try:
        built = run_make(copy.root, "all", f"DATA={data}", f"OUT={out}")
        shared = run_make(copy.root, "share", f"DATA={data}", f"OUT={out}")
    finally:
        os.environ.pop(REGISTRY_ENV, None)
    new = sorted(
        str(f) for f in copy.root.rglob("*") if f.is_file() and f not in before and "__pycache__" not in f.parts
    )
    return {"data": data, "out": out, "code": copy.root, "all": built, "share": shared, "new_in_code": new}


@pytest.mark.slow
def test_restricted_build_is_marked_and_outside_the_repository(restricted_build: dict) -> None:
    result, out = restricted_build["all"], restricted_build["out"]
    assert result.returncode == 0, result.stdout[-3000:]
    for rel in (
        "manuscript/output/manuscript.docx",
        "manuscript/output/manuscript.pdf",
        "manuscript/output/manuscript.html",
        "manuscript/tables/table1_sample.md",
        "manuscript/tables/quote_bank.md",
        "figures/recurrence_heatmap.svg",
        "figures/recurrence_heatmap.png",
    ):
        texts = guard._texts((out / rel).read_bytes())
        assert any(MARK in t or MARK in guard._plain(t) for t in texts), rel
    with zipfile.ZipFile(out / "manuscript/output/manuscript.docx") as z:
        assert MARK in z.read("docProps/core.xml").decode("utf-8")
    assert restricted_build["new_in_code"] == [], "the restricted build wrote into the compendium's folders"


@pytest.mark.slow
def test_declined_participant_absent_from_every_output(restricted_build: dict) -> None:
    assert restricted_build["all"].returncode == 0, restricted_build["all"].stdout[-3000:]
    coding = pd.read_csv(restricted_build["data"] / "coding.csv", dtype=str, keep_default_na=False)
    excerpts = coding.loc[coding["participant_id"] == NO_QUOTES, "excerpt"].tolist()
    probes = [" ".join(e.split()[:8]) for e in excerpts]
    # Every output of the restricted build and of `make share`, except the de-identified data folder itself:
    # that is the archive, governed by consent_archive (P03 agreed to archiving, not to being quoted).
    archive = restricted_build["out"] / "share" / "data"
    files = [f for f in restricted_build["out"].rglob("*") if f.is_file() and not f.is_relative_to(archive)]
    assert len(files) > 80 and any(f.name == "manuscript.docx" and "share" in f.parts for f in files)
    # runs of words only P03 said (the synthetic P04 happens to share one twelve-word phrase with P03)
    others = set().union(
        *(
            guard.fingerprints(t.read_text(encoding="utf-8"))
            for t in (restricted_build["data"] / "transcripts").glob("*.txt")
            if t.stem != NO_QUOTES
        )
    )
    prints = set().union(*(guard.fingerprints(e) for e in excerpts)) - others
    assert len(prints) > 100
    for f in files:
        texts = [guard._plain(t) for t in guard._texts(f.read_bytes())]
        for probe in probes:
            assert not any(probe in t for t in texts), f"{f}: {probe!r}"
        assert not set().union(*(guard.fingerprints(t) for t in texts)) & prints, f
    html = " ".join((restricted_build["out"] / "manuscript/output/manuscript.html").read_text(encoding="utf-8").split())
    assert f"{len(excerpts)} coded segments from 1 participant who did not consent to quotation" in html


@pytest.mark.slow
def test_make_share_builds_a_gated_manuscript(restricted_build: dict) -> None:
    result = restricted_build["share"]
    assert result.returncode == 0, result.stdout[-3000:]
    package = restricted_build["out"] / "share"
    assert "the gate passed" in result.stdout
    assert (package / "manuscript/output/manuscript.docx").is_file() and (package / "anonymisation_log.md").is_file()
    for f in package.rglob("*"):
        if f.is_file():
            assert not any(MARK in t for t in guard._texts(f.read_bytes())), f


def test_offsets_move_with_the_tags() -> None:
    replacer = share.Replacer(extra=[{"text": "Wattle Creek", "category": "place"}])
    text = "Jennifer: I worked at Wattle Creek for years, then at Wattle Creek again.\n"
    new, moved = share.deidentify_text(text, replacer, [], {"Jennifer"})
    assert new == "Jennifer: I worked at [PLACE 1] for years, then at [PLACE 1] again.\n"
    for old_span in ((10, 21), (22, 34), (35, 44), (25, 60), (0, len(text))):
        start, end = moved(old_span[0]), moved(old_span[1], is_end=True)
        assert 0 <= start < end <= len(new)
    assert new[moved(35) : moved(44, is_end=True)] == text[35:44] == "for years"
    assert new[moved(22) : moved(34, is_end=True)] == "[PLACE 1]"  # a span that was the identifier
    assert new[moved(25) : moved(30, is_end=True)] == "[PLACE 1]"  # a span inside it grows to the whole tag
    assert replacer.counts == {"PLACE": 2} and len(replacer.table) == 1


def test_make_setup_installs_the_hook(tmp_path: Path) -> None:
    """`make setup` runs guard.py --install on the clone; run the same command on a new repository."""
    root = paths().root
    script = root / "src" / "compendium" / "maintenance" / "guard.py"
    recipe = (root / "Makefile").read_text(encoding="utf-8").split("\nsetup:", 1)[1].split("\n\n", 1)[0]
    assert 'src/compendium/maintenance/guard.py --install "$(CURDIR)"' in recipe
    _git(tmp_path, "init", "-q", str(tmp_path / "clone"))
    result = subprocess.run(
        ["python3", str(script), "--install", str(tmp_path / "clone")], capture_output=True, text=True
    )
    assert result.returncode == 0 and "installed the restricted-material pre-commit hook" in result.stdout
    hook = (tmp_path / "clone" / ".git" / "hooks" / "pre-commit").read_text(encoding="utf-8")
    # One file that needs neither the package nor the environment: the shared rules are carried inline.
    assert "import compendium" not in hook and "from compendium" not in hook and "def fingerprints(" in hook
    outside = subprocess.run(
        ["python3", str(script), "--install", str(tmp_path / "none")], capture_output=True, text=True
    )
    assert outside.returncode == 0 and "not a git work tree" in outside.stdout


def test_setup_replaces_an_earlier_compendium_hook(tmp_path: Path) -> None:
    """A clone set up before the guard moved keeps no stale hook: ours (by its tag) is rewritten."""
    _git(tmp_path, "init", "-q", str(tmp_path / "clone"))
    hook = tmp_path / "clone" / ".git" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(
        f"#!/usr/bin/env python3\n# {guard.HOOK_TAG} (installed by make setup)\nold = True\n", encoding="utf-8"
    )
    assert "installed" in guard.install(tmp_path / "clone")
    assert hook.read_text(encoding="utf-8") == guard.hook_text() and "old = True" not in guard.hook_text()
    assert "up to date" in guard.install(tmp_path / "clone")


@pytest.mark.slow
def test_outside_folders_are_never_named_in_the_outputs(restricted_build: dict) -> None:
    """The provenance table names inputs by their role, not by where the author keeps the study."""
    assert restricted_build["all"].returncode == 0, restricted_build["all"].stdout[-3000:]
    out = restricted_build["out"]
    provenance = (out / "manuscript/output/provenance_inputs.csv").read_text(encoding="utf-8")
    assert "<data folder>/participants.csv" in provenance
    places = {str(restricted_build["data"]), str(out), str(restricted_build["data"].parent)}
    for f in [
        out / "manuscript/output/provenance.csv",
        out / "manuscript/output/provenance_inputs.csv",
        out / "manuscript/output/manuscript.html",
        out / "share/manuscript/output/manuscript.html",
    ]:
        text = f.read_text(encoding="utf-8")
        assert "../" not in text.replace("../build", ""), f"{f} names a path outside the repository"
        assert not [place for place in places if place in text], f
