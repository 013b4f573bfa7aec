"""Errors of jobs. The base classes are in core.errors."""

from core.errors import DomainError


class JobNotOpen(DomainError):
    code = "job_not_published"
