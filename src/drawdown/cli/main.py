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
from drawdown.app import configure_logging, migrate_database
from drawdown.cli import admin, backup, options, report, status, usage, verify, webhooks
from drawdown.cli.options import context, fail
from drawdown.services.access import api_keys, idempotency
from drawdown.services.credits import reads
from drawdown.services.errors import ResourceNotFound
from drawdown.services.processes import base_url
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
app.command("status")(status.status)
app.add_typer(usage.items_app, name="items")
app.add_typer(usage.metrics_app, name="metrics")
app.add_typer(usage.prices_app, name="prices")
app.add_typer(usage.usage_app, name="usage")


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
    ctx = context()
    if not settings.env_api_keys and not api_keys.has_active_key(ctx):
        key = api_keys.create_key(ctx, "default")
        typer.echo("No API key existed, so one was created. It is shown only this once:")
        typer.echo(f"  {key.secret}")
        api_url = base_url(listen_host, listen_port) + "/v1"
        typer.echo(f'Use it with: orb.Orb(api_key="{key.secret}", base_url="{api_url}")')
    banner = _banner(listen_host, listen_port, workers, f"{ctx.db.kind} {ctx.db.location}")
    ctx.db.close()
    # Worker processes build their own app and database from the environment (and say
    # where they listen in `server_processes`).
    os.environ.update(DRAWDOWN_DATABASE_URL=settings.database_url, DRAWDOWN_HOST=listen_host,
                      DRAWDOWN_PORT=str(listen_port))  # fmt: skip
    serving.serve(listen_host, listen_port, workers, on_listening=lambda: typer.echo(banner))


def _banner(host: str, port: int, processes: int, database: str) -> str:
    """What `serve` prints once it listens: where, on which database, and the URLs."""
    base = base_url(host, port)
    plural = "" if processes == 1 else "es"
    return "\n".join((
        f"drawdown listening on {base} ({processes} process{plural}), database {database}",
        f"  API      {base}/v1",
        f"  docs     {base}/v1/docs",
        f"  console  {base}/console",
        f"  metrics  {base}/metrics",
    ))  # fmt: skip


@app.command()
def migrate() -> None:
    """Apply database migrations to the configured database."""
    done = migrate_database(Settings.from_env())
    for migration in done.applied:
        typer.echo(f"applied {migration.revision}: {migration.title}")
    if done.applied:
        typer.echo(f"database {done.database} is now at revision {done.revision} "
                   f"({len(done.applied)} migration(s) applied)")  # fmt: skip
    else:
        typer.echo(f"database {done.database} is up to date (revision {done.revision}); "
                   "nothing to apply")  # fmt: skip


@keys_app.command("create")
def keys_create(name: str = typer.Option(..., help="A label for the key")) -> None:
    """Create an API key; the secret is printed alone on the last line, once."""
    key = api_keys.create_key(context(), name)
    typer.echo(f"created key {key.id} ({key.name}); store the secret now, it is not shown again:")
    typer.echo(key.secret)


@keys_app.command("list")
def keys_list(
    as_json: bool = typer.Option(False, "--json", help="One JSON object per key"),
) -> None:
    """List API keys (never their secrets)."""
    for key in api_keys.list_keys(context()):
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
        api_keys.revoke_key(context(), key_id)
    except ResourceNotFound:
        raise fail(f"no active key with id {key_id}") from None
    typer.echo(f"revoked {key_id}")


@app.command()
def expire() -> None:
    """Write due credit_block_expiry entries for every customer now (optional; reads do it too)."""
    ctx = context()
    swept = reads.sweep_expiries(ctx)
    purged = idempotency.purge_expired(ctx)
    typer.echo(f"expired blocks of {swept} customer(s); purged {purged} old idempotency key(s)")


def main() -> None:
    options.run(app)
