"""The `drawdown` command line: serve, migrate, keys, admin, expire, verify, items, prices,
usage.

Every command opens the database through the composition root (`drawdown/app.py`) and goes
through the same service functions as the HTTP API.
"""

from __future__ import annotations

import os

import typer

from drawdown import serving
from drawdown.app import build_context
from drawdown.cli import report, usage, webhooks
from drawdown.services.access import admins, api_keys, idempotency
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ResourceNotFound, ServiceError
from drawdown.services.ledger import reads
from drawdown.settings import Settings

app = typer.Typer(help="drawdown: a self-hostable prepaid-credits ledger.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
admin_app = typer.Typer(help="Manage console administrators.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(report.app, name="report")
app.add_typer(usage.items_app, name="items")
app.add_typer(usage.prices_app, name="prices")
app.add_typer(usage.usage_app, name="usage")


def _context(settings: Settings | None = None) -> ServiceContext:
    return build_context(settings or Settings.from_env())


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on [env DRAWDOWN_HOST, 127.0.0.1]"),
    port: int = typer.Option(None, help="Port to listen on [env DRAWDOWN_PORT, 8000]"),
    workers: int = typer.Option(
        None, help="Server processes sharing the database [env DRAWDOWN_WORKERS, 1]"
    ),
) -> None:
    """Apply migrations and serve the API under /v1 (and the console under /console)."""
    settings = Settings.from_env()
    ctx = _context(settings)
    listen_host = host or settings.host
    listen_port = port or settings.port
    if not settings.env_api_keys and not api_keys.has_active_key(ctx):
        key = api_keys.create_key(ctx, "default")
        typer.echo("No API key existed, so one was created. It is shown only this once:")
        typer.echo(f"  {key.secret}")
        typer.echo(
            f'Use it with: orb.Orb(api_key="{key.secret}", '
            f'base_url="http://{listen_host}:{listen_port}/v1")'
        )
    processes = workers or settings.workers
    kind = ctx.db.kind
    ctx.db.close()
    banner = (
        f"drawdown listening on http://{listen_host}:{listen_port}/v1 ({kind}, "
        f"{processes} process(es))"
    )
    # Worker processes build their own app and database from the environment.
    os.environ["DRAWDOWN_DATABASE_URL"] = settings.database_url
    serving.serve(listen_host, listen_port, processes, on_listening=lambda: typer.echo(banner))


@app.command()
def migrate() -> None:
    """Apply database migrations to the configured database."""
    _context().db.close()
    typer.echo("database is up to date")


@keys_app.command("create")
def keys_create(name: str = typer.Option(..., help="A label for the key")) -> None:
    """Create an API key; the secret is printed alone on the last line, once."""
    key = api_keys.create_key(_context(), name)
    typer.echo(f"created key {key.id} ({key.name}); store the secret now, it is not shown again:")
    typer.echo(key.secret)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (never their secrets)."""
    for key in api_keys.list_keys(_context()):
        state = "revoked" if key.revoked_at else "active"
        last_used = key.last_used_at.isoformat() if key.last_used_at else "never"
        typer.echo(
            f"{key.id}  {key.prefix}…  {state:7}  {key.name}  "
            f"created {key.created_at.isoformat()}  last used {last_used}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    """Revoke an API key; requests using it get 401 from now on."""
    try:
        api_keys.revoke_key(_context(), key_id)
    except ResourceNotFound:
        typer.echo(f"no active key with id {key_id}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked {key_id}")


@admin_app.command("create-user")
def admin_create_user(
    email: str = typer.Argument(..., help="The administrator's email address"),
    password: str = typer.Option(None, help="Use this password instead of a generated one"),
) -> None:
    """Create a console administrator; a generated password is printed alone on the last line."""
    try:
        admin = admins.create_admin(_context(), email, password)
    except ServiceError as exc:
        typer.echo(f"{exc.field}: {exc.message}", err=True)
        raise typer.Exit(1) from None
    if password is not None:
        typer.echo(f"created administrator {admin.email}")
        return
    typer.echo(f"created administrator {admin.email}; the password is shown only this once:")
    typer.echo(admin.password)


@app.command()
def expire() -> None:
    """Write due credit_block_expiry entries for every customer now (optional; reads do it too)."""
    ctx = _context()
    swept = reads.sweep_expiries(ctx)
    purged = idempotency.purge_expired(ctx)
    typer.echo(f"expired blocks of {swept} customer(s); purged {purged} old idempotency key(s)")


def main() -> None:
    app()
