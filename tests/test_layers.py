"""The package shows the pipeline's layers, and the Makefile's source dependency follows them.

Top level of ``src/compendium``: what the pipeline runs (every module is a build input).
``refiqda/``: the QDA exchange, a build input of the supplement. ``teaching/`` and
``maintenance/``: never build inputs, so no pipeline module may import them; only the
command line (``cli.py``) reaches them, from inside the function of the command that needs them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "compendium"
OUTSIDE_THE_BUILD = ("compendium.teaching", "compendium.maintenance")
COMMAND_LINE = "cli.py"  # the command line of every layer: it imports each one in its command's function


def imported(path: Path, package: str) -> list[tuple[str, int, bool]]:
    """``(absolute module, line, at module level)`` for every import in ``path``, a module of ``package``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    top = {id(node) for node in tree.body}
    for node in tree.body:  # `if`/`try` blocks at module level run on import too
        if isinstance(node, (ast.If, ast.Try)):
            top |= {id(inner) for inner in ast.walk(node)}
    found: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from . import reproduce` names a module too: count each imported name as one.
            found += [(f"{module}.{alias.name}", node.lineno, id(node) in top) for alias in node.names]
    return found


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def layer_violations(package: Path = PACKAGE) -> list[str]:
    """Imports that cross a layer the wrong way, as ``file:line imports module``."""
    bad: list[str] = []
    for path in sorted(package.glob("*.py")):
        for module, line, at_top in imported(path, "compendium"):
            if not _within(module, OUTSIDE_THE_BUILD):
                continue
            if path.name != COMMAND_LINE or at_top:
                bad.append(f"{path.name}:{line} imports {module}")
    for path in sorted((package / "refiqda").glob("*.py")):
        for module, line, _ in imported(path, "compendium.refiqda"):
            if _within(module, OUTSIDE_THE_BUILD):
                bad.append(f"refiqda/{path.name}:{line} imports {module}")
    return bad


def test_pipeline_modules_import_neither_teaching_nor_maintenance() -> None:
    assert layer_violations() == []


def test_pipeline_notebooks_import_neither_teaching_nor_maintenance() -> None:
    """The notebooks 01-04 are pipeline steps too: their code cells stay on the top level and refiqda/."""
    import json

    notebooks = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert len(notebooks) == 4
    bad = []
    for path in notebooks:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        tree = ast.parse(code, filename=path.name)
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [f"{node.module}.{a.name}" for a in node.names]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            bad += [f"{path.name}: imports {n}" for n in names if _within(n, OUTSIDE_THE_BUILD)]
    assert bad == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    """A pipeline module importing the benchmark, or the CLI doing so on import, is reported."""
    package = tmp_path / "compendium"
    (package / "refiqda").mkdir(parents=True)
    (package / "themes.py").write_text("from .maintenance.bench import TARGETS\n", encoding="utf-8")
    (package / "cli.py").write_text(
        "from .teaching import lab\n\ndef _lab():\n    from .teaching import report\n", encoding="utf-8"
    )
    (package / "refiqda" / "export.py").write_text("from ..maintenance import share\n", encoding="utf-8")
    (package / "data.py").write_text(
        "try:\n    import compendium.teaching.widget\nexcept ImportError:\n    pass\n", encoding="utf-8"
    )
    assert layer_violations(package) == [
        "cli.py:1 imports compendium.teaching.lab",
        "data.py:2 imports compendium.teaching.widget",
        "themes.py:1 imports compendium.maintenance.bench.TARGETS",
        "refiqda/export.py:1 imports compendium.maintenance.share",
    ]


@pytest.fixture(scope="module")
def makefile() -> str:
    return (REPO / "Makefile").read_text(encoding="utf-8")


def test_makefile_src_is_the_top_level_modules(makefile: str) -> None:
    """No hand-kept exclusion list: SRC is every top-level module plus the templates, nothing below."""
    assert "NOT_PIPELINE" not in makefile
    definition = re.search(r"^SRC\s*:=(.*(?:\\\n.*)*)$", makefile, re.M)
    assert definition is not None
    words = definition.group(1).replace("\\\n", " ").split()
    assert words == ["$(wildcard", "src/compendium/*.py)", "$(wildcard", "src/compendium/templates/*)"]
    assert re.search(r"^REFIQDA_SRC\s*:=.*\$\(wildcard src/compendium/refiqda/\*\.py\)", makefile, re.M)


def test_qda_exchange_steps_depend_on_its_sources(makefile: str) -> None:
    """The steps that run refiqda/ list REFIQDA_SRC and SRC; no step lists the teaching or maintenance folders."""
    rules = {
        line.split("&:")[0].split(":")[0].strip(): line
        for line in makefile.splitlines()
        if re.match(r"^\$\((SUPP_OUT|COMPARE_OUT|BUILD)\)[^=]*:", line)
    }
    assert "$(REFIQDA_SRC)" in rules["$(SUPP_OUT)"] and "$(SRC)" in rules["$(SUPP_OUT)"]
    # refiqda/ reads the data through the top-level modules, so those are inputs of its steps too.
    for target in ("$(COMPARE_OUT)", "$(BUILD)/second_coder.qdpx"):
        assert "$(REFIQDA_SRC)" in rules[target] and "$(SRC)" in rules[target], target
    assert "src/compendium/teaching" not in makefile and "src/compendium/maintenance/*" not in makefile


def test_readme_layout_names_every_pipeline_module() -> None:
    """Each top-level module is named (or matched by a pattern such as ``manuscript*.py``) in README's Layout."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    layout = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([\w*]+\.py)`", layout))
    patterns = [re.compile(re.escape(n).replace(r"\*", r"\w*") + "$") for n in named]
    missing = [
        p.name
        for p in sorted(PACKAGE.glob("*.py"))
        if p.name not in ("__init__.py", "__main__.py") and not any(pattern.match(p.name) for pattern in patterns)
    ]
    assert missing == [], f"README, Layout: say where {', '.join(missing)} belong"
    for folder in ("refiqda/", "teaching/", "maintenance/", "notebooks/", "tests/"):
        assert f"`{folder}" in layout
