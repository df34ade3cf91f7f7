"""Billing: invoices for purchased credits, purchases (increments that invoice), top-ups.

`invoicing` is the low-level part every other module uses (terms, creation, voiding a
pending block); `invoices` holds the invoice use cases (E24-E28), `purchases` the
increment planner that invoices, and `top_ups` the auto-recharge use cases and firing.
"""
