"""The build server: one warm process per ``make`` run that serves the compendium's commands.

Without it, each recipe of the Makefile (``validate``, eleven notebook runs,
``manuscript``, ``qdpx export``) is a new Python process that imports pandas,
matplotlib, Papermill and Jupyter again, and each notebook then starts a new
kernel interpreter that imports pandas, matplotlib and compendium again: about
two seconds of CPU per notebook before any analysis happens.

With it, ``make`` still decides what to run (the Makefile keeps the whole
dependency graph); the recipe's ``python -m compendium <command>`` is a thin
client that hands its command line, folder, environment and terminal to the
server and waits for the exit status. The server imported the stack once and
never runs any command itself: for each request it forks a child that runs
the command exactly as the command line would. A notebook run in that child
forks its kernel from the child before Papermill starts (see
:mod:`compendium.kernels`), so every notebook still gets its own new kernel
process with a new, empty namespace; only the imported modules are shared, in
the state importing them leaves (nothing that ran code from a notebook).

Lifetime: the first served command of a ``make`` run starts the server. With
``COMPENDIUM_SERVER_LINGER`` set to a number of seconds (the Makefile sets 600),
it stays warm for the next ``make`` runs of the same tree: it is found again by
a key that names the folder, the interpreter, the environment variables (those
that change with every ``make`` run left out) and the size and modification
time of every file of this package (modules, schemas, templates) and of the
installed packages' folder, so a changed file or a reinstalled package gets a new server, and the old one
stops on its own within seconds. It stops after that many seconds without a
request, when its folder is gone, or when ``make clean`` asks it to
(``python -m compendium.server stop``). With no linger it belongs to one
``make`` run (``COMPENDIUM_MAKE_PID``, exported by the Makefile) and stops
when that ``make`` process has gone, or after :data:`IDLE_SECONDS` without a
request. Anything unexpected (no server can start, not POSIX, the command is
not one that is served) and the command runs in the calling process as before.

Ctrl-C: the client prints one line and exits 130; the server then stops that
child (SIGTERM, then SIGKILL to its process group and the kernel's), and
removes the kernel's sockets and connection file.
"""

from __future__ import annotations

import contextlib
import gc
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from .client import (
    ENV_CHILD,
    ENV_CPU,
    ENV_LINGER,
    ENV_MAKE,
    ENV_PREFIX,
    SERVED,
    _code,
    _recv,
    _send,
    alive,
    ask_to_stop,
    linger_seconds,
    socket_path,
    submit,
    temporary_folder,
)
from .zygote import (
    COMMANDS,
    FIRST,
    IDLE_WAKE_SECONDS,
    JUPYTER,
    KERNEL,
    STACK,
    THIRD_PARTY_CALLS,
    as_in_a_kernel,
    Usage,
    import_all,
    run_forked,
)

__all__ = ["submit", "serve", "socket_path", "SERVED", "ENV_MAKE", "ENV_CHILD", "ENV_LINGER", "stop"]

CHECK_SECONDS = 2.0  # how often a lingering server checks that its folder and code are still those it has
IDLE_SECONDS = 120
# What the warm parent imports: the stack every command and notebook needs (the third-party part,
# compendium.zygote.THIRD_PARTY, may come already imported from the zygote it was forked from).
WARM_MODULES = (
    *STACK,
    "compendium.data",
    "compendium.files",
    "compendium.corpus",
    "compendium.cases",
    "compendium.themes",
    "compendium.descriptives",
    "compendium.plots",
    "compendium.provenance",
    "compendium.validate",
    "compendium.anonymise",
    "compendium.digests",
    "compendium.notebooks",
    "compendium.manuscript",
    "compendium.refiqda",
    *JUPYTER,
    "compendium.cli",  # what every kernel imported on its own
    "compendium.handrun",
    *KERNEL,
    *COMMANDS,
    "compendium.refiqda.schema",
)


# ------------------------------------------------------------------ server
# What the first command of every build (validate) needs, imported before the server answers; the
# rest of WARM_MODULES is imported one module at a time while the server has nothing else to do
# (typically while validate runs in its child, on the other core).
WARM_FIRST = (
    *FIRST,
    "compendium.data",
    "compendium.validate",
    "compendium.table_checks",
    "compendium.anonymise",
)


def _build_qda_schemas() -> None:
    """The REFI-QDA schemas (xmlschema takes about 0.14 s to build Project.xsd), kept by the
    module's cache for every export and import this server's children check."""
    from .refiqda.schema import _schema, schema_dir

    for kind in ("Project", "Codebook"):
        _schema(str(schema_dir() / f"{kind}.xsd"))


