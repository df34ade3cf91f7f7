"""Typed records shared by the store, the services and the faces: plain frozen dataclasses.

The store maps database rows to these (`store/rows.py`), and services, the API and the console
see only them, never SQLAlchemy rows, so a renamed column is a change inside `store/` only.
This module imports no SQL, which is why the faces may import it and not the store. Ledger
blocks and entries are the core's own `Block` and `Entry` (`ledger/model.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from drawdown.ledger.usage import UsageEvent


@dataclass(frozen=True)
class Customer:
    id: str
    external_customer_id: str | None
    name: str
    email: str
    additional_emails: tuple[str, ...]
    currency: str | None
    timezone: str
    metadata: Mapping[str, str]
    auto_collection: bool
    auto_issuance: bool | None
    email_delivery: bool
    payment_provider: str | None
    payment_provider_id: str | None
    billing_address: Mapping[str, Any] | None
    shipping_address: Mapping[str, Any] | None
    tax_id: Mapping[str, Any] | None
    created_at: datetime
    overdraft: str | None = None
    # Whether any balance alert is configured (then writes read the customer's alerts).
    balance_alerts: bool = False
    # The cash balance (Orb's customer balance), in the customer's currency; not credits.
    cash_balance: Decimal = Decimal(0)


@dataclass(frozen=True)
class BalanceAlert:
    """One of Orb's customer alerts: a balance event of `type` for the `currency` ledger."""

    customer_id: str
    id: str
    type: str  # credit_balance_depleted | credit_balance_dropped | credit_balance_recovered
    currency: str
    enabled: bool
    thresholds: tuple[Decimal, ...]  # ascending; only credit_balance_dropped has any
    created_at: datetime


@dataclass(frozen=True)
class LedgerHead:
    """The cached head of one ledger (customer, currency): what a write needs without history."""

    currency: str
    last_seq: int
    balance: Decimal
    last_entry_at: datetime | None
    last_position: int
    next_expiry_at: datetime | None  # earliest expiry of a block not yet closed (R-TIME-1)
    top_up_id: str | None  # the active top-up, so writes without one never look for it
    chain_head: str | None  # hash of the newest entry (tamper-evident chain)


@dataclass(frozen=True)
class Invoice:
    customer_id: str
    id: str
    invoice_number: str
    status: str
    currency: str
    ledger_currency: str
    block_id: str | None
    top_up_id: str | None
    created_at: datetime
    invoice_date: datetime
    due_date: datetime | None
    paid_at: datetime | None
    payment_received_at: datetime | None
    voided_at: datetime | None
    total: Decimal
    quantity: Decimal
    unit_amount: str
    memo: str | None
    auto_collection: bool
    item_id: str
    item_name: str
    line_item_id: str
    price_id: str
    payment_external_id: str | None
    payment_notes: str | None
    metadata: Mapping[str, str]
    issued_at: datetime | None
    net_terms: int | None
    credited: Decimal  # the sum of its credit notes' totals
    # Read with the invoice when `credited` is not zero (the store attaches them).
    credit_notes: tuple[CreditNote, ...] = ()
    balance_transactions: tuple[BalanceTransaction, ...] = ()

    @property
    def adjusted(self) -> Decimal:
        """What `adjustment` credit notes took off the amount due (refunds take nothing)."""
        return sum((n.total for n in self.credit_notes if n.type == "adjustment"), Decimal(0))


@dataclass(frozen=True)
class CreditNoteLine:
    id: str
    invoice_line_item_id: str
    item_id: str
    name: str
    amount: Decimal
    quantity: Decimal  # credits the credit note's voids took back for this line
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class CreditNote:
    customer_id: str
    id: str
    credit_note_number: str
    invoice_id: str
    type: str  # refund (a paid invoice) or adjustment (an issued one)
    reason: str
    memo: str | None
    currency: str
    total: Decimal
    created_at: datetime
    voided_at: datetime | None
    line_items: tuple[CreditNoteLine, ...] = ()


