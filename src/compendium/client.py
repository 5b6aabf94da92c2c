"""The client of the build server: what a recipe's ``python -m compendium <command>`` runs first.

Under ``make``, a served command (:data:`SERVED`) is handed to the folder's warm
build server (:mod:`compendium.server`) with its command line, folder,
environment and terminal, and the client waits for the exit status. This module
holds everything both sides must agree on (which server, found by its key; the
wire format) and imports only the standard library's lighter modules: a client
runs once per recipe, and each of them used to import the whole command line
first (about 0.07 s of CPU more). Anything unexpected (no server can start, not
POSIX, the command is not one that is served) and ``submit`` returns None: the
command then runs in the calling process, as :mod:`compendium.cli` does it.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
import sys

TYPE_CHECKING = False  # typing's own constant without importing typing (a client needs only the names below)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["submit", "socket_path", "linger_seconds", "SERVED", "ENV_MAKE", "ENV_CHILD", "ENV_LINGER"]

SERVED = frozenset({"validate", "run", "manuscript", "qdpx", "audit"})
ENV_MAKE = "COMPENDIUM_MAKE_PID"  # the make run this server belongs to (set by the Makefile)
ENV_CHILD = "COMPENDIUM_SERVED"  # set in a served child: it never asks a server again
ENV_PREFIX = "COMPENDIUM_KERNEL_PREFIX"  # the socket prefix the child's kernel must use
ENV_CPU = "COMPENDIUM_SERVER_CPU"  # make bench: a file the server adds each command's CPU and its own to
ENV_STEP_INPUTS = "COMPENDIUM_STEP_INPUTS"  # a notebook step's prerequisites, set by make (see compendium.memo)
ENV_LINGER = "COMPENDIUM_SERVER_LINGER"  # seconds a server stays warm between make runs (0: one make run)
# Set anew by every make run (or by make bench for each measured run), or by whatever started make
# (a version manager's shim adds PYENV_* and its own PATH when the first build runs before .venv
# exists): not part of a server's key. The server itself starts no program, and every command it
# serves runs with its own client's environment, PATH included.
VOLATILE = frozenset(
    {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR", ENV_MAKE, ENV_CPU}
    | {ENV_STEP_INPUTS}
    | {"_", "OLDPWD", "SHLVL", "PATH"}
)
VOLATILE_PREFIXES = ("PYENV_", "_PYENV")
START_SECONDS = 20  # how long a client waits for a new server to listen


def linger_seconds() -> float:
    """``COMPENDIUM_SERVER_LINGER`` in seconds; 0 (one make run) when unset or not a number."""
    try:
        return max(0.0, float(os.environ.get(ENV_LINGER, "0")))
    except ValueError:
        return 0.0


def _code() -> str:
    """What a server has read and imported, as files: this package's (modules, schemas, templates)
    and the installed packages' folder."""
    import sysconfig

    files = []
    package = os.path.dirname(os.path.realpath(__file__))
    for folder, subfolders, names in os.walk(package):
        subfolders[:] = [d for d in subfolders if d != "__pycache__"]
        files += [os.path.join(folder, name) for name in names]
    lines = []
    for path in sorted(files):
        try:
            st = os.stat(path)
        except OSError:
            continue
        lines.append(f"{path}\0{st.st_mtime_ns}\0{st.st_size}")
    for folder in sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}):
        try:
            lines.append(f"{folder}\0{os.stat(folder).st_mtime_ns}")
        except OSError:
            pass
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _key() -> str:
    """Which server: this root, this interpreter and environment, this code; without linger, this make run."""
    parts = [
        os.environ.get("COMPENDIUM_ROOT", os.getcwd()),
        os.environ.get("PYTHONPATH", ""),
        sys.executable,
        str(os.getuid()),
    ]
    if linger_seconds():
        parts += [
            f"{k}={v}"
            for k, v in sorted(os.environ.items())
            if k not in VOLATILE and not k.startswith(VOLATILE_PREFIXES)
        ]
        parts.append(_code())
    else:
        parts.append(os.environ.get(ENV_MAKE, ""))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def socket_path() -> str:
    """The Unix socket of the server this environment uses, in the temporary folder."""
    return os.path.join(temporary_folder(), f"compendium-server-{_key()}.sock")


def temporary_folder() -> str:
    """The folder :func:`tempfile.gettempdir` chooses, found without importing :mod:`tempfile`.

    Importing it (and its first choice, which writes a trial file) takes about 8 ms, a quarter of
    a client's whole run: the first of ``TMPDIR``, ``TEMP``, ``TMP``, ``/tmp``, ``/var/tmp``,
    ``/usr/tmp`` and the working folder that this user may create files in, as an absolute path.
    Every socket of the build (the servers', the zygote's, the kernels') is placed here.
    """
    candidates = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
    for folder in [c for c in candidates if c] + ["/tmp", "/var/tmp", "/usr/tmp"]:
        if os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            return os.path.abspath(folder)
    return os.getcwd()


