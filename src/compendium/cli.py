"""Command line of the compendium: ``python -m compendium <command>`` (the Makefile calls these).

Errors a researcher can act on are printed without a traceback and exit 1.
"""

from __future__ import annotations

import argparse
import errno
import functools
import glob
import os
import signal
import sys
import time

from .errors import CompendiumError
from .paths import paths
from .text import numbered

__all__ = ["main", "build_parser"]


def _validate(args: argparse.Namespace) -> None:
    from . import anonymise, markup, study, validate
    from .files import write_json

    started = time.perf_counter()
    summary = validate.validate()
    print(
        f"validate: {paths().shown(paths().data)} is valid ({summary['transcripts']} transcripts, {summary['themes']} themes)"
    )
    print(f"validate: no markup in {markup.check_inputs()} text cells (data text stays text in the manuscript)")
    print(study.check_study(paths()))  # consent flags, declared kind; restricted: fingerprints for the pre-commit guard
    if paths().restricted:  # real transcripts hold identifiers; the gate that must pass is make share's
        checked = study.report_gate(paths())
    else:
        checked = anonymise.audit()
        print(f"anonymisation gate: no direct identifiers in {checked} input files")
    if args.report:
        from .digests import write_digests

        changed = write_digests()  # per-step input digests: what make compares (see digests.py)
        write_json(paths().root / args.report, {**summary, "anonymisation_files_checked": checked})
        if changed:
            print(f"validate: inputs changed for {len(changed)} step(s): {', '.join(changed)}")
    print(f"validate: done in {time.perf_counter() - started:.1f} s")


def _audit(args: argparse.Namespace) -> None:
    from . import anonymise

    if args.remove and not args.outputs:
        raise CompendiumError(
            "audit --remove deletes generated outputs that hold a hit, so it needs --outputs.",
            fix="`compendium audit --outputs --remove` (the inputs are never deleted)",
        )
    if args.outputs and "SOURCE_DATE_EPOCH" not in os.environ:
        # Run by hand, outside make: the colophon's build date is the source commit's, as make sets it.
        from .source import source_date_epoch

        os.environ["SOURCE_DATE_EPOCH"] = str(source_date_epoch(paths().root))
    log = paths().root / args.log if args.log else None
    checked = anonymise.audit(outputs=args.outputs, log=log, remove=args.remove)
    print(f"anonymisation gate: no direct identifiers in {checked} files" + (f" (log: {args.log})" if args.log else ""))


def _run(args: argparse.Namespace) -> None:
    import os

    from . import handrun
    from .notebooks import execute

    p = paths()
    parameters: dict[str, object] = {}
    if args.participant:
        from .data import load_participants

        ids = load_participants()["participant_id"].tolist()
        if args.participant not in ids:
            raise CompendiumError(f"Unknown participant {args.participant!r}.", fix=f"use one of {', '.join(ids)}")
        parameters["participant"] = args.participant
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CompendiumError(f"-p {item!r}: expected KEY=VALUE.", fix="e.g. -p recurrence_threshold=0.5")
        parameters[key] = _literal(value)
    source = p.notebooks / f"{args.stem}.ipynb"
    changed = handrun.check_parameters(source, parameters) if source.is_file() else {}
    shown = ", ".join(f"{k}={v!r}" for k, v in changed.items())
    if changed and not args.into_pipeline:
        scratch = handrun.scratch_paths(p, args.stem, changed)
        os.environ["COMPENDIUM_ROOT"] = str(scratch.root)
        execute(args.stem, parameters, p=scratch)
        print(
            f"run: {shown} differs from the notebook's defaults, so the outputs went to "
            f"{p.shown(scratch.root)}/ and the pipeline's outputs are untouched.\n"
            "    to change the pipeline: set the default in the notebook's parameters cell and run `make all`, "
            "or add --into-pipeline"
        )
        return
    from . import memo
    from .notebooks import label_of

    label = label_of(args.stem, parameters)
    command = [args.stem, parameters]
    # make's prerequisites of this step (none when run by hand), by content as this run starts.
    prerequisites = memo.inputs_from_make()
    inputs = memo.digests_of(prerequisites) if prerequisites and not changed else None
    if inputs is not None:
        outputs = memo.kept(p, label, command, inputs)
        if outputs is not None and memo.touch(outputs):
            print(
                f"notebook: {label}: its inputs have the bytes of its last run, so its outputs are kept "
                f"(no kernel started; {p.shown(memo.memo_path(p, label))})"
            )
            return
    memo.forget(p, label)
    executed = execute(args.stem, parameters)
    if inputs is not None:
        memo.remember(p, label, command, inputs)
    if changed:
        handrun.mark_out_of_date(p, executed)
        print(
            f"run: wrote the pipeline's outputs with {shown}, which differs from the notebook's defaults; "
            "this step is marked out of date, so the next `make all` redoes it (and all that follows) "
            "with the notebook's own parameters"
        )


