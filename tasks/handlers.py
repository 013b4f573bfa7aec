"""What the tasks app does when domain events happen (subscribed in TasksConfig.ready): run the quality pipeline on
each submission once it is committed, in the request that submitted it, so a rule's approval (and, on its commit,
the payout) follows within the same request. A pipeline that fails here is logged by core.events and run again by
the sweeper (tasks.background.check_missed_submissions)."""

from core.events import subscribe
from core.models import Event
from tasks import quality
from tasks.models import Assignment


def check_submission(event: Event) -> None:
    assignment_id = Assignment.objects.filter(public_id=event.subject_id).values_list("pk", flat=True).first()
    if assignment_id is not None:
        quality.submission_checked(assignment_id=assignment_id)


def connect() -> None:
    subscribe("assignment.submitted", check_submission)
