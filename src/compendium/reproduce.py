"""Reproducibility: the manifest, ``make verify``, ``make diff`` and ``make bench``.

* ``manifest`` records the SHA-256 of every artefact in ``manifest.sha256``
  (the format of ``sha256sum``, so ``sha256sum -c manifest.sha256`` works too)
  and a small snapshot of the key results in ``manifest-snapshot.json`` that
  ``diff`` uses to explain changes in research terms.
* ``verify`` copies the committed sources into a temporary folder, builds from
  clean there with the same environment, and compares every artefact with the
  manifest; the working tree's outputs are never touched.
* ``bench`` times the build and writes ``benchmarks/results.md``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from .files import write_json, write_text
from .paths import Paths, paths
from . import source
from .provenance import MANIFEST_FILES, sha256, source_commit
from .themes import theme_key

__all__ = ["artefact_hashes", "write_manifest", "read_manifest", "compare", "snapshot", "research_diff",
           "copy_sources", "manifest_command", "verify_command", "diff_command", "bench_command"]

MANIFEST, SNAPSHOT = MANIFEST_FILES
SNAPSHOT_TABLES = ["table1_sample", "table2_themes", "theme_recurrence", "sample_aggregates", "convergence"]


# ------------------------------------------------------------------ manifest
def artefact_hashes(p: Paths) -> dict[str, str]:
    """SHA-256 of every generated artefact, keyed by path relative to the root."""
    return {str(f.relative_to(p.root)): sha256(f) for f in p.artefacts()}


def notebook_parameters(p: Paths) -> dict[str, dict[str, object]]:
    """Each pipeline notebook's declared parameter defaults (its ``parameters`` cell)."""
    from .handrun import declared_parameters

    return {path.stem: {name: default for name, (_, default) in declared_parameters(path).items()}
            for path in sorted(p.notebooks.glob("[0-9][0-9]_*.ipynb"))}


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def shown_quotes(p: Paths) -> list[dict[str, str]]:
    """The quotes the built manuscript shows, in order (written by the manuscript step)."""
    path = p.build / "manuscript" / "quotes_shown.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8"))


def snapshot(p: Paths) -> dict:
    """Key results in a form a researcher can compare: table cells, values, parameters, segments, quotes."""
    tables = {}
    for stem in SNAPSHOT_TABLES:
        path = p.tables / f"{stem}.csv"
        if path.is_file():
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            tables[stem] = {"columns": list(df.columns), "rows": df.values.tolist()}
    values = {}
    for path in sorted(p.values.glob("*.json")):
        values[path.stem] = _flatten(json.loads(path.read_text(encoding="utf-8")))
    coding = pd.read_csv(p.coding, dtype=str, keep_default_na=False)
    bank_path = p.tables / "quote_bank.csv"
    bank = pd.read_csv(bank_path, dtype=str, keep_default_na=False) if bank_path.is_file() else pd.DataFrame()
    return {
        "commit": source_commit(p),
        "source_date_epoch": source.source_date_epoch(p.root),
        "tables": tables,
        "values": values,
        "parameters": notebook_parameters(p),
        "segments": dict(zip(coding["segment_id"], coding["theme_id"])),
        "spans": {r.segment_id: f"{r.start}-{r.end}" for r in coding.itertuples()},
        "quotes": [f"{r.theme_id}:{r.segment_id}:{r.pseudonym}" for r in bank.itertuples()] if len(bank) else [],
        "shown_quotes": shown_quotes(p),
    }


def write_manifest(p: Paths) -> int:
    stamp = p.build / "manuscript" / "commit.txt"
    if not stamp.is_file() or stamp.read_text(encoding="utf-8").strip() != source_commit(p):
        from . import manuscript

        print(f"manifest: the manuscript's colophon names another commit; rebuilding it for {source_commit(p)}")
        manuscript.build(p=p)
    hashes = artefact_hashes(p)
    write_text(p.root / MANIFEST, "".join(f"{h}  {path}\n" for path, h in sorted(hashes.items())))
    write_json(p.root / SNAPSHOT, snapshot(p))
    return len(hashes)