def _load_gate_tables() -> None:
    """The rest of what the gate's detectors read (the public suffix list, libphonenumber)."""
    from .identifiers import load_tables

    load_tables()


def _compile_manuscript_template() -> None:
    """jinja2 compiles the manuscript template (about 0.05 s of CPU, on the critical path of every
    edit): once here, kept by :func:`compendium.manuscript_template.compiled_template` for the same
    text. A template edited since compiles again in the child that writes the manuscript."""
    from .manuscript_template import compiled_template
    from .paths import paths

    template = paths().template
    if template.is_file():
        compiled_template(template.read_text(encoding="utf-8"))


def _build_command_line() -> None:
    """The command line's parser (every command and its options, about 0.01 s of CPU), kept by
    :func:`compendium.cli.build_parser`'s cache for every command this server's children parse."""
    from .cli import build_parser

    build_parser()


# Done once every module in WARM_MODULES is imported, while the server has nothing else to do.
WARM_CALLS = (
    _build_command_line,
    _build_qda_schemas,
    _load_gate_tables,
    _compile_manuscript_template,
    *THIRD_PARTY_CALLS,
)


def _warm() -> None:
    """What the server holds before it answers: :data:`WARM_FIRST`, and the read-only tables that
    validate, manuscript and audit each need, built once for every child to share by the fork
    (gender-guesser's name list, and the first imports of the stack)."""
    import_all(WARM_FIRST)
    with contextlib.suppress(Exception):
        from .identifiers import first_names

        first_names()


class _Job:
    def __init__(self, pid: int, conn: socket.socket, prefix: str, argv: list[str], cpu_file: str | None) -> None:
        self.pid, self.conn, self.prefix, self.argv = pid, conn, prefix, argv
        self.cancelled_at: float | None = None
        self.cpu_file = cpu_file  # make bench: where this command's make run collects CPU seconds


def _child(
    conn: socket.socket, request: dict[str, Any], fds: list[int], prefix: str, others: list[socket.socket]
) -> NoReturn:
    """In the forked child: become the command's process and run it; never returns."""

    def command() -> int:
        os.setpgid(0, 0)  # its own group: the server can stop it and everything it started together
        for other in others:
            other.close()
        conn.close()
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGTERM, _interrupted)  # the runner installs its own while a notebook runs
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ[ENV_CHILD] = "1"
        os.environ[ENV_PREFIX] = prefix
        sys.argv = [sys.argv[0], *request["argv"]]
        from .cli import main

        return main(request["argv"])

    run_forked(command)


