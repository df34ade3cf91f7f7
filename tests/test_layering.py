"""The house rules of `src/drawdown`, checked on every import statement (function-level ones too):

* data flows one way: api/web/cli -> services -> ledger + store, and only the composition
  root (`app.py`) knows every part;
* no SQLAlchemy above the store: services, the faces and the CLI see typed records
  (`drawdown/records.py`, which imports no SQL); the faces never import the store at all;
* no import circle anywhere in `src/`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "drawdown"

# What each part may import from drawdown (besides itself). Every module belongs to a part.
ALLOWED: dict[str, set[str]] = {
    "ledger": set(),
    "records": {"ledger"},
    "store": {"ledger", "records"},
    "services": {"ledger", "store", "records", "settings"},
    "api": {"ledger", "services", "records", "settings", "__init__"},
    "web": {"ledger", "services", "records", "settings"},
    "cli": {"app", "serving", "services", "settings", "ledger", "records", "__init__"},
    "serving": {"app"},
    "settings": set(),
    "app": {"api", "web", "services", "store", "records", "settings", "ledger"},
    "__init__": set(),
}
NO_SQLALCHEMY = ("services", "api", "web", "cli", "ledger", "records")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _part(module: str) -> str:
    inner = module.removeprefix("drawdown").lstrip(".")
    return inner.split(".")[0] if inner else "__init__"


def _imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names), at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            for alias in node.names:  # `from drawdown.services import write_path`
                candidate = f"{node.module}.{alias.name}"
                if candidate in MODULES:
                    names.add(candidate)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def _allowed(part: str, module: str) -> bool:
    target = module.removeprefix("drawdown.")
    if module == "drawdown":
        target = "__init__"
    if _part(module) == part:
        return True
    return any(target == a or target.startswith(a + ".") for a in ALLOWED[part])


def test_every_module_belongs_to_a_part() -> None:
    assert {_part(name) for name in MODULES} <= set(ALLOWED)


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_part_imports_only_what_it_may(part: str) -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports {module}"
        for name, path in MODULES.items()
        if _part(name) == part
        for module in sorted(_imports(path))
        if (module == "drawdown" or module.startswith("drawdown.")) and not _allowed(part, module)
    ]
    assert offenders == []


@pytest.mark.parametrize("part", NO_SQLALCHEMY)
def test_no_sqlalchemy_above_the_store(part: str) -> None:
    offenders = [
        f"{path.relative_to(SRC)} imports {module}"
        for name, path in MODULES.items()
        if _part(name) == part
        for module in sorted(_imports(path))
        if module == "sqlalchemy" or module.startswith("sqlalchemy.")
    ]
    assert offenders == []


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        targets = set()
        for module in _imports(path):
            # An import of a package's attribute resolves to the package module itself.
            while module and module not in MODULES:
                module = module.rpartition(".")[0]
            if module and module != name and not name.startswith(module + "."):
                targets.add(module)
        graph[name] = targets
    return graph


def test_no_import_circle_in_src() -> None:
    graph = _graph()
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert circles == []


def _services_folder(module: str) -> str | None:
    """The folder of `services/` a module lives in (`billing` for services.billing.top_ups),
    or None for a module directly in `services/`."""
    parts = module.split(".")
    if len(parts) < 4 or parts[:2] != ["drawdown", "services"]:
        return None
    return parts[2]


def test_no_import_circle_between_the_folders_of_services() -> None:
    """Folders of services/ import each other one way only (issue 22: billing and webhooks,
    ledger and billing imported each other): the end of a write is the write path's, so no
    use case folder needs to reach back into another for it."""
    edges: dict[str, set[str]] = {}
    for name, targets in _graph().items():
        source = _services_folder(name)
        if source is not None:
            for target in targets:
                folder = _services_folder(target)
                if folder is not None and folder != source:
                    edges.setdefault(source, set()).add(folder)
    both_ways = sorted(
        f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, ())
    )
    assert both_ways == []


def test_a_customer_write_is_never_called_tx() -> None:
    """`tx` names a database transaction (`store.tx.Tx`) only; a `CustomerWrite` is `write`,
    so its transaction reads `write.tx`, never the ambiguous `tx.tx` (issue 22)."""
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in MODULES.values()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\btx\.tx\b", line)
    ]
    assert offenders == []
