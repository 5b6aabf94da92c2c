"""The kernels notebooks run in: new for every notebook, forked from the warm server when there is one.

Each notebook gets a new kernel process with an empty namespace. In a child of
the warm build server (:mod:`compendium.server`, one per ``make`` run), the
kernel is *forked* from that child just before Papermill starts, instead of
starting a new interpreter: the fork inherits the imported packages (pandas,
matplotlib, compendium) but nothing a notebook did, because neither the server
nor its child ever runs notebook code, and the kernel's IPython shell and user
namespace are created new in the fork. Whatever a notebook changes (globals,
matplotlib's rcParams, module attributes, open files) dies with its kernel
process. Elsewhere (a notebook run by hand, a test calling
:func:`compendium.notebooks.execute`) kernels start the classic way, as
``python -m ipykernel_launcher``.

Kernels talk to their runner over Unix sockets named after a per-kernel
prefix in the temporary folder; :func:`remove_kernel_files` removes them.
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

__all__ = [
    "KERNEL_MANAGER",
    "FORKED_KERNEL_MANAGER",
    "SOCKET_PREFIX",
    "KERNELS",
    "socket_prefix",
    "remove_kernel_files",
]

KERNEL_MANAGER = "compendium.kernels.LocalKernelManager"  # see _kernel_manager_class
KERNEL_CLIENT = "compendium.kernels.ReadyClient"  # see _client_class
HISTORY = ":memory:"  # the kernels' IPython history database (nbclient's default for the kernels it starts)
SOCKET_PREFIX = "compendium-kernel-"  # every kernel's sockets and connection file start with this
FORKED_KERNEL_MANAGER = "compendium.kernels.ForkedKernelManager"
# The kernel forked for the notebook about to run: (pid, connection file), consumed by ForkedKernelManager.
_forked: dict[str, Any] = {}
_running: list[int] = []  # the kernel of the notebook running now (it leads its own process group)


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C (or the build server cancelling): stop the kernel at once, then unwind as KeyboardInterrupt.

    Stopping it first means jupyter_client finds it gone and only cleans up,
    instead of interrupting a running kernel that would print its own traceback.
    """
    for pid in _running:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if os.environ.get("COMPENDIUM_SERVED"):  # the client has said so in one line; say nothing more
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
    raise KeyboardInterrupt


def socket_prefix() -> str:
    """A new socket prefix in the temporary folder (the build server chooses it for its children)."""
    from .client import temporary_folder

    chosen = os.environ.pop("COMPENDIUM_KERNEL_PREFIX", None)
    return chosen or os.path.join(temporary_folder(), f"{SOCKET_PREFIX}{uuid.uuid4().hex[:12]}")


def remove_kernel_files(prefix: str) -> None:
    """Delete a kernel's Unix sockets and connection file (``<prefix>-1`` ... and ``<prefix>.json``)."""
    import glob

    for name in glob.glob(glob.escape(prefix) + "*"):
        try:
            os.unlink(name)
        except OSError:
            pass


KERNELS: list = []  # kernel managers this process started


@functools.cache
def _client_class():
    """jupyter_client's kernel client, without its fixed 0.2 s wait once the kernel is ready.

    jupyter_client waits until the kernel has answered ``kernel_info`` on the
    shell channel and sent something on IOPub (proof that both are connected),
    then waits until IOPub has been silent for 0.2 s before it returns. The
    messages that wait drains (the kernel's status for that request, which may
    also arrive after it) belong to no cell: nbclient matches every message to
    the request that caused it and skips the rest. This client takes the same
    proof of readiness and returns once what is queued has been read, without
    the 0.2 s of silence (tests/test_kernels.py).
    """
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class _Ready(AsyncKernelClient):
        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
            while True:
                self.kernel_info()
                try:
                    msg = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    pass
                else:
                    if msg["msg_type"] == "kernel_info_reply":
                        try:
                            await self.iopub_channel.get_msg(timeout=0.2)
                        except Empty:
                            pass
                        else:
                            self._handle_kernel_info_reply(msg)
                            break
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
            while True:
                try:
                    await self.iopub_channel.get_msg(timeout=0)
                except Empty:
                    break

    return _Ready


async def _wait_briefly(manager, pollinterval: float = 0.1) -> None:
    """Wait for a stopped kernel to end, looking every 5 ms (jupyter_client looks every 0.1 s,
    which made every notebook run 0.1 s longer than its kernel lived)."""
    import asyncio

    while await manager._async_is_alive():
        await asyncio.sleep(0.005)


