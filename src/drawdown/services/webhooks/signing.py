"""Webhook secrets and signatures (R-WHK-3).

Signed the Standard Webhooks way: `webhook-id`, `webhook-timestamp` (Unix seconds) and
`webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, the key being
the base64 part of the `whsec_…` secret. Orb's own headers are sent too (`X-Orb-Timestamp`,
`X-Orb-Signature: v1=<hex HMAC-SHA256(secret, "v1:{timestamp}:{body}")>`), so the official
SDK's `client.webhooks.unwrap(body, headers, secret=...)` verifies drawdown's webhooks as-is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24
SECRET_BYTES_MIN, SECRET_BYTES_MAX = 16, 64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes | None:
    """The signing key of a `whsec_<base64>` secret, or None when it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if SECRET_BYTES_MIN <= len(key) <= SECRET_BYTES_MAX else None


def headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The signature headers of one attempt (a new timestamp each attempt, same id)."""
    key = secret_key(secret)
    assert key is not None, "secrets are checked when the endpoint is added"
    signed = f"{message_id}.{timestamp}.{body}".encode()
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    orb_timestamp = datetime.fromtimestamp(timestamp, UTC).isoformat()
    orb_signed = f"v1:{orb_timestamp}:{body}".encode()
    orb_signature = hmac.new(secret.encode(), orb_signed, hashlib.sha256).hexdigest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
        "X-Orb-Timestamp": orb_timestamp,
        "X-Orb-Signature": f"v1={orb_signature}",
    }
