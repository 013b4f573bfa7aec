from core.errors import DomainError, InvalidInput


class NoTaskAvailable(DomainError):
    code = "no_task_available"


class OwnJob(DomainError):
    code = "own_job"


class AlreadySubmitted(DomainError):
    code = "already_submitted"


class AssignmentClosed(DomainError):
    code = "assignment_closed"


class DeadlinePassed(DomainError):
    code = "deadline_passed"


class AnswerInvalid(InvalidInput):
    """`details` maps each field name to its list of messages."""


class TaskCsvInvalid(InvalidInput):
    """`details` holds `row` and `column` where the problem is."""


class ReviewPeriodOver(DomainError):
    """A rejection after the submission's auto-approve time: the worker was promised approval by then."""

    code = "review_period_over"


class DisputeRefused(DomainError):
    code = "dispute_refused"
