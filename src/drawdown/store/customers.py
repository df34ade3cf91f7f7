"""SQL for customers and their external ids (live customers have `deleted_at IS NULL`).

A customer's live external id is also a row of `customer_external_ids`, whose primary key
makes it unique; lookups by external id go through that table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, or_, select, update

from drawdown.records import Customer, LedgerHead
from drawdown.store.prepared import Prepared
from drawdown.store.schema import customer_external_ids, customers, ledgers
from drawdown.store.sqlfuncs import before, compare, in_list
from drawdown.store.tx import Tx

_live = customers.c.deleted_at.is_(None)
_aliases = customer_external_ids.c

_CUSTOMER_FIELDS = tuple(Customer.__dataclass_fields__)
_HEAD_COLUMNS = (
    ledgers.c.currency, ledgers.c.last_seq, ledgers.c.balance, ledgers.c.last_entry_at,
    ledgers.c.last_position, ledgers.c.next_expiry_at, ledgers.c.top_up_id,
    ledgers.c.chain_head,
)  # fmt: skip


def customer_of(row: Mapping[str, Any]) -> Customer:
    values = {name: row[name] for name in _CUSTOMER_FIELDS}
    values["additional_emails"] = tuple(values["additional_emails"] or ())
    values["metadata"] = dict(values["metadata"] or {})
    values["balance_alerts"] = bool(values["balance_alerts"])
    return Customer(**values)


def _by_external_id(external_id: Any) -> Any:
    return customers.c.id.in_(
        select(_aliases.customer_id).where(_aliases.external_customer_id == external_id)
    )


# --- the write path's lookup: customer and ledger heads in one query ---------------------

_WITH_HEADS_COLUMNS = tuple(customers.c[name] for name in _CUSTOMER_FIELDS) + _HEAD_COLUMNS


def _with_heads(where: Any) -> Any:
    return (
        select(*_WITH_HEADS_COLUMNS)
        .select_from(customers.outerjoin(ledgers, ledgers.c.customer_id == customers.c.id))
        .where(where, _live)
        .order_by(ledgers.c.currency)
    )


_WITH_HEADS_BY_ID = Prepared(
    lambda: _with_heads(customers.c.id == bindparam("ref")),
    postgres_suffix=" FOR UPDATE OF customers",
)
_WITH_HEADS_BY_EXTERNAL_ID = Prepared(
    lambda: _with_heads(_by_external_id(bindparam("ref"))),
    postgres_suffix=" FOR UPDATE OF customers",
)
_WITH_HEADS_BY_ID_READ = Prepared(lambda: _with_heads(customers.c.id == bindparam("ref")))
_WITH_HEADS_BY_EXTERNAL_ID_READ = Prepared(lambda: _with_heads(_by_external_id(bindparam("ref"))))


def with_heads(
    tx: Tx, *, customer_id: str | None, external_id: str | None, lock: bool
) -> tuple[Customer, dict[str, LedgerHead]] | None:
    """The live customer (row-locked on PostgreSQL when `lock`) and its ledger heads.

    In a committer batch, from the batch's cache when it has them (the batch locked every
    customer its jobs name when it loaded them, `store/prefetch.py`)."""
    cache = tx.batch
    if cache is not None:
        cached = cache.customer(customer_id, external_id)
        if cached is not None:
            return cached
    if customer_id is not None:
        statement = _WITH_HEADS_BY_ID if lock else _WITH_HEADS_BY_ID_READ
        rows = tx.rows(statement, {"ref": customer_id})
    else:
        statement = _WITH_HEADS_BY_EXTERNAL_ID if lock else _WITH_HEADS_BY_EXTERNAL_ID_READ
        rows = tx.rows(statement, {"ref": external_id})
    if not rows:
        return None
    customer = _customer_from_tuple(tx, rows[0])
    heads = {}
    for row in rows:
        head = _head_from_tuple(tx, row[len(_CUSTOMER_FIELDS) :])
        if head is not None:
            heads[head.currency] = head
    if cache is not None and lock:
        cache.put_customer(customer, heads)
    return customer, heads


def _batch_with_heads(dialect: str) -> Any:
    by_alias = select(_aliases.customer_id).where(
        in_list(_aliases.external_customer_id, "external_ids", dialect)
    )
    where = or_(in_list(customers.c.id, "ids", dialect), customers.c.id.in_(by_alias))
    return _with_heads(where).order_by(None).order_by(customers.c.id, ledgers.c.currency)


def _batch_lock(dialect: str) -> Any:
    by_alias = select(_aliases.customer_id).where(
        in_list(_aliases.external_customer_id, "external_ids", dialect)
    )
    where = or_(in_list(customers.c.id, "ids", dialect), customers.c.id.in_(by_alias))
    return select(customers.c.id).where(where).order_by(customers.c.id)


_BATCH_WITH_HEADS = Prepared(_batch_with_heads, per_dialect=True)
_BATCH_LOCK = Prepared(_batch_lock, per_dialect=True, postgres_suffix=" FOR UPDATE")


def lock_batch(tx: Tx, customer_ids: Sequence[str], external_ids: Sequence[str]) -> dict[str, Any]:
    """Lock the customers a batch names in id order, in one statement (PostgreSQL; SQLite's
    writer holds the database lock anyway); returns the statement's parameters."""
    params = {"ids": tx.codec.texts(sorted(set(customer_ids))),
              "external_ids": tx.codec.texts(sorted(set(external_ids)))}  # fmt: skip
    if tx.postgres:
        tx.rows(_BATCH_LOCK, params)
    return params


