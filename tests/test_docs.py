"""The README stays true: every setting and every CLI command is documented (datasette-style)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import orb
import typer.main

from drawdown.cli import app

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _commands(group: typer.Typer, prefix: str = "drawdown") -> list[str]:
    click_group = typer.main.get_command(group)
    names = []
    for name, command in click_group.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            names += [f"{prefix} {name} {sub}" for sub in command.commands]
        else:
            names.append(f"{prefix} {name}")
    return names


def test_every_cli_command_is_in_the_readme() -> None:
    for command in _commands(app):
        assert f"`{command}" in README, f"README does not document `{command}`"


def test_every_environment_setting_is_in_the_readme() -> None:
    source = (ROOT / "src/drawdown/settings.py").read_text()
    for name in set(re.findall(r'"(DRAWDOWN_[A-Z_]+)"', source)):
        assert f"`{name}`" in README, f"README does not document {name}"


def test_readme_quick_start_is_the_ci_command() -> None:
    ci = (ROOT / ".ci/run").read_text()
    assert "./scripts/drawdown serve" in README and "\n./scripts/test --all\n" in README
    assert "\n./scripts/test --all\n" in ci


# --- docs/rules.md: every rule cited is defined, nothing points outside the repository ------

RULES = (ROOT / "docs/rules.md").read_text()
SKIPPED_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".tools", ".mypy_cache",
                ".ruff_cache", ".pytest_cache", ".hypothesis", "test-output"}  # fmt: skip
TEXT_SUFFIXES = {".py", ".md", ".html", ".mjs", ".js", ".toml", ".yaml", ".yml", ".txt", ".lua",
                 ".sh", ".cfg", ".ini", ".json", ".css", ""}  # fmt: skip
# Where rules are cited: the code, the tests, the documents.
CITING = ("src", "tests", "docs", "README.md", "SECURITY.md")


def _files(*roots: str) -> list[Path]:
    found = []
    for name in roots:
        top = ROOT / name
        candidates = [top] if top.is_file() else top.rglob("*")
        for path in candidates:
            parts = set(path.relative_to(ROOT).parts)
            if path.is_file() and not parts & SKIPPED_DIRS and path.suffix in TEXT_SUFFIXES:
                found.append(path)
    return found


def _section(number: str) -> str:
    """The text of one `§number` section of docs/rules.md, up to the next heading."""
    match = re.search(rf"^#+ §{re.escape(number)} .*?(?=^#+ )", RULES, re.M | re.S)
    assert match, f"docs/rules.md has no §{number}"
    return match.group(0)


DEFINED = {
    "section": set(re.findall(r"^#+ §(\d+(?:\.\d+)*) ", RULES, re.M)),
    "rule": set(re.findall(r"\*\*(R-[A-Z]+-\d+)\*\*", RULES)),
    "endpoint": set(re.findall(r"^\| (E\d+) \|", RULES, re.M)),
    "choice": set(re.findall(r"^\| (Q\d+) \|", RULES, re.M)),
    "§1.9 rule": set(re.findall(r"\*\*Rule (\w+)\.\*\*", _section("1.9"))),
}
CITATIONS = {
    "rule": re.compile(r"\bR-[A-Z]+-\d+"),
    "section": re.compile(r"(?<!RFC \d{4} )§(\d+(?:\.\d+)*)"),  # not another document's §
    "endpoint": re.compile(r"\b(E\d{1,2})\b"),
    "choice": re.compile(r"\b(Q\d{1,2})\b"),
    "§1.9 rule": re.compile(r"§1\.9 rules? (\w+)(?:[-–](\w+))?"),
}


def test_rules_md_defines_what_it_promises() -> None:
    assert len(DEFINED["rule"]) > 120 and len(DEFINED["endpoint"]) == 29
    assert {"1a", "1", "2", "3", "4"} <= DEFINED["§1.9 rule"]
    for behaviour in ("Voiding an invoice ends its top-up",
                      "An expiration change moves credits to a new block"):  # fmt: skip
        assert behaviour in RULES, behaviour


def test_every_rule_cited_is_defined_in_rules_md() -> None:
    families = {rule.rsplit("-", 1)[0] for rule in DEFINED["rule"]}
    undefined = []
    for path in _files(*CITING):
        text = path.read_text(errors="replace")
        where = path.relative_to(ROOT)
        for kind, pattern in CITATIONS.items():
            for match in pattern.finditer(text):
                cited = [g for g in match.groups() if g] or [match.group(0)]
                undefined += [f"{where}: {kind} {c}" for c in cited if c not in DEFINED[kind]]
        for family in re.findall(r"\b(R-[A-Z]+)-\*", text):
            if family not in families:
                undefined.append(f"{where}: rule family {family}-*")
    assert not undefined, "cited but not defined in docs/rules.md:\n" + "\n".join(undefined)


def test_nothing_points_outside_the_repository() -> None:
    outside = ("shared" + "/spec", "credits-api" + ".md", "../" + "shared",
               "the credits API " + "specification")  # fmt: skip
    # Those phrases named a document that is not shipped; docs/rules.md is the one.
    unshipped = re.compile(r"\b[Tt]he spec\b|\bwire spec\b|\b[Ss]pec(?:'s)? (?:§|Q\d|R-|E\d)")
    found = []
    for path in _files(*CITING, "benchmarks", "scripts", ".ci", "Dockerfile", "compose.yaml",
                       "pyproject.toml"):  # fmt: skip
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(ROOT)}: {n}" for n in outside if n in text]
        found += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in unshipped.finditer(text)]
    assert not found, "\n".join(found)


# --- every file, folder and module name the code's docstrings and the documents mention exists --

MENTIONING = ("src", "docs", "README.md", "SECURITY.md")
# `folder/file.py`, `file.md`, `folder/sub/`: a path, of a file or of a folder.
SUFFIXES = ("py", "md", "html", "toml", "yaml", "yml", "sh", "lua", "mjs", "json")
PATH = re.compile(
    rf"(?<![\w./*-])((?:[A-Za-z_][\w.-]*/)*[A-Za-z_][\w-]*\.(?:{'|'.join(SUFFIXES)})(?![\w(])"
    r"|(?:[A-Za-z_][\w-]*/)+(?=[\s`'\"),:;]))"
)
# `folder/module.name`: a function, class or constant of a module.
MODULE_NAME = re.compile(r"(?<![\w./-])((?:[a-z_]\w*/)+[a-z_]\w*)\.([A-Za-z_]\w*)\b")
# Named on purpose although gone: docs/benchmarks.md keeps the old method's results.
GONE = {"benchmarks/run.py"}


def _prose(path: Path) -> str:
    """What a file says to its reader: a document whole, a module's docstrings and comments."""
    text = path.read_text()
    if path.suffix != ".py":
        return text
    parts = [t.string for t in tokenize.generate_tokens(io.StringIO(text).readline)
             if t.type == tokenize.COMMENT]  # fmt: skip
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            parts.append(ast.get_docstring(node, clean=False) or "")
    return "\n".join(parts)


