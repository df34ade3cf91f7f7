"""`drawdown webhooks …`: register endpoints, list them and their recent deliveries, remove
one, and replay an event by hand."""

from __future__ import annotations

from datetime import datetime

import typer

from drawdown.cli.options import context
from drawdown.ledger.dates import format_instant
from drawdown.records import WebhookAttempt, WebhookDelivery
from drawdown.services.webhooks import endpoints
from drawdown.services.webhooks.events import EVENT_TYPES
from drawdown.services.webhooks.redact import safe_url

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
    """List webhook endpoints (never their secrets, nor a URL's credentials or query values):
    what waits for each, its next attempt, last delivery and last error, and its recent
    deliveries."""
    ctx = context()
    most = ctx.settings.webhook_attempts_max
    for endpoint in endpoints.list_endpoints(ctx):
        kinds = ", ".join(endpoint.events or ("all events",))
        typer.echo(f"{endpoint.id}  {safe_url(endpoint.url)}  ({kinds})  created "
                   f"{_instant(endpoint.created_at)}")  # fmt: skip
        for line in _health_lines(endpoints.endpoint_health(ctx, endpoint.id)):
            typer.echo(f"    {line}")
        outbox = endpoints.outbox(ctx, endpoint_id=endpoint.id, limit=10)
        for d in outbox.deliveries:
            tried = outbox.attempts.get((d.event_id, d.endpoint_id), [])
            typer.echo(f"    {d.event_id}  {d.event_type}  {d.status}  attempts {d.attempts} "
                       f"of {most}{_delivery_detail(d, tried)}")  # fmt: skip


def _health_lines(health: endpoints.EndpointHealth) -> list[str]:
    waiting = f"pending {health.pending}"
    if health.next_attempt_at is not None:
        waiting += f", next attempt {_instant(health.next_attempt_at)}"
    if health.last_delivered_at is not None:
        waiting += f"; last delivered {_instant(health.last_delivered_at)}"
    failure = health.last_failure
    if failure is None:
        return [waiting, "last error: none"]
    return [waiting, f"last error {_instant(failure.attempted_at)} (event {failure.event_id}): "
                     f"{endpoints.failure_text(failure)}"]  # fmt: skip


def _delivery_detail(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> str:
    detail = ""
    if delivery.status == "pending" and delivery.next_attempt_at is not None:
        detail += f"  next attempt {_instant(delivery.next_attempt_at)}"
    if attempts and not endpoints.succeeded(attempts[-1]):
        detail += f"  last error: {endpoints.failure_text(attempts[-1])}"
    return detail


def _instant(at: datetime) -> str:
    return format_instant(at, fractions=False)


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
