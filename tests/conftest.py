"""Shared fixtures for the end-to-end tests: build the compendium in temporary copies.

Every build happens below pytest's temporary folder; the repository's own
outputs and data are only read. One clean build (``built_copy``) is made per
session and shared; a test that changes inputs works on its own copy, either a
fresh copy of the sources (``fresh_copy``) or a clone of the finished build
with its timestamps kept (``clone_built``), so that ``make`` only redoes what
the change requires.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from compendium.maintenance import reproduce
from compendium.provenance import source_commit
from compendium.source import source_date_epoch
from compendium.paths import Paths, paths

__all__ = ["RECALL_PROPERTY", "VENV", "Run", "data_restored"]

# The virtual environment running the tests is the one every build reuses (VENV=...).
VENV = Path(sys.prefix)
# Variables a parent `make` (e.g. `make test`) would pass down; a build in a copy must not inherit them.
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR")
# Set by the pipeline while a notebook runs; never meaningful for a new process.
PIPELINE_VARIABLES = (
    "COMPENDIUM_PROVENANCE",
    "COMPENDIUM_ROOT",
    "PYTHONPATH",
    "SOURCE_DATE_EPOCH",
    "COMPENDIUM_DATA",
    "COMPENDIUM_OUT",
)
BUILD_TIMEOUT = 1200  # seconds; a cold build takes 20-40 s on two cores


Run = subprocess.CompletedProcess  # output: stdout and stderr interleaved, as a researcher sees them

# Under `make test`, the Makefile exports the id of its run, which would let every command a test starts
# (often in parallel, each in its own copy) start a build server of its own. Tests run commands as a
# researcher does by hand; a `make` a test starts exports its own id, and tests/test_server.py sets one.
os.environ.pop("COMPENDIUM_MAKE_PID", None)

# A test that starts processes (the command line, make, kernels) costs seconds; `make test-fast` leaves them out,
# and the tests that generate and validate a large synthetic study in this process.
PROCESS_HINTS = ("subprocess.", "run_cli(", "run_make(", "execute_notebook(")
LARGE_STUDY = (
    "test_four_digit_ids_and_surnamed_pseudonyms_pass_the_name_check",
    "test_output_passes_validation_and_anonymisation_gate[80]",
)


def _starts_processes(item: pytest.Item) -> bool:
    funcs = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    if info is not None:
        funcs += [d.func for defs in info.name2fixturedefs.values() for d in defs]
    return any(_source_starts_processes(func) for func in funcs)


@functools.cache
def _source_starts_processes(func: object) -> bool:
    """Whether ``func``'s source names a way to start a process (asked once per function: the
    parametrized tests and the fixtures they share would otherwise read the same source again)."""
    import inspect

    try:
        source = inspect.getsource(func)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    return any(hint in source for hint in PROCESS_HINTS)


# The files that take longest, longest first (measured with the tests in one process). `make test` hands each
# file to whichever worker is free (--dist loadfile --no-loadscope-reorder), in this order: a long file left to
# the end would keep one core busy while the other has nothing left to do.
SLOWEST_FIRST = (
    "test_reproduce.py",
    "test_build_safety.py",
    "test_server.py",
    "test_browser.py",
    "test_restricted.py",
    "test_manuscript_review.py",
    "test_teaching_leaks.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test whose body or fixtures start processes (or that builds a large study) as ``heavy``;
    put the slowest files first (:data:`SLOWEST_FIRST`), each file's tests in their own order."""
    for item in items:
        if item.name in LARGE_STUDY or _starts_processes(item):
            item.add_marker(pytest.mark.heavy)
    first = {name: rank for rank, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES + PIPELINE_VARIABLES}
    # The colophon names the source commit; builds here use the value `make verify` uses for the
    # working tree, so a copy's artefacts can be compared with the committed manifest.
    # Likewise its date: a copy has no .git, and must be dated like the working tree.
    env["COMPENDIUM_COMMIT"] = source_commit(paths())
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch(paths().root))
    # A copy's build server stays warm for the test's next make run, but not for the Makefile's
    # ten minutes: a session builds dozens of copies, and each server holds about 170 MB.
    env["COMPENDIUM_SERVER_LINGER"] = "30"
    return env


@pytest.fixture(scope="session")
def repo() -> Paths:
    """The working tree the tests were started from (read only)."""
    return paths()


@pytest.fixture(scope="session")
def run_make() -> Callable[..., Run]:
    """``run_make(root, *targets)``: run ``make -C root targets`` with the test venv and capture its output.

    ``COMPENDIUM_ENV_READY=1`` tells make (and the sub-make the build lock starts) never to
    (re)install packages into the shared environment from a test, whatever the timestamps
    of the copied lock file and pyproject.toml.
    """
    env = _base_env()

    def run(root: Path, *targets: str) -> Run:
        # The copy's .venv links to the test environment (a VENV=<path> argument would break on spaces).
        reproduce._link_venv(root, VENV)
        return subprocess.run(
            ["make", "-C", str(root), "COMPENDIUM_ENV_READY=1", *targets],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BUILD_TIMEOUT,
        )

    return run


