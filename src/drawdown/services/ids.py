"""Opaque identifiers: 16 characters from [A-Za-z0-9], drawn from a CSPRNG (docs/rules.md §1.6)."""

from __future__ import annotations

import os
import string
import threading

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 16
# 16 random bytes (128 bits) cover 62**16 (~95 bits) about 7 billion times over, so reducing
# them to 16 base-62 digits is uniform to within one part in 10**9.
_BYTES = 16
# Random bytes are read from the OS a page at a time: the system call, not the bytes, is
# what costs (a `secrets.choice` per character cost sixteen calls per id).
_POOL_BYTES = 4096


class _Pool:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._offset = 0

    def take(self) -> bytes:
        with self._lock:
            if self._offset + _BYTES > len(self._buffer):
                self._buffer, self._offset = os.urandom(_POOL_BYTES), 0
            start = self._offset
            self._offset += _BYTES
            return self._buffer[start : start + _BYTES]

    def reset(self) -> None:
        self._buffer, self._offset = b"", 0


_pool = _Pool()
# A forked child must never hand out the ids left in its parent's pool.
os.register_at_fork(after_in_child=_pool.reset)


def new_id() -> str:
    number = int.from_bytes(_pool.take(), "big")
    chars = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)
