from core.errors import DomainError, InvalidInput


class InsufficientFunds(DomainError):
    """`details["missing_msat"]` says how much is missing."""

    code = "insufficient_funds"
    status = 402


class LedgerError(Exception):
    """A programming error: an unbalanced or empty transaction. Never shown to users."""


class DepositInvalid(InvalidInput):
    pass


class PayoutDestinationInvalid(InvalidInput):
    code = "invalid_payout_destination"


class WithdrawRefused(DomainError):
    code = "withdraw_refused"


class LightningUnavailable(DomainError):
    code = "lightning_unavailable"
    status = 503


class PayoutStillInFlight(DomainError):
    code = "payout_in_flight"