def _known_paths() -> set[str]:
    """Every file and folder of the repository and of the Orb SDK (docstrings cite its
    models), each as all its tails: `a/b/c.py` is known as `c.py`, `b/c.py` and `a/b/c.py`."""
    sdk = Path(orb.__file__).resolve().parent
    known = set()
    for top, where in ((ROOT, ROOT), (sdk.parent, sdk)):
        for path in where.rglob("*"):
            parts = path.relative_to(top).parts
            if set(parts) & SKIPPED_DIRS:
                continue
            suffix = "/" if path.is_dir() else ""
            known.update("/".join(parts[i:]) + suffix for i in range(len(parts)))
    return known


def _defined(module: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def test_every_path_and_module_name_mentioned_exists() -> None:
    known = _known_paths() | GONE
    modules = [p for top in ("src", "tests", "benchmarks") for p in (ROOT / top).rglob("*.py")]
    missing = []
    for path in _files(*MENTIONING):
        if path.suffix not in (".py", ".md"):
            continue  # templates and data say what they do, not where things are
        text, where = _prose(path), path.relative_to(ROOT)
        for match in PATH.finditer(text):
            if match.group(1) not in known:
                missing.append(f"{where}: {match.group(1)}")
        for match in MODULE_NAME.finditer(text):
            module, name = match.groups()
            if name in SUFFIXES or f"{module}.{name}" in known:
                continue  # a file (`docs/images/dashboard.png`), not a module's name
            found = [m for m in modules if m.as_posix().endswith(f"/{module}.py")]
            if not any(name in _defined(m) for m in found):
                missing.append(f"{where}: {module}.{name}")
    assert not missing, "mentioned but not there:\n" + "\n".join(missing)
