"""Access: API keys, console administrators and sign-in, idempotency keys."""
