"""Usage-driven drawdown: the price catalogue, event ingestion and automatic deductions.

Events are accepted by `ingest`, priced with the catalogue (`catalogue`, versioned prices;
the pricing itself is the pure `ledger/usage.py`) and drawn from the customer's blocks by
`deduct`, through the one write path, once the grace period of their timestamps is over.
"""