# ------------------------------------------------------------------ wire format
def _send(sock: socket.socket, obj: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(obj).encode()
    frame = struct.pack("!I", len(data)) + data
    if fds:
        socket.send_fds(sock, [frame], fds)
    else:
        sock.sendall(frame)


def _recv_exact(sock: socket.socket, n: int, buf: bytes = b"") -> bytes:
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def _recv(sock: socket.socket, with_fds: int = 0) -> tuple[dict[str, Any], list[int]]:
    """One message (a JSON object: a request or a reply, as :func:`_send` framed it) and the descriptors sent with it."""
    fds: list[int] = []
    if with_fds:
        first, fds, _, _ = socket.recv_fds(sock, 1 << 16, with_fds)
        if not first:
            raise ConnectionError("closed")
    else:
        first = b""
    head = _recv_exact(sock, 4, first[:4])
    (size,) = struct.unpack("!I", head)
    body = _recv_exact(sock, size, first[4:])
    return json.loads(body), fds


# ------------------------------------------------------------------ client
def submit(argv: list[str]) -> int | None:
    """Run ``argv`` through this make run's server; None when it should run in this process instead."""
    if (
        not argv
        or argv[0] not in SERVED
        or os.environ.get(ENV_CHILD)
        or not os.environ.get(ENV_MAKE)
        or os.name != "posix"
        or not hasattr(socket, "send_fds")
    ):
        return None
    if argv[0] == "qdpx" and "import" in argv[1:2]:
        return None  # reads a file the researcher names; keep it a plain process
    try:
        sock = _connect()
    except OSError:
        return None
    try:
        _send(sock, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}, [0, 1, 2])
        reply, _ = _recv(sock)
        if reply.get("retry"):
            return None  # that server was stopping: the command runs in this process
        return int(reply["code"])
    except KeyboardInterrupt:
        print(
            f"interrupted: `compendium {' '.join(argv)}` stopped by Ctrl-C; its kernel and sockets are cleaned "
            "up, and its outputs were not updated (run `make all` to finish the build)",
            file=sys.stderr,
        )
        return 130
    except (OSError, ValueError, KeyError):
        print(
            f"error: the build server stopped while running `compendium {' '.join(argv)}`.\n"
            "    fix: run `make all` again",
            file=sys.stderr,
        )
        return 1
    finally:
        sock.close()


def _try(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        return sock
    except OSError:
        sock.close()
        return None


def _start_server(path: str, log: str) -> Callable[[], bool]:
    """Start the folder's server: forked from the environment's warm zygote when the server is to
    linger (:mod:`compendium.zygote`), else (or if that fails) as a new Python. Returns "is it still running?"."""
    if linger_seconds():
        from .zygote import fork_server

        try:
            pid = fork_server(path, log, os.environ[ENV_MAKE])
        except (OSError, ValueError):  # its socket path is taken by something else, say: a new Python then
            pid = None
        if pid is not None:
            return lambda: alive(pid)
    return detached([sys.executable, "-m", "compendium.server", path, os.environ[ENV_MAKE]], log)


def detached(argv: list[str], log: str, **popen: Any) -> Callable[[], bool]:
    """Start ``argv`` in a session of its own, its output appended to ``log``; returns "is it still running?"."""
    import subprocess  # only to start a server or the zygote: a client that finds one never needs it

    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, close_fds=True, **popen
        )
    return lambda: process.poll() is None


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts until its parent reaps it)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def ask_to_stop(path: str) -> bool:
    """Ask the process listening on ``path`` (a build server, or the zygote) to stop; False if none does."""
    sock = _try(path)
    if sock is None:
        return False
    try:
        sock.settimeout(60)
        _send(sock, {"stop": True})
        _recv(sock)
        return True
    except (OSError, ValueError):
        return False
    finally:
        sock.close()


def listening(path: str, start: Callable[[str], Callable[[], bool]]) -> socket.socket | None:
    """Connect to the process listening on ``path`` (a build server, or the zygote); if none does,
    ``start(log)`` one (one client does, the others wait for it under a lock) and connect to it once
    it listens. ``start`` returns "is it still running?"; None when it stopped or never listened."""
    if len(os.fsencode(path)) > 107:  # a Unix socket's path is limited to 107 bytes on Linux
        raise OSError("the temporary folder's path is too long for a Unix socket")
    sock = _try(path)
    if sock:
        return sock
    import fcntl  # only when no server listens yet (as for time below)
    import time

    stem = path.removesuffix(".sock")
    with open(stem + ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        sock = _try(path)
        if sock:
            return sock
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        running = start(stem + ".log")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and running():
            sock = _try(path)
            if sock:
                return sock
            time.sleep(0.02)
    return None


def _connect() -> socket.socket:
    path = socket_path()
    sock = listening(path, lambda log: _start_server(path, log))
    if sock is None:
        raise OSError("the build server did not start")
    return sock
