"""The database schema: one definition for SQLite and PostgreSQL.

Every table holding customer data has `customer_id` as the first column of its primary key
and of every unique constraint, so the schema can be distributed by customer on a sharded
PostgreSQL such as Citus (docs/scaling.md; tests/store/test_distribution.py keeps it so).
Invariants the ledger core keeps in Python are declared here a second time
(unique sequence numbers, unique idempotency keys, one live external id).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from drawdown.store.types import ExactDecimal, JSONDocument, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = 32  # ids are 16 chars today; room to grow without a migration

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("prefix", String(32), nullable=False),
    Column("key_hash", String(128), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
)

customers = Table(
    "customers",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("external_customer_id", String(255)),
    Column("name", String(255), nullable=False),
    Column("email", String(320), nullable=False),
    Column("currency", String(8)),
    Column("timezone", String(64), nullable=False),
    Column("metadata", JSONDocument, nullable=False),
    Column("auto_collection", Boolean, nullable=False),
    Column("auto_issuance", Boolean),
    Column("email_delivery", Boolean, nullable=False),
    Column("additional_emails", JSONDocument, nullable=False),
    Column("payment_provider", String(32)),
    Column("payment_provider_id", String(255)),
    Column("billing_address", JSONDocument),
    Column("shipping_address", JSONDocument),
    Column("tax_id", JSONDocument),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    # Per-customer overdraft policy ("allow" / "refuse"); null follows the server setting.
    Column("overdraft", String(16)),
    # Whether the customer has any balance alert (a live row of `alerts`). Read with the
    # customer on every write, so a write for a customer without alerts reads nothing more.
    Column("balance_alerts", Boolean, nullable=False, server_default=text("false")),
    # The cash balance (Orb's customer balance, not credits): the ending balance of the
    # customer's newest `customer_balance_transactions` row, kept here so every rendering
    # of a customer has it without reading the transactions.
    Column("cash_balance", ExactDecimal, nullable=False, server_default=text("'0'")),
    Index("ix_customers_created", "created_at", "id"),
)

# The live external ids, one row each: uniqueness of an alias needs a table keyed by the
# alias itself, because a unique index on `customers` could not include the distribution
# column (customer id) on a sharded PostgreSQL such as Citus.
customer_external_ids = Table(
    "customer_external_ids",
    metadata,
    Column("external_customer_id", String(255), primary_key=True),
    Column("customer_id", String(ID), nullable=False),
)

# One row per (customer, currency): the cached head of that ledger.
ledgers = Table(
    "ledgers",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("balance", ExactDecimal, nullable=False),
    Column("last_entry_at", UTCDateTime),
    # Heads kept in columns, never recomputed from history: a write reads one row, not the
    # ledger (positions of the command log, the due-expiry horizon, the top-up, the chain).
    Column("last_position", BigInteger, nullable=False, server_default=text("0")),
    Column("next_expiry_at", UTCDateTime),
    Column("top_up_id", String(ID)),
    Column("chain_head", String(64)),
    PrimaryKeyConstraint("customer_id", "currency"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    CheckConstraint("last_seq >= 0", name="last_seq_not_negative"),
    Index("ix_ledgers_next_expiry", "next_expiry_at"),
)

# Compared byte by byte on both databases (PostgreSQL's default collation is not), so SQL
# and Python order draw keys alike.
DrawKey = String(128).with_variant(String(128, collation="C"), "postgresql")

credit_blocks = Table(
    "credit_blocks",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("balance", ExactDecimal, nullable=False),
    Column("maximum_initial_balance", ExactDecimal, nullable=False),
    Column("moved_out", ExactDecimal, nullable=False),
    Column("voided", ExactDecimal, nullable=False),
    # Credits its credit_block_expiry entry removed; they cannot be voided (R-VOID-1).
    Column("expired", ExactDecimal, nullable=False, server_default=text("'0'")),
    Column("effective_date", UTCDateTime, nullable=False),
    Column("expiry_date", UTCDateTime),
    # Text, not NUMERIC: the caller's scale ("0.20") is echoed back verbatim.
    Column("per_unit_cost_basis", String(64)),
    Column("filters", JSONDocument, nullable=False),
    Column("metadata", JSONDocument, nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(16), nullable=False),
    Column("created_seq", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("invoice_id", String(ID)),
    Column("top_up_id", String(ID)),
    # Expired with nothing left: can only change again through a void by id, so the
    # write path need not load it (keeps loading proportional to live blocks).
    Column("closed", Boolean, nullable=False),
    Column("deleted_at", UTCDateTime),
    # The block's place in drawdown order (R-DED-2) as text that sorts like it
    # (store/ledger_tables.draw_key; byte order on both databases): a decrement reads the open
    # blocks of its ledger in this order, only as many as it draws from (issue 23).
    Column("draw_key", DrawKey, nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    ForeignKeyConstraint(["customer_id", "currency"], ["ledgers.customer_id", "ledgers.currency"]),
    CheckConstraint("status IN ('active', 'pending_payment')", name="status_known"),
    CheckConstraint("source IN ('manual', 'top_up')", name="source_known"),
    # A ledger's open blocks in drawdown order (also every open block: its prefix).
    Index("ix_credit_blocks_draw", "customer_id", "currency", "closed", "draw_key"),
    # Lookups by block id alone (E20-E23). Ids are 95-bit random, so uniqueness needs no
    # global index (which a table sharded by customer could not have).
    Index("ix_credit_blocks_id", "id"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_type", String(32), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    # `amount` as text that sorts like the number (store/ledger_tables.amount_key), for an index
    # that answers `minimum_amount` by range on both databases.
    Column("amount_key", String(48), nullable=False),
    Column("starting_balance", ExactDecimal, nullable=False),
    Column("ending_balance", ExactDecimal, nullable=False),
    Column("block_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("description", Text),
    Column("metadata", JSONDocument, nullable=False),
    Column("void_amount", ExactDecimal),
    Column("void_reason", String(32)),
    Column("new_block_expiry_date", UTCDateTime),
    # SHA-256 over this entry and the previous entry's hash in its ledger (ledger/chain.py).
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    UniqueConstraint("customer_id", "currency", "seq"),
    ForeignKeyConstraint(["customer_id", "currency"], ["ledgers.customer_id", "ledgers.currency"]),
    ForeignKeyConstraint(
        ["customer_id", "block_id"], ["credit_blocks.customer_id", "credit_blocks.id"]
    ),
    CheckConstraint("seq >= 1", name="seq_positive"),
    # Newest-first pages, overall and per filter, read an index in order: a page costs the
    # same at a thousand entries as at a million.
    # The id completes the list order, so a cursor is one range of the index (a row-value
    # comparison) and no page sorts.
    Index("ix_ledger_entries_listing", "customer_id", "created_at", "seq", "id"),
    Index("ix_ledger_entries_currency", "customer_id", "currency", "created_at", "seq", "id"),
    Index("ix_ledger_entries_type", "customer_id", "entry_type", "created_at", "seq", "id"),
    Index("ix_ledger_entries_amount", "customer_id", "amount_key"),
    # The foreign key's child side: without it SQLite scans a block's entries on updates.
    Index("ix_ledger_entries_block", "customer_id", "block_id"),
)

# The ordered operation log of each ledger: what replay (block deletion) re-applies.
ledger_commands = Table(
    "ledger_commands",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("payload", JSONDocument, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "currency", "position"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("invoice_number", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("ledger_currency", String(64), nullable=False),
    Column("block_id", String(ID)),
    Column("top_up_id", String(ID)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("invoice_date", UTCDateTime, nullable=False),
    Column("due_date", UTCDateTime),
    Column("paid_at", UTCDateTime),
    Column("payment_received_at", UTCDateTime),
    Column("voided_at", UTCDateTime),
    Column("total", ExactDecimal, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("unit_amount", String(64), nullable=False),
    Column("memo", Text),
    Column("auto_collection", Boolean, nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("item_name", String(255), nullable=False),
    Column("line_item_id", String(ID), nullable=False),
    Column("price_id", String(ID), nullable=False),
    Column("payment_external_id", String(255)),
    Column("payment_notes", Text),
    Column("deleted_at", UTCDateTime),
    Column("metadata", JSONDocument, nullable=False, server_default=text("'{}'")),
    # When it became `issued` (null while a draft); the terms its due date follows (null:
    # a custom due date); the sum of its credit notes' totals (non-zero: notes to read).
    Column("issued_at", UTCDateTime),
    Column("net_terms", Integer),
    Column("credited", ExactDecimal, nullable=False, server_default=text("'0'")),
    PrimaryKeyConstraint("customer_id", "id"),
    # Numbers come from one sequence (PostgreSQL) or counter (SQLite), so they are unique
    # account-wide; the constraint is per customer so a sharded table can keep it.
    UniqueConstraint("customer_id", "invoice_number"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    CheckConstraint("status IN ('draft', 'issued', 'paid', 'void')", name="status_known"),
    Index("ix_invoices_listing", "invoice_date", "created_at"),
    Index("ix_invoices_id", "id"),
    Index("ix_invoices_block", "customer_id", "block_id"),
    # Credit notes name the invoice by its line item (ids are random, unique without it).
    Index("ix_invoices_line_item", "line_item_id"),
)

top_ups = Table(
    "top_ups",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("amount", String(64), nullable=False),
    Column("threshold", String(64), nullable=False),
    Column("per_unit_cost_basis", String(64), nullable=False),
    Column("auto_collection", Boolean, nullable=False),
    Column("net_terms", Integer, nullable=False),
    Column("memo", Text),
    Column("require_successful_payment", Boolean),
    Column("active_from", UTCDateTime, nullable=False),
    Column("expires_after", Integer),
    Column("expires_after_unit", String(8)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deactivated_at", UTCDateTime),
    PrimaryKeyConstraint("customer_id", "id"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    # Written together with the request's own writes (docs/rules.md §1.9 rule 1a). Only rows left by
    # drawdown before 0.2, which claimed keys in a separate transaction, can be null.
    Column("status_code", Integer),
    Column("body", Text),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "key"),
    Index("ix_idempotency_keys_created", "created_at"),
)

# Small named counters (invoice numbers on SQLite, whose writers are serialized anyway;
# PostgreSQL uses the sequence below, which no transaction waits on).
counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

invoice_numbers = Sequence("invoice_numbers", metadata=metadata)

admin_users = Table(
    "admin_users",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Bumped at sign-out: session cookies carry the generation they were issued in.
    Column("session_generation", Integer, nullable=False, server_default=text("0")),
)

# Failed console sign-ins, shared by every process. `key` is a hash of (email, client
# address), so its size is fixed whatever is sent; rows older than the window are pruned.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("key", String(64), nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Index("ix_signin_failures_key", "key", "failed_at"),
    Index("ix_signin_failures_failed_at", "failed_at"),
)

# Server-generated secrets that must survive restarts (console session signing).
server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)

# --- balance alerts and webhooks (transactional outbox) -----------------------------------

# Where webhook events are sent. Not customer data: a small table every process caches.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("url", String(2048), nullable=False),
    # `whsec_<base64>`: the Standard Webhooks signing key (shown once, never logged).
    Column("secret", String(255), nullable=False),
    # Event types this endpoint receives; null means every type.
    Column("events", JSONDocument),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
)

# One row per event, written in the transaction of the ledger change that caused it, so an
# event exists if and only if that change committed. `body` is rendered once, on the first
# delivery claim, so every attempt and every endpoint gets the same bytes.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("type", String(64), nullable=False),
    Column("currency", String(64)),
    Column("properties", JSONDocument, nullable=False),
    Column("body", Text),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    Index("ix_webhook_events_created", "created_at"),
    Index("ix_webhook_events_id", "id"),
)

# The outbox proper: one row per (event, endpoint). A delivery process claims due rows by
# setting a lease (PostgreSQL: FOR UPDATE SKIP LOCKED), so two processes never send the same
# attempt; a crashed sender's lease runs out and the row is sent again, with the same id.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("endpoint_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("lease_until", UTCDateTime),
    Column("lease_token", String(ID)),
    Column("delivered_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "event_id", "endpoint_id"),
    ForeignKeyConstraint(
        ["customer_id", "event_id"], ["webhook_events.customer_id", "webhook_events.id"]
    ),
    CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
)

# Every attempt, as the console shows it: when, the response code or the error, how long.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("endpoint_id", String(ID), nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    Index("ix_webhook_attempts_event", "customer_id", "event_id", "attempted_at"),
    Index("ix_webhook_attempts_endpoint", "endpoint_id", "attempted_at"),
)

# The alert state of each ledger (Orb's `balance_alert_status`), shared by the ledger's
# alerts: whether it is depleted and which dropped thresholds it is below, so each event
# fires once per crossing. Kept while the ledger has alerts, enabled or not.
balance_alert_status = Table(
    "balance_alert_status",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("depleted", Boolean, nullable=False),
    Column("below", JSONDocument, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "currency"),
)

# Orb's customer alerts: one live configuration per (customer, type, ledger). Its events
# fire only while it is enabled; `thresholds` (decimal strings, ascending) only for
# `credit_balance_dropped`. Deleting one sets `deleted_at` (kept for the record, as Orb does).
alerts = Table(
    "alerts",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("type", String(32), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("thresholds", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    PrimaryKeyConstraint("customer_id", "id"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    CheckConstraint(
        "type IN ('credit_balance_depleted', 'credit_balance_dropped', 'credit_balance_recovered')",
        name="type_known",
    ),
    # At most one live alert of a type per ledger (Orb's rule), checked in Python too.
    Index(
        "ix_alerts_live_kind",
        "customer_id",
        "type",
        "currency",
        unique=True,
        sqlite_where=text("deleted_at IS NULL"),
        postgresql_where=text("deleted_at IS NULL"),
    ),
    # A customer's alerts newest first (list), and lookups by alert id alone.
    Index("ix_alerts_listing", "customer_id", "created_at", "id"),
    Index("ix_alerts_id", "id"),
)

# Blocks already announced by `customer.credits_expiring` (one event per block).
expiry_notices = Table(
    "expiry_notices",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("block_id", String(ID), nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "block_id"),
)

# --- usage: the price catalogue and accepted events ----------------------------------------

# The price catalogue: items (what block filters name), billable metrics and versioned
# prices (Orb's resources). Global, small, read whole by every deduction; a price version's
# pricing is never changed, only superseded (its `effective_until` set) or ended by its
# item's archiving.
usage_items = Table(
    "usage_items",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("metadata", JSONDocument, nullable=False),
    Column("external_connections", JSONDocument, nullable=False),
    Column("archived_at", UTCDateTime),
    Index("ix_usage_items_created", "created_at", "id"),
)

# Orb's billable metrics in the SQL subset drawdown prices (ledger/metric_sql.py): `sql` as
# given, and what it means (event name, `count`/`sum:PROPERTY`, property filters as
# canonical JSON text). A metric's definition never changes; name, description and
# metadata may.
usage_metrics = Table(
    "usage_metrics",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("item_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("sql", Text, nullable=False),
    Column("event_name", String(255), nullable=False),
    Column("metric", String(300), nullable=False),
    Column("filters", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("metadata", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["item_id"], ["usage_items.id"]),
    CheckConstraint("status IN ('active', 'archived')", name="status"),
    Index("ix_usage_metrics_created", "created_at", "id"),
)

usage_prices = Table(
    "usage_prices",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("item_id", String(255), nullable=False),
    Column("event_name", String(255), nullable=False),
    Column("currency", String(64), nullable=False),
    # `count` or `sum:PROPERTY` (ledger/usage.py parses it), and the metric's property
    # filters as canonical JSON text (ledger/usage.filters_text): copied from the billable
    # metric, which never changes, so a version prices from its own row.
    Column("metric", String(300), nullable=False),
    Column("credits_per_unit", ExactDecimal, nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("filters", Text, nullable=False),
    Column("effective_until", UTCDateTime),
    Column("billable_metric_id", String(ID)),
    Column("replaces_price_id", String(ID)),
    Column("name", String(255), nullable=False),
    Column("cadence", String(16), nullable=False),
    Column("cycle_duration", Integer, nullable=False),
    Column("cycle_unit", String(8), nullable=False),
    Column("external_price_id", String(255), unique=True),
    Column("metadata", JSONDocument, nullable=False),
    ForeignKeyConstraint(["item_id"], ["usage_items.id"]),
    ForeignKeyConstraint(["billable_metric_id"], ["usage_metrics.id"]),
    Index("ix_usage_prices_event", "event_name", "item_id", "effective_from"),
    Index("ix_usage_prices_created", "created_at", "id"),
)

# Accepted usage events, kept (and deduplicated by idempotency key) for good. An event is
# deducted exactly once: `deduction_id` is set in the transaction that writes its decrement
# entries, and a deduction only reads live events whose `deduction_id` is still null.
# `properties` is the event's JSON text as sent (numbers exact), parsed with Decimals.
#
# Corrections (services/usage/corrections.py): `origin` is '' for events ingested live and
# the backfill's id for events a backfill brought, so a backfill can bring a new version of
# an event it replaces. `status` says whether the event counts: `live` (it does; at most one
# live row per customer and key), `pending` (in a backfill not yet closed), `deprecated`
# (by the API), `replaced` (by the close of backfill `replaced_by`), `reverted` (its
# backfill was reverted) or `skipped` (a backfill event whose key a live event kept). Usage
# is in the ledger exactly for live rows with a `deduction_id`.
usage_events = Table(
    "usage_events",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("event_name", String(255), nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("properties", Text, nullable=False),
    Column("accepted_at", UTCDateTime, nullable=False),
    Column("deduction_id", String(ID)),
    Column("deducted_at", UTCDateTime),
    Column("origin", String(ID), nullable=False, server_default=text("''")),
    Column("status", String(16), nullable=False, server_default=text("'live'")),
    Column("changed_at", UTCDateTime),
    Column("replaced_by", String(ID)),
    Column("amended_at", UTCDateTime),
    PrimaryKeyConstraint("customer_id", "idempotency_key", "origin"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    CheckConstraint(
        "status IN ('live', 'pending', 'deprecated', 'replaced', 'reverted', 'skipped')",
        name="status_known",
    ),
    # Due events (live, deduction_id null, timestamp before the grace cutoff) of everyone.
    Index("ix_usage_events_due", "deduction_id", "status", "timestamp", "customer_id"),
    # One customer's due events (a deduction) and undeducted ones (the console).
    Index("ix_usage_events_customer", "customer_id", "deduction_id", "status", "timestamp"),
    # One customer's events of a timeframe, deducted or not (costs, price evaluation).
    Index("ix_usage_events_time", "customer_id", "timestamp", "idempotency_key"),
    # A timeframe: backfill close and revert, hourly volume.
    Index("ix_usage_events_timeframe", "timestamp", "customer_id"),
    # One event id stands per customer at a time (Orb: one source of truth per event id);
    # key first, it also finds a live event by id whoever the customer (deprecate, search).
    # Versions that no longer count (few) have an index of their own, so an ingested event
    # costs one index on its id, not two (store/corrections.by_key queries both).
    Index(
        "ux_usage_events_live",
        "idempotency_key",
        "customer_id",
        unique=True,
        sqlite_where=text("status = 'live'"),
        postgresql_where=text("status = 'live'"),
    ),
    Index(
        "ix_usage_events_kept",
        "idempotency_key",
        sqlite_where=text("status != 'live'"),
        postgresql_where=text("status != 'live'"),
    ),
)

# What deductions of a (customer, ledger, item) could not yet take: the exact priced total
# minus what was drawn, always below one unit of the ledger's last stored digit.
usage_carry = Table(
    "usage_carry",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("carried", ExactDecimal, nullable=False),  # up to 24 fraction digits, exact
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "currency", "item_id"),
)

# --- credit notes and the customer's cash balance --------------------------------------------

# A credit note credits money on an issued or paid invoice (an `adjustment` or a `refund`);
# the credits it takes back are `void` entries of the purchase's blocks. Never changed after
# it is written (drawdown has no way to void a credit note), so `voided_at` stays null.
credit_notes = Table(
    "credit_notes",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("credit_note_number", String(32), nullable=False),
    Column("invoice_id", String(ID), nullable=False),
    Column("type", String(16), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("memo", Text),
    Column("currency", String(8), nullable=False),
    Column("total", ExactDecimal, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("voided_at", UTCDateTime),
    PrimaryKeyConstraint("customer_id", "id"),
    UniqueConstraint("customer_id", "credit_note_number"),
    ForeignKeyConstraint(["customer_id", "invoice_id"], ["invoices.customer_id", "invoices.id"]),
    CheckConstraint("type IN ('refund', 'adjustment')", name="type_known"),
    CheckConstraint(
        "reason IN ('duplicate', 'fraudulent', 'order_change', 'product_unsatisfactory')",
        name="reason_known",
    ),
    Index("ix_credit_notes_listing", "created_at", "id"),
    Index("ix_credit_notes_id", "id"),
    Index("ix_credit_notes_invoice", "customer_id", "invoice_id"),
)

# One row per invoice line item a credit note credits: the money and the credits it took
# back (`quantity`, what the voids removed), and the service period it covers.
credit_note_line_items = Table(
    "credit_note_line_items",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("credit_note_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("position", Integer, nullable=False),
    Column("invoice_line_item_id", String(ID), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    UniqueConstraint("customer_id", "credit_note_id", "position"),
    ForeignKeyConstraint(
        ["customer_id", "credit_note_id"], ["credit_notes.customer_id", "credit_notes.id"]
    ),
)

credit_note_numbers = Sequence("credit_note_numbers", metadata=metadata)

# The cash balance's own append-only ledger (Orb's customer balance transactions): each row
# moves the balance by `amount` and records where it started and ended, so consecutive rows
# chain (`starting_balance` = the previous row's `ending_balance`, from 0).
customer_balance_transactions = Table(
    "customer_balance_transactions",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("action", String(32), nullable=False),
    Column("type", String(16), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("amount", ExactDecimal, nullable=False),
    Column("starting_balance", ExactDecimal, nullable=False),
    Column("ending_balance", ExactDecimal, nullable=False),
    Column("description", Text),
    Column("invoice_id", String(ID)),
    Column("credit_note_id", String(ID)),
    Column("created_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    UniqueConstraint("customer_id", "seq"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    CheckConstraint("type IN ('increment', 'decrement')", name="type_known"),
    CheckConstraint("seq >= 1", name="seq_positive"),
    Index("ix_customer_balance_transactions_invoice", "customer_id", "invoice_id"),
)

# Draws of usage from blocks, per (customer, ledger, item, block): what usage decrements
# took and what corrections gave back. A refund goes back to the blocks drawn last, never
# more to a block than usage drew from it (services/usage/corrections.py). Not ledger data:
# the entries are derived from the command log; this only says where usage came from.
usage_draws = Table(
    "usage_draws",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("currency", String(64), nullable=False),
    Column("item_id", String(255), nullable=False),
    Column("block_id", String(ID), nullable=False),
    Column("drawn", ExactDecimal, nullable=False),
    Column("returned", ExactDecimal, nullable=False),
    # The ledger sequence number of the newest usage draw from the block: refunds go to the
    # blocks drawn last first.
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "currency", "item_id", "block_id"),
)

# Earlier versions of amended events (Orb keeps the original, ignored for billing).
usage_event_amendments = Table(
    "usage_event_amendments",
    metadata,
    Column("customer_id", String(ID), nullable=False),
    Column("id", String(ID), nullable=False),
    Column("idempotency_key", String(255), nullable=False),
    Column("origin", String(ID), nullable=False),
    Column("event_name", String(255), nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("properties", Text, nullable=False),
    Column("deduction_id", String(ID)),
    Column("amended_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("customer_id", "id"),
    ForeignKeyConstraint(["customer_id"], ["customers.id"]),
    Index("ix_usage_event_amendments_key", "customer_id", "idempotency_key", "amended_at"),
)

# Backfills (Orb's `events.backfills`): events added to or replacing a past timeframe, for
# one customer or (customer_id null) all of them. Not customer data: a backfill may span
# every customer, and its events live in `usage_events` under its id (`origin`).
# `closed_at` is set when a close starts and `status` becomes `reflected` when every
# customer's part of it has committed; a revert goes `pending_revert` -> `reverted` alike.
usage_backfills = Table(
    "usage_backfills",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("customer_id", String(ID)),
    Column("timeframe_start", UTCDateTime, nullable=False),
    Column("timeframe_end", UTCDateTime, nullable=False),
    Column("close_time", UTCDateTime, nullable=False),
    Column("replace_existing_events", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    # Counted by the ingest jobs, which lock this row anyway (no event enters a closing one).
    Column("events_ingested", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Column("reverted_at", UTCDateTime),
    CheckConstraint(
        "status IN ('pending', 'reflected', 'pending_revert', 'reverted')", name="status_known"
    ),
    CheckConstraint("timeframe_start < timeframe_end", name="timeframe_ordered"),
    Index("ix_usage_backfills_created", "created_at", "id"),
    Index("ix_usage_backfills_status", "status", "close_time"),
)

# --- operations: who serves, what ran -------------------------------------------------------

# Serving processes of this database, each registered by itself when it starts, renewed
# every few seconds (`seen_at`) and removed when it stops cleanly; a row not renewed for a
# while belongs to a process that died (`drawdown status` shows only the live ones).
server_processes = Table(
    "server_processes",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("url", String(255), nullable=False),
    Column("version", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
    Index("ix_server_processes_seen", "seen_at"),
)

# The last run of an operator's command (`drawdown verify`), one row per command: when it
# ran, whether it passed, and its one-line summary.
command_runs = Table(
    "command_runs",
    metadata,
    Column("command", String(32), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("summary", String(1000), nullable=False),
)
