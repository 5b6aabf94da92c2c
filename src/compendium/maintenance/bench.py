"""``make bench``: time the build and write ``benchmarks/results.md``.

In one run, on copies of the tracked sources in a temporary folder: cold, no-op
and one-change builds against the naive baseline (Papermill's CLI once per
notebook, sequentially), a fresh clone with cold caches, ``make verify``, and
generated studies of 8, 80 and 800 participants through the real pipeline.
CPU time counts every process of a run, the build server's included (it
reports each command's CPU and its own to a file before it answers), and the
zygote's it was forked from (which reports its own when it forks a server).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import CompendiumError
from ..files import write_text
from ..paths import Paths, paths
from ..provenance import source_commit
from .reproduce import copy_sources

__all__ = ["bench_command", "TARGETS", "failure_lines"]

# Targets on a 2-core machine (issue 17); ratios are measured within one run, pairs alternating.
TARGETS = {
    "ratio": 0.35,
    "noop": 0.2,
    "transcript": 3.0,
    "duration": 2.0,
    "clone": 60.0,
    "verify": 45.0,
    "scale_seconds": 120.0,
    "scale_mb": 1536.0,
}


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _children_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


class _Timed:
    """One measured command: wall seconds, CPU seconds (its processes and the build server's), peak MB."""

    def __init__(
        self,
        wall: float,
        cpu: float,
        peak_mb: float,
        code: int,
        output: str,
        jobs: list[tuple[float, str]] | None = None,
        server: float = 0.0,
    ) -> None:
        self.wall, self.cpu, self.peak_mb, self.code, self.output = wall, cpu, peak_mb, code, output
        self.jobs = jobs or []  # (CPU seconds, command) of each command the build server ran
        self.server = server  # the build server's CPU seconds, its commands included


def _timed(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> _Timed:
    """Run ``cmd``; the build server a make run uses is detached, so it reports its CPU to a file."""
    with tempfile.NamedTemporaryFile("r", prefix="compendium-bench-cpu-", delete=False) as fh:
        cpu_file = Path(fh.name)
    # A run stands alone: not part of the `make bench` that started it (its jobserver, its build server).
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "COMPENDIUM_MAKE_PID")
    }
    environment = {**inherited, **(env or {}), "COMPENDIUM_SERVER_CPU": str(cpu_file)}
    cpu0 = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu0
    peak = _children_peak_mb()
    # The build server answers each command only after adding the command's CPU and its own since
    # its last report to the file this run named: once make has returned, everything is there,
    # whether the server then stops or stays warm for the next run.
    jobs, server = [], 0.0
    for line in cpu_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("self "):
            _, own_cpu, server_peak = line.split()
            server += float(own_cpu)
            peak = max(peak, float(server_peak))
        elif line.startswith("job "):
            _, seconds, command = line.split(" ", 2)
            jobs.append((float(seconds), command))
            server += float(seconds)
    cpu_file.unlink(missing_ok=True)
    return _Timed(wall, cpu + server, peak, result.returncode, result.stdout, jobs, server)


def _reran(run: _Timed) -> str:
    """Which notebooks a build ran, and which kept their outputs by content (src/compendium/memo.py)."""
    ran = sorted(set(re.findall(r"^notebook: (\S+)(?: \(participant=(\w+)\))?$", run.output, re.M)))
    kept = sorted(set(re.findall(r"^notebook: (\S+): its inputs have the bytes", run.output, re.M)))
    return (
        "re-ran: "
        + (", ".join(f"{a}{'_' + b if b else ''}" for a, b in ran) or "no notebook")
        + (f"; kept by content (the same bytes in, src/compendium/memo.py): {', '.join(kept)}" if kept else "")
        + " (and the manuscript)."
    )


def _where(run: _Timed) -> str:
    """Where a build's CPU went: the warm-up, the commands by kind, and everything outside the server."""
    kinds: dict[str, list[float]] = {}
    for seconds, command in run.jobs:
        words = command.split()
        kind = words[1] if words[:1] == ["run"] and len(words) > 1 else words[0]
        kinds.setdefault(kind, []).append(seconds)
    served = sum(s for s, _ in run.jobs)
    parts = [f"build server and zygote warm-up and bookkeeping {run.server - served:.1f}"]
    parts += [
        f"{kind} {sum(v):.1f}" + (f" ({len(v)} runs, {sum(v) / len(v):.2f} each)" if len(v) > 1 else "")
        for kind, v in sorted(kinds.items(), key=lambda kv: -sum(kv[1]))
    ]
    parts.append(f"outside the server (make, clients, notebook pages with pandoc) {run.cpu - run.server:.1f}")
    return "; ".join(parts) + " CPU-s"


