"""Increments that buy credits: the block and its invoice are created together (R-INV-*)."""

from __future__ import annotations

import dataclasses

from drawdown.ledger.commands import Increment
from drawdown.services.billing import invoicing
from drawdown.services.credits.planning import Planned, plan_increment
from drawdown.services.entry_input import IncrementRequest
from drawdown.services.write_path import CustomerWrite


def plan_purchase(write: CustomerWrite, request: IncrementRequest) -> Planned:
    """An increment; with `invoice_settings`, also its invoice and the block's status."""
    settings = request.invoice_settings
    planned = plan_increment(write, request)
    if settings is None:
        return planned
    invoicing.require_currency(write.customer, "invoice_settings")
    command = planned.command
    assert isinstance(command, Increment)
    terms = invoicing.terms_from_settings(
        write, settings, request.amount, request.per_unit_cost_basis, command.effective_date
    )
    _, block_status = invoicing.status_for(write.customer, terms)
    invoice_id = write.ctx.new_id()
    invoicing.create_invoice(
        write, invoice_id, terms, block_id=command.block_id, ledger_currency=planned.currency
    )
    command = dataclasses.replace(command, status=block_status, invoice_id=invoice_id)
    return dataclasses.replace(planned, command=command)
