"""Errors of the ledger core: one class per broken rule.

Every error carries the request ``field`` it concerns, a human ``message`` and a ``kind`` that
the HTTP layer maps to Orb's error types (validation -> 400 request-validation, constraint ->
400 constraint-violation, not_found -> 404 resource-not-found). The core knows nothing about HTTP.
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal["validation", "constraint", "not_found"]


class LedgerError(Exception):
    """Base class: a request broke a rule of the credits ledger."""

    kind: ClassVar[ErrorKind] = "validation"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(field={self.field!r}, message={self.message!r})"


# --- request validation (400 request-validation) -------------------------------------------


class InvalidAmount(LedgerError):
    """A number field is not an exact decimal within the stored precision (docs/rules.md §1.6)."""


class InvalidDate(LedgerError):
    """A date or datetime field is not one of the accepted forms (docs/rules.md §1.6)."""


class AmountNotPositive(LedgerError):
    """An entry amount is zero or negative (R-INC-3, §3.5)."""


class ExpiryNotAfterEffective(LedgerError):
    """An increment's expiry_date is not after its effective_date (R-INC-3)."""


class CostBasisNegative(LedgerError):
    """per_unit_cost_basis is below zero (R-INC-3)."""


# --- business rules (400 constraint-violation) ---------------------------------------------


class BlockInOtherLedger(LedgerError):
    """The block belongs to another currency than the ledger named by the request (R-CUR-4)."""

    kind = "constraint"


class VoidExceedsBlock(LedgerError):
    """A void asks for more than the block's ceiling minus what was already voided (R-VOID-1)."""

    kind = "constraint"


class AmendmentExceedsCeiling(LedgerError):
    """An amendment would raise the block balance above its ceiling (R-AMD-2)."""

    kind = "constraint"


class AmendmentOnExpiredBlock(LedgerError):
    """Expired blocks cannot be amended (R-AMD-2)."""

    kind = "constraint"


class ExpirationChangeExceedsBalance(LedgerError):
    """An expiration change moves more than the source block holds (R-EXP-3)."""

    kind = "constraint"


class SourceBlockExpired(LedgerError):
    """The source block of an expiration change has already expired (R-EXP-3)."""

    kind = "constraint"


class TargetExpiryNotAfterEffective(LedgerError):
    """target_expiry_date is not after the source block's effective_date (R-EXP-4)."""

    kind = "constraint"


class NoBlockWithExpiry(LedgerError):
    """No block with a positive balance has the given expiry_date (R-EXP-2)."""

    kind = "constraint"


class AmbiguousBlockExpiry(LedgerError):
    """Several blocks with a positive balance share the given expiry_date (R-EXP-2)."""

    kind = "constraint"


class NotPendingPayment(LedgerError):
    """Activation of a block that is not pending_payment (R-INV-5)."""

    kind = "constraint"


# --- lookups (404 resource-not-found) ------------------------------------------------------


class BlockNotFound(LedgerError):
    """The named credit block does not exist in the ledger state (R-CUR-4)."""

    kind = "not_found"
