"""The tamper-evident chain: every entry's hash covers its content and the previous hash.

Within one ledger (customer, currency) entry n stores SHA-256(hash of entry n-1, entry n);
the first entry chains from the ledger's genesis value, which names the customer and
currency. Altering, removing or reordering any stored entry changes every later hash, so
pinning the newest hash (the chain head, shown in the console) pins the whole history.
`drawdown verify` recomputes the chains from the stored entries.

The encoding is length-prefixed text (`<len>:<text>` per field), so no two different
entries encode alike whatever their descriptions or metadata contain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from drawdown.ledger.amounts import format_decimal


def genesis(customer_id: str, currency: str) -> str:
    """The value the first entry of a ledger chains from."""
    return hashlib.sha256(_encode(("drawdown-ledger-v1", customer_id, currency))).hexdigest()


def digest(
    previous: str,
    *,
    entry_id: str,
    currency: str,
    seq: int,
    entry_type: str,
    amount: Decimal,
    starting_balance: Decimal,
    ending_balance: Decimal,
    block_id: str,
    created_at: datetime,
    description: str | None,
    metadata: Mapping[str, str],
    void_amount: Decimal | None,
    void_reason: str | None,
    new_block_expiry_date: datetime | None,
) -> str:
    """The hash of one entry chained after `previous`."""
    fields: list[str | None] = [
        previous, entry_id, currency, str(seq), entry_type, format_decimal(amount),
        format_decimal(starting_balance), format_decimal(ending_balance), block_id,
        created_at.isoformat(), description, _optional_decimal(void_amount), void_reason,
        None if new_block_expiry_date is None else new_block_expiry_date.isoformat(),
        str(len(metadata)),
    ]  # fmt: skip
    if metadata:
        for key in sorted(metadata):
            fields += (key, metadata[key])
    return hashlib.sha256(_encode(fields)).hexdigest()


def _optional_decimal(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _encode(fields: Iterable[str | None]) -> bytes:
    # "-" marks null, distinct from the empty string "0:". A list, not a generator: this runs
    # for every entry written, and join builds a list from a generator first anyway.
    return "".join(["-" if f is None else f"{len(f)}:{f}" for f in fields]).encode()
