from marketplace import services as job_services
from tasks import services
from tasks.models import AssignmentStatus
from tests.factories import make_job, make_submitted_assignment, make_user


def test_loop(requester):
    job = make_job(requester=requester, tasks=2)
    a = make_submitted_assignment(job=job)
    services.assignment_review(assignment=a, reviewer=requester, approve=True)
    b = make_submitted_assignment(job=job)
    services.assignment_review(assignment=b, reviewer=requester, approve=False, feedback="bad")
    a.refresh_from_db(); b.refresh_from_db()
    assert a.status == AssignmentStatus.APPROVED
    assert b.status == AssignmentStatus.REJECTED
    job.refresh_from_db()
    assert job.open_slot_count == 1
    job_services.job_close(job=job, actor=requester)
