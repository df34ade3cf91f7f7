"""What every command shares: `--database-url`, `--version`, plain help, one-line errors.

Typer builds the click commands; `command()` then gives every command a `--database-url`
option (it sets `DRAWDOWN_DATABASE_URL`, which the commands read through `Settings`), the
root a `--version`, and turns off Typer's rich help, which renders every flag with a
`<bool>` column and swallows `[...]` in help texts. Commands open the database with
`context()`, which closes it when the command ends.

`run()` makes every failure one line on stderr starting `error: `, with exit status 1: a
usage mistake (a missing option, an unknown command, a bad value), a rule a use case
refuses (a duplicate item, an unknown key), a bad setting, an unusable database, a busy
port. Anything else is a bug and keeps its traceback. A group given no command shows its
help, as `--help` does.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
import typer.main

# Typer 0.29 carries its own copy of click: its exceptions and its current command.
from typer._click import exceptions as click_errors
from typer._click import globals as click_globals

from drawdown.app import StartupError, build_context
from drawdown.ledger.errors import LedgerError
from drawdown.services import status
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ServiceError
from drawdown.serving import PortUnavailable
from drawdown.settings import SettingError, Settings

DATABASE_URL_ENV = "DRAWDOWN_DATABASE_URL"


def version() -> str:
    return status.version()


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


def context(*, migrate: bool | None = None) -> ServiceContext:
    """The service context of this command (settings from the environment), closed when the
    command ends. `migrate` as in `build_context`."""
    ctx = build_context(Settings.from_env(), migrate=migrate)
    command_context = click_globals.get_current_context(silent=True)
    if command_context is not None:
        command_context.call_on_close(ctx.db.close)
    return ctx


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr; raise the returned Exit(1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _refused(exc: ServiceError | LedgerError) -> str:
    """`field: message`, the message lower-cased like ours when it starts with a word (the
    API's "Could not find a resource …"), never an acronym."""
    message = exc.message
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    return f"{exc.field + ': ' if exc.field else ''}{message}"


def run(app: typer.Typer, args: Any = None) -> None:
    """Run the command line and exit with its status (0, or 1 after one `error:` line)."""
    try:
        code = command(app).main(args=args, prog_name="drawdown", standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:  # `drawdown keys`: what it offers
        typer.echo(exc.format_message())
        code = 0
    except click_errors.UsageError as exc:
        _exit_with(_usage_error(exc))
    except click_errors.ClickException as exc:
        _exit_with(exc.format_message())
    except typer.Abort:  # end of input while a command read it
        _exit_with("aborted")
    except (StartupError, SettingError) as exc:
        _exit_with(str(exc))
    except PortUnavailable as exc:
        _exit_with(f"{exc}; choose another port with --port or DRAWDOWN_PORT")
    except (ServiceError, LedgerError) as exc:  # a rule refused it, as the API would
        _exit_with(_refused(exc))
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: click_errors.UsageError) -> str:
    """Click's message, lower-cased like ours, and where the usage is explained."""
    message = exc.format_message().rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    path = exc.ctx.command_path if exc.ctx else "drawdown"
    return f"{message} (see {path} --help)"


def _exit_with(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(1)
