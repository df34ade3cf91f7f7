"""Email addresses, checked the same way for customers and console administrators."""

from __future__ import annotations

import re

from drawdown.services.errors import InvalidField

EMAIL_LENGTH_MAX = 320
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def check_email(email: str, field: str = "email") -> str:
    """A syntactically valid address (one `@`, non-empty local and domain parts)."""
    if len(email) > EMAIL_LENGTH_MAX or not _EMAIL.match(email):
        raise InvalidField(field, "must be a valid email address")
    return email