def failure_lines(output: str, limit: int = 8) -> list[str]:
    """What a failed build said: its first error and the lines under it (else its last lines).

    The build's copy is deleted with the benchmark's temporary folder, so the reason must be kept here.

    >>> failure_lines("step 1\\nerror: gate: 1 hit\\n  - out.html, line 3: name\\nmake: *** Error 1\\nmake: Leaving")
    ['error: gate: 1 hit', '- out.html, line 3: name', 'make: *** Error 1', 'make: Leaving']
    """
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    first = next((i for i, line in enumerate(lines) if line.startswith("error:")), None)
    return lines[first : first + limit] if first is not None else lines[-4:]


def _make_cmd(root: Path, venv: Path, *targets: str) -> list[str]:
    # Never reinstall into the environment running the benchmark, whatever the copied timestamps say.
    return ["make", "-C", str(root), f"VENV={venv}", "COMPENDIUM_ENV_READY=1", *targets]


def _naive_cmds(root: Path, venv: Path) -> list[list[str]]:
    """Papermill's CLI once per notebook, sequentially, on the same notebooks (the baseline)."""
    from ..data import load_participants

    jobs = [("01_read_corpus", [])] + [
        ("02_analyse_case", ["-p", "participant", pid]) for pid in load_participants(Paths(root))["participant_id"]
    ]
    jobs += [("03_analyse_across_cases", []), ("04_describe_sample", [])]
    out = root / "build" / "naive"
    out.mkdir(parents=True, exist_ok=True)
    return [
        [
            str(venv / "bin" / "papermill"),
            str(root / "notebooks" / f"{stem}.ipynb"),
            str(out / f"{i:02d}_{stem}.ipynb"),
            "-p",
            "write_outputs",
            "True",
            *extra,
            "--cwd",
            str(root / "notebooks"),
        ]
        for i, (stem, extra) in enumerate(jobs)
    ]


def _naive(root: Path, venv: Path) -> _Timed:
    env = {"COMPENDIUM_ROOT": str(root), "PYTHONPATH": str(root / "src")}
    wall = cpu = peak = 0.0
    for cmd in _naive_cmds(root, venv):
        one = _timed(cmd, env=env)
        if one.code:
            raise CompendiumError(
                f"bench: the naive baseline failed; its last output:\n{one.output[-3000:]}",
                fix="run that notebook with papermill by hand to see the failure",
            )
        wall, cpu, peak = wall + one.wall, cpu + one.cpu, max(peak, one.peak_mb)
    return _Timed(wall, cpu, peak, 0, "")


def _checked(run: _Timed, what: str) -> _Timed:
    if run.code:
        raise CompendiumError(
            f"bench: {what} failed (exit {run.code}); its last output:\n{run.output[-3000:]}",
            fix="run `make all` in the working tree to see the same failure, fix it, then `make bench` again",
        )
    return run