@functools.cache
def _kernel_manager_class():  # imported lazily: jupyter_client is slow to import
    from jupyter_client.manager import AsyncKernelManager

    class _Local(AsyncKernelManager):
        """Kernels talk over Unix sockets: nothing listens on TCP, and no warning about it."""

        def __init__(self, **kwargs):
            kwargs.setdefault("client_class", KERNEL_CLIENT)
            kwargs.setdefault("transport", "ipc")
            # One socket prefix per kernel, so kernels running side by side never share a socket.
            kwargs.setdefault("ip", socket_prefix())
            super().__init__(**kwargs)
            KERNELS.append(self)  # stopped, and their sockets removed, by the CLI if the run is interrupted

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            _running.append(self.provisioner.pid)  # so that Ctrl-C can stop it at once

        _async_wait = _wait_briefly

    return _Local


class _ForkedProcess:
    """The little of ``subprocess.Popen`` that jupyter_client's local provisioner uses, for a forked kernel."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = 0
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.01)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


@functools.cache
def _forked_manager_class():
    from jupyter_client.manager import AsyncKernelManager

    class _Forked(AsyncKernelManager):
        """Adopts the kernel :func:`_fork_kernel` started, instead of launching a new interpreter.

        jupyter_client does everything else as usual: the connection, the
        shutdown request at the end, killing the process if it does not stop,
        and removing the sockets and the connection file.
        """

        def __init__(self, **kwargs):
            kwargs.setdefault("client_class", KERNEL_CLIENT)
            super().__init__(**kwargs)
            self.connection_file = _forked["connection_file"]
            self.load_connection_file()
            self._connection_file_written = True  # written before the fork; never rewritten under the kernel

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            provisioner = self.provisioner
            process = _ForkedProcess(_forked.pop("pid"))
            # The kernel leads its own process group (as jupyter_client's start_new_session does).
            provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, process.pid
            provisioner.cwd = kw.get("cwd")
            self._reconcile_connection_info(provisioner.connection_info)

        _async_wait = _wait_briefly

    return _Forked


def __getattr__(name: str):  # module attributes used by papermill's kernel_manager_class
    if name == "LocalKernelManager":
        return _kernel_manager_class()
    if name == "ForkedKernelManager":
        return _forked_manager_class()
    if name == "ReadyClient":
        return _client_class()
    raise AttributeError(name)


def _fork_kernel(prefix: str, cwd: Path) -> int:
    """Fork this process into an IPython kernel listening on ``<prefix>-1..5``; return its pid.

    Called before Papermill creates any event loop or ZeroMQ context, so the
    child starts from this process's imports only. The kernel's shell, user
    namespace and sockets are all created in the child.
    """
    from jupyter_client.connect import write_connection_file

    connection_file = prefix + ".json"
    write_connection_file(
        connection_file,
        ip=prefix,
        transport="ipc",
        shell_port=1,
        iopub_port=2,
        stdin_port=3,
        hb_port=4,
        control_port=5,
        kernel_name="python3",
    )
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    # Everything imported so far moves to the collector's permanent generation: the kernel's garbage
    # collections then skip the hundreds of thousands of inherited objects (pandas, matplotlib, ...)
    # instead of walking them, and copying their memory pages, again and again. What the notebook
    # creates is collected as usual; nothing it can see changes.
    gc.freeze()
    pid = os.fork()
    if pid == 0:  # the kernel
        code = 0
        try:
            os.setsid()  # Ctrl-C in the terminal reaches the runner, which then stops the kernel
            signal.signal(signal.SIGINT, signal.default_int_handler)  # interrupt_request reaches user code
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.close(null)
            os.chdir(cwd)
            os.environ["JPY_PARENT_PID"] = str(parent)
            # As `python -m ipykernel_launcher` leaves it: the kernel's folder, not the caller's, on the path.
            sys.path[:] = [entry for entry in sys.path if entry not in ("", os.getcwd(), str(Path.cwd()))]
            import ipykernel_launcher

            sys.argv = [ipykernel_launcher.__file__, "-f", connection_file]
            from ipykernel.kernelapp import IPKernelApp

            # parent_handle: the kernel stops by itself if its runner dies (as with jupyter_client's launcher).
            app = IPKernelApp.instance(parent_handle=parent)
            # As nbclient starts a classic kernel: history in memory, not in the IPython folder's database.
            app.initialize(["-f", connection_file, f"--HistoryManager.hist_file={HISTORY}"])
            app.start()
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    Path(prefix + ".pid").write_text(str(pid), encoding="utf-8")  # lets the build server stop it if need be
    _forked.update(pid=pid, connection_file=connection_file)
    return pid
