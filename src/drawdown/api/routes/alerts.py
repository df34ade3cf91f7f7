"""Orb's alerts API for customers' credit balances: create (by customer id or external id),
list, fetch, update thresholds, enable, disable, delete.

Plan and subscription alerts answer 400 feature-not-available: drawdown has neither plans
nor subscriptions (docs/decisions.md). Routes with a literal second segment come before
`/alerts/{id}/…`, so the one flat route list matches them first.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from drawdown.api import pagination
from drawdown.api.deps import body_of, read, respond, validated
from drawdown.api.errors import ApiError, invalid
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.queries import one_customer, range_filters
from drawdown.api.replies import NO_CONTENT, JsonReplier
from drawdown.api.schemas.alerts import AlertCreate, AlertUpdate, alert_json, threshold_values
from drawdown.ledger.dates import resolve_bounds
from drawdown.services import balance_alerts as service
from drawdown.services.balance_alerts import AlertView
from drawdown.services.write_path import CustomerRef

router = APIRouter()

CREATED: JsonReplier[AlertView] = JsonReplier(201, alert_json)
UPDATED: JsonReplier[AlertView] = JsonReplier(200, alert_json)
NO_PLANS = ("drawdown has no plans or subscriptions: its alerts are customer credit-balance "
            "alerts (POST /alerts/customer_id/{customer_id})")  # fmt: skip


@router.post("/v1/alerts/customer_id/{customer_id}", status_code=201)
async def create_for_customer(request: Request, customer_id: str) -> Response:
    """Create a credit-balance alert for a customer."""
    return await _create(request, CustomerRef(id=customer_id))


@router.post("/v1/alerts/external_customer_id/{external_customer_id:segment}", status_code=201)
async def create_for_external_customer(request: Request, external_customer_id: str) -> Response:
    """Create a credit-balance alert for a customer by external customer id."""
    return await _create(request, CustomerRef(external_id=external_customer_id))


async def _create(request: Request, ref: CustomerRef) -> Response:
    body = validated(AlertCreate, body_of(request))
    alert = service.NewAlert(body.currency, body.type, threshold_values(body.thresholds))
    return await respond(request, service.create_alert(ref, alert), CREATED)


@router.post("/v1/alerts/plan_id/{plan_id}")
async def create_for_plan(request: Request, plan_id: str) -> Response:
    """Plan alerts: not available (drawdown has no plans)."""
    raise ApiError("feature_not_available", NO_PLANS)


@router.post("/v1/alerts/subscription_id/{subscription_id}")
async def create_for_subscription(request: Request, subscription_id: str) -> Response:
    """Subscription alerts: not available (drawdown has no subscriptions)."""
    raise ApiError("feature_not_available", NO_PLANS)


@router.get("/v1/alerts")
async def list_alerts(request: Request) -> Response:
    """List a customer's alerts, newest first."""
    params = request.query_params
    ref = one_customer(request, "external_customer_id")
    subscription_id = params.get("subscription_id")
    if ref is None and subscription_id is None:
        raise invalid("customer_id", "give customer_id, external_customer_id or subscription_id")
    raw = range_filters(request, "created_at")
    created_at = resolve_bounds(raw, "UTC", field="created_at")
    filters = {"c": ref.describe() if ref else None, "s": subscription_id, **dict(raw)}
    pager = pagination.Pager.of(request, "alerts", filters)
    after = pager.after(pagination.cursor_instant, pagination.cursor_id)
    if ref is None or subscription_id is not None:
        rows: list[AlertView] = []  # no alert belongs to a subscription (there are none)
    else:
        rows = await read(request, service.list_alerts, ref, created_at, after, pager.fetch)
    return pager.respond(rows, lambda v: pagination.created_key(v.alert),
                         lambda page: [alert_json(v) for v in page])  # fmt: skip


@router.get("/v1/alerts/{alert_configuration_id}")
async def fetch_alert(request: Request, alert_configuration_id: str) -> Response:
    """Fetch an alert (Orb calls the id `alert_id` here)."""
    found = await read(request, service.get_alert, alert_configuration_id)
    return ExactJSONResponse(alert_json(found))


@router.put("/v1/alerts/{alert_configuration_id}")
async def update_alert(request: Request, alert_configuration_id: str) -> Response:
    """Replace an alert's thresholds."""
    body = validated(AlertUpdate, body_of(request))
    update = service.ThresholdsUpdate(threshold_values(body.thresholds), body.price_filters,
                                      body.threshold_overrides)  # fmt: skip
    owner = await read(request, service.owner_of, alert_configuration_id)
    work = service.update_thresholds(owner, alert_configuration_id, update)
    return await respond(request, work, UPDATED)


@router.post("/v1/alerts/{alert_configuration_id}/enable")
async def enable_alert(request: Request, alert_configuration_id: str) -> Response:
    """Enable an alert: its events are sent again from the customer's next write."""
    return await _toggle(request, alert_configuration_id, True)


@router.post("/v1/alerts/{alert_configuration_id}/disable")
async def disable_alert(request: Request, alert_configuration_id: str) -> Response:
    """Disable an alert: its events stop from the customer's next write."""
    return await _toggle(request, alert_configuration_id, False)


async def _toggle(request: Request, alert_id: str, enabled: bool) -> Response:
    if request.query_params.get("subscription_id") is not None:
        # It selects a plan alert's copy for one subscription; drawdown has neither.
        raise ApiError("feature_not_available", NO_PLANS)
    owner = await read(request, service.owner_of, alert_id)
    return await respond(request, service.set_enabled(owner, alert_id, enabled), UPDATED)


@router.delete("/v1/alerts/{alert_configuration_id}", status_code=204)
async def delete_alert(request: Request, alert_configuration_id: str) -> Response:
    """Delete an alert."""
    owner = await read(request, service.owner_of, alert_configuration_id)
    return await respond(request, service.delete_alert(owner, alert_configuration_id), NO_CONTENT)
