"""`drawdown webhooks …`: register endpoints, list them and their recent deliveries, remove
one, and replay an event by hand."""

from __future__ import annotations

import typer

from drawdown.cli.options import context
from drawdown.services.webhooks import endpoints
from drawdown.services.webhooks.events import EVENT_TYPES

app = typer.Typer(help="Manage webhook endpoints and replay events.", no_args_is_help=True)


@app.command("add")
def add(
    url: str = typer.Argument(..., help="Where events are POSTed (http or https)"),
    secret: str = typer.Option(
        None, help="Signing secret whsec_<base64> (generated and printed when omitted)"
    ),
    event: list[str] = typer.Option(
        [],
        "--event",
        help=f"Event type to send (repeatable; default all: {', '.join(EVENT_TYPES)})",
    ),
) -> None:
    """Register a webhook endpoint; a generated secret is printed alone on the last line."""
    created = endpoints.add_endpoint(context(), url, secret, event)
    kinds = ", ".join(created.endpoint.events or ("all events",))
    typer.echo(f"added endpoint {created.endpoint.id} → {created.endpoint.url} ({kinds})")
    if secret is None:
        typer.echo("signing secret (shown only this once):")
        typer.echo(created.secret)


@app.command("list")
def list_endpoints() -> None:
    """List webhook endpoints (never their secrets) and their recent deliveries."""
    ctx = context()
    for endpoint in endpoints.list_endpoints(ctx):
        kinds = ", ".join(endpoint.events or ("all events",))
        typer.echo(f"{endpoint.id}  {endpoint.url}  ({kinds})  created "
                   f"{endpoint.created_at.isoformat()}")  # fmt: skip
        for d in endpoints.outbox(ctx, endpoint_id=endpoint.id, limit=10).deliveries:
            typer.echo(f"    {d.event_id}  {d.event_type}  {d.status}  attempts {d.attempts}")


@app.command("remove")
def remove(endpoint_id: str) -> None:
    """Remove a webhook endpoint; its pending deliveries stop."""
    endpoints.remove_endpoint(context(), endpoint_id)
    typer.echo(f"removed {endpoint_id}")


@app.command("replay")
def replay(
    event_id: str,
    endpoint: str = typer.Option(None, help="Only to this endpoint (default: where it went)"),
) -> None:
    """Send an event again, with the same webhook-id (receivers dedupe on it)."""
    count = endpoints.replay(context(), event_id, endpoint)
    typer.echo(f"queued event {event_id} for {count} endpoint(s)")
