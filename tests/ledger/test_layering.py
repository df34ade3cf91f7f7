"""The ledger core imports only the standard library and itself (style rule 1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import drawdown.ledger

PACKAGE_DIR = Path(drawdown.ledger.__file__).parent


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            assert node.module is not None
            names.append(node.module)
    return names


def is_allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top == "drawdown":
        return module == "drawdown.ledger" or module.startswith("drawdown.ledger.")
    return top in sys.stdlib_module_names or top == "__future__"


def test_ledger_imports_only_stdlib_and_itself() -> None:
    modules = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(modules) >= 8
    offenders = [
        f"{path.name}: {name}"
        for path in modules
        for name in imported_modules(path)
        if not is_allowed(name)
    ]
    assert offenders == []


def test_layering_check_catches_forbidden_imports() -> None:
    assert not is_allowed("drawdown.store.engine")
    assert not is_allowed("sqlalchemy")
    assert is_allowed("zoneinfo") and is_allowed("drawdown.ledger.model")
