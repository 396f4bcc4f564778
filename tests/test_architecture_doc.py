"""docs/architecture.md stays honest as code moves: every module, function and file it cites in
backticks exists, and so does every ``Class.member`` it names without its module.

Names are resolved from the source files (ast), not by importing them, so the check also covers
``workbench.ui`` and ``workbench.app`` when PySide6 is hidden (``WORKBENCH_NO_QT=1``).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO

DOC = REPO / "docs" / "architecture.md"

#: ``workbench.core.errors.KnownError``, ``workbench.services.runner.Runner.execute``…
DOTTED = re.compile(r"workbench(?:\.\w+)+")
#: ``workbench/cli/run.py``, ``tests/backends/fault_server.py``, ``bench/bench_quit.py``…
PATH = re.compile(r"(?:workbench|tests|bench|resources|templates|docs|\.ci)/[\w./-]*")


#: ``Runner.execute``, ``OutputView.add_chunk``: a class of the package and one of its members.
MEMBER = re.compile(r"([A-Z]\w*)\.(\w+)")
#: Classes the document names that are not the package's own.
EXTERNAL = {"Thread"}


def _spans() -> list[str]:
    return re.findall(r"`([^`\n]+)`", DOC.read_text(encoding="utf-8"))


def _cited() -> list[str]:
    return [s for s in _spans() if DOTTED.fullmatch(s) or PATH.fullmatch(s)]


@cache
def _classes() -> dict[str, set[str]]:
    """Every class defined in the package, by name, with its members (merged across modules)."""
    classes: dict[str, set[str]] = {}
    for path in sorted((REPO / "workbench").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, set()).update(_members(node))
    return classes


@cache
def _definitions(path: Path) -> dict[str, ast.AST]:
    """Top-level names a module defines, assigns or imports, with their nodes."""
    names: dict[str, ast.AST] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.ImportFrom | ast.Import):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = node
    return names


def _members(cls: ast.ClassDef) -> set[str]:
    members: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            members.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            members.add(node.target.id)
        elif isinstance(node, ast.Assign):
            members.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return members


def _module_file(parts: list[str]) -> Path | None:
    base = REPO.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def resolves(dotted: str) -> bool:
    """A module, a module-level name, or a class member, found in the source tree."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        module = _module_file(parts[:split])
        if module is None:
            continue
        rest = parts[split:]
        if not rest:
            return True
        node = _definitions(module).get(rest[0])
        if node is None or len(rest) > 2:
            return False
        if len(rest) == 1:
            return True
        return isinstance(node, ast.ClassDef) and rest[1] in _members(node)
    return False


def test_the_checker_tells_real_names_from_gone_ones() -> None:
    assert resolves("workbench.services.runner.Runner.execute")
    assert resolves("workbench.storage.repositories.Store")  # a package's own class
    assert resolves("workbench.ui.background.on_gui")  # resolved without importing Qt
    assert not resolves("workbench.services.runner.Runner.run_everything")
    assert not resolves("workbench.services.runner.drive.inner")
    assert not resolves("workbench.services.nowhere")
    assert len(_cited()) > 50  # the pattern finds what the document cites
    assert "execute" in _classes()["Runner"] and "run_everything" not in _classes()["Runner"]


@pytest.mark.parametrize(
    "name", sorted({s for s in _spans() if MEMBER.fullmatch(s) and s.split(".")[0] not in EXTERNAL})
)
def test_every_cited_class_member_exists(name: str) -> None:
    cls, member = name.split(".")
    assert member in _classes().get(cls, set()), (
        f"docs/architecture.md cites `{name}`, but no class {cls} of the package has {member}"
    )


@pytest.mark.parametrize("name", sorted(set(_cited())))
def test_every_cited_name_exists(name: str) -> None:
    if DOTTED.fullmatch(name):
        assert resolves(name), f"docs/architecture.md cites `{name}`, which does not exist"
    else:
        assert (REPO / name.rstrip("/")).exists(), (
            f"docs/architecture.md cites `{name}`, which does not exist"
        )
