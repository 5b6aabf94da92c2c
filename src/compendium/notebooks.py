"""Running notebooks with Papermill and keeping them in canonical form.

``execute`` runs one source notebook from ``notebooks/`` with parameters into
``build/notebooks/``; the executed copy is normalised (no timings, no dates) so
two builds give the same bytes, and it only replaces the previous copy when the
run succeeded. A failing cell stops the build with the notebook, the cell and
the message.

The kernel each notebook runs in (new, with an empty namespace; forked from
the warm build server when there is one) comes from :mod:`compendium.kernels`.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from . import provenance
from .errors import CompendiumError
from .kernels import (
    FORKED_KERNEL_MANAGER,
    KERNEL_MANAGER,
    _fork_kernel,
    _forked,
    _interrupt,
    _running,
    remove_kernel_files,
    socket_prefix,
)
from .files import write_json, write_text
from .paths import Paths, paths

__all__ = ["execute", "label_of", "normalise", "canonical", "check_canonical", "CHECK_MARK", "NotebookError"]

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
KEEP_NOTEBOOK_META = ("kernelspec", "language_info")


class NotebookError(CompendiumError):
    """A notebook failed while running."""


_ran_in_this_process = False  # a process forks kernels only before its first notebook (no zmq state yet)


def _dumps(nb: dict) -> str:
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def normalise(nb: dict) -> dict:
    """Drop volatile metadata (timings, papermill durations, widget state) from an executed notebook."""
    nb = dict(nb)
    meta = dict(nb.get("metadata", {}))
    pm = dict(meta.get("papermill", {}))
    for key in ("start_time", "end_time", "duration", "input_path", "output_path", "environment_variables", "version"):
        pm.pop(key, None)
    if pm:
        meta["papermill"] = pm
    else:
        meta.pop("papermill", None)
    meta.pop("widgets", None)
    li = meta.get("language_info")
    if isinstance(li, dict):
        meta["language_info"] = {k: v for k, v in li.items() if k in ("name", "file_extension", "mimetype")}
    nb["metadata"] = meta
    cells = []
    for index, cell in enumerate(nb.get("cells", []), start=1):
        cell = dict(cell)
        cmeta = {k: v for k, v in cell.get("metadata", {}).items() if k in ("tags",)}
        cell["metadata"] = cmeta
        cell["id"] = f"cell-{index:02d}"  # stable ids: random ones would change the bytes on every run
        cells.append(cell)
    nb["cells"] = cells
    return nb


def label_of(stem: str, parameters: dict[str, Any]) -> str:
    """Executed copies of a per-participant notebook carry the participant in their name."""
    return f"{stem}_{parameters['participant']}" if "participant" in parameters else stem


def execute(stem: str, parameters: dict[str, Any] | None = None, p: Paths | None = None, quiet: bool = False) -> Path:
    """Execute ``notebooks/<stem>.ipynb`` into ``build/notebooks/`` and return the executed path."""
    import nbformat
    import papermill as pm
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    p = p or paths()
    parameters = dict(parameters or {})
    parameters.setdefault("write_outputs", True)
    source = p.notebooks / f"{stem}.ipynb"
    if not source.is_file():
        raise NotebookError(
            f"{source}: notebook not found.", fix="run from the compendium root; notebooks live in notebooks/"
        )
    label = label_of(stem, parameters)
    target = p.executed / f"{label}.ipynb"
    failed = p.build / "failed" / f"{label}.ipynb"
    failed.parent.mkdir(parents=True, exist_ok=True)
    failed.unlink(missing_ok=True)
    shown = ", ".join(f"{k}={v}" for k, v in parameters.items() if k != "write_outputs")
    if not quiet:
        print(f"notebook: {stem}" + (f" ({shown})" if shown else ""), flush=True)
    started = time.perf_counter()
    log = p.build / "provenance" / f"{label}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    os.environ[provenance.ENV] = str(log)
    global _ran_in_this_process
    prefix = socket_prefix()
    manager = KERNEL_MANAGER
    kernel_pid = None
    if not _ran_in_this_process and os.environ.get("COMPENDIUM_SERVED") and hasattr(os, "fork"):
        kernel_pid = _fork_kernel(prefix, p.notebooks)
        manager = FORKED_KERNEL_MANAGER
    else:
        os.environ["COMPENDIUM_KERNEL_PREFIX"] = prefix  # read by LocalKernelManager
    _ran_in_this_process = True
    _running.clear()
    if kernel_pid is not None:
        _running.append(kernel_pid)
    import threading

    handlers = {}
    if threading.current_thread() is threading.main_thread():
        handlers = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        nb = pm.execute_notebook(
            str(source),
            str(failed),
            parameters=parameters,
            cwd=str(p.notebooks),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            report_mode=False,
            kernel_manager_class=manager,
            # Written once, at the end or on a failure, not after every cell: each save validates the
            # whole notebook again, which cost more CPU than running the case analysis.
            request_save_on_cell_execute=False,
            # Once the last cell has answered, everything the kernel printed or wrote has arrived (files
            # are written, and provenance recorded, inside the cells): the kernel is stopped at once
            # instead of being asked to shut down and polled every 0.1 s until it has.
            shutdown_kernel="immediate",
        )
    except BaseException as err:
        # Interrupted (Ctrl-C, or the build server cancelling) or failed: the kernel and its sockets go too.
        if kernel_pid is not None:
            try:
                os.kill(kernel_pid, signal.SIGKILL)
                os.waitpid(kernel_pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        _forked.clear()
        remove_kernel_files(prefix)
        os.environ.pop(provenance.ENV, None)
        if isinstance(err, pm.PapermillExecutionError):
            raise _failed(err, source, failed, p) from None
        if isinstance(err, KeyboardInterrupt):
            failed.unlink(missing_ok=True)  # a partly written copy would look like a failure report
            log.unlink(missing_ok=True)
        raise
    finally:
        os.environ.pop(provenance.ENV, None)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        _running.clear()
    remove_kernel_files(prefix)
    failed.unlink(missing_ok=True)
    record = provenance.collect(log, label, p)
    log.unlink(missing_ok=True)
    # One stream output per run of printed text: how a kernel splits what a cell prints into messages
    # depends on timing (a line's newline can arrive as a chunk of its own on a loaded machine), and the
    # executed notebook must not.
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    write_text(target, _dumps(normalise(dict(nbformat.from_dict(nb)))))
    write_json(provenance.record_path(p, label), record)
    if not quiet:
        print(f"notebook: {stem} done in {time.perf_counter() - started:.1f} s", flush=True)
    return target


def _failed(err: Any, source: Path, failed: Path, p: Paths) -> NotebookError:
    return NotebookError(
        f"Notebook {p.shown(source)} failed in cell {err.exec_count} (cell index {err.cell_index}):\n"
        f"  {err.ename}: {err.evalue}\n"
        f"    the partly executed copy, with the traceback, is {p.shown(failed)}; this step's "
        "outputs are not marked up to date. Fix the cause and run `make all` again."
    )


# ------------------------------------------------------------------ canonical form
def canonical(nb: dict) -> dict:
    """Canonical source form: no execution counts, no volatile metadata; outputs only on checked cells.

    Cells whose source contains ``# NBVAL_CHECK_OUTPUT`` keep their text outputs:
    they are the stored expected results that nbval compares against.
    """
    out = normalise(nb)
    meta = out["metadata"]
    meta.pop("papermill", None)
    out["metadata"] = {k: v for k, v in meta.items() if k in KEEP_NOTEBOOK_META}
    cells = []
    ordinal = 0
    for cell in out["cells"]:
        cell = dict(cell)
        if cell.get("cell_type") == "code":
            ordinal += 1
            cell["execution_count"] = None
            src = "".join(cell.get("source", ""))
            if CHECK_MARK in src:  # stored expected output, compared by nbval
                # nbval ignores outputs of cells that were never run, so checked cells keep a
                # (stable) execution count: their ordinal among the code cells.
                cell["execution_count"] = ordinal
                kept = []
                for o in cell.get("outputs", []):
                    if o.get("output_type") in ("execute_result", "display_data"):
                        data = {k: v for k, v in o.get("data", {}).items() if k == "text/plain"}
                        if data:
                            kept.append(
                                {
                                    "output_type": "execute_result",
                                    "data": data,
                                    "metadata": {},
                                    "execution_count": ordinal,
                                }
                            )
                    elif o.get("output_type") == "stream" and o.get("name") == "stdout":
                        kept.append({"output_type": "stream", "name": "stdout", "text": o["text"]})
                cell["outputs"] = kept
            else:
                cell["outputs"] = []
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        # A list of lines, as Jupyter itself saves it: readable diffs.
        cell["source"] = "".join(cell.get("source", "")).splitlines(keepends=True)
        cells.append(cell)
    out["cells"] = cells
    out["nbformat"], out["nbformat_minor"] = 4, 5
    return out


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def check_canonical(p: Paths | None = None, fix: bool = False) -> list[str]:
    """Return the source notebooks that are not in canonical form (rewriting them when ``fix``)."""
    p = p or paths()
    bad = []
    for path in sorted(p.notebooks.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        want = _dumps(canonical(_read(path)))
        if text != want:
            bad.append(str(path.relative_to(p.root)))
            if fix:
                write_text(path, want)
    return bad


def accept(p: Paths | None = None) -> list[str]:
    """Store the executed outputs of the checked cells back into the source notebooks.

    This is how an author accepts new results on purpose: nbval then compares
    future runs against them.
    """
    import papermill as pm

    p = p or paths()
    changed = []
    # The tutorials are not part of the pipeline: run each once, with its defaults, to accept it too.
    tutorial_runs = p.build / "tutorial"
    tutorial_runs.mkdir(parents=True, exist_ok=True)
    for source in sorted((p.notebooks / "tutorial").glob("T*.ipynb")):
        pm.execute_notebook(
            str(source),
            str(tutorial_runs / source.name),
            cwd=str(source.parent),
            kernel_name="python3",
            progress_bar=False,
            kernel_manager_class=KERNEL_MANAGER,
        )
    for source in sorted([*p.notebooks.glob("[0-9]*.ipynb"), *(p.notebooks / "tutorial").glob("T*.ipynb")]):
        stem = source.stem
        if source.parent.name == "tutorial":
            executed = tutorial_runs / source.name
        else:
            executed = p.executed / (f"{stem}_P01.ipynb" if stem.startswith("02_") else f"{stem}.ipynb")
        if not executed.is_file():
            continue
        src_nb, run_nb = _read(source), _read(executed)
        code_run = [
            c
            for c in run_nb["cells"]
            if c["cell_type"] == "code" and "injected-parameters" not in c.get("metadata", {}).get("tags", [])
        ]
        code_src = [c for c in src_nb["cells"] if c["cell_type"] == "code"]
        for cs, cr in zip(code_src, code_run):
            cs["outputs"] = cr.get("outputs", [])
        new = _dumps(canonical(src_nb))
        if new != source.read_text(encoding="utf-8"):
            write_text(source, new)
            changed.append(str(source.relative_to(p.root)))
    return changed


def prepare_nbval(p: Paths | None = None, extra_participant: str | None = None) -> list[Path]:
    """Write the case notebook for a second participant (the last one) for nbval to run.

    The copy has the participant injected by Papermill (no execution) and no stored
    outputs, so nbval proves it runs for that case; the P01 copy in ``notebooks/``
    carries the stored expected results.
    """
    import papermill as pm

    from .data import load_participants

    p = p or paths()
    pid = extra_participant or load_participants(p)["participant_id"].tolist()[-1]
    target = p.build / "nbval" / f"02_analyse_case_{pid}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(p.notebooks / "02_analyse_case.ipynb"),
        str(target),
        parameters={"participant": pid},
        prepare_only=True,
        progress_bar=False,
    )
    nb = canonical(_read(target))
    for cell in nb["cells"]:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["source"] = [
                line.replace(CHECK_MARK, "# output not compared for this participant") for line in cell["source"]
            ]
    write_text(target, _dumps(nb))
    return [target]