def _literal(value: str) -> object:
    import ast

    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _manuscript(args: argparse.Namespace) -> None:
    from . import manuscript

    manuscript.build(formats=args.formats)


def _canonical(args: argparse.Namespace) -> None:
    from .notebooks import check_canonical

    bad = check_canonical(fix=args.fix)
    if bad and not args.fix:
        raise CompendiumError(
            "Notebooks not in canonical form: " + ", ".join(bad), fix="run `make notebooks-canonical`"
        )
    print(("canonical: rewrote " + ", ".join(bad)) if bad else "canonical: all notebooks are in canonical form")


def _accept(args: argparse.Namespace) -> None:
    from .notebooks import accept

    changed = accept()
    print("accept: stored new expected outputs in " + ", ".join(changed) if changed else "accept: nothing changed")


def _nbval_prepare(args: argparse.Namespace) -> None:
    from .notebooks import prepare_nbval

    for path in prepare_nbval():
        print(f"nbval: prepared {path}")


def _manifest(args: argparse.Namespace) -> None:
    from .maintenance import reproduce

    sys.exit(reproduce.manifest_command(args))


def _verify(args: argparse.Namespace) -> None:
    from .maintenance import reproduce

    sys.exit(reproduce.verify_command(args))


def _diff(args: argparse.Namespace) -> None:
    from .maintenance import reproduce

    sys.exit(reproduce.diff_command(args))


def _bench(args: argparse.Namespace) -> None:
    from .maintenance import bench

    sys.exit(bench.bench_command(args))


def _generate(args: argparse.Namespace) -> None:
    if args.like:  # a synthetic twin of a (restricted) study: same structure and aggregates, no real text
        if args.participants is not None:
            raise CompendiumError(
                f"generate --like: a twin has the participants of {args.like}; "
                f"the number {args.participants!r} would be ignored.",
                fix="`compendium generate --like STUDY OUT` (no number)",
            )
        from .maintenance.twin import generate_like

        generate_like(args.like, args.out, seed=args.seed)
        print(
            f"generate: wrote a synthetic twin of {args.like} to {args.out} (validate it with "
            f"`make validate DATA={args.out}`)"
        )
        return
    if args.participants is None or not args.participants.isdigit():
        raise CompendiumError(
            f"generate: expected a number of participants, got {args.participants!r}.",
            fix="`compendium generate 80 /tmp/study80`, or `compendium generate --like STUDY OUT`",
        )
    args.participants = int(args.participants)
    from .maintenance.generate import generate_study

    generate_study(args.participants, args.out, seed=args.seed)
    print(f"generate: wrote a synthetic study of {args.participants} participants to {args.out}")


def _share(args: argparse.Namespace) -> None:
    from .maintenance import share

    share.command(args)


