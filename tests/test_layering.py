"""Data flows one way: api/cli/web -> services -> ledger + store. This test keeps it so."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "drawdown"

# Which drawdown packages each layer may import (besides itself and settings).
ALLOWED = {
    "ledger": set(),
    "store": {"ledger"},
    "services": {"ledger", "store"},
    "api": {"ledger", "services", "store.engine", "web.app"},
    "web": {"ledger", "services"},
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("drawdown."):
            names.add(node.module.removeprefix("drawdown."))
        elif isinstance(node, ast.Import):
            names.update(a.name.removeprefix("drawdown.") for a in node.names
                         if a.name.startswith("drawdown."))  # fmt: skip
    return names


def _allowed(layer: str, module: str) -> bool:
    if (module == "settings" and layer != "ledger") or module.split(".")[0] == layer:
        return True
    return any(module == a or module.startswith(a + ".") for a in ALLOWED[layer])


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports drawdown.{module}"
        for path in sorted((SRC / layer).rglob("*.py"))
        for module in sorted(_imports(path))
        if not _allowed(layer, module)
    ]
    assert offenders == []
