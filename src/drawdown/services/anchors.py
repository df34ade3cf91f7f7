"""Anchor files: ledger heads kept outside the database (`drawdown verify --anchor FILE`).

A hash chain proves a ledger's history only up to its newest entry: whoever can write the
database can remove the newest entries and rewrite the command log, the head and the
blocks to match, leaving a valid, shorter history (actor 4 of SECURITY.md). An anchor
records, for every ledger, the sequence number and hash of its newest verified entry; kept
where the database's writers cannot change it (another machine, a signed copy), it lets a
later verify prove that no ledger went back before it (services/verify.py).

The file is JSON lines: a header line `{"drawdown_anchor": 1, "recorded_at": ..., "ledgers":
N}`, then one line per ledger, sorted: `customer_id`, `currency`, `seq`, `hash`,
`deleted_blocks`. It is written to a temporary file and renamed, so a crash never leaves
half an anchor; `write` returns its SHA-256, short enough to note elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from drawdown.services.errors import InvalidField
from drawdown.services.verify import Anchor, Head

FORMAT_VERSION = 1
_HASH = re.compile(r"[0-9a-f]{64}")


def read(path: str) -> dict[tuple[str, str], Head]:
    """The heads an anchor file records; InvalidField("anchor") says what is wrong with it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidField("anchor", f"cannot read {path}: {exc}") from exc
    header = _json(path, lines[0] if lines else "", 1)
    if header.get("drawdown_anchor") != FORMAT_VERSION:
        raise InvalidField("anchor", f"{path} is not a drawdown anchor (version {FORMAT_VERSION})")
    heads = [_head(path, _json(path, line, number), number)
             for number, line in enumerate(lines[1:], start=2)]  # fmt: skip
    if header.get("ledgers") != len(heads):
        counted = header.get("ledgers")
        raise InvalidField("anchor", f"{path} holds {len(heads)} ledgers, its header {counted}")
    return {head.key: head for head in heads}


def write(path: str, heads: Iterable[Head], recorded_at: datetime) -> str:
    """Record `heads` in `path` (replacing it whole); the SHA-256 of what was written."""
    ordered = sorted(heads, key=lambda head: head.key)
    header = {"drawdown_anchor": FORMAT_VERSION, "recorded_at": recorded_at.isoformat(),
              "ledgers": len(ordered)}  # fmt: skip
    lines = [json.dumps(header)] + [json.dumps(_fields(head)) for head in ordered]
    data = ("\n".join(lines) + "\n").encode()
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    with temporary.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(target)
    return hashlib.sha256(data).hexdigest()


def merged(earlier: Anchor | None, heads: list[Head], customer_id: str | None) -> list[Head]:
    """What to record after verifying every ledger (`heads`), or one customer's (the other
    customers' anchored heads are kept)."""
    if customer_id is None or earlier is None:
        return heads
    return [h for h in earlier.values() if h.customer_id != customer_id] + heads


def _fields(head: Head) -> dict[str, Any]:
    return {"customer_id": head.customer_id, "currency": head.currency, "seq": head.seq,
            "hash": head.hash, "deleted_blocks": head.deleted_blocks}  # fmt: skip


def _json(path: str, line: str, number: int) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise InvalidField("anchor", f"{path} line {number} is not a JSON object")
    return value


def _head(path: str, fields: dict[str, Any], number: int) -> Head:
    customer_id, currency = fields.get("customer_id"), fields.get("currency")
    seq, digest, deleted = fields.get("seq"), fields.get("hash"), fields.get("deleted_blocks")
    if (
        isinstance(customer_id, str) and isinstance(currency, str)
        and _count(seq) and isinstance(seq, int) and seq >= 1
        and isinstance(digest, str) and _HASH.fullmatch(digest) is not None
        and _count(deleted) and isinstance(deleted, int)
    ):  # fmt: skip
        return Head(customer_id, currency, seq, digest, deleted)
    raise InvalidField("anchor", f"{path} line {number} is not a ledger head")


def _count(value: object) -> bool:
    """A whole number of at least 0 (JSON's true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
