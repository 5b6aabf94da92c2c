"""`make test` finds or installs the browser itself (tools/chromium.sh), branch by branch.

Each case runs the script with a PATH of stand-ins, so no package is really
installed and nothing is fetched: a Chromium that answers ``--version``, an
``apt-get`` that installs one (or fails), a Python whose Playwright fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "chromium.sh"
FAKE_CHROMIUM = "#!/bin/sh\necho 'Chromium 1.0 (stand-in)'\n"


def _stub(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body)
    path.chmod(0o755)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A PATH holding only what the script needs besides the stand-ins."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("id", "cat", "mkdir", "chmod"):
        os.symlink(shutil.which(tool), folder / tool)
    return folder


def _run(bin_dir: Path, python: str = "false", **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT), python],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "HOME": str(bin_dir.parent), **env},
        timeout=60,
    )


def test_an_installed_chromium_is_used_as_it_is(bin_dir: Path) -> None:
    exe = _stub(bin_dir, "chromium", FAKE_CHROMIUM)
    _stub(bin_dir, "apt-get", "#!/bin/sh\necho apt-get must not run >&2\nexit 99\n")
    result = _run(bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(exe)
    assert "apt-get must not run" not in result.stderr


def test_without_chromium_debian_package_is_installed_with_a_line_saying_so(bin_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("this case needs root (the script installs with apt only as root); run the tests as root")
    log = bin_dir.parent / "apt.log"
    _stub(
        bin_dir,
        "apt-get",
        f'#!/bin/bash\necho "$@" >> {log}\n'
        f'if [ "$1" = install ] || [ "$2" = install ]; then printf \'%s\' "{FAKE_CHROMIUM}" > {bin_dir}/chromium;'
        f" chmod 755 {bin_dir}/chromium; fi\n",
    )
    result = _run(bin_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir / "chromium")
    assert "installing Debian's chromium with apt-get" in result.stderr
    assert "install -y -qq chromium" in log.read_text()


def test_when_nothing_works_one_message_names_the_command(bin_dir: Path) -> None:
    _stub(bin_dir, "apt-get", "#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit 100\n")
    python = _stub(bin_dir, "python", "#!/bin/sh\necho 'playwright: download failed' >&2\nexit 1\n")
    result = _run(bin_dir, python=str(python))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "none could be found or installed" in result.stderr
    assert "fix: install it" in result.stderr and "apt-get install chromium" in result.stderr
    assert "playwright install chromium" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_chromium_that_does_not_start_is_not_used(bin_dir: Path) -> None:
    _stub(bin_dir, "chromium", "#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    _stub(bin_dir, "apt-get", "#!/bin/sh\nexit 100\n")
    result = _run(bin_dir, python=str(_stub(bin_dir, "python", "#!/bin/sh\nexit 1\n")))
    assert result.returncode == 1
    assert "none could be found or installed" in result.stderr
