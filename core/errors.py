"""Domain errors. Each says what went wrong in words a person can read (`message`), a stable `code` for programs,
and the HTTP status an interface answers it with (`status`), so the web pages and the APIs map them generically.

Views show `message` next to the form; the API turns `code`, `message` and `details` into its error body.
"""


class DomainError(Exception):
    """A refusal of the domain. Every other refusal is a conflict with the state things are in: 409."""

    code = "invalid"
    status = 409

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    """The object does not exist or is not the actor's to see: callers answer 404 and leak nothing."""

    code = "not_found"
    status = 404


class InvalidInput(DomainError):
    code = "validation_error"
    status = 400


class InvalidTransition(DomainError):
    code = "invalid_state"


class RateLimited(DomainError):
    """Too many of one action in too short a time (core/ratelimit.py). `retry_after_seconds` says when the next one
    will be accepted: the API sends it as a Retry-After header, the message says it in words."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_seconds: int, details: dict | None = None) -> None:
        super().__init__(message, details={**(details or {}), "retry_after_seconds": retry_after_seconds})
        self.retry_after_seconds = retry_after_seconds
