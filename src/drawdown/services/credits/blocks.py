"""Changing a credit block: its metadata (E21), or deleting it with a replay (E22, §4.14).

Deletion drops the block (and its expiration-change children) from the ledger's command
log and re-applies the rest from scratch in the pure core, each command at its original
time, so the result is exactly the ledger "as if the block had never existed" (R-DEL-2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drawdown.ledger import chain, commands, replay
from drawdown.records import LedgerHead
from drawdown.services import metadata as meta
from drawdown.services.billing import invoices
from drawdown.services.commands_codec import decode_command
from drawdown.services.credits.reads import owner_of_block
from drawdown.services.credits.views import BlockView
from drawdown.services.errors import ResourceNotFound
from drawdown.services.write_path import (
    CustomerRef,
    CustomerWrite,
    Work,
    customer_work,
    next_expiry,
)
from drawdown.store import invoices as invoice_store
from drawdown.store import ledger_tables as store


def _locked_block(write: CustomerWrite, block_id: str) -> Any:
    block = store.block_by_id(write.tx, write.customer_id, block_id)
    if block is None:
        raise ResourceNotFound("CreditBlock", block_id)
    return block


def update_metadata(
    owner: CustomerRef, block_id: str, patch: meta.MetadataPatch, *, sent: bool = True
) -> Work[BlockView]:
    """E21: merge/remove/clear the block's metadata (§1.6), if it was sent (null clears it);
    a request without it changes nothing and answers the block."""

    def update(write: CustomerWrite) -> BlockView:
        block = _locked_block(write, block_id)
        if sent:
            merged = meta.updated(block.metadata, patch, write.ctx.settings)
            store.update_block_metadata(write.tx, write.customer_id, block_id, merged)
            write.loaded.pop(block.currency, None)  # the cached block has the old metadata
        block = _locked_block(write, block_id)
        return BlockView(block, write.customer, tuple(invoice_store.for_blocks(
            write.tx, write.customer_id, [block_id])))  # fmt: skip

    return customer_work(owner, update)


def delete_block(owner: CustomerRef, block_id: str) -> Work[None]:
    def delete(write: CustomerWrite) -> None:
        currency = _locked_block(write, block_id).currency
        logged = [
            (position, at, decode_command(kind, payload))
            for position, kind, payload, at in store.load_commands(
                write.tx, write.customer_id, currency
            )
        ]
        removed = removed_blocks(block_id, [c for _, _, c in logged])
        kept = [(pos, at, c) for pos, at, c in logged if not _touches(c, removed)]
        genesis = chain.genesis(write.customer_id, currency)
        outcome = replay([(at, c) for _, at, c in kept], currency, write.now, write.ctx.new_id,
                         chain_start=genesis)  # fmt: skip
        state = outcome.state
        upcoming = next_expiry(state, write.now)
        store.replace_ledger(
            write.tx, write.customer_id, currency,
            keep_positions=[pos for pos, _, _ in kept], deleted_block_ids=sorted(removed),
            state=state, entries=outcome.entries, next_expiry_at=upcoming, now=write.now,
        )  # fmt: skip
        old = write.heads[currency]
        write.heads[currency] = LedgerHead(
            currency, state.last_seq, state.balance, state.last_entry_at,
            max((pos for pos, _, _ in kept), default=0), upcoming, old.top_up_id,
            state.chain_head,
        )  # fmt: skip
        write.loaded.pop(currency, None)
        invoices.on_blocks_deleted(write, sorted(removed))
        write.changed.add(currency)  # the replay bypasses run_command: alerts still see it

    return customer_work(owner, delete)


def removed_blocks(block_id: str, logged: Sequence[Any]) -> set[str]:
    """The block plus, recursively, blocks made from it by expiration changes (R-DEL-1)."""
    removed = {block_id}
    for command in logged:
        if isinstance(command, commands.ExpirationChange) and command.block_id in removed:
            removed.add(command.new_block_id)
    return removed


def _touches(command: Any, removed: set[str]) -> bool:
    return getattr(command, "block_id", None) in removed


__all__ = ["delete_block", "owner_of_block", "update_metadata"]
