"""Customer pages: the searchable list, one customer's ledgers, the entry forms, the credit
settings and the balance alerts (add, enable, disable)."""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from drawdown.records import Customer
from drawdown.services import console
from drawdown.services.entry_input import ENTRY_TYPES
from drawdown.services.errors import ResourceNotFound
from drawdown.web import customer_page, forms
from drawdown.web.auth import checked_form
from drawdown.web.pages import context_of, query, redirect, render

router = APIRouter()
CUSTOMERS_PAGE_SIZE = 50
SEARCH_LENGTH_MAX = 200
PAGE_DIGITS_MAX = 6  # a million pages of 50 is more customers than a console lists
ALERT_NOTICES = {
    "added": "Alert added.",
    "enabled": "Alert enabled.",
    "disabled": "Alert disabled.",
}


async def home(request: Request) -> Response:
    """Console home."""
    return redirect(request, "/console/customers")


@router.get("/customers")
async def customers_page(request: Request, q: str = "", page: str = "1") -> Response:
    """Customers, searchable, with their balances."""
    q, page_number = q.strip()[:SEARCH_LENGTH_MAX], _page_number(page)
    rows, balances = await run_in_threadpool(_search, request, q, page_number)
    context = {
        "nav": "customers",
        "q": q,
        "page": page_number,
        "customers": rows[:CUSTOMERS_PAGE_SIZE],
        "has_more": len(rows) > CUSTOMERS_PAGE_SIZE,
        "balances": balances,
    }
    return render(request, "customers.html", context)


def _page_number(raw: str) -> int:
    """A page number from the query; anything odd (23 digits, letters) means page 1."""
    digits = raw.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > PAGE_DIGITS_MAX:
        return 1
    return max(int(digits), 1)


def _search(
    request: Request, q: str, page: int
) -> tuple[list[Customer], dict[str, list[tuple[str, Decimal]]]]:
    offset = (page - 1) * CUSTOMERS_PAGE_SIZE
    return console.search_customers(context_of(request), q, offset, CUSTOMERS_PAGE_SIZE + 1)


@router.get("/customers/{customer_id}")
async def customer_detail(request: Request, customer_id: str) -> Response:
    """One customer: balances, chart, blocks, ledger, invoices, top-ups and actions."""
    return await _render_customer(request, customer_id)


@router.post("/customers/{customer_id}/entries")
async def create_entry(
    request: Request, customer_id: str, form: FormData = Depends(checked_form)
) -> Response:
    """Add a ledger entry through the API's own validation and service."""
    entry_type = str(form.get("entry_type", ""))
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    failed = await run_in_threadpool(
        forms.submit, context_of(request), customer_id, entry_type, values
    )
    currency = values.get("currency", "")
    if failed is None:
        done = query({"currency": currency, "done": "1"})
        return redirect(request, f"/console/customers/{customer_id}?{done}")
    return await _render_customer(request, customer_id, failed, {"currency": currency})


@router.post("/customers/{customer_id}/settings")
async def save_settings(
    request: Request, customer_id: str, form: FormData = Depends(checked_form)
) -> Response:
    """Save the overdraft policy and the alert thresholds of the ledger in view."""
    currency = str(form.get("currency", ""))
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    error = await run_in_threadpool(
        forms.save_settings, context_of(request), customer_id, currency, values
    )
    if error is None:
        return redirect(request, f"/console/customers/{customer_id}?"
                        + query({"currency": currency, "saved": "1"}))  # fmt: skip
    return await _render_customer(request, customer_id, None, {"currency": currency},
                                  settings_error=error)  # fmt: skip


@router.post("/customers/{customer_id}/alerts")
async def add_alert(
    request: Request, customer_id: str, form: FormData = Depends(checked_form)
) -> Response:
    """Add a balance alert to the ledger in view."""
    currency = str(form.get("currency", ""))
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    error = await run_in_threadpool(
        forms.add_alert, context_of(request), customer_id, currency, values
    )
    return await _after_alert(request, customer_id, currency, error, "added")


@router.post("/customers/{customer_id}/alerts/{alert_id}/enable")
async def enable_alert(
    request: Request, customer_id: str, alert_id: str, form: FormData = Depends(checked_form)
) -> Response:
    """Enable one of the customer's alerts."""
    return await _toggle_alert(request, customer_id, alert_id, form, True)


@router.post("/customers/{customer_id}/alerts/{alert_id}/disable")
async def disable_alert(
    request: Request, customer_id: str, alert_id: str, form: FormData = Depends(checked_form)
) -> Response:
    """Disable one of the customer's alerts."""
    return await _toggle_alert(request, customer_id, alert_id, form, False)


async def _toggle_alert(
    request: Request, customer_id: str, alert_id: str, form: FormData, enabled: bool
) -> Response:
    error = await run_in_threadpool(
        forms.toggle_alert, context_of(request), customer_id, alert_id, enabled
    )
    currency = str(form.get("currency", ""))
    return await _after_alert(request, customer_id, currency, error,
                              "enabled" if enabled else "disabled")  # fmt: skip


async def _after_alert(
    request: Request, customer_id: str, currency: str, error: str | None, done: str
) -> Response:
    if error is None:
        return redirect(request, f"/console/customers/{customer_id}?"
                        + query({"currency": currency, "alert": done}))  # fmt: skip
    return await _render_customer(request, customer_id, None, {"currency": currency},
                                  alert_error=error)  # fmt: skip


async def _render_customer(
    request: Request,
    customer_id: str,
    failed: forms.Submission | None = None,
    overrides: dict[str, str] | None = None,
    settings_error: str | None = None,
    alert_error: str | None = None,
) -> Response:
    params = {**request.query_params, **(overrides or {})}
    try:
        data = await run_in_threadpool(customer_page.load, context_of(request), customer_id, params)
    except ResourceNotFound:
        message = "There is no customer with this id."
        return render(request, "error.html", {"title": "Not found", "message": message}, 404)
    context = {
        "nav": "customers",
        "forms": forms.ENTRY_FORMS,
        "failed": failed,
        "done": request.query_params.get("done") == "1",
        "params": {
            k: v
            for k, v in params.items()
            if k not in ("after", "done", "saved", "preview", "alert")
        },
        "entry_types": ENTRY_TYPES,
        "settings_error": settings_error,
        "settings_saved": request.query_params.get("saved") == "1",
        "alert_error": alert_error,
        "alert_done": ALERT_NOTICES.get(request.query_params.get("alert", "")),
        **data,
    }
    status = 400 if failed or settings_error or alert_error else 200
    return render(request, "customer.html", context, status)
