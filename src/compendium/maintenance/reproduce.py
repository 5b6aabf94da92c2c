"""The reviewer's reproduction checks: the manifest, ``make verify`` and ``make diff``.

* ``manifest`` records the SHA-256 of every artefact in ``manifest.sha256``
  (the format of ``sha256sum``, so ``sha256sum -c manifest.sha256`` works too)
  and a small snapshot of the key results in ``manifest-snapshot.json`` that
  ``diff`` uses to explain changes in research terms.
* ``verify`` copies the committed sources into a temporary folder, builds from
  clean there with the same environment, and compares every artefact with the
  manifest; the working tree's outputs are never touched.
* ``diff`` compares the working tree's artefacts with the manifest and says
  what changed in research terms (table cells, values, segments, quotes).

``make bench`` (timing the build) is :mod:`compendium.maintenance.bench`; it
builds its copies with :func:`copy_sources` from here.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pandas as pd

from ..errors import CompendiumError
from ..files import write_json, write_text
from ..paths import Paths, paths
from .. import source
from ..provenance import MANIFEST_FILES, sha256, source_commit
from ..themes import theme_key

__all__ = [
    "artefact_hashes",
    "write_manifest",
    "read_manifest",
    "compare",
    "snapshot",
    "research_diff",
    "copy_sources",
    "manifest_command",
    "verify_command",
    "diff_command",
]

MANIFEST, SNAPSHOT = MANIFEST_FILES
SNAPSHOT_TABLES = ["table1_sample", "table2_themes", "theme_recurrence", "sample_aggregates", "convergence"]


# ------------------------------------------------------------------ manifest
def artefact_hashes(p: Paths) -> dict[str, str]:
    """SHA-256 of every generated artefact, keyed by path relative to the root."""
    return {str(f.relative_to(p.root)): sha256(f) for f in p.artefacts()}


def notebook_parameters(p: Paths) -> dict[str, dict[str, object]]:
    """Each pipeline notebook's declared parameter defaults (its ``parameters`` cell)."""
    from ..handrun import declared_parameters

    return {
        path.stem: {name: default for name, (_, default) in declared_parameters(path).items()}
        for path in sorted(p.notebooks.glob("[0-9][0-9]_*.ipynb"))
    }


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
        from .. import manuscript

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
        rows.append(
            {
                "artefact": name,
                "status": status,
                "expected": expected.get(name, "")[:12],
                "rebuilt": actual.get(name, "")[:12],
            }
        )
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
                lines.append(
                    f"parameter {key} of notebook {name}: {_show(pa.get(key, 'absent'))} -> "
                    f"{_show(pb.get(key, 'absent'))}"
                )
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
def copy_sources(p: Paths, target: Path, *, besides: Path | None = None) -> Path:
    """Copy the files git tracks (as they are in the working tree) into ``target``.

    With ``besides`` (a data folder, relative to the root), the files under it are
    left out and files already in ``target`` are kept: the sources around a study
    written there by :func:`compendium.maintenance.generate.generate_study`.
    """
    try:
        listing = (
            subprocess.run(
                ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                cwd=p.root,
                capture_output=True,
                check=True,
            )
            .stdout.decode()
            .split("\0")
        )
        files = [f for f in listing if f and (p.root / f).is_file()]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (e.g. an archive): everything except the environment and generated files.
        generated = {p.figures / f.name for f in p.figures.glob("*") if f.suffix in {".svg", ".png"}}
        skip_dirs = [p.root / ".venv", p.root / ".git", p.student_work, *p.generated_dirs()]
        files = [
            str(f.relative_to(p.root))
            for f in p.root.rglob("*")
            if f.is_file()
            and f not in generated
            and "__pycache__" not in f.parts
            and not any(f.is_relative_to(d) for d in skip_dirs)
        ]
    if besides is not None:
        files = [f for f in files if not Path(f).is_relative_to(besides) and not (target / f).exists()]
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
    result = subprocess.run(
        ["make", "-C", str(root), "COMPENDIUM_ENV_READY=1", *targets],
        capture_output=quiet,
        text=True,
        env={**os.environ, **(env or {})},
    )
    output = (result.stdout or "") + (result.stderr or "") if quiet else ""
    return result.returncode, time.perf_counter() - started, output


