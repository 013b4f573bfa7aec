"""Domain errors. Views turn them into messages next to the form; the API turns `code` into its error body."""


class DomainError(Exception):
    code = "invalid"

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    """The object does not exist or is not the actor's to see: callers answer 404 and leak nothing."""

    code = "not_found"


class InvalidInput(DomainError):
    code = "validation_error"


class InvalidTransition(DomainError):
    code = "invalid_state"


class JobNotOpen(DomainError):
    code = "job_not_published"
