"""The finance dashboard: the prepaid-liability report for a period, credits expiring in
the next 30 days, and outstanding credits over the period as a chart."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from drawdown.services import reports
from drawdown.services.errors import ServiceError
from drawdown.web.chart import balance_chart
from drawdown.web.pages import context_of, render

router = APIRouter()
EXPIRING_DAYS = 30


def _date(raw: str | None, default: date) -> tuple[date, str | None]:
    if not raw:
        return default, None
    try:
        return date.fromisoformat(raw.strip()[:10]), None
    except ValueError:
        return default, f"{raw!r} is not a date (YYYY-MM-DD)"


@router.get("/dashboard")
async def dashboard(request: Request) -> Response:
    """Prepaid liability: totals, credits expiring soon, outstanding over time."""
    ctx = context_of(request)
    today = ctx.now().date()
    params = request.query_params
    start, error_from = _date(params.get("from"), today.replace(day=1))
    end, error_to = _date(params.get("to"), today)
    error = error_from or error_to
    try:
        report = await run_in_threadpool(
            lambda: reports.liability_report(ctx, start, end, expiring_days=EXPIRING_DAYS)
        )
    except ServiceError as exc:
        error = f"{exc.field}: {exc.message}"
        start, end = today.replace(day=1), today
        report = await run_in_threadpool(
            lambda: reports.liability_report(ctx, start, end, expiring_days=EXPIRING_DAYS)
        )
    currencies = [line.currency for line in report.lines]
    currency = params.get("currency") if params.get("currency") in currencies else None
    currency = currency or (currencies[0] if currencies else None)
    series = report.series.get(currency or "", [])
    chart = balance_chart(series, series[-1][0]) if series else None
    context = {
        "nav": "dashboard", "report": report, "start": start, "end": end, "error": error,
        "currency": currency, "chart": chart, "last_day": report.end - timedelta(days=1),
        "now_": ctx.now(),
    }  # fmt: skip
    return render(request, "dashboard.html", context, 400 if error else 200)
