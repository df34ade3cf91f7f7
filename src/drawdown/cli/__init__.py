"""The `drawdown` command line; `main` holds the commands, each area in a module of its own."""

from drawdown.cli.main import app, main

__all__ = ["app", "main"]
