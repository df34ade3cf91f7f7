"""Deleting a credit block: drop it (and its expiration-change children) and replay (§4.14).

The command log of the block's ledger is filtered and re-applied from scratch by
the pure core, each command at its original time, so the result is exactly the
ledger "as if the block had never existed" (R-DEL-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drawdown.ledger import commands, replay
from drawdown.services import invoices
from drawdown.services.commands_codec import decode_command
from drawdown.services.context import ServiceContext
from drawdown.services.customers import CustomerRef
from drawdown.services.errors import ResourceNotFound
from drawdown.services.ledger import customer_of_block
from drawdown.services.write_path import customer_transaction
from drawdown.store import ledger as store


def delete_block(ctx: ServiceContext, block_id: str) -> None:
    customer = customer_of_block(ctx, block_id)
    with customer_transaction(ctx, CustomerRef(id=customer["id"])) as tx:
        row = store.find_block(tx.conn, block_id)
        if row is None or row["customer_id"] != tx.customer_id:
            raise ResourceNotFound("CreditBlock", block_id)
        currency = str(row["currency"])
        logged = [
            (r["position"], r["at"], decode_command(r["kind"], r["payload"]))
            for r in store.load_commands(tx.conn, tx.customer_id, currency)
        ]
        removed = removed_blocks(block_id, [c for _, _, c in logged])
        kept = [(pos, at, c) for pos, at, c in logged if not _touches(c, removed)]
        outcome = replay([(at, c) for _, at, c in kept], currency, tx.now, ctx.new_id)
        store.replace_ledger(
            tx.conn,
            tx.customer_id,
            currency,
            keep_positions=[pos for pos, _, _ in kept],
            deleted_block_ids=sorted(removed),
            state=outcome.state,
            entries=outcome.entries,
            now=tx.now,
        )
        invoices.on_blocks_deleted(tx, sorted(removed))


def removed_blocks(block_id: str, logged: Sequence[Any]) -> set[str]:
    """The block plus, recursively, blocks made from it by expiration changes (R-DEL-1)."""
    removed = {block_id}
    for command in logged:
        if isinstance(command, commands.ExpirationChange) and command.block_id in removed:
            removed.add(command.new_block_id)
    return removed


def _touches(command: Any, removed: set[str]) -> bool:
    return getattr(command, "block_id", None) in removed