def _shown(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    from pathlib import Path

    try:
        return str(Path(path).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(path)


def _qdpx_export(args: argparse.Namespace) -> None:
    from . import refiqda

    p = paths()
    checked = refiqda.schemas_available(p)
    codebook, project = refiqda.export(args.folder or None, p)
    print(
        f"qdpx export: wrote {_shown(codebook, p.root)} and {_shown(project, p.root)}"
        + (
            " (valid QDA-XML 1.0)"
            if checked
            else f" (NOT checked against the QDA-XML schemas: none found in {p.package_schemas})"
        )
    )


def _qdpx_import(args: argparse.Namespace) -> None:
    from pathlib import Path

    from . import refiqda
    from .files import write_text
    from .refiqda.export import refuse_data_folder

    p = paths()
    out = Path(args.out) if args.out else None
    if out is not None:
        refuse_data_folder(out, p)  # before reading anything, so a mistake costs nothing
    result = refiqda.import_qdpx(args.file, p)
    df = result.coding
    print(
        f"qdpx import: {numbered(len(df), 'coded segment')} from "
        f"{numbered(df['participant_id'].nunique(), 'participant')}"
        + (f"; {len(result.set_aside)} set aside" if len(result.set_aside) else "")
    )
    if len(df):
        print("  per participant: " + ", ".join(f"{k} {v}" for k, v in df.groupby("participant_id").size().items()))
        print("  per theme: " + ", ".join(f"{k} {v}" for k, v in df.groupby("theme_id").size().items()))
    print("  changes against coding.csv:")
    for line in result.changes:
        print(f"    {line}")
    for message in result.messages:
        print(f"  note: {message}")
    if out is not None:
        write_text(out, df.to_csv(index=False, lineterminator="\n"))
        print(f"qdpx import: wrote {_shown(out, p.root)} (the coding.csv format)")
        if len(result.set_aside):
            aside = out.with_name(f"{out.stem}_set_aside{out.suffix or '.csv'}")
            write_text(aside, result.set_aside.to_csv(index=False, lineterminator="\n"))
            print(f"qdpx import: wrote {_shown(aside, p.root)} (segments coded to codes outside codebook.yaml)")


def _qdpx_compare(args: argparse.Namespace) -> None:
    from pathlib import Path

    from . import refiqda
    from .refiqda.export import refuse_data_folder

    p = paths()
    out = Path(args.out) if args.out else p.build / "compare"
    refuse_data_folder(out, p)
    comparison = refiqda.compare_qdpx(args.file, p)
    written = refiqda.write_report(comparison, out, _shown(args.file, p.root), p)
    overall = comparison.table[comparison.table["level"] == "overall"].iloc[0]
    print(
        f"qdpx compare: {overall['segments_both']} segments coded by both, {overall['segments_ours_only']} by us "
        f"only, {overall['segments_theirs_only']} by them only; characters: "
        f"{overall['percent_agreement']:.2f} % agreement, Cohen's kappa {overall['kappa']:.3f}"
    )
    for message in comparison.messages:
        print(f"  note: {message}")
    print("qdpx compare: wrote " + ", ".join(_shown(w, p.root) for w in written))


def _lab_copies(args: argparse.Namespace) -> None:
    from .teaching.lab import working_copies

    replace = [r for item in args.replace for r in item.replace(",", " ").split()]
    for line in working_copies(replace=replace):
        print(f"lab: {line}")
    print("lab: your working copies are in student_work/notebooks/ (git ignores them)")


def _tutorial(args: argparse.Namespace) -> None:
    from .teaching.lab import solution_copy

    target = solution_copy(args.tutorial, args.mode)
    print(f"tutorial: wrote {target.relative_to(paths().root)}")


def _class_report(args: argparse.Namespace) -> None:
    from pathlib import Path

    from .data import load_study
    from .teaching.report import write_class_report

    root = paths().root
    folder = Path(args.folder) if args.folder else paths().student_work
    folder = folder if folder.is_absolute() else root / folder
    out = Path(args.out) if args.out else paths().build / "class-report"
    out = out if out.is_absolute() else root / out
    shown = str(folder.relative_to(root)) if folder.is_relative_to(root) else str(folder)
    written = write_class_report(folder, load_study(), out, source=shown + "/")
    for path in written:
        print(f"class-report: wrote {path.relative_to(root) if path.is_relative_to(root) else path}")


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """Every command with the options it acts on, each bound to the function that runs it.

    Built once per process (parsing leaves the parser as it was): the build server builds it in its
    warm-up, for every command it serves."""
    parser = argparse.ArgumentParser(prog="compendium", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("validate", help="validate data/synthetic and run the anonymisation gate")
    s.add_argument("--report", help="write a JSON summary here on success")
    s.set_defaults(func=_validate)
    s = sub.add_parser("audit", help="anonymisation gate over the inputs (and outputs)")
    s.add_argument("--outputs", action="store_true", help="also scan every generated output")
    s.add_argument("--log", help="write the anonymisation log (JSON) here")
    s.add_argument("--remove", action="store_true", help="with --outputs: delete generated files that contain a hit")
    s.set_defaults(func=_audit)
    s = sub.add_parser("run", help="execute a notebook with Papermill into build/notebooks")
    s.add_argument("stem", help="notebook name without .ipynb, e.g. 02_analyse_case")
    s.add_argument("--participant", help="participant id for the case notebook")
    s.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the notebook; values other than its defaults run in build/scratch/",
    )
    s.add_argument(
        "--into-pipeline",
        action="store_true",
        help="write non-default results over the pipeline's outputs (the step is then marked out of date)",
    )
    s.set_defaults(func=_run)
    s = sub.add_parser("manuscript", help="render the manuscript, COREQ checklist and provenance")
    s.add_argument("--formats", nargs="*", default=["docx", "html", "pdf", "jats"])
    s.set_defaults(func=_manuscript)
    s = sub.add_parser("canonical", help="check (or --fix) the canonical form of the source notebooks")
    s.add_argument("--fix", action="store_true")
    s.set_defaults(func=_canonical)
    sub.add_parser("accept", help="store current key results in the notebooks").set_defaults(func=_accept)
    sub.add_parser("nbval-prepare", help="prepare extra notebook variants for nbval").set_defaults(func=_nbval_prepare)
    sub.add_parser("manifest", help="record the SHA-256 of every artefact in manifest.sha256").set_defaults(
        func=_manifest
    )
    sub.add_parser(
        "verify", help="rebuild from clean in a temporary folder and compare with the manifest"
    ).set_defaults(func=_verify)
    sub.add_parser("diff", help="show what changed since the manifest, in research terms").set_defaults(func=_diff)
    s = sub.add_parser("bench", help="time the build against the naive loop; write benchmarks/results.md")
    s.add_argument("--runs", type=int, default=3, help="repetitions of each timing (medians are reported)")
    s.add_argument("--out", default=None, help="results file (default benchmarks/results.md)")
    s.add_argument("--quick", action="store_true", help="fewer and smaller runs, to check that bench works")
    s.add_argument("--sizes", default=None, help="study sizes, comma-separated (default 8,80,800)")
    s.set_defaults(func=_bench)
    s = sub.add_parser("generate", help="write a larger synthetic study (seeded)")
    s.add_argument("participants", nargs="?", help="number of participants (not with --like)")
    s.add_argument("out")
    s.add_argument("--seed", type=int, default=2022)
    s.add_argument("--like", metavar="STUDY", help="write a synthetic twin of this data folder instead")
    s.set_defaults(func=_generate)
    s = sub.add_parser("share", help="de-identified package of a restricted study (make share)")
    s.add_argument("target", nargs="?", help="package folder (default: OUT/share)")
    s.add_argument("--check", action="store_true", help="gate the manuscript built from it and copy it in")
    s.set_defaults(func=_share)
    s = sub.add_parser("qdpx", help="REFI-QDA exchange: export, import, compare with a second coder")
    qdpx = s.add_subparsers(dest="qdpx_action", required=True)
    s = qdpx.add_parser("export", help="write codebook.qdc and project.qdpx (default manuscript/supplement)")
    s.add_argument("folder", nargs="?")
    s.set_defaults(func=_qdpx_export)
    s = qdpx.add_parser("import", help="read a .qdpx into the coding.csv format; say what changed")
    s.add_argument("file")
    s.add_argument("--out", default=None, help="write the table here (never into data/)")
    s.set_defaults(func=_qdpx_import)
    s = qdpx.add_parser("compare", help="compare another coder's .qdpx with coding.csv (report in build/compare)")
    s.add_argument("file")
    s.add_argument("--out", default=None, help="folder for comparison.{csv,md,html} (default build/compare)")
    s.set_defaults(func=_qdpx_compare)
    s = sub.add_parser("lab-copies", help="make or refresh the students' working copies of the tutorials")
    s.add_argument("--replace", action="append", default=[], metavar="T2", help="take the new version of a tutorial")
    s.set_defaults(func=_lab_copies)
    s = sub.add_parser("tutorial", help="render one tutorial with its model answers (build/tutorial/)")
    s.add_argument("tutorial", help="T1 ... T7")
    s.add_argument("--mode", default="solution", choices=["solution", "exercise"])
    s.set_defaults(func=_tutorial)
    s = sub.add_parser("class-report", help="gather the students' work into one HTML page for a teacher")
    s.add_argument("--from", dest="folder", default=None, help="folder of student folders (default student_work/)")
    s.add_argument("--out", default=None, help="output folder (default build/class-report/)")
    s.set_defaults(func=_class_report)
    return parser


def main(argv: list[str] | None = None, *, serve: bool = True) -> int:
    """Run one command; under make, a served one through the warm build server (unless ``serve``
    is False: ``python -m compendium`` has asked it already)."""
    if serve:
        from .client import submit

        served = submit(sys.argv[1:] if argv is None else argv)  # under make: the run's warm build server
        if served is not None:
            return served
    args = build_parser().parse_args(argv)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)
    try:
        args.func(args)
    except CompendiumError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        _remove_kernel_sockets()
        _remove_truncated_notebooks()
        print(f"interrupted: `compendium {args.command}` stopped by Ctrl-C; {INTERRUPTED}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Whatever read the output has gone (`python -m compendium diff | head`): stop without a
        # traceback, as command-line tools do (exit status 141, as when SIGPIPE ends them).
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        return 141
    except OSError as err:
        if err.errno not in DISK_ERRORS:
            raise
        _remove_kernel_sockets()
        _remove_truncated_notebooks()
        where = f" while writing {err.filename}" if err.filename else ""
        print(
            f"error: {os.strerror(err.errno)}{where}; no half-written file was kept.\n"
            f"    fix: {DISK_ERRORS[err.errno]}, then run `make all` again",
            file=sys.stderr,
        )
        return 1
    return 0


# What every interrupted command says after naming itself (the build server says the same).
INTERRUPTED = "its outputs were not updated (run `make all` to finish the build)"
DISK_ERRORS = {
    errno.ENOSPC: "free some disk space",
    errno.EDQUOT: "free some space within your disk quota",
    errno.EROFS: "build in a folder on a writable disk",
}


def _remove_truncated_notebooks() -> None:
    """A partly executed notebook copy in build/failed/ that a full disk or Ctrl-C cut short is removed."""
    import json

    for path in sorted((paths().build / "failed").glob("*.ipynb")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            path.unlink(missing_ok=True)


def _on_interrupt(signum, frame) -> None:
    """Ctrl-C: stop the kernels first (so they print nothing while shutting down), then unwind."""
    _remove_kernel_sockets()
    raise KeyboardInterrupt


def _remove_kernel_sockets() -> None:
    """Stop the kernels an interrupted run started and remove their sockets (compendium-kernel-* in the temp folder)."""
    kernels = sys.modules.get("compendium.kernels")
    for manager in getattr(kernels, "KERNELS", []):
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for leftover in glob.glob(glob.escape(str(manager.ip)) + "*"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
