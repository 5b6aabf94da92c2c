"""Write environment.yml (conda/Binder/repo2docker) from requirements.lock.

The conda part pins only the interpreter; every Python package is installed by
pip with exactly the versions in requirements.lock, so the two environments
cannot drift. `make environment.yml` runs this; tests/test_environment.py checks it.
"""

from __future__ import annotations

import sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
pins = [
    line.strip()
    for line in (root / "requirements.lock").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
text = "\n".join(
    [
        "# Conda / Binder / repo2docker environment for the compendium.",
        "# Generated from requirements.lock by `make environment.yml`; do not edit by hand.",
        "name: compendium",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
        *[f"      - {pin}" for pin in pins],
        "      - -e .",
        "",
    ]
)
target = root / "environment.yml"
if len(sys.argv) > 1 and sys.argv[1] == "--check":
    sys.exit(0 if target.read_text(encoding="utf-8") == text else 1)
target.write_text(text, encoding="utf-8")
print(f"environment.yml: {len(pins)} pinned packages")
