"""Increments that buy credits: the block and its invoice are created together (R-INV-*).

`PLANNERS` is the full table of entry planners `create_entry` uses, so the API,
console and CLI all get invoices through the same path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from drawdown.ledger.commands import Increment
from drawdown.services import entry_requests, invoices
from drawdown.services.entry_requests import Planned, plan_increment
from drawdown.services.write_path import CustomerTx


def plan_purchase(tx: CustomerTx, fields: Mapping[str, Any]) -> Planned:
    settings = fields.get("invoice_settings")
    planned = plan_increment(tx, fields)
    if settings is None:
        return planned
    invoices.require_currency(tx.customer, "invoice_settings")
    command = planned.command
    assert isinstance(command, Increment)
    terms = invoices.terms_from_settings(
        tx, settings, fields["amount"], fields.get("per_unit_cost_basis"), command.effective_date
    )
    _, block_status = invoices.status_for(tx.customer, terms)
    invoice_id = tx.ctx.new_id()
    invoices.create_invoice(
        tx, invoice_id, terms, block_id=command.block_id, ledger_currency=planned.currency
    )
    command = dataclasses.replace(command, status=block_status, invoice_id=invoice_id)
    return dataclasses.replace(planned, command=command)


PLANNERS = {**entry_requests.PLANNERS, "increment": plan_purchase}
