"""The layer rules (docs/architecture.md, "Layers and their contracts") hold: the import-linter
contracts in pyproject.toml are checked on every test run."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_import_linter_contracts_are_kept() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True))",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 broken" in result.stdout


def test_non_ui_layers_import_without_qt() -> None:
    """Importing every non-UI module with PySide6 hidden works (the CI also runs their tests so)."""
    code = (
        "import importlib, pkgutil, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, *a):\n"
        "        if name.split('.')[0] == 'PySide6': raise ImportError('hidden')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import workbench\n"
        "for m in pkgutil.walk_packages(workbench.__path__, 'workbench.'):\n"
        "    if not m.name.startswith(('workbench.ui', 'workbench.app', 'workbench.__main__')):\n"
        "        importlib.import_module(m.name)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