@dataclass(frozen=True)
class BalanceTransaction:
    """One move of a customer's cash balance (Orb's customer balance transaction)."""

    customer_id: str
    id: str
    seq: int
    action: str
    type: str  # increment or decrement
    currency: str
    amount: Decimal
    starting_balance: Decimal
    ending_balance: Decimal
    description: str | None
    invoice_id: str | None
    credit_note_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class TopUp:
    customer_id: str
    id: str
    currency: str
    amount: str
    threshold: str
    per_unit_cost_basis: str
    auto_collection: bool
    net_terms: int
    memo: str | None
    require_successful_payment: bool | None
    active_from: datetime
    expires_after: int | None
    expires_after_unit: str | None
    created_at: datetime
    deactivated_at: datetime | None


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    key_hash: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class Admin:
    id: str
    email: str
    password_hash: str
    created_at: datetime
    session_generation: int


@dataclass(frozen=True)
class StoredResponse:
    """An idempotency record: the request's fingerprint and the response it got."""

    fingerprint: str
    status_code: int
    body: bytes
    created_at: datetime


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    url: str
    secret: str
    events: tuple[str, ...] | None  # None: every event type
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class WebhookEvent:
    customer_id: str
    id: str
    type: str
    currency: str | None
    properties: Mapping[str, Any]
    body: str | None
    created_at: datetime


@dataclass(frozen=True)
class WebhookDelivery:
    """One event's delivery to one endpoint: where it stands."""

    customer_id: str
    event_id: str
    endpoint_id: str
    status: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    event_type: str


@dataclass(frozen=True)
class WebhookAttempt:
    customer_id: str
    id: str
    event_id: str
    endpoint_id: str
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery a process holds the lease on: what to send, where, and its lease token."""

    customer_id: str
    event_id: str
    endpoint_id: str
    url: str
    secret: str
    attempts: int
    lease_token: str
    body: str | None


# --- usage corrections --------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvent:
    """One stored version of a usage event: who it is for, what it says, whether it counts
    (`status`, schema.py) and whether its usage is in the ledger (`deduction_id`)."""

    customer_id: str
    idempotency_key: str
    origin: str  # '' ingested live, else the backfill that brought it
    event_name: str
    timestamp: datetime
    properties: dict[str, Any]
    status: str
    deduction_id: str | None

    @property
    def usage(self) -> UsageEvent:
        return UsageEvent(self.idempotency_key, self.event_name, self.timestamp, self.properties)


@dataclass(frozen=True)
class Backfill:
    id: str
    customer_id: str | None  # None: every customer
    timeframe_start: datetime
    timeframe_end: datetime
    close_time: datetime  # when pending: when it closes by itself; then: when it closed
    replace_existing_events: bool
    status: str  # pending | reflected | pending_revert | reverted
    events_ingested: int
    created_at: datetime
    closed_at: datetime | None  # set when its close started
    reverted_at: datetime | None

    @property
    def closing(self) -> bool:
        """Its close has started but not every customer's part has committed yet."""
        return self.status == "pending" and self.closed_at is not None

    def accepts_events(self, now: datetime) -> bool:
        return self.status == "pending" and self.closed_at is None and now < self.close_time


# --- operations (`drawdown status`) -----------------------------------------------------


@dataclass(frozen=True)
class ServingProcess:
    id: str
    hostname: str
    pid: int
    url: str
    version: str
    started_at: datetime
    seen_at: datetime


@dataclass(frozen=True)
class CommandRun:
    command: str
    started_at: datetime
    finished_at: datetime
    ok: bool
    summary: str


@dataclass(frozen=True)
class Backlog:
    """Work waiting in one queue: how many, how many are due now, and the oldest instant
    (what that instant is — a timestamp, a due time — the reader says)."""

    waiting: int
    due: int
    oldest_at: datetime | None


@dataclass(frozen=True)
class Expiries:
    """Ledgers with an expiry due but not yet written, and the oldest due instant."""

    due_ledgers: int
    oldest_due_at: datetime | None
