"""drawdown's extensions on a customer's credits: the balance summary, the dry-run
decrement and the credit settings (overdraft policy, balance-alert thresholds)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from drawdown.api import paths
from drawdown.api.deps import body_of, respond, service_context, validated
from drawdown.api.jsonio import ExactJSONResponse
from drawdown.api.replies import JsonReplier
from drawdown.api.schemas.balances import (
    CreditSettingsUpdate,
    DecrementPreview,
    settings_json,
    summary_json,
)
from drawdown.api.schemas.ledger import entry_json
from drawdown.services.credits import balances, credit_settings
from drawdown.services.credits.credit_settings import CreditSettings, SettingsUpdate, Threshold
from drawdown.services.entry_input import DecrementRequest, shaped
from drawdown.services.write_path import CustomerRef

router = APIRouter()

BY_ID = "/v1/customers/{customer_id}"
BY_EXTERNAL_ID = "/v1" + paths.BY_EXTERNAL_ID
SETTINGS: JsonReplier[CreditSettings] = JsonReplier(200, settings_json)


def _ref(customer_id: str | None, external_customer_id: str | None) -> CustomerRef:
    return CustomerRef(id=customer_id, external_id=external_customer_id)


# --- summary ----------------------------------------------------------------------------


@router.get(BY_ID + "/credits/summary")
async def credits_summary(request: Request, customer_id: str) -> Response:
    """Summarize a customer's balances: available, scheduled, awaiting payment, total."""
    return await _summary(request, _ref(customer_id, None))


@router.get(BY_EXTERNAL_ID + "/credits/summary")
async def credits_summary_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Summarize a customer's balances by external customer id."""
    return await _summary(request, _ref(None, external_customer_id))


async def _summary(request: Request, ref: CustomerRef) -> Response:
    params = request.query_params
    found = await run_in_threadpool(
        balances.summaries, service_context(request), ref, params.get("currency"),
        params.get("as_of"),
    )  # fmt: skip
    return ExactJSONResponse({"data": [summary_json(s) for s in found]})


# --- preview ----------------------------------------------------------------------------


@router.post(BY_ID + "/credits/ledger_entry/preview")
async def preview_entry(request: Request, customer_id: str) -> Response:
    """Preview a decrement: the entries it would write, writing nothing."""
    return await _preview(request, _ref(customer_id, None))


@router.post(BY_EXTERNAL_ID + "/credits/ledger_entry/preview")
async def preview_entry_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Preview a decrement by external customer id, writing nothing."""
    return await _preview(request, _ref(None, external_customer_id))


async def _preview(request: Request, ref: CustomerRef) -> Response:
    body = body_of(request)
    validated(DecrementPreview, body)  # the documented shape; `shaped` adds Q29's checks
    decrement = shaped(DecrementRequest, body)
    views = await run_in_threadpool(
        balances.preview_decrement, service_context(request), ref, decrement
    )
    return ExactJSONResponse({"data": [entry_json(v) for v in views]})


# --- settings ---------------------------------------------------------------------------


@router.get(BY_ID + "/credits/settings")
async def get_settings(request: Request, customer_id: str) -> Response:
    """Fetch a customer's credit settings (overdraft policy, alert thresholds)."""
    return await _get_settings(request, _ref(customer_id, None))


@router.get(BY_EXTERNAL_ID + "/credits/settings")
async def get_settings_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Fetch a customer's credit settings by external customer id."""
    return await _get_settings(request, _ref(None, external_customer_id))


@router.put(BY_ID + "/credits/settings")
async def update_settings(request: Request, customer_id: str) -> Response:
    """Update a customer's credit settings (overdraft policy, alert thresholds)."""
    return await _update_settings(request, _ref(customer_id, None))


@router.put(BY_EXTERNAL_ID + "/credits/settings")
async def update_settings_by_external_id(request: Request, external_customer_id: str) -> Response:
    """Update a customer's credit settings by external customer id."""
    return await _update_settings(request, _ref(None, external_customer_id))


async def _get_settings(request: Request, ref: CustomerRef) -> Response:
    found = await run_in_threadpool(credit_settings.get_settings, service_context(request), ref)
    return ExactJSONResponse(settings_json(found))


async def _update_settings(request: Request, ref: CustomerRef) -> Response:
    body = validated(CreditSettingsUpdate, body_of(request))
    sent = body.model_fields_set
    given = body.balance_alert_thresholds
    thresholds = None if given is None else [Threshold(t.currency, t.value) for t in given]
    update = SettingsUpdate(
        overdraft=body.overdraft, overdraft_sent="overdraft" in sent,
        balance_alert_thresholds=thresholds,
        balance_alert_thresholds_sent="balance_alert_thresholds" in sent,
    )  # fmt: skip
    return await respond(request, credit_settings.update_settings(ref, update), SETTINGS)
