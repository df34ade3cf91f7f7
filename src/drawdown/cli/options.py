"""What every command shares: `--database-url`, `--version`, plain help, one-line errors.

Typer builds the click commands; `command()` then gives every command a `--database-url`
option (it sets `DRAWDOWN_DATABASE_URL`, which the commands read through `Settings`), the
root a `--version`, and turns off Typer's rich help, which renders every flag with a
`<bool>` column and swallows `[...]` in help texts. `run()` turns the failures a person
can fix (a bad setting, an unusable database, a busy port) into one line on stderr and
exit status 1; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from typing import Any

import typer
import typer.main

from drawdown.app import StartupError
from drawdown.services.errors import ServiceError
from drawdown.serving import PortUnavailable
from drawdown.settings import SettingError, Settings

DATABASE_URL_ENV = "DRAWDOWN_DATABASE_URL"


def version() -> str:
    try:
        return importlib.metadata.version("drawdown")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _set_database_url(value: str | None) -> None:
    if value:
        os.environ[DATABASE_URL_ENV] = value


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"drawdown {version()}")
        raise typer.Exit()


def _shared() -> typer.Typer:
    """A command whose options are copied onto the real ones (Typer builds them)."""
    holder = typer.Typer()

    @holder.command()
    def shared(
        database_url: str = typer.Option(
            Settings.database_url, "--database-url", metavar="URL", envvar=DATABASE_URL_ENV,
            show_envvar=True, show_default=True, is_eager=True, callback=_set_database_url,
            help="SQLite file (sqlite:///PATH) or PostgreSQL (postgresql://USER@HOST/DB)",
        ),
        version: bool = typer.Option(
            False, "--version", is_eager=True, callback=_show_version,
            help="Print drawdown's version and exit.",
        ),
    ) -> None:  # fmt: skip
        """Never called."""

    return holder


def _options() -> tuple[Any, Any]:
    params = {p.name: p for p in typer.main.get_command(_shared()).params}
    database_url, version_flag = params["database_url"], params["version"]
    database_url.expose_value = False
    version_flag.expose_value = False
    return database_url, version_flag


def _plain(command: Any, database_url: Any) -> None:
    command.rich_markup_mode = None
    subcommands = getattr(command, "commands", None)
    if subcommands is not None:
        for sub in subcommands.values():
            _plain(sub, database_url)
    else:
        command.params.append(database_url)


def command(app: typer.Typer) -> Any:
    """The click command of `app`, with the shared options and plain help."""
    database_url, version_flag = _options()
    root = typer.main.get_command(app)
    _plain(root, database_url)
    root.params.append(version_flag)
    return root


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr; raise the returned Exit(1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def service_failure(exc: ServiceError) -> typer.Exit:
    return fail(f"{exc.field + ': ' if exc.field else ''}{exc.message}")


def run(app: typer.Typer, args: Any = None) -> None:
    try:
        command(app).main(args=args, prog_name="drawdown", standalone_mode=True)
    except (StartupError, SettingError) as exc:
        _exit_with(str(exc))
    except PortUnavailable as exc:
        _exit_with(f"{exc}; choose another port with --port or DRAWDOWN_PORT")
    except KeyboardInterrupt:
        sys.exit(130)


def _exit_with(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)
