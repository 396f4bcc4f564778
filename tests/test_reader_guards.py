"""Guards: YAML is read only through ``workbench.core.safe_yaml``, CSV only through
``workbench.core.records``.

PyYAML's own loaders expand aliases (a 600-byte "billion laughs" file exhausts memory) and keep
the last of duplicated keys; the csv module stops at a 128 KB field and reads on from the middle
of it. The two helpers fix each class once; these tests keep any module from calling the raw
readers again, so the classes stay fixed."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

ALLOWED = Path("workbench/core/safe_yaml.py")
CSV_ALLOWED = Path("workbench/core/records.py")
#: PyYAML entry points that read YAML (dumping is fine).
READERS = {
    "load",
    "safe_load",
    "full_load",
    "unsafe_load",
    "load_all",
    "safe_load_all",
    "full_load_all",
    "unsafe_load_all",
    "compose",
    "compose_all",
    "parse",
    "scan",
    "Loader",
    "SafeLoader",
    "CSafeLoader",
    "CLoader",
    "FullLoader",
    "CFullLoader",
    "UnsafeLoader",
    "CUnsafeLoader",
    "BaseLoader",
    "CBaseLoader",
}


def offences(tree: ast.AST) -> list[tuple[int, str]]:
    """``yaml.<reader>`` attributes and ``from yaml import <reader>`` in a module."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "yaml"
            and node.attr in READERS
        ):
            found.append((node.lineno, f"yaml.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "yaml":
            found += [(node.lineno, f"from {node.module} import {a.name}")
                      for a in node.names if a.name in READERS or a.name == "*"]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, f"import {a.name}")
                for a in node.names
                if a.name in ("ruamel.yaml", "oyaml", "strictyaml")
            ]
    return found


def test_no_module_reads_yaml_except_the_safe_loader() -> None:
    bad = []
    for path in sorted((REPO / "workbench").rglob("*.py")):
        relative = path.relative_to(REPO)
        if relative == ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(relative))
        bad += [f"{relative}:{line}: {what}" for line, what in offences(tree)]
    assert bad == [], "read YAML with workbench.core.safe_yaml instead:\n" + "\n".join(bad)


def test_the_guard_catches_each_way_of_calling_pyyaml() -> None:
    code = (
        "import yaml\nfrom yaml import safe_load\n"
        "yaml.safe_load('a')\nyaml.load('a', Loader=yaml.CSafeLoader)\nyaml.compose('a')\n"
        "yaml.safe_dump({})\n"
    )
    assert sorted(offences(ast.parse(code))) == [
        (2, "from yaml import safe_load"),
        (3, "yaml.safe_load"),
        (4, "yaml.CSafeLoader"),
        (4, "yaml.load"),
        (5, "yaml.compose"),
    ]


def csv_offences(tree: ast.AST) -> list[tuple[int, str]]:
    """``csv.reader`` / ``csv.DictReader`` / ``from csv import reader`` in a module."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "csv"
            and node.attr in ("reader", "DictReader")
        ):
            found.append((node.lineno, f"csv.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "csv":
            found += [
                (node.lineno, f"from csv import {a.name}")
                for a in node.names
                if a.name in ("reader", "DictReader")
            ]
    return found


def test_no_module_reads_csv_except_the_records_helper() -> None:
    bad = []
    for path in sorted((REPO / "workbench").rglob("*.py")):
        relative = path.relative_to(REPO)
        if relative == CSV_ALLOWED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(relative))
        bad += [f"{relative}:{line}: {what}" for line, what in csv_offences(tree)]
    assert bad == [], "read CSV with workbench.core.records.csv_records instead:\n" + "\n".join(
        bad
    )
    code = "import csv\nfrom csv import DictReader\ncsv.reader(x)\ncsv.writer(x)\n"
    assert sorted(csv_offences(ast.parse(code))) == [
        (2, "from csv import DictReader"),
        (3, "csv.reader"),
    ]