def _interrupted(signum: int, frame: object) -> None:
    """Cancelled by the server (the client was interrupted and has said so): unwind silently."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    raise KeyboardInterrupt


def serve(path: Path, make_pid: int) -> None:
    """Listen on ``path`` until the make run ``make_pid`` has ended, or, with a linger, until nothing
    came for that long, its folder or code changed, or it was asked to stop."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    listener.bind(str(path))
    listener.listen(64)  # clients may connect now; they are answered after the warm-up
    linger = linger_seconds()
    root = Path(os.environ.get("COMPENDIUM_ROOT", os.getcwd()))
    code = _code() if linger else ""
    _warm()
    later: list[str | Callable[[], None]] = [name for name in WARM_MODULES if name not in sys.modules]
    later += WARM_CALLS
    from .kernels import remove_kernel_files, SOCKET_PREFIX

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    jobs: dict[int, _Job] = {}
    usage = Usage()  # make bench: each finished command's CPU, and the server's own since the last report
    last = checked = time.monotonic()
    stopping = False
    try:
        while True:
            # A running command's end is noticed within 0.05 s; idle, it wakes every IDLE_WAKE_SECONDS.
            events = selector.select(timeout=0 if later else 0.05 if jobs else IDLE_WAKE_SECONDS)
            if not events and later:  # nothing to answer: warm the next module for the children to come
                step = later.pop(0)
                if isinstance(step, str):
                    import_all([step])
                else:
                    with contextlib.suppress(Exception), as_in_a_kernel():
                        step()
            for key, _ in events:
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    try:
                        request, fds = _recv(conn, with_fds=3)
                    except (OSError, ValueError):
                        conn.close()
                        continue
                    if request.get("stop") or stopping:  # make clean; or one that came in while stopping
                        _answer_without_running(conn, fds, {"code": 0} if request.get("stop") else {"retry": True})
                        stopping = True
                        continue
                    prefix = os.path.join(temporary_folder(), f"{SOCKET_PREFIX}{os.urandom(6).hex()}")
                    others = [listener, *(job.conn for job in jobs.values())]
                    sys.stdout.flush()
                    sys.stderr.flush()
                    gc.freeze()  # the child's collector skips what it inherits (see _fork_kernel)
                    pid = os.fork()
                    if pid == 0:
                        _child(conn, request, fds, prefix, others)
                    for fd in fds:
                        os.close(fd)
                    jobs[pid] = _Job(pid, conn, prefix, list(request["argv"]), request.get("env", {}).get(ENV_CPU))
                    selector.register(conn, selectors.EVENT_READ, pid)
                    last = time.monotonic()
                else:  # the client hung up before its command ended: Ctrl-C, or make stopping it
                    job = jobs.get(key.data)
                    if job and job.cancelled_at is None:
                        job.cancelled_at = time.monotonic()
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(job.pid, signal.SIGTERM)
                    selector.unregister(key.fileobj)
            now = time.monotonic()
            for job in list(jobs.values()):
                if job.cancelled_at is not None and now - job.cancelled_at > 3:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(job.pid, signal.SIGKILL)
                try:
                    done, status, usage_of_job = os.wait4(job.pid, os.WNOHANG)
                except ChildProcessError:
                    done, status, usage_of_job = job.pid, 1 << 8, None
                if not done:
                    continue
                if usage_of_job is not None:
                    seconds = usage_of_job.ru_utime + usage_of_job.ru_stime
                    usage.report(job.cpu_file, f"job {seconds:.3f} {' '.join(job.argv)}\n")
                del jobs[job.pid]
                if job.cancelled_at is not None:
                    _stop_kernels_of(job)
                remove_kernel_files(job.prefix)
                with contextlib.suppress(OSError, ValueError, KeyError):
                    if job.cancelled_at is None:
                        selector.unregister(job.conn)
                    _send(job.conn, {"code": os.waitstatus_to_exitcode(status)})
                job.conn.close()
                last = now
            if jobs:
                continue
            if stopping:
                break
            if not linger:
                if not alive(make_pid) or now - last > IDLE_SECONDS:
                    break
            elif now - last > linger:
                break
            elif now - checked > CHECK_SECONDS:
                checked = now
                if not root.is_dir() or _code() != code:
                    break  # its folder was deleted, or a module or package changed: a new key finds a new server
    finally:
        for job in jobs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGKILL)
            _stop_kernels_of(job)
            remove_kernel_files(job.prefix)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # no new client finds it now; one already waiting is told to go elsewhere
        _turn_away(listener)
        listener.close()
        with contextlib.suppress(OSError):
            path.with_suffix(".lock").unlink()
            log = path.with_suffix(".log")
            if log.stat().st_size == 0:  # kept only when it says something (a crash)
                log.unlink()


def _turn_away(listener: socket.socket) -> None:
    """Answer the clients that connected while the server was deciding to stop: run it yourselves."""
    listener.setblocking(False)
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            conn.setblocking(True)
            conn.settimeout(2)
            _, fds = _recv(conn, with_fds=3)
        except (OSError, ValueError):
            conn.close()
            continue
        _answer_without_running(conn, fds, {"retry": True})


def _answer_without_running(conn: socket.socket, fds: list[int], reply: dict[str, Any]) -> None:
    """Reply to a request the server will not run (a stop request, or any while it stops), and let go of it."""
    for fd in fds:
        os.close(fd)
    with contextlib.suppress(OSError):
        _send(conn, reply)
    conn.close()


def stop() -> bool:
    """Stop the server this environment would use, if one is running (``make clean``); never start one."""
    return ask_to_stop(socket_path())


def _stop_kernels_of(job: _Job) -> None:
    """A kernel leads its own session: after a cancelled run, stop it by the pid its runner recorded."""
    pid_file = Path(job.prefix + ".pid")
    with contextlib.suppress(OSError, ValueError):
        os.killpg(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)


if __name__ == "__main__":  # started by a client: python -m compendium.server <socket> <make pid>
    # make clean: this folder's server, and the zygote, so that a cold build starts from nothing
    if sys.argv[1:] == ["stop"]:
        from .zygote import stop as stop_zygote

        stop()
        stop_zygote()
    else:
        serve(Path(sys.argv[1]), int(sys.argv[2]))
