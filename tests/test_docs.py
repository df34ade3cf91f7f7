"""The README stays true: every setting and every CLI command is documented (datasette-style)."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert "./scripts/drawdown serve" in README and "./scripts/test" in README
    assert "\n./scripts/test" in ci
