"""The source commit and its date name what a build came from (reproducible-builds practice).

Each test makes a small git repository of its own in a temporary folder, so the
history is known exactly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from compendium import source

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
}


def git(root: Path, *args: str, when: int | None = None) -> str:
    env = {**os.environ, **GIT_ENV}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """A repository whose last build-input commit is followed by a commit to tests only."""
    monkeypatch.delenv("COMPENDIUM_COMMIT", raising=False)
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "tests").mkdir()
    git(root, "init", "-q")
    (root / "data" / "a.csv").write_text("x\n1\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "data", when=1700000000)
    built = git(root, "rev-parse", "HEAD")
    (root / "tests" / "t.py").write_text("pass\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tests only", when=1800000000)
    return root, built, git(root, "rev-parse", "HEAD")


def test_source_commit_is_the_last_commit_that_changed_a_build_input(history: tuple[Path, str, str]) -> None:
    root, built, head = history
    assert source.source_commit(root) == built[: source.COMMIT_DIGITS]
    assert source.head_commit(root) == head[: source.COMMIT_DIGITS]
    assert source.source_commit(root) != source.head_commit(root)


def test_build_date_is_the_source_commits_date_not_the_latest(history: tuple[Path, str, str]) -> None:
    root, _, _ = history
    assert source.source_date_epoch(root) == 1700000000


@pytest.mark.parametrize("path", source.NOT_BUILD_INPUTS)
def test_a_commit_to_code_the_build_never_reads_keeps_the_source_commit(
    history: tuple[Path, str, str], path: str
) -> None:
    root, built, _ = history
    (root / path).mkdir(parents=True)
    (root / path / "x.py").write_text("pass\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"only {path}", when=1900000000)
    assert source.source_commit(root) == built[: source.COMMIT_DIGITS]
    assert source.source_date_epoch(root) == 1700000000
    # ...while the pipeline's own code, next to it, is a build input.
    (root / "src" / "compendium").mkdir(parents=True, exist_ok=True)
    (root / "src" / "compendium" / "step.py").write_text("pass\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "pipeline", when=2000000000)
    assert source.source_date_epoch(root) == 2000000000


def test_what_the_build_never_reads_matches_the_makefile() -> None:
    """The Makefile's SRC is the top level of the package: teaching/ and maintenance/ stay out of both."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text(encoding="utf-8")
    src_line = next(line for line in makefile.splitlines() if line.startswith("SRC "))
    for path in source.NOT_BUILD_INPUTS:
        assert path not in src_line
        assert f"$(wildcard {path}" not in makefile


def test_every_file_the_manuscript_step_reads_is_a_build_input() -> None:
    """The filters, the pages' renderer and CITATION.cff shape the artefacts: committing one must re-date them."""
    root = Path(__file__).resolve().parents[1]

    def listed(*pathspec: str) -> set[str]:
        command = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *pathspec]
        return set(subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout.split())

    read = listed("manuscript/*.lua", "manuscript/*.md", "manuscript/*.bib", "CITATION.cff")
    assert {"manuscript/notebook_pages.lua", "manuscript/guard.lua", "CITATION.cff"} <= read
    assert read <= listed(*source.pathspec())


def test_an_archive_without_git_uses_the_values_recorded_with_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMPENDIUM_COMMIT", raising=False)
    (tmp_path / source.MANIFEST_FILES[1]).write_text(
        json.dumps({"commit": "abc123def456", "source_date_epoch": 1690000000})
    )
    assert source.source_commit(tmp_path) == "abc123def456"
    assert source.source_date_epoch(tmp_path) == 1690000000


def test_an_archive_unpacked_inside_another_repository_ignores_that_history(
    history: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outer, _, _ = history
    inner = outer / "unpacked"
    (inner / "data").mkdir(parents=True)
    (inner / source.MANIFEST_FILES[1]).write_text(json.dumps({"commit": "fedcba987654", "source_date_epoch": 5}))
    assert source.source_commit(inner) == "fedcba987654"
    assert source.source_date_epoch(inner) == 5


def test_the_makefile_reads_the_epoch_from_this_module(tmp_path: Path) -> None:
    """`python3.11 src/compendium/source.py epoch ROOT` is what the Makefile runs; it needs no package."""
    script = Path(source.__file__)
    out = subprocess.run(
        ["python3", "-S", str(script), "epoch", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "1654041600"  # the documented last resort: no git and no manifest snapshot
    bad = subprocess.run(["python3", "-S", str(script), "when"], capture_output=True, text=True)
    assert bad.returncode == 2 and "usage" in bad.stderr


def test_the_build_epoch_is_read_strictly(monkeypatch: pytest.MonkeyPatch) -> None:
    from compendium.errors import CompendiumError
    from compendium.reproducible import ZIP_EARLIEST, build_epoch, zip_timestamp

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1654041600")
    assert build_epoch() == 1654041600
    assert zip_timestamp() == (2022, 6, 1, 0, 0, 0)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert zip_timestamp() == (1980, 1, 1, 0, 0, 0)  # zip cannot hold earlier dates
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert build_epoch() is None and ZIP_EARLIEST == 315532800
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "last tuesday")
    with pytest.raises(CompendiumError, match="not a whole number"):
        build_epoch()


def test_rezip_keeps_the_order_and_fixes_the_dates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    from compendium.reproducible import rezip

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1654041600")
    path = tmp_path / "doc.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("z.xml", "last")
        zf.writestr("a.xml", "first")
    rezip(path)
    with zipfile.ZipFile(path) as zf:
        assert [i.filename for i in zf.infolist()] == ["z.xml", "a.xml"]
        assert {i.date_time for i in zf.infolist()} == {(2022, 6, 1, 0, 0, 0)}
        assert zf.read("a.xml") == b"first"


def test_the_build_locks_sub_make_reuses_the_source_date_its_parent_read(tmp_path: Path) -> None:
    """One lookup per build: the locked sub-make in the same folder takes the value; any other folder looks again."""
    repo = Path(__file__).resolve().parents[1]
    root = tmp_path / "copy"
    root.mkdir()
    shutil.copy2(repo / "Makefile", root / "Makefile")
    (root / "src" / "compendium").mkdir(parents=True)
    shutil.copy2(repo / "src" / "compendium" / "source.py", root / "src" / "compendium" / "source.py")
    # As from a terminal: not inside another make (`make test` exports SOURCE_DATE_EPOCH, which would win).
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "SOURCE_DATE_EPOCH"}

    def source_now(locked: Path) -> str:
        printed = subprocess.run(
            ["make", "-C", str(root), "-pn", "help"],
            env={**env, "COMPENDIUM_LOCKED": str(locked), "COMPENDIUM_SOURCE_NOW": "1700000000 0123456789ab"},
            capture_output=True,
            text=True,
        ).stdout
        return next(line for line in printed.splitlines() if line.startswith("SOURCE_NOW :="))

    assert source_now(root.resolve()) == "SOURCE_NOW := 1700000000 0123456789ab"
    assert source_now(tmp_path / "elsewhere") == "SOURCE_NOW := 1654041600 unknown (not a git checkout)"
