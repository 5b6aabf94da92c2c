"""Command line of the compendium: ``python -m compendium <command>`` (the Makefile calls these).

Errors a researcher can act on are printed without a traceback and exit 1.
"""
from __future__ import annotations

import argparse
import errno
import glob
import os
import signal
import sys
import time

from .errors import CompendiumError
from .paths import paths

__all__ = ["main"]


def _validate(args: argparse.Namespace) -> None:
    from . import anonymise, validate
    from .files import write_json

    started = time.perf_counter()
    summary = validate.validate()
    print(f"validate: data/synthetic is valid ({summary['transcripts']} transcripts, {summary['themes']} themes)")
    checked = anonymise.audit()
    print(f"anonymisation gate: no direct identifiers in {checked} input files")
    if args.report:
        write_json(paths().root / args.report, {**summary, "anonymisation_files_checked": checked})
    print(f"validate: done in {time.perf_counter() - started:.1f} s")


def _audit(args: argparse.Namespace) -> None:
    from . import anonymise

    log = paths().root / args.log if args.log else None
    checked = anonymise.audit(outputs=args.outputs, log=log, remove=args.remove)
    print(f"anonymisation gate: no direct identifiers in {checked} files"
          + (f" (log: {args.log})" if args.log else ""))


def _run(args: argparse.Namespace) -> None:
    from .notebooks import execute

    parameters: dict[str, object] = {}
    if args.participant:
        from .data import load_participants

        ids = load_participants()["participant_id"].tolist()
        if args.participant not in ids:
            raise CompendiumError(f"Unknown participant {args.participant!r}.\n    fix: use one of {', '.join(ids)}")
        parameters["participant"] = args.participant
    for item in args.parameter:
        key, _, value = item.partition("=")
        parameters[key] = _literal(value)
    if "recurrence_threshold" in parameters:
        from .themes import check_threshold

        check_threshold(parameters["recurrence_threshold"])  # fail before a kernel starts
    if "small_group_threshold" in parameters:
        from .descriptives import check_small_group_threshold

        check_small_group_threshold(parameters["small_group_threshold"])  # the check the notebook makes
    execute(args.stem, parameters)


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
        raise CompendiumError("Notebooks not in canonical form: " + ", ".join(bad)
                              + "\n    fix: run `make notebooks-canonical`")
    print(("canonical: rewrote " + ", ".join(bad)) if bad else "canonical: all notebooks are in canonical form")


def _accept(args: argparse.Namespace) -> None:
    from .notebooks import accept

    changed = accept()
    print("accept: stored new expected outputs in " + ", ".join(changed) if changed else "accept: nothing changed")


def _nbval_prepare(args: argparse.Namespace) -> None:
    from .notebooks import prepare_nbval

    for path in prepare_nbval():
        print(f"nbval: prepared {path}")


def _reproduce(args: argparse.Namespace) -> None:
    from . import reproduce

    sys.exit(getattr(reproduce, args.command.replace("-", "_") + "_command")(args))


def _generate(args: argparse.Namespace) -> None:
    from .generate import generate_study

    generate_study(args.participants, args.out, seed=args.seed)
    print(f"generate: wrote a synthetic study of {args.participants} participants to {args.out}")


def _qdpx(args: argparse.Namespace) -> None:
    from . import refiqda

    refiqda.command(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compendium", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("validate", help="validate data/synthetic and run the anonymisation gate")
    s.add_argument("--report", help="write a JSON summary here on success")
    s.set_defaults(func=_validate)
    s = sub.add_parser("audit", help="anonymisation gate over the inputs (and outputs)")
    s.add_argument("--outputs", action="store_true", help="also scan every generated output")
    s.add_argument("--log", help="write the anonymisation log (JSON) here")
    s.add_argument("--remove", action="store_true", help="delete generated files that contain a hit")
    s.set_defaults(func=_audit)
    s = sub.add_parser("run", help="execute a notebook with Papermill into build/notebooks")
    s.add_argument("stem", help="notebook name without .ipynb, e.g. 02_analyse_case")
    s.add_argument("--participant", help="participant id for the case notebook")
    s.add_argument("-p", "--parameter", action="append", default=[], metavar="KEY=VALUE")
    s.set_defaults(func=_run)
    s = sub.add_parser("manuscript", help="render the manuscript, COREQ checklist and provenance")
    s.add_argument("--formats", nargs="*", default=["docx", "html", "pdf"])
    s.set_defaults(func=_manuscript)
    s = sub.add_parser("canonical", help="check (or --fix) the canonical form of the source notebooks")
    s.add_argument("--fix", action="store_true")
    s.set_defaults(func=_canonical)
    sub.add_parser("accept", help="store current key results in the notebooks").set_defaults(func=_accept)
    sub.add_parser("nbval-prepare", help="prepare extra notebook variants for nbval").set_defaults(func=_nbval_prepare)
    for name, text in (("manifest", "record the SHA-256 of every artefact in manifest.sha256"),
                       ("verify", "rebuild from clean in a temporary folder and compare with the manifest"),
                       ("diff", "show what changed since the manifest, in research terms"),
                       ("bench", "time the build and print a table")):
        s = sub.add_parser(name, help=text)
        s.add_argument("--runs", type=int, default=3)
        s.add_argument("--out", default=None)
        s.add_argument("--quick", action="store_true")
        s.set_defaults(func=_reproduce)
    s = sub.add_parser("generate", help="write a larger synthetic study (seeded)")
    s.add_argument("participants", type=int)
    s.add_argument("out")
    s.add_argument("--seed", type=int, default=2022)
    s.set_defaults(func=_generate)
    s = sub.add_parser("qdpx", help="REFI-QDA export/import")
    s.add_argument("action", choices=["export", "import"])
    s.add_argument("path", nargs="?")
    s.add_argument("--out", default=None)
    s.set_defaults(func=_qdpx)
    args = parser.parse_args(argv)
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
        print(f"interrupted: `{args.command}` stopped by Ctrl-C; its outputs were not updated "
              "(run `make all` to finish the build)", file=sys.stderr)
        return 130
    except OSError as err:
        if err.errno not in DISK_ERRORS:
            raise
        _remove_kernel_sockets()
        _remove_truncated_notebooks()
        where = f" while writing {err.filename}" if err.filename else ""
        print(f"error: {os.strerror(err.errno)}{where}; no half-written file was kept.\n"
              f"    fix: {DISK_ERRORS[err.errno]}, then run `make all` again", file=sys.stderr)
        return 1
    return 0


DISK_ERRORS = {errno.ENOSPC: "free some disk space", errno.EDQUOT: "free some space within your disk quota",
               errno.EROFS: "build in a folder on a writable disk"}


def _remove_truncated_notebooks() -> None:
    """A partly executed notebook copy in build/failed/ that a full disk or Ctrl-C cut short is removed."""
    import json

    for path in sorted((paths().build / "failed").glob("*.ipynb")):
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            path.unlink(missing_ok=True)


def _on_interrupt(signum, frame) -> None:  # noqa: ANN001
    """Ctrl-C: stop the kernels first (so they print nothing while shutting down), then unwind."""
    _remove_kernel_sockets()
    raise KeyboardInterrupt


def _remove_kernel_sockets() -> None:
    """Stop the kernels an interrupted run started and remove their sockets (compendium-kernel-* in the temp folder)."""
    notebooks = sys.modules.get("compendium.notebooks")
    for manager in getattr(notebooks, "KERNELS", []):
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for leftover in glob.glob(glob.escape(str(manager.ip)) + "*"):
            try:
                os.unlink(leftover)
            except OSError:
                pass
