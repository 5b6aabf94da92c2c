"""The kernel manager and client the notebooks run with (src/compendium/kernels.py).

The client returns as soon as the kernel has answered on both channels. What
the readiness check leaves behind on IOPub (the kernel's status for it, which
may arrive a moment later) belongs to no cell: nbclient matches every message
to its request. A kernel stopped at once ends, and its sockets go.
"""

from __future__ import annotations

import asyncio
import glob
import os
from pathlib import Path

import pytest

from compendium import kernels

pytestmark = pytest.mark.heavy  # starts a kernel


def test_a_ready_kernel_leaves_nothing_queued_and_stops_at_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's sockets, where this test can see them
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    async def session() -> tuple[dict, list[dict], list[dict], int, str]:
        manager = kernels._kernel_manager_class()(kernel_name="python3")
        await manager.start_kernel(cwd=str(tmp_path))
        client = manager.client()
        assert type(client) is kernels._client_class()  # the notebooks' client, not jupyter_client's
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=120)
            msg_id = client.execute("print(6 * 7)")
            reply = await client.get_shell_msg(timeout=60)
            outputs, stray = [], []
            while True:
                msg = await client.get_iopub_msg(timeout=60)
                (outputs if msg["parent_header"].get("msg_id") == msg_id else stray).append(msg)
                if msg in outputs and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
        finally:
            client.stop_channels()
            pid = manager.provisioner.pid
            prefix = manager.ip
            await manager.shutdown_kernel(now=True)
        return reply, outputs, stray, pid, prefix

    reply, outputs, stray, pid, prefix = asyncio.run(session())
    assert reply["content"]["status"] == "ok"
    # Nothing but the kernel's status for the readiness requests is left over for the first cell to skip, and
    # ipykernel's welcome on IOPub (sent once the client subscribes, for no request; on a busy machine it can
    # come after the readiness wait has read what was queued).
    left = [(m["msg_type"], m["parent_header"].get("msg_type")) for m in stray]
    assert set(left) <= {("status", "kernel_info_request"), ("iopub_welcome", None)}, left
    assert [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"] == ["42\n"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped and reaped
    assert glob.glob(glob.escape(prefix) + "*") == []  # its sockets and connection file removed