def _edit_duration(root: Path, delta: int) -> None:
    """Add ``delta`` minutes to the first participant's interview duration (keeps the CSV otherwise as is)."""
    import csv
    import io

    path = Paths(root).participants
    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    rows[0]["duration_min"] = str(int(rows[0]["duration_min"]) + delta)
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def bench_command(args) -> int:
    """``make bench``: every target of issue 17 in one run, written to benchmarks/results.md."""
    p = paths()
    venv = Path(sys.prefix)  # the environment running this command (make passes VENV)
    runs = max(1, args.runs)
    rows: list[tuple[str, str, str, bool | None]] = []
    notes: list[str] = []
    started_all = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="compendium-bench-") as tmp:
        root = copy_sources(p, Path(tmp) / "compendium")
        naive_root = copy_sources(p, Path(tmp) / "naive")  # its own copy: the loop rewrites the tables too
        make = lambda *t: _make_cmd(root, venv, *t)  # noqa: E731
        cold, naive, noop, one, settled, duration, unwarmed = [], [], [], [], [], [], []
        for i in range(runs):  # pairs, alternating which goes first
            order = ("cold", "naive") if i % 2 == 0 else ("naive", "cold")
            for which in order:
                if which == "cold":
                    _checked(_timed(make("clean")), "make clean")
                    cold.append(_checked(_timed(make("all")), "cold make all"))
                else:
                    naive.append(_naive(naive_root, venv))
            noop.append(_checked(_timed(make("all")), "no-op make all"))
            transcript = Paths(root).transcript("P03")
            original = transcript.read_bytes()
            # Each pair's edits are new content (the build keeps content-addressed caches, such as the
            # anonymisation gate's: a repeated edit would be faster than an author's real one).
            closing = ("Thank you again.", "Thanks once more.", "Many thanks for today.")[i % 3]
            transcript.write_bytes(original + f"Interviewer: {closing} ({i + 1})\n".encode())
            one.append(_checked(_timed(make("all")), "make all after a transcript change"))
            # The build after an edit must have nothing left to do, as after a cold build.
            settled.append(_checked(_timed(make("all")), "no-op make all after a transcript change"))
            transcript.write_bytes(original)
            _checked(_timed(make("all")), "make all after restoring the transcript")
            _edit_duration(root, +(i + 1))
            duration.append(_checked(_timed(make("all")), "make all after a duration change"))
            _edit_duration(root, -(i + 1))
            _checked(_timed(make("all")), "make all after restoring the duration")
            # The same edit as the first build after the server has gone (idle for 10 minutes, a module
            # changed): a build server of this run's own, which warms up before it answers.
            _edit_duration(root, +(i + 11))
            unwarmed.append(
                _checked(_timed(make("all"), env={"COMPENDIUM_SERVER_LINGER": "0"}), "make all, no warm server")
            )
            _edit_duration(root, -(i + 11))
            _checked(_timed(make("all")), "make all after restoring the duration")
        ratio_wall = _median([c.wall / n.wall for c, n in zip(cold, naive)])
        ratio_cpu = _median([c.cpu / n.cpu for c, n in zip(cold, naive)])
        med = lambda xs, k: _median([getattr(x, k) for x in xs])  # noqa: E731
        rows += [
            (
                "cold `make all` after `make clean`",
                f"{med(cold, 'wall'):.1f} s wall, {med(cold, 'cpu'):.1f} CPU-s",
                "(measured)",
                None,
            ),
            (
                "naive loop: papermill CLI once per notebook, sequential",
                f"{med(naive, 'wall'):.1f} s wall, {med(naive, 'cpu'):.1f} CPU-s",
                "(reference)",
                None,
            ),
            (
                "ratio cold / naive, wall time (median of the pairs)",
                f"{ratio_wall:.2f}",
                f"<= {TARGETS['ratio']}",
                ratio_wall <= TARGETS["ratio"],
            ),
            (
                "ratio cold / naive, CPU time (median of the pairs)",
                f"{ratio_cpu:.2f}",
                f"<= {TARGETS['ratio']}",
                ratio_cpu <= TARGETS["ratio"],
            ),
            (
                "no-op `make all`",
                f"{med(noop, 'wall'):.2f} s",
                f"<= {TARGETS['noop']} s",
                med(noop, "wall") <= TARGETS["noop"],
            ),
            (
                "no-op `make all` after an edit (the transcript change)",
                f"{med(settled, 'wall'):.2f} s",
                f"<= {TARGETS['noop']} s",
                med(settled, "wall") <= TARGETS["noop"],
            ),
            (
                "one transcript changed",
                f"{med(one, 'wall'):.1f} s ({med(one, 'cpu'):.1f} CPU-s)",
                f"<= {TARGETS['transcript']:.0f} s",
                med(one, "wall") <= TARGETS["transcript"],
            ),
            (
                "one interview duration changed",
                f"{med(duration, 'wall'):.1f} s ({med(duration, 'cpu'):.1f} CPU-s)",
                f"<= {TARGETS['duration']:.0f} s",
                med(duration, "wall") <= TARGETS["duration"],
            ),
            (
                "the same, as the first build with no build server warm (idle 10 minutes, or code changed)",
                f"{med(unwarmed, 'wall'):.1f} s ({med(unwarmed, 'cpu'):.1f} CPU-s)",
                "(measured)",
                None,
            ),
        ]
        notes.append(f"Where the CPU of the last cold build went: {_where(cold[-1])}.")
        notes.append(f"Where the CPU of the last duration change went: {_where(duration[-1])}.")
        notes.append(f"A transcript change {_reran(one[-1])}")
        notes.append(f"A duration change {_reran(duration[-1])}")
        if args.quick:
            rows.append(
                (
                    "fresh clone to built compendium (set-up included, caches cold)",
                    "not measured (--quick)",
                    f"<= {TARGETS['clone']:.0f} s",
                    None,
                )
            )
            rows.append(("`make verify`", "not measured (--quick)", f"<= {TARGETS['verify']:.0f} s", None))
        else:
            clone = _fresh_clone(p, Path(tmp) / "clone")
            rows.append(
                (
                    "fresh clone to built compendium (set-up included, caches cold)",
                    f"{clone.wall:.1f} s" + ("" if clone.code == 0 else f" (FAILED, exit {clone.code})"),
                    f"<= {TARGETS['clone']:.0f} s",
                    clone.code == 0 and clone.wall <= TARGETS["clone"],
                )
            )
            verify = _timed(_make_cmd(root, venv, "verify"))
            verdict = next((line for line in verify.output.splitlines() if "VERIFIED" in line), "no verdict")
            rows.append(
                (
                    "`make verify`",
                    f"{verify.wall:.1f} s ({verdict.split(':')[0]})",
                    f"<= {TARGETS['verify']:.0f} s",
                    verify.wall <= TARGETS["verify"],
                )
            )
        sizes = [
            int(x)
            for x in (
                args.sizes.split(",")
                if getattr(args, "sizes", None)
                else (["8", "80"] if args.quick else ["8", "80", "800"])
            )
        ]
        scale = {size: _scale(p, venv, Path(tmp) / f"scale{size}", size) for size in sizes}
    for size, run in scale.items():
        if run.code:
            notes.append(f"The {size}-participant build failed: " + " / ".join(failure_lines(run.output)))
        aimed = size == 800  # the size the targets are set for; the others show the growth
        ok = run.code == 0 and run.wall <= TARGETS["scale_seconds"] and run.peak_mb <= TARGETS["scale_mb"]
        rows.append(
            (
                f"{size} participants through the real pipeline (`make all`, a case notebook each)",
                (
                    f"{run.wall:.1f} s wall, {run.cpu:.0f} CPU-s, peak {run.peak_mb:.0f} MB"
                    if run.code == 0
                    else f"FAILED (exit {run.code})"
                ),
                "<= 120 s, <= 1.5 GB" if aimed else "(growth)",
                ok if aimed else None,
            )
        )
    if len(scale) >= 2:
        small, large = min(scale), max(scale)
        a, b = scale[small], scale[large]
        if a.code == 0 and b.code == 0 and large > small:
            per_wall = (b.wall - a.wall) / (large - small)
            per_cpu = (b.cpu - a.cpu) / (large - small)
            rows.append(
                (
                    f"per extra participant, {small} -> {large} (one case notebook, its page, its share of the rest)",
                    f"{per_wall:.2f} s wall, {per_cpu:.2f} CPU-s",
                    "(near-linear growth)",
                    None,
                )
            )
            notes.append(f"Where the CPU of the {large}-participant build went: {_where(b)}.")
            notes.append(
                f"Growth {small} -> {large} participants: x{b.wall / a.wall:.1f} in wall time for "
                f"x{large / small:.0f} participants."
            )
    lines = ["| measure | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {m} | {v} | {t} | {'' if ok is None else 'yes' if ok else 'NO'} |" for m, v, t, ok in rows]
    total = time.perf_counter() - started_all
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d')} on {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}; medians of {runs} alternating pair(s) "
            f"(cold build, naive loop); scale rows one run each; the whole benchmark took {total / 60:.1f} min. "
            "Produced by `make bench` (src/compendium/maintenance/bench.py).",
            "",
            *lines,
            "",
            "CPU time counts every process of a run: make, the build server (which reports each command's CPU and "
            "its own before it answers) and the zygote it was forked from (which reports its own when it forks it), "
            "the kernels, pandoc and typst. Peak memory is the largest single process's resident set. A cold build "
            "starts a new zygote and build server (`make clean` stops the old ones); the edits are "
            "measured as an author meets them, with the server the previous build left warm (it stays up to 10 "
            "idle minutes), and once more without it.",
            "",
            "The cold build does more than the naive loop: it validates the data, runs the anonymisation gate, "
            "renders the manuscript in four formats with its COREQ checklist, provenance table and one web page "
            "per notebook, and writes the REFI-QDA exports.",
            "",
            *[f"- {n}" for n in notes],
            "",
        ]
    )
    print(text)
    target = p.root / (args.out or "benchmarks/results.md")
    write_text(target, text)
    print(f"bench: results written to {p.shown(target)}")
    return 0


def _fresh_clone(p: Paths, workdir: Path) -> _Timed:
    """Copy the sources (as a clone would have them) and run `make all` with a new environment and cold caches."""
    copy = copy_sources(p, workdir / "compendium")
    caches = workdir / "caches"
    env = {"UV_CACHE_DIR": str(caches / "uv"), "PIP_NO_CACHE_DIR": "1", "XDG_CACHE_HOME": str(caches)}
    return _timed(["make", "-C", str(copy), "all"], env=env)


def _scale(p: Paths, venv: Path, root: Path, size: int) -> _Timed:
    """Generate a study of ``size`` participants and build it with ``make all``: every step, for real."""
    from .generate import generate_study

    generate_study(size, root, seed=2022, source=p)
    # Everything else a build reads (src/, the Makefile, tools/, CITATION.cff, ...), as a clone has it.
    copy_sources(p, root, besides=p.data.relative_to(p.root))
    # One make run, and its build server (up to 600 MB at 800 participants) ends with it: with the
    # Makefile's linger it would stay ten minutes in a folder that a test keeps after the run.
    env = {"COMPENDIUM_COMMIT": source_commit(p), "COMPENDIUM_SERVER_LINGER": "0"}
    return _timed(_make_cmd(root, venv, "all"), env=env)
