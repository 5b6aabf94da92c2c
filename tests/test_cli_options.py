"""The command line offers an option only where it acts: one that would be ignored is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from compendium import cli


def test_audit_remove_needs_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "--remove"]) == 1
    err = capsys.readouterr().err
    assert "needs --outputs" in err and "fix: `compendium audit --outputs --remove`" in err


def test_generate_like_takes_no_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "twin"
    assert cli.main(["generate", "80", str(out), "--like", str(tmp_path / "study")]) == 1
    assert "the number '80' would be ignored" in capsys.readouterr().err
    assert not out.exists()  # refused before anything was read or written


def test_options_of_maintenance_commands_sit_on_them_alone() -> None:
    """--runs/--out/--quick/--sizes belong to bench; the manifest, verify and diff commands take none."""
    import argparse

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options = {
        name: sorted(o for a in p._actions for o in a.option_strings if o not in ("-h", "--help"))
        for name, p in sub.choices.items()
    }
    assert options["bench"] == ["--out", "--quick", "--runs", "--sizes"]
    assert options["manifest"] == options["verify"] == options["diff"] == options["accept"] == []
    assert not any("--runs" in v or "--quick" in v for k, v in options.items() if k != "bench")


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    """`python -m compendium audit | head -1`: when the reader has gone, the command stops with the
    exit status of a command SIGPIPE ended, and no traceback."""
    import os
    import subprocess
    import sys

    from compendium.paths import paths

    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPENDIUM_")}
    env["PYTHONPATH"] = str(paths().root / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "compendium", "audit"],
        cwd=paths().root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes before the command has printed anything
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