@pytest.fixture(scope="session")
def run_cli() -> Callable[..., Run]:
    """``run_cli(root, *args)``: ``python -m compendium args`` on the copy at ``root``, as the Makefile calls it."""
    env = _base_env()

    def run(root: Path, *args: str) -> Run:
        return subprocess.run(
            [str(VENV / "bin" / "python"), "-m", "compendium", *args],
            cwd=root,
            env={**env, "COMPENDIUM_ROOT": str(root), "PYTHONPATH": str(root / "src"), "MPLBACKEND": "Agg"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BUILD_TIMEOUT,
        )

    return run


@pytest.fixture(scope="session")
def fresh_copy(repo: Paths, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Paths]:
    """``fresh_copy(name)``: a new copy of the tracked sources (nothing built)."""

    def copy(name: str) -> Paths:
        target = tmp_path_factory.mktemp(name) / "compendium"
        return Paths(reproduce.copy_sources(repo, target))

    return copy


@pytest.fixture(scope="session")
def built_copy(
    repo: Paths, tmp_path_factory: pytest.TempPathFactory, run_make: Callable[..., Run], request: pytest.FixtureRequest
) -> Paths:
    """A copy of the sources after one ``make all`` from clean; read it, never change it.

    ``make test`` runs the tests in parallel worker processes (pytest-xdist); they share one such
    build, made by the first worker that asks for it while the others wait (a lock file in the
    session's temporary folder, which every worker of the session has as its parent folder).
    """
    if not hasattr(request.config, "workerinput"):  # not a worker: one process, the session's own folder
        return _built(tmp_path_factory.mktemp("built"), repo, run_make)
    shared = tmp_path_factory.getbasetemp().parent
    with (shared / "built.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the build fails
        return _built(shared / "built", repo, run_make)


def _built(folder: Path, repo: Paths, run_make: Callable[..., Run]) -> Paths:
    """The build in ``folder``: made there unless a worker already made it (a failed build's output is kept)."""
    copy, done, failed = folder / "compendium", folder / "built.done", folder / "built.failed"
    if not done.exists() and not failed.exists():
        folder.mkdir(exist_ok=True)
        reproduce.copy_sources(repo, copy)
        result = run_make(copy, "all")
        if result.returncode == 0:
            done.touch()
        else:
            failed.write_text(
                f"make all failed in {copy} (exit {result.returncode}):\n{result.stdout[-4000:]}", encoding="utf-8"
            )
    assert not failed.exists(), failed.read_text(encoding="utf-8")
    return Paths(copy)


@pytest.fixture(scope="session")
def clone_built(built_copy: Paths, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Paths]:
    """``clone_built(name)``: a private clone of ``built_copy`` with every timestamp kept (make sees it up to date)."""

    def clone(name: str) -> Paths:
        target = tmp_path_factory.mktemp(name) / "compendium"
        shutil.copytree(built_copy.root, target, symlinks=True)  # copy2: modification times are kept
        return Paths(target)

    return clone


@contextlib.contextmanager
def data_restored(p: Paths) -> Iterator[None]:
    """A copy's ``data/`` after the block as it was before: the same files, bytes and modification times.

    For tests that plant bad input in one shared copy in turn, each running ``make`` there (its build server
    then stays warm from one test to the next, as for an author who fixes the input and runs it again).
    """
    saved = {f: (f.read_bytes(), f.stat()) for f in p.data.rglob("*") if f.is_file()}
    try:
        yield
    finally:
        for f in p.data.rglob("*"):
            if f.is_file() and f not in saved:
                f.unlink()
        for f, (data, stat) in saved.items():
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(data)
            os.utime(f, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# ---------------------------------------------------------------- identifier corpus: recall in the summary
# tests/test_identifiers.py records each category's recall as a property of its test's report; reports reach
# the process that prints the summary also when the tests ran in worker processes (pytest-xdist).
RECALL_PROPERTY = "identifier_recall"
IDENTIFIER_RECALL: dict[str, tuple[int, int]] = {}  # corpus category -> (caught, planted), in this process


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, value in report.user_properties:
        if name == RECALL_PROPERTY:
            category, caught, planted = value
            IDENTIFIER_RECALL[category] = (caught, planted)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    recall = IDENTIFIER_RECALL
    if not recall:
        return
    terminalreporter.section("anonymisation gate: recall on tests/identifiers/corpus.yaml")
    caught = sum(c for c, _ in recall.values())
    planted = sum(n for _, n in recall.values())
    for category, (c, n) in recall.items():
        terminalreporter.write_line(f"  {category:<28} {c:>3}/{n:<3} {100 * c / n:5.1f} %")
    terminalreporter.write_line(f"  {'all categories':<28} {caught:>3}/{planted:<3} {100 * caught / planted:5.1f} %")
