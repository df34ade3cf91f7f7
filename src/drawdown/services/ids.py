"""Opaque identifiers: 16 characters from [A-Za-z0-9], drawn from a CSPRNG (spec §1.6)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
ID_LENGTH = 16


def new_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(ID_LENGTH))
