"""The order in which a batch's buffered writes reach the database (`store/tx.py`).

Rows of one statement keep the order they were made in; statements go in this order, which
follows the foreign keys (a ledger before its blocks, a block before its entries) and puts
a delete before an insert of the same key. A statement that is not listed here is never
buffered: it is sent when it is made, after everything buffered before it.
"""

from __future__ import annotations

LEDGER_INSERT = 10
BLOCK_INSERT = 20
BLOCK_UPDATE = 30
ENTRY_INSERT = 40
COMMAND_INSERT = 50
LEDGER_UPDATE = 60
IDEMPOTENCY_DELETE = 70
IDEMPOTENCY_INSERT = 80
USAGE_EVENT_INSERT = 90
USAGE_EVENT_MARK = 100  # after the inserts: a batch may store events and then deduct them
USAGE_CARRY_UPSERT = 110
USAGE_DRAW_UPSERT = 120