def lock_with_heads(
    tx: Tx, customer_ids: Sequence[str], external_ids: Sequence[str]
) -> list[tuple[Customer, dict[str, LedgerHead]]]:
    """The live customers a batch names (by id or external id) with their heads.

    On PostgreSQL their rows are locked first, in id order, in one statement (batches of
    different processes then never deadlock on customer rows), and read by a second one:
    a statement that waited for a lock sees the rows it joins as they were when it began,
    so heads read with the lock could miss a ledger another batch just created."""
    params = lock_batch(tx, customer_ids, external_ids)
    found: list[tuple[Customer, dict[str, LedgerHead]]] = []
    for row in tx.rows(_BATCH_WITH_HEADS, params):
        if not found or found[-1][0].id != row[0]:
            found.append((_customer_from_tuple(tx, row), {}))
        head = _head_from_tuple(tx, row[len(_CUSTOMER_FIELDS) :])
        if head is not None:
            found[-1][1][head.currency] = head
    return found


WITH_HEADS_COLUMNS = _WITH_HEADS_COLUMNS


def with_heads_of_rows(
    tx: Tx, rows: Sequence[Sequence[Any]]
) -> tuple[Customer, dict[str, LedgerHead]] | None:
    """A customer and its heads from rows of `WITH_HEADS_COLUMNS` (raw driver values)."""
    if not rows:
        return None
    heads = {}
    for row in rows:
        head = _head_from_tuple(tx, row[len(_CUSTOMER_FIELDS) :])
        if head is not None:
            heads[head.currency] = head
    return _customer_from_tuple(tx, rows[0]), heads


def by_ref(customer_id: Any, external_id: Any) -> Any:
    """The customer's id by drawdown id or by live external id (a SQL condition on ids)."""
    return (
        customers.c.id == customer_id if customer_id is not None else _by_external_id(external_id)
    )


def _customer_from_tuple(tx: Tx, row: Sequence[Any]) -> Customer:
    """A Customer from a row of _CUSTOMER_FIELDS (raw driver values), in field order."""
    c = tx.codec
    (customer_id, external_id, name, email, additional, currency, timezone, metadata,
     auto_collection, auto_issuance, email_delivery, provider, provider_id, billing, shipping,
     tax_id, created_at, overdraft, has_alerts,
     cash_balance) = row[: len(_CUSTOMER_FIELDS)]  # fmt: skip
    return Customer(
        id=customer_id,
        external_customer_id=external_id,
        name=name,
        email=email,
        additional_emails=tuple(c.read_json(additional) or ()),
        currency=currency,
        timezone=timezone,
        metadata=c.read_json(metadata) or {},
        auto_collection=bool(auto_collection),
        auto_issuance=None if auto_issuance is None else bool(auto_issuance),
        email_delivery=bool(email_delivery),
        payment_provider=provider,
        payment_provider_id=provider_id,
        billing_address=c.read_json(billing),
        shipping_address=c.read_json(shipping),
        tax_id=c.read_json(tax_id),
        created_at=c.read_instant(created_at),
        overdraft=overdraft,
        balance_alerts=bool(has_alerts),
        cash_balance=c.read_decimal(cash_balance),
    )


def _head_from_tuple(tx: Tx, row: Sequence[Any]) -> LedgerHead | None:
    currency, last_seq, balance, last_entry_at, position, next_expiry, top_up, chain = row
    if currency is None:
        return None
    codec = tx.codec
    return LedgerHead(
        currency=currency,
        last_seq=int(last_seq),
        balance=codec.read_decimal(balance),
        last_entry_at=codec.read_optional_instant(last_entry_at),
        last_position=int(position),
        next_expiry_at=codec.read_optional_instant(next_expiry),
        top_up_id=top_up,
        chain_head=chain,
    )


# --- plain customer queries ---------------------------------------------------------------


def insert(tx: Tx, values: Mapping[str, Any]) -> bool:
    """False if the external id is taken by a live customer (its table's key decides)."""
    external_id = values.get("external_customer_id")
    if external_id is not None and not add_alias(tx, external_id, str(values["id"])):
        return False
    tx.execute(customers.insert().values(**values))
    return True


def add_alias(tx: Tx, external_id: str, customer_id: str) -> bool:
    """Claim an external id for a customer; False when another live customer holds it."""
    return tx.insert_unless_duplicate(
        customer_external_ids.insert().values(
            external_customer_id=external_id, customer_id=customer_id
        )
    )


def get(tx: Tx, customer_id: str) -> Customer | None:
    query = select(customers).where(customers.c.id == customer_id, _live)
    row = tx.execute(query).mappings().first()
    return None if row is None else customer_of(row)


def update_fields(tx: Tx, customer_id: str, values: Mapping[str, Any]) -> None:
    if values:
        tx.execute(update(customers).where(customers.c.id == customer_id).values(**values))


def soft_delete(tx: Tx, customer: Customer, now: datetime) -> None:
    """Hide the customer and free its external id for reuse (E7)."""
    tx.execute(update(customers).where(customers.c.id == customer.id).values(deleted_at=now))
    if customer.external_customer_id is not None:
        tx.execute(
            delete(customer_external_ids).where(
                _aliases.external_customer_id == customer.external_customer_id,
                _aliases.customer_id == customer.id,
            )
        )


def list_page(
    tx: Tx,
    *,
    created_at_filters: Sequence[tuple[str, datetime]],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Customer]:
    """Newest first; `after` is the (created_at, id) keyset of the previous page's last row."""
    query = select(customers).where(_live)
    for op, value in created_at_filters:
        query = query.where(compare(customers.c.created_at, op, value))
    if after is not None:
        query = query.where(before((customers.c.created_at, customers.c.id), after))
    query = query.order_by(customers.c.created_at.desc(), customers.c.id.desc()).limit(limit)
    return [customer_of(row) for row in tx.execute(query).mappings()]
