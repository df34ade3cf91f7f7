"""Balance alerts and webhooks: endpoints, the outbox, signing, delivery (issue 14)."""
