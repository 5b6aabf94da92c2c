"""One build at a time per folder, and no stale output that looks current after a failure.

``make`` runs this (standard library only, before the environment exists) as
``python3.11 tools/build_lock.py -- make GOALS...``. It takes an exclusive lock on
the compendium folder itself (so ``make clean`` cannot delete it), waits with a
message when another build holds it, then runs the real build as a sub-make with
``COMPENDIUM_LOCKED`` set to the folder.

When the build fails or is interrupted it removes ``build/all.done`` (the stamp
that says everything is current) and writes ``build/STALE.txt``: the outputs that
exist but are out of date, and those missing; ``make all`` rebuilds exactly these.
A later successful build removes the list.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path.cwd()
BUILD = ROOT / "build"
OWNER = BUILD / ".lock-owner"
STALE = BUILD / "STALE.txt"
STAMP = BUILD / "all.done"
# Goals that write no build output in this folder: their failure says nothing about the outputs.
NOT_BUILDING = frozenset(
    {
        "test-fast",
        "lint",
        "diff",
        "verify",
        "bench",
        "audit",
        "help",
        "lab",
        "lab-pipeline",
        "setup",
        "notebooks-canonical",
        "bib",
        "lock",
        "environment.yml",
    }
)
TRACE = re.compile(r"update target '(.+?)' due to: (.*)$")


def acquire(command: list[str]) -> int:
    fd = os.open(ROOT, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            owner = OWNER.read_text(encoding="utf-8").strip()
        except OSError:
            owner = "another make"
        print(
            f"make: another build is running in this folder ({owner}); waiting for it to finish "
            "(Ctrl-C to stop waiting) ...",
            file=sys.stderr,
            flush=True,
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except KeyboardInterrupt:
            print("make: stopped waiting; nothing was built", file=sys.stderr)
            sys.exit(130)
        print("make: the other build has finished; going on", file=sys.stderr, flush=True)
    started = dt.datetime.now().strftime("%H:%M:%S")
    try:
        BUILD.mkdir(exist_ok=True)
        OWNER.write_text(f"pid {os.getpid()}: {' '.join(['make', *command[1:]])}, since {started}\n", encoding="utf-8")
    except OSError:
        pass  # only the waiting message uses it; a full disk is reported by the build itself
    return fd


def stale_targets(make: str) -> tuple[list[str], list[str]]:
    """Outputs of ``make all`` that are out of date (exist) and missing.

    From a dry run with ``--trace`` (which names one target of each rule to run) and
    make's database (``-p``: the other targets a grouped rule makes, "Also makes: ...").
    """
    result = subprocess.run([make, "-n", "-p", "--trace", "all"], capture_output=True, text=True, env=sub_make_env())
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    groups: dict[str, list[str]] = {}
    rule = None
    for line in lines:
        header = re.match(r"^([^#\s][^:=]*?):(?!=)", line)
        if header:
            rule = header.group(1).strip()
        elif line.startswith("#  Also makes:") and rule:
            group = [rule, *line.split(":", 1)[1].split()]
            for target in group:
                groups[target] = group
    due: list[str] = []
    for line in lines:
        match = TRACE.search(line)
        if match:
            due += [t for t in groups.get(match.group(1), [match.group(1)]) if t not in due]
    due = [t for t in dict.fromkeys(due) if not t.startswith(".venv")]
    out_of_date = sorted(t for t in due if (ROOT / t).exists())
    missing = sorted(t for t in due if not (ROOT / t).exists())
    return out_of_date, missing


def mark_stale(make: str, code: int) -> None:
    out_of_date, missing = stale_targets(make)
    missing = [t for t in missing if t != "build/all.done"]
    if not out_of_date and not missing:
        return  # every output is current (e.g. a test failed after a complete build)
    STAMP.unlink(missing_ok=True)
    how = f"was interrupted (signal {-code})" if code < 0 else f"failed (exit {code})"
    lines = [
        f"# The last build {how} at {dt.datetime.now():%Y-%m-%d %H:%M:%S}.",
        "# build/all.done was removed: the outputs below do not reflect the current inputs.",
        "# `make all` rebuilds exactly these; this file goes away when a build succeeds.",
        "",
    ]
    lines += [f"stale   {t}" for t in out_of_date] + [f"missing {t}" for t in missing]
    BUILD.mkdir(exist_ok=True)
    tmp = STALE.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, STALE)
    if out_of_date:
        print(
            f"make: {len(out_of_date)} output(s) are now out of date and {len(missing)} missing; "
            f"listed in build/STALE.txt (build/all.done removed)",
            file=sys.stderr,
        )


def sub_make_env() -> dict[str, str]:
    """The environment of the real build: marked as holding the lock, and a top-level make of its own."""
    env = {**os.environ, "COMPENDIUM_LOCKED": str(ROOT)}
    env.pop("MAKELEVEL", None)  # it sets up its own parallel jobs (no "-j2 forced" warning)
    env["MAKEFLAGS"] = re.sub(r"(?:^|\s)(?:--jobserver-(?:auth|fds)=\S+|-j\d*)", "", env.get("MAKEFLAGS", "")).strip()
    return env


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "--" or len(argv) < 2:
        print("usage: build_lock.py -- make [GOAL...]", file=sys.stderr)
        return 2
    command = argv[1:]
    flags = os.environ.get("MAKEFLAGS", "").split()
    if flags and not flags[0].startswith("-") and set(flags[0]) & set("nqt"):
        # `make -n/-q/-t`: a question or a dry run, which writes nothing; no lock, no stale marks.
        return subprocess.run(command, env=sub_make_env(), close_fds=False).returncode
    fd = acquire(command)
    env = sub_make_env()
    # Ctrl-C reaches the sub-make through the terminal; this process waits for it to finish.
    # (The sub-make is started first, so it keeps the usual Ctrl-C behaviour.)
    child = subprocess.Popen(command, env=env, close_fds=False)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    goals = [arg for arg in command[1:] if not arg.startswith("-") and "=" not in arg] or ["all"]
    builds = any(goal not in NOT_BUILDING for goal in goals)
    try:
        if code != 0 and builds:
            try:
                mark_stale(command[0], code)
            except OSError as err:
                STAMP.unlink(missing_ok=True)
                print(
                    f"make: could not write build/STALE.txt ({err.strerror}); build/all.done was removed",
                    file=sys.stderr,
                )
        elif STALE.exists():
            out_of_date, missing = stale_targets(command[0])
            if not out_of_date and not missing:
                STALE.unlink(missing_ok=True)
    finally:
        OWNER.unlink(missing_ok=True)
        os.close(fd)
    return 130 if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
