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
from .provenance import MANIFEST_FILES, sha256, source_commit

__all__ = ["artefact_hashes", "write_manifest", "read_manifest", "compare", "snapshot", "research_diff",
           "copy_sources", "manifest_command", "verify_command", "diff_command", "bench_command"]

MANIFEST, SNAPSHOT = MANIFEST_FILES
SNAPSHOT_TABLES = ["table1_sample", "table2_themes", "theme_recurrence", "sample_aggregates", "convergence"]


# ------------------------------------------------------------------ manifest
def artefact_hashes(p: Paths) -> dict[str, str]:
    """SHA-256 of every generated artefact, keyed by path relative to the root."""
    return {str(f.relative_to(p.root)): sha256(f) for f in p.artefacts()}


def snapshot(p: Paths) -> dict:
    """Key results in a form a researcher can compare: table cells, segment -> theme, quotes."""
    tables = {}
    for stem in SNAPSHOT_TABLES:
        path = p.tables / f"{stem}.csv"
        if path.is_file():
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            tables[stem] = {"columns": list(df.columns), "rows": df.values.tolist()}
    coding = pd.read_csv(p.coding, dtype=str, keep_default_na=False)
    bank_path = p.tables / "quote_bank.csv"
    bank = pd.read_csv(bank_path, dtype=str, keep_default_na=False) if bank_path.is_file() else pd.DataFrame()
    return {
        "commit": source_commit(p),
        "tables": tables,
        "segments": dict(zip(coding["segment_id"], coding["theme_id"])),
        "quotes": [f"{r.theme_id}:{r.segment_id}:{r.pseudonym}" for r in bank.itertuples()] if len(bank) else [],
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
    sa, sb = old.get("segments", {}), new.get("segments", {})
    for seg in sorted(set(sa) | set(sb)):
        if seg not in sb:
            lines.append(f"segment {seg}: removed (was theme {sa[seg]})")
        elif seg not in sa:
            lines.append(f"segment {seg}: added (theme {sb[seg]})")
        elif sa[seg] != sb[seg]:
            lines.append(f"segment {seg}: moved from theme {sa[seg]} to {sb[seg]}")
    qa, qb = set(old.get("quotes", [])), set(new.get("quotes", []))
    lines += [f"quote dropped: {q}" for q in sorted(qa - qb)]
    lines += [f"quote added: {q}" for q in sorted(qb - qa)]
    return lines


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
    code, seconds, output = _make(copy, venv, "all", env={"COMPENDIUM_COMMIT": source_commit(p)})
    if code != 0:
        raise SystemExit(f"verify: the rebuild failed (exit {code}):\n{output[-4000:]}")
    return Paths(copy), seconds, output


# ------------------------------------------------------------------ commands
def manifest_command(args) -> int:  # noqa: ANN001
    p = paths()
    n = write_manifest(p)
    print(f"manifest: recorded {n} artefacts in {MANIFEST} and the key results in {SNAPSHOT}; "
          "commit these two files on their own, after the changes they describe")
    return 0


def verify_command(args) -> int:  # noqa: ANN001
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
    print(f"verify: reviewer report in {report.relative_to(p.root)}")
    return 0 if ok else 1


def _report(p: Paths, table: pd.DataFrame, verdict: str, seconds: float) -> str:
    versions = []
    for name in ("pandas", "numpy", "matplotlib", "papermill", "nbconvert", "ipykernel", "pypandoc-binary", "typst"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    changed = table[table["status"] != "identical"]
    return "\n".join([
        "# Reviewer report: independent rebuild of the compendium", "",
        f"- **Verdict:** {verdict}",
        f"- **Source commit:** {source_commit(p)}",
        f"- **Checked on:** {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- **Platform:** {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores",
        f"- **Packages:** {', '.join(versions)}",
        f"- **What ran:** `make all` from clean in a temporary copy of the tracked sources "
        f"(SOURCE_DATE_EPOCH={os.environ.get('SOURCE_DATE_EPOCH', 'unset')}), {seconds:.1f} s; then every artefact's "
        f"SHA-256 compared with `{MANIFEST}`.",
        f"- **Artefacts compared:** {len(table)}; identical: {(table['status'] == 'identical').sum()}", "",
        "## Artefacts that differ" if len(changed) else "All artefacts identical.", "",
        *([changed.to_markdown(index=False)] if len(changed) else []), "",
    ])


def diff_command(args) -> int:  # noqa: ANN001
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
    print("\nIn research terms:" if lines else "\nNo change in tables, segment coding or quotes.")
    for line in lines:
        print(f"  - {line}")
    return 0


# ------------------------------------------------------------------ benchmarks
def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# What a stock install of the same packages adds back: jsonschema's optional URI checker,
# left out of our lock because importing it costs ~1.8 s in every nbformat process.
STOCK_EXTRAS = ["rfc3987-syntax==1.1.0", "lark==1.3.1"]


def _stock_extras(target: Path) -> Path | None:
    """Install :data:`STOCK_EXTRAS` into a throw-away folder (None if the registry is unreachable)."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                             *STOCK_EXTRAS], capture_output=True, text=True)
    return target if result.returncode == 0 else None


def _naive(root: Path, venv: Path, extra_path: Path | None = None) -> float:
    """Papermill's CLI once per notebook, sequentially, on the same notebooks."""
    p = Paths(root)
    from .data import load_participants

    jobs = [("01_read_corpus", [])] + [("02_analyse_case", ["-p", "participant", pid])
                                       for pid in load_participants(p)["participant_id"]]
    jobs += [("03_analyse_across_cases", []), ("04_describe_sample", [])]
    out = root / "build" / "naive"
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i, (stem, extra) in enumerate(jobs):
        subprocess.run([str(venv / "bin" / "papermill"), str(root / "notebooks" / f"{stem}.ipynb"),
                        str(out / f"{i:02d}_{stem}.ipynb"), "-p", "write_outputs", "True", *extra, "--cwd", str(root / "notebooks")],
                       check=True, capture_output=True,
                       env={**os.environ, "COMPENDIUM_ROOT": str(root),
                            "PYTHONPATH": os.pathsep.join(filter(None, [str(extra_path or ""), str(root / "src")]))})
    return time.perf_counter() - started


def _peak_child_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bench_command(args) -> int:  # noqa: ANN001
    p = paths()
    venv = Path(sys.prefix)  # the environment running this command (make passes VENV)
    runs = max(1, args.runs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="compendium-bench-") as tmp:
        root = copy_sources(p, Path(tmp) / "compendium")
        cold, noop, one, naive, stock = [], [], [], [], []
        extras = _stock_extras(Path(tmp) / "stock")
        for _ in range(runs):
            _make(root, venv, "clean")
            cold.append(_make(root, venv, "all")[1])
            noop.append(_make(root, venv, "all")[1])
            transcript = root / "data" / "synthetic" / "transcripts" / "P03.txt"
            original = transcript.read_bytes()
            transcript.write_bytes(original + b"Interviewer: Thank you again.\n")
            one.append(_make(root, venv, "all")[1])
            transcript.write_bytes(original)
            _make(root, venv, "all")
            naive.append(_naive(root, venv))
            if extras:
                stock.append(_naive(root, venv, extras))
        c, n, o, b = map(_median, (cold, noop, one, naive))
        rows += [
            ("cold `make all` after `make clean`", f"{c:.1f} s", "<= 20 s", c <= 20),
            ("no-op `make all`", f"{n:.2f} s", "<= 1 s", n <= 1),
            ("one transcript changed", f"{o:.1f} s", "<= 8 s", o <= 8),
            ("naive baseline: papermill CLI per notebook, sequential, this environment", f"{b:.1f} s",
             "(reference)", None),
            ("ratio cold / naive (this environment)", f"{c / b:.2f}", "<= 0.35", c / b <= 0.35),
        ]
        if stock:
            s_ = _median(stock)
            rows += [
                ("naive baseline in a stock install (with rfc3987-syntax)", f"{s_:.1f} s", "(reference)", None),
                ("ratio cold / naive (stock install)", f"{c / s_:.2f}", "<= 0.35", c / s_ <= 0.35),
            ]
        else:
            rows.append(("naive baseline in a stock install", "not measured: registry unreachable", "", None))
        sizes = [8, 80] if args.quick else [8, 80, 800]
        for size in sizes:
            rows.append(_scale(p, venv, Path(tmp) / f"scale{size}", size))
    lines = ["| measure | median | target | met |", "|---|---|---|---|"]
    lines += [f"| {m} | {v} | {t} | {'' if ok is None else 'yes' if ok else 'NO'} |" for m, v, t, ok in rows]
    text = "\n".join([
        "# Benchmarks", "",
        f"Measured {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d')} on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; median of {runs} run(s) "
        "(scale rows: one run each). Produced by `make bench` (src/compendium/reproduce.py).", "",
        *lines, "",
        "The cold build does more than the naive baseline: it also validates the data, runs the anonymisation "
        "gate, renders the manuscript in three formats with its COREQ checklist, provenance table and notebook "
        "pages, and writes the REFI-QDA exports. The stock-install baseline adds back rfc3987-syntax, which "
        "requirements.lock leaves out (see README, Environment).", "",
        "Scale rows run validation, the case analysis for every participant (the package's case function in one "
        "process: the per-participant case notebooks are skipped above 8 participants), the cross-case and "
        "descriptives notebooks and the manuscript; peak memory is the largest child process's resident set.", ""])
    print(text)
    target = p.root / (args.out or "benchmarks/results.md")
    write_text(target, text)
    print(f"bench: results written to {target.relative_to(p.root)}")
    return 0


def _scale(p: Paths, venv: Path, root: Path, size: int) -> tuple[str, str, str, bool]:
    """Generate a study of ``size`` participants and run the pipeline's steps on it."""
    from .generate import generate_study

    generate_study(size, root, seed=2022, source=p)
    shutil.copytree(p.root / "src", root / "src", dirs_exist_ok=True)
    shutil.copy2(p.root / "Makefile", root / "Makefile")
    env = {**os.environ, "COMPENDIUM_ROOT": str(root), "PYTHONPATH": str(root / "src")}
    py = str(venv / "bin" / "python")
    started = time.perf_counter()
    steps = [[py, "-m", "compendium", "validate"],
             [py, "-c", "from compendium.data import load_study; from compendium.cases import case_table; "
                        "from compendium.files import write_table; from compendium.paths import paths; "
                        "s = load_study(); [write_table(case_table(s, pid), paths().case_tables, f'case_{pid}') "
                        "for pid in s.pseudonyms]"],
             [py, "-m", "compendium", "run", "03_analyse_across_cases"],
             [py, "-m", "compendium", "run", "04_describe_sample"],
             [py, "-m", "compendium", "manuscript", "--formats", "docx", "html", "pdf"]]
    for step in steps:
        result = subprocess.run(step, cwd=root, env=env, capture_output=True, text=True)
        if result.returncode:
            return (f"scale: {size} participants", "failed", "<= 60 s, <= 1 GB", False)
    seconds = time.perf_counter() - started
    peak = _peak_child_mb()
    return (f"scale: {size} participants", f"{seconds:.1f} s, peak {peak:.0f} MB", "<= 60 s, <= 1 GB (at 800)",
            seconds <= 60 and peak <= 1024)
