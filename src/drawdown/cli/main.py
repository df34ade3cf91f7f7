"""The `drawdown` command line: serve, migrate, keys, admin, expire, backup, export, items,
metrics, prices, usage, ….

Every command opens the database through the composition root (`drawdown/app.py`) and goes
through the same service functions as the HTTP API.
"""

from __future__ import annotations

import json
import os

import typer

from drawdown import serving
from drawdown.app import build_context, configure_logging
from drawdown.cli import admin, backup, options, report, usage, verify, webhooks
from drawdown.services.access import api_keys, idempotency
from drawdown.services.context import ServiceContext
from drawdown.services.errors import ResourceNotFound
from drawdown.services.ledger import reads
from drawdown.settings import Settings

app = typer.Typer(help="drawdown: a self-hostable prepaid-credits ledger.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(admin.app, name="admin")
app.command("backup")(backup.backup)
app.command("export")(backup.export)
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(report.app, name="report")
app.command()(verify.verify)
app.add_typer(usage.items_app, name="items")
app.add_typer(usage.metrics_app, name="metrics")
app.add_typer(usage.prices_app, name="prices")
app.add_typer(usage.usage_app, name="usage")


def _context(settings: Settings | None = None) -> ServiceContext:
    return build_context(settings or Settings.from_env())


@app.command()
def serve(
    host: str = typer.Option(Settings.host, metavar="HOST", envvar="DRAWDOWN_HOST",
                             show_envvar=True, help="Interface to listen on"),
    port: int = typer.Option(Settings.port, metavar="PORT", envvar="DRAWDOWN_PORT",
                             show_envvar=True, help="Port to listen on"),
    workers: int = typer.Option(Settings.workers, metavar="N", envvar="DRAWDOWN_WORKERS",
                                show_envvar=True, help="Server processes sharing the database"),
) -> None:  # fmt: skip
    """Apply migrations and serve the API under /v1, the console under /console, and
    /health, /ready and /metrics (Prometheus) for operators."""
    settings = Settings.from_env()
    listen_host, listen_port = host, port
    serving.check_address(listen_host, listen_port)  # before anything says it started
    configure_logging(settings)
    ctx = _context(settings)
    if not settings.env_api_keys and not api_keys.has_active_key(ctx):
        key = api_keys.create_key(ctx, "default")
        typer.echo("No API key existed, so one was created. It is shown only this once:")
        typer.echo(f"  {key.secret}")
        typer.echo(
            f'Use it with: orb.Orb(api_key="{key.secret}", '
            f'base_url="http://{listen_host}:{listen_port}/v1")'
        )
    processes = workers
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
    build_context(Settings.from_env(), migrate=True).db.close()
    typer.echo("database is up to date")


@keys_app.command("create")
def keys_create(name: str = typer.Option(..., help="A label for the key")) -> None:
    """Create an API key; the secret is printed alone on the last line, once."""
    key = api_keys.create_key(_context(), name)
    typer.echo(f"created key {key.id} ({key.name}); store the secret now, it is not shown again:")
    typer.echo(key.secret)


@keys_app.command("list")
def keys_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per key"),
) -> None:
    """List API keys (never their secrets)."""
    for key in api_keys.list_keys(_context()):
        state = "revoked" if key.revoked_at else "active"
        last_used = key.last_used_at.isoformat() if key.last_used_at else "never"
        if as_json:
            typer.echo(json.dumps({
                "id": key.id, "name": key.name, "prefix": key.prefix, "state": state,
                "created_at": key.created_at.isoformat(),
                "last_used_at": key.last_used_at and key.last_used_at.isoformat(),
                "revoked_at": key.revoked_at and key.revoked_at.isoformat(),
            }))  # fmt: skip
            continue
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


@app.command()
def expire() -> None:
    """Write due credit_block_expiry entries for every customer now (optional; reads do it too)."""
    ctx = _context()
    swept = reads.sweep_expiries(ctx)
    purged = idempotency.purge_expired(ctx)
    typer.echo(f"expired blocks of {swept} customer(s); purged {purged} old idempotency key(s)")


def main() -> None:
    options.run(app)