def build_copy(p: Paths, workdir: Path) -> tuple[Paths, float, str]:
    """Copy the sources to ``workdir`` and run ``make all`` there; returns its Paths and the time taken."""
    copy = copy_sources(p, workdir)
    venv = Path(sys.prefix)  # the environment running this command (make passes VENV)
    code, seconds, output = _make(
        copy,
        venv,
        "all",
        env={"COMPENDIUM_COMMIT": source_commit(p), "SOURCE_DATE_EPOCH": str(source.source_date_epoch(p.root))},
    )
    if code != 0:
        raise CompendiumError(
            f"verify: the rebuild failed (exit {code}); its last output:\n{output[-4000:]}",
            fix="run `make all` in the working tree to see the same failure, fix it, then `make verify` again",
        )
    return Paths(copy), seconds, output


# ------------------------------------------------------------------ commands
def manifest_command(args) -> int:
    p = paths()
    n = write_manifest(p)
    print(
        f"manifest: recorded {n} artefacts in {MANIFEST} and the key results in {SNAPSHOT}; "
        "commit these two files on their own, after the changes they describe"
    )
    return 0


def verify_command(args) -> int:
    p = paths()
    expected = read_manifest(p.root / MANIFEST)
    if not expected:
        raise CompendiumError(f"verify: no {MANIFEST} to compare with.", fix="run `make manifest` and commit it")
    with tempfile.TemporaryDirectory(prefix="compendium-verify-") as tmp:
        print(f"verify: rebuilding from clean in {tmp} (the working tree is not touched) ...", flush=True)
        copy, seconds, _ = build_copy(p, Path(tmp) / "compendium")
        actual = artefact_hashes(copy)
    table = compare(expected, actual)
    counts = table["status"].value_counts().to_dict()
    print(table.to_string(index=False))
    ok = set(counts) == {"identical"}
    verdict = (
        f"VERIFIED: all {len(table)} artefacts are byte-identical to the manifest"
        if ok
        else "NOT VERIFIED: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()) if k != "identical")
        + f" of {len(table)} artefacts"
    )
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
        why = (
            f" The checked-out commit (HEAD) is {head}; the report names {commit} because it is the last "
            "commit that changed a build input (data, code, notebooks, template, bibliography, environment), "
            "and the commits after it touch only tests, documentation or the manifest, which no artefact "
            "depends on."
        )
    built_on = dt.datetime.fromtimestamp(source.source_date_epoch(p.root), dt.UTC).strftime("%Y-%m-%d")
    return "\n".join(
        [
            "# Reviewer report: independent rebuild of the compendium",
            "",
            f"- **Verdict:** {verdict}",
            f"- **Source commit:** {commit}, dated {built_on}; every date inside the artefacts is that commit's "
            f"date (SOURCE_DATE_EPOCH), not the day of the rebuild, so rebuilds give the same bytes.{why}",
            f"- **Checked on:** {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- **Platform:** {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores",
            f"- **Packages:** {', '.join(versions)}",
            f"- **What ran:** `make all` from clean in a temporary copy of the tracked sources "
            f"(SOURCE_DATE_EPOCH={os.environ.get('SOURCE_DATE_EPOCH', 'unset')}), {seconds:.1f} s; then every artefact's "
            f"SHA-256 compared with `{MANIFEST}`.",
            f"- **Artefacts compared:** {len(table)}; identical: {(table['status'] == 'identical').sum()}",
            "",
            "## Artefacts that differ" if len(changed) else "All artefacts identical.",
            "",
            *([changed.to_markdown(index=False)] if len(changed) else []),
            "",
        ]
    )


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
    print(
        "\nIn research terms:"
        if lines
        else "\nNo change in tables, values, parameters, segment coding or the quotes shown."
    )
    for line in lines:
        print(f"  - {line}")
    return 0