def read_manifest(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            out[name] = digest
    return out


def compare(expected: dict[str, str], actual: dict[str, str]) -> pd.DataFrame:
    """One row per artefact: identical / changed / missing / unexpected."""
    rows = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            status = "missing"
        elif name not in expected:
            status = "unexpected"
        else:
            status = "identical" if expected[name] == actual[name] else "changed"
        rows.append({"artefact": name, "status": status, "expected": expected.get(name, "")[:12],
                     "rebuilt": actual.get(name, "")[:12]})
    return pd.DataFrame(rows, columns=["artefact", "status", "expected", "rebuilt"])


# ------------------------------------------------------------------ diff in research terms
# Plain names for the manuscript's values (manuscript/values/*.json); others are spelled out from their keys.
VALUE_NAMES = {
    "durations.mean": "mean interview duration (minutes)",
    "durations.median": "median interview duration (minutes)",
    "durations.min": "shortest interview (minutes)",
    "durations.max": "longest interview (minutes)",
    "durations.sd": "standard deviation of interview durations (minutes)",
    "durations.total": "total interview time (minutes)",
    "durations.n": "number of interviews",
    "n": "number of participants",
    "segments": "number of coded segments",
    "recurrence.threshold": "recurrence threshold (share of participants)",
    "recurrence.threshold_text": "recurrence threshold as written",
    "recurrence.participants_needed": "participants a theme needs to count as recurrent",
    "recurrence.themes_recurrent": "number of recurrent themes",
    "recurrence.themes_checked": "number of themes checked for recurrence",
    "recurrence.recurrent_ids": "recurrent themes",
    "recurrence.not_recurrent_ids": "themes that do not recur",
    "recurrence.themes_in_all": "themes voiced by every participant",
    "recurrence.min_present": "fewest participants voicing a theme",
    "recurrence.max_present": "most participants voicing a theme",
    "quote_rule": "rule for choosing quotes",
    "small_group_threshold": "smallest group size reported as a number",
}


def value_name(key: str) -> str:
    """``durations.mean`` -> "mean interview duration (minutes)"; unknown keys spelled out."""
    if key in VALUE_NAMES:
        return VALUE_NAMES[key]
    head, _, tail = key.partition(".")
    if head == "present_in" and tail:
        return f"participants voicing theme {tail}"
    return key.replace(".", ": ").replace("_", " ")


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "none"
    return str(value)


def _quote_label(q: dict[str, str]) -> str:
    lines = str(q.get("lines", "?"))
    return f"{q.get('pseudonym', '?')}, {'lines' if '-' in lines else 'line'} {lines} ({q.get('segment_id', '?')})"


def research_diff(old: dict, new: dict) -> list[str]:
    """Sentences describing how the results changed between two snapshots."""
    lines: list[str] = []
    for stem in sorted(set(old.get("tables", {})) | set(new.get("tables", {}))):
        a, b = old.get("tables", {}).get(stem), new.get("tables", {}).get(stem)
        if a is None or b is None:
            lines.append(f"table {stem}: {'added' if a is None else 'removed'}")
            continue
        if a["columns"] != b["columns"]:
            lines.append(f"table {stem}: columns changed from {a['columns']} to {b['columns']}")
            continue
        if len(a["rows"]) != len(b["rows"]):
            lines.append(f"table {stem}: {len(a['rows'])} rows before, {len(b['rows'])} now")
        for i, (ra, rb) in enumerate(zip(a["rows"], b["rows"]), start=1):
            for col, va, vb in zip(a["columns"], ra, rb):
                if va != vb:
                    lines.append(f"table {stem}, row {i} ({ra[0]}), column '{col}': {va!r} -> {vb!r}")
    for name in sorted(set(old.get("parameters", {})) | set(new.get("parameters", {}))):
        pa, pb = old.get("parameters", {}).get(name, {}), new.get("parameters", {}).get(name, {})
        for key in sorted(set(pa) | set(pb)):
            if pa.get(key) != pb.get(key):
                lines.append(f"parameter {key} of notebook {name}: {_show(pa.get(key, 'absent'))} -> "
                             f"{_show(pb.get(key, 'absent'))}")
    for group in sorted(set(old.get("values", {})) | set(new.get("values", {}))):
        va, vb = old.get("values", {}).get(group, {}), new.get("values", {}).get(group, {})
        for key in sorted(set(va) | set(vb)):
            if va.get(key) != vb.get(key):
                before = _show(va[key]) if key in va else "absent"
                after = _show(vb[key]) if key in vb else "absent"
                lines.append(f"value {value_name(key)} ({group}.json: {key}): {before} -> {after}")
    sa, sb = old.get("segments", {}), new.get("segments", {})
    spans_a, spans_b = old.get("spans", {}), new.get("spans", {})
    for seg in sorted(set(sa) | set(sb)):
        if seg not in sb:
            lines.append(f"segment {seg}: removed (was theme {sa[seg]})")
        elif seg not in sa:
            lines.append(f"segment {seg}: added (theme {sb[seg]})")
        elif sa[seg] != sb[seg]:
            lines.append(f"segment {seg}: moved from theme {sa[seg]} to {sb[seg]}")
        if seg in spans_a and seg in spans_b and spans_a[seg] != spans_b[seg]:
            lines.append(f"segment {seg}: span changed from characters {spans_a[seg]} to {spans_b[seg]}")
    shown_a = _by_theme(old.get("shown_quotes", []))
    shown_b = _by_theme(new.get("shown_quotes", []))
    for theme in sorted(set(shown_a) | set(shown_b), key=theme_key):
        qa, qb = shown_a.get(theme, []), shown_b.get(theme, [])
        for i in range(max(len(qa), len(qb))):
            a = _quote_label(qa[i]) if i < len(qa) else None
            b = _quote_label(qb[i]) if i < len(qb) else None
            if a != b:
                lines.append(f"manuscript quote {i + 1} of theme {theme}: {a or 'none'} -> {b or 'none'}")
    qa_bank, qb_bank = set(old.get("quotes", [])), set(new.get("quotes", []))
    lines += [f"quote bank: dropped {q}" for q in sorted(qa_bank - qb_bank)]
    lines += [f"quote bank: added {q}" for q in sorted(qb_bank - qa_bank)]
    return lines


def _by_theme(quotes: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for q in quotes:
        out.setdefault(str(q.get("theme_id", "?")), []).append(q)
    return out


# ------------------------------------------------------------------ building a copy
def copy_sources(p: Paths, target: Path) -> Path:
    """Copy the files git tracks (as they are in the working tree) into ``target``."""
    try:
        listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                 cwd=p.root, capture_output=True, check=True).stdout.decode().split("\0")
        files = [f for f in listing if f and (p.root / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (e.g. an archive): everything except the environment and generated files.
        generated = {p.figures / f.name for f in p.figures.glob("*") if f.suffix in {".svg", ".png"}}
        skip_dirs = [p.root / ".venv", p.root / ".git", p.student_work, *p.generated_dirs()]
        files = [str(f.relative_to(p.root)) for f in p.root.rglob("*")
                 if f.is_file() and f not in generated and "__pycache__" not in f.parts
                 and not any(f.is_relative_to(d) for d in skip_dirs)]
    for rel in files:
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p.root / rel, dest)
    return target


def _link_venv(root: Path, venv: Path) -> None:
    """Make ``venv`` the copy's ``.venv`` through a symbolic link.

    Passing ``VENV=<absolute path>`` to make would break on a path with a space
    (``my compendium/.venv``): make splits targets and prerequisites at spaces.
    """
    link = root / ".venv"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(venv, target_is_directory=True)


def _make(root: Path, venv: Path, *targets: str, env: dict | None = None, quiet: bool = True) -> tuple[int, float, str]:
    _link_venv(root, venv)
    started = time.perf_counter()
    result = subprocess.run(["make", "-C", str(root), *targets], capture_output=quiet, text=True,
                            env={**os.environ, **(env or {})})
    output = (result.stdout or "") + (result.stderr or "") if quiet else ""
    return result.returncode, time.perf_counter() - started, output


def build_copy(p: Paths, workdir: Path) -> tuple[Paths, float, str]:
    """Copy the sources to ``workdir`` and run ``make all`` there; returns its Paths and the time taken."""
    copy = copy_sources(p, workdir)
    venv = Path(sys.prefix)  # the environment running this command (make passes VENV)
    code, seconds, output = _make(copy, venv, "all", env={"COMPENDIUM_COMMIT": source_commit(p),
                                                          "SOURCE_DATE_EPOCH": str(source.source_date_epoch(p.root))})
    if code != 0:
        raise SystemExit(f"verify: the rebuild failed (exit {code}):\n{output[-4000:]}")
    return Paths(copy), seconds, output


# ------------------------------------------------------------------ commands
def manifest_command(args) -> int:
    p = paths()
    n = write_manifest(p)
    print(f"manifest: recorded {n} artefacts in {MANIFEST} and the key results in {SNAPSHOT}; "
          "commit these two files on their own, after the changes they describe")
    return 0


def verify_command(args) -> int:
    p = paths()
    expected = read_manifest(p.root / MANIFEST)
    if not expected:
        print(f"verify: no {MANIFEST} to compare with.\n    fix: run `make manifest` and commit it", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="compendium-verify-") as tmp:
        print(f"verify: rebuilding from clean in {tmp} (the working tree is not touched) ...", flush=True)
        copy, seconds, _ = build_copy(p, Path(tmp) / "compendium")
        actual = artefact_hashes(copy)
    table = compare(expected, actual)
    counts = table["status"].value_counts().to_dict()
    print(table.to_string(index=False))
    ok = set(counts) == {"identical"}
    verdict = (f"VERIFIED: all {len(table)} artefacts are byte-identical to the manifest" if ok else
               "NOT VERIFIED: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if k != "identical")
               + f" of {len(table)} artefacts")
    print(verdict)
    report = p.build / "verify" / "reviewer-report.md"
    write_text(report, _report(p, table, verdict, seconds))
    print(f"verify: reviewer report in {p.shown(report)}")
    return 0 if ok else 1


def _report(p: Paths, table: pd.DataFrame, verdict: str, seconds: float) -> str:
    versions = []
    for name in ("pandas", "numpy", "matplotlib", "papermill", "nbconvert", "ipykernel", "pypandoc-binary", "typst"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    changed = table[table["status"] != "identical"]
    commit, head = source_commit(p), source.head_commit(p.root)
    why = ""
    if head and not head.startswith(commit) and not commit.startswith(head):
        why = (f" The checked-out commit (HEAD) is {head}; the report names {commit} because it is the last "
               "commit that changed a build input (data, code, notebooks, template, bibliography, environment), "
               "and the commits after it touch only tests, documentation or the manifest, which no artefact "
               "depends on.")
    built_on = dt.datetime.fromtimestamp(source.source_date_epoch(p.root), dt.UTC).strftime("%Y-%m-%d")
    return "\n".join([
        "# Reviewer report: independent rebuild of the compendium", "",
        f"- **Verdict:** {verdict}",
        f"- **Source commit:** {commit}, dated {built_on}; every date inside the artefacts is that commit's "
        f"date (SOURCE_DATE_EPOCH), not the day of the rebuild, so rebuilds give the same bytes.{why}",
        f"- **Checked on:** {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **Platform:** {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores",
        f"- **Packages:** {', '.join(versions)}",
        f"- **What ran:** `make all` from clean in a temporary copy of the tracked sources "
        f"(SOURCE_DATE_EPOCH={os.environ.get('SOURCE_DATE_EPOCH', 'unset')}), {seconds:.1f} s; then every artefact's "
        f"SHA-256 compared with `{MANIFEST}`.",
        f"- **Artefacts compared:** {len(table)}; identical: {(table['status'] == 'identical').sum()}", "",
        "## Artefacts that differ" if len(changed) else "All artefacts identical.", "",
        *([changed.to_markdown(index=False)] if len(changed) else []), "",
    ])


def diff_command(args) -> int:
    p = paths()
    expected = read_manifest(p.root / MANIFEST)
    table = compare(expected, artefact_hashes(p))
    differs = table[table["status"] != "identical"]
    print(f"diff: {len(differs)} of {len(table)} artefacts differ from {MANIFEST}")
    if len(differs):
        print(differs.to_string(index=False))
    old_path = p.root / SNAPSHOT
    old = json.loads(old_path.read_text(encoding="utf-8")) if old_path.is_file() else {}
    lines = research_diff(old, snapshot(p))
    print("\nIn research terms:" if lines else
          "\nNo change in tables, values, parameters, segment coding or the quotes shown.")
    for line in lines:
        print(f"  - {line}")
    return 0


# ------------------------------------------------------------------ benchmarks
# Targets on a 2-core machine (issue 17); ratios are measured within one run, pairs alternating.
TARGETS = {"ratio": 0.35, "noop": 0.2, "transcript": 3.0, "duration": 2.0, "clone": 60.0, "verify": 45.0,
           "scale_seconds": 120.0, "scale_mb": 1536.0}


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

    def __init__(self, wall: float, cpu: float, peak_mb: float, code: int, output: str,
                 jobs: list[tuple[float, str]] | None = None, server: float = 0.0) -> None:
        self.wall, self.cpu, self.peak_mb, self.code, self.output = wall, cpu, peak_mb, code, output
        self.jobs = jobs or []  # (CPU seconds, command) of each command the build server ran
        self.server = server  # the build server's CPU seconds, its commands included


def _timed(cmd: list[str], cwd: Path | None = None, env: dict | None = None) -> _Timed:
    """Run ``cmd``; the build server a make run starts is detached, so it reports its own CPU to a file."""
    with tempfile.NamedTemporaryFile("r", prefix="compendium-bench-cpu-", delete=False) as fh:
        cpu_file = Path(fh.name)
    # A run stands alone: not part of the `make bench` that started it (its jobserver, its build server).
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "COMPENDIUM_MAKE_PID")}
    environment = {**inherited, **(env or {}), "COMPENDIUM_SERVER_CPU": str(cpu_file)}
    cpu0 = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu0
    peak = _children_peak_mb()
    deadline = time.monotonic() + 30  # each server stops once its make has gone
    while time.monotonic() < deadline:
        lines = cpu_file.read_text(encoding="utf-8").splitlines()
        if sum(line.startswith("started") for line in lines) <= sum(line.startswith("stopped") for line in lines):
            break
        time.sleep(0.05)
    jobs, server = [], 0.0
    for line in cpu_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("stopped"):
            _, server_cpu, server_peak = line.split()
            server += float(server_cpu)
            peak = max(peak, float(server_peak))
        elif line.startswith("job "):
            _, seconds, command = line.split(" ", 2)
            jobs.append((float(seconds), command))
    cpu_file.unlink(missing_ok=True)
    return _Timed(wall, cpu + server, peak, result.returncode, result.stdout, jobs, server)


def _where(run: _Timed) -> str:
    """Where a build's CPU went: the warm-up, the commands by kind, and everything outside the server."""
    kinds: dict[str, list[float]] = {}
    for seconds, command in run.jobs:
        words = command.split()
        kind = words[1] if words[:1] == ["run"] and len(words) > 1 else words[0]
        kinds.setdefault(kind, []).append(seconds)
    served = sum(s for s, _ in run.jobs)
    parts = [f"build server warm-up and bookkeeping {run.server - served:.1f}"]
    parts += [f"{kind} {sum(v):.1f}" + (f" ({len(v)} runs, {sum(v) / len(v):.2f} each)" if len(v) > 1 else "")
              for kind, v in sorted(kinds.items(), key=lambda kv: -sum(kv[1]))]
    parts.append(f"outside the server (make, clients, notebook pages with pandoc) {run.cpu - run.server:.1f}")
    return "; ".join(parts) + " CPU-s"


def _make_cmd(root: Path, venv: Path, *targets: str) -> list[str]:
    # -o: never reinstall into the environment running the benchmark, whatever the copied timestamps say.
    return ["make", "-C", str(root), f"VENV={venv}", "-o", str(venv / ".installed"), *targets]


def _naive_cmds(root: Path, venv: Path) -> list[list[str]]:
    """Papermill's CLI once per notebook, sequentially, on the same notebooks (the baseline)."""
    from .data import load_participants

    jobs = [("01_read_corpus", [])] + [("02_analyse_case", ["-p", "participant", pid])
                                       for pid in load_participants(Paths(root))["participant_id"]]
    jobs += [("03_analyse_across_cases", []), ("04_describe_sample", [])]
    out = root / "build" / "naive"
    out.mkdir(parents=True, exist_ok=True)
    return [[str(venv / "bin" / "papermill"), str(root / "notebooks" / f"{stem}.ipynb"),
             str(out / f"{i:02d}_{stem}.ipynb"), "-p", "write_outputs", "True", *extra, "--cwd", str(root / "notebooks")]
            for i, (stem, extra) in enumerate(jobs)]


def _naive(root: Path, venv: Path) -> _Timed:
    env = {"COMPENDIUM_ROOT": str(root), "PYTHONPATH": str(root / "src")}
    wall = cpu = peak = 0.0
    for cmd in _naive_cmds(root, venv):
        one = _timed(cmd, env=env)
        if one.code:
            raise SystemExit(f"bench: the naive baseline failed:\n{one.output[-3000:]}")
        wall, cpu, peak = wall + one.wall, cpu + one.cpu, max(peak, one.peak_mb)
    return _Timed(wall, cpu, peak, 0, "")


def _checked(run: _Timed, what: str) -> _Timed:
    if run.code:
        raise SystemExit(f"bench: {what} failed (exit {run.code}):\n{run.output[-3000:]}")
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
        cold, naive, noop, one, duration = [], [], [], [], []
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
            transcript.write_bytes(original + b"Interviewer: Thank you again.\n")
            one.append(_checked(_timed(make("all")), "make all after a transcript change"))
            transcript.write_bytes(original)
            _checked(_timed(make("all")), "make all after restoring the transcript")
            _edit_duration(root, +1)
            duration.append(_checked(_timed(make("all")), "make all after a duration change"))
            _edit_duration(root, -1)
            _checked(_timed(make("all")), "make all after restoring the duration")
        ratio_wall = _median([c.wall / n.wall for c, n in zip(cold, naive)])
        ratio_cpu = _median([c.cpu / n.cpu for c, n in zip(cold, naive)])
        med = lambda xs, k: _median([getattr(x, k) for x in xs])  # noqa: E731
        rows += [
            ("cold `make all` after `make clean`", f"{med(cold, 'wall'):.1f} s wall, {med(cold, 'cpu'):.1f} CPU-s",
             "(measured)", None),
            ("naive loop: papermill CLI once per notebook, sequential", f"{med(naive, 'wall'):.1f} s wall, "
             f"{med(naive, 'cpu'):.1f} CPU-s", "(reference)", None),
            ("ratio cold / naive, wall time (median of the pairs)", f"{ratio_wall:.2f}", f"<= {TARGETS['ratio']}",
             ratio_wall <= TARGETS["ratio"]),
            ("ratio cold / naive, CPU time (median of the pairs)", f"{ratio_cpu:.2f}", f"<= {TARGETS['ratio']}",
             ratio_cpu <= TARGETS["ratio"]),
            ("no-op `make all`", f"{med(noop, 'wall'):.2f} s", f"<= {TARGETS['noop']} s",
             med(noop, "wall") <= TARGETS["noop"]),
            ("one transcript changed", f"{med(one, 'wall'):.1f} s ({med(one, 'cpu'):.1f} CPU-s)",
             f"<= {TARGETS['transcript']:.0f} s", med(one, "wall") <= TARGETS["transcript"]),
            ("one interview duration changed", f"{med(duration, 'wall'):.1f} s ({med(duration, 'cpu'):.1f} CPU-s)",
             f"<= {TARGETS['duration']:.0f} s", med(duration, "wall") <= TARGETS["duration"]),
        ]
        notes.append(f"Where the CPU of the last cold build went: {_where(cold[-1])}.")
        notes.append(f"Where the CPU of the last duration change went: {_where(duration[-1])}.")
        reran = sorted(set(re.findall(r"^notebook: (\S+)(?: \(participant=(\w+)\))?$", duration[-1].output, re.M)))
        notes.append("A duration change re-ran: " + (", ".join(f"{a}{'_' + b if b else ''}" for a, b in reran) or
                                                      "no notebook") + " (and the manuscript).")
        if args.quick:
            rows.append(("fresh clone to built compendium (set-up included, caches cold)", "not measured (--quick)",
                         f"<= {TARGETS['clone']:.0f} s", None))
            rows.append(("`make verify`", "not measured (--quick)", f"<= {TARGETS['verify']:.0f} s", None))
        else:
            clone = _fresh_clone(p, Path(tmp) / "clone")
            rows.append(("fresh clone to built compendium (set-up included, caches cold)",
                         f"{clone.wall:.1f} s" + ("" if clone.code == 0 else f" (FAILED, exit {clone.code})"),
                         f"<= {TARGETS['clone']:.0f} s", clone.code == 0 and clone.wall <= TARGETS["clone"]))
            verify = _timed(_make_cmd(root, venv, "verify"))
            verdict = next((line for line in verify.output.splitlines() if "VERIFIED" in line), "no verdict")
            rows.append(("`make verify`", f"{verify.wall:.1f} s ({verdict.split(':')[0]})",
                         f"<= {TARGETS['verify']:.0f} s", verify.wall <= TARGETS["verify"]))
        sizes = [int(x) for x in (args.sizes.split(",") if getattr(args, "sizes", None) else
                                  (["8", "80"] if args.quick else ["8", "80", "800"]))]
        scale = {size: _scale(p, venv, Path(tmp) / f"scale{size}", size) for size in sizes}
    for size, run in scale.items():
        if run.code:
            notes.append(f"The {size}-participant build failed; its last lines: "
                         + " / ".join(run.output.strip().splitlines()[-4:]))
        target = size == 800
        ok = run.code == 0 and run.wall <= TARGETS["scale_seconds"] and run.peak_mb <= TARGETS["scale_mb"]
        rows.append((f"{size} participants through the real pipeline (`make all`, a case notebook each)",
                     (f"{run.wall:.1f} s wall, {run.cpu:.0f} CPU-s, peak {run.peak_mb:.0f} MB" if run.code == 0
                      else f"FAILED (exit {run.code})"),
                     "<= 120 s, <= 1.5 GB" if target else "(growth)", ok if target else None))
    if len(scale) >= 2:
        small, large = min(scale), max(scale)
        a, b = scale[small], scale[large]
        if a.code == 0 and b.code == 0 and large > small:
            per_wall = (b.wall - a.wall) / (large - small)
            per_cpu = (b.cpu - a.cpu) / (large - small)
            rows.append((f"per extra participant, {small} -> {large} (one case notebook, its page, its share of the "
                         "rest)", f"{per_wall:.2f} s wall, {per_cpu:.2f} CPU-s", "(near-linear growth)", None))
            notes.append(f"Where the CPU of the {large}-participant build went: {_where(b)}.")
            notes.append(f"Growth {small} -> {large} participants: x{b.wall / a.wall:.1f} in wall time for "
                         f"x{large / small:.0f} participants.")
    lines = ["| measure | value | target | met |", "|---|---|---|---|"]
    lines += [f"| {m} | {v} | {t} | {'' if ok is None else 'yes' if ok else 'NO'} |" for m, v, t, ok in rows]
    total = time.perf_counter() - started_all
    text = "\n".join([
        "# Benchmarks", "",
        f"Measured {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; medians of {runs} alternating pair(s) "
        f"(cold build, naive loop); scale rows one run each; the whole benchmark took {total / 60:.1f} min. "
        "Produced by `make bench` (src/compendium/reproduce.py).", "",
        *lines, "",
        "CPU time counts every process of a run: make, the build server (which reports its own CPU and its "
        "children's when it stops), the kernels, pandoc and typst. Peak memory is the largest single process's "
        "resident set.", "",
        "The cold build does more than the naive loop: it validates the data, runs the anonymisation gate, "
        "renders the manuscript in three formats with its COREQ checklist, provenance table and one web page "
        "per notebook, and writes the REFI-QDA exports.", "",
        *[f"- {n}" for n in notes], ""])
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
    shutil.copytree(p.root / "src", root / "src", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(p.root / "Makefile", root / "Makefile")
    return _timed(_make_cmd(root, venv, "all"), env={"COMPENDIUM_COMMIT": source_commit(p)})
