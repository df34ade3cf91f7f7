"""drawdown: a self-hostable prepaid-credits ledger, wire-compatible with Orb's credits API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("drawdown")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
