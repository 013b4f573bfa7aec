"""Issue 11, qualifications: custom types and grants, requirements with Mechanical Turk's comparators and guarded
actions, exclusions of earlier jobs' workers and a cap on tasks per worker, checked at the claim and shown on pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from marketplace import qualifications
from marketplace.models import (
    ACCOUNT_AGE_TYPE_ID,
    APPROVAL_RATE_TYPE_ID,
    APPROVED_COUNT_TYPE_ID,
    PAYOUT_DESTINATION_TYPE_ID,
    QualificationGrant,
    WorkerStats,
)
from marketplace.qualifications import Guard, QualificationNotGranted
from marketplace.services import job_set_worker_rules
from tasks import eligibility
from tasks.eligibility import NotQualified
from tasks.models import Assignment
from tasks.services import assignment_claim, assignment_return, assignment_submit
from tests.factories import answer_data, make_job, make_user, set_payout_destination

pytestmark = pytest.mark.django_db


def requirement(type_id, comparator, values=(), guard=Guard.ACCEPT) -> dict:
    return {
        "qualification_type_id": type_id,
        "comparator": comparator,
        "integer_values": list(values),
        "actions_guarded": guard,
    }


def set_stats(worker, *, approved: int, rejected: int) -> None:
    reviewed = approved + rejected
    WorkerStats.objects.update_or_create(
        worker=worker,
        defaults={
            "approved_count": approved,
            "rejected_count": rejected,
            "approval_percent": approved * 100 // reviewed if reviewed else None,
            "refreshed_at": timezone.now(),
        },
    )


# Comparators: each on both sides of its boundary -----------------------------------------------------------------

COMPARATOR_CASES = [
    # comparator, values, a value that meets it, a value that does not
    ("LessThan", [95], 94, 95),
    ("LessThanOrEqualTo", [95], 95, 96),
    ("GreaterThan", [95], 96, 95),
    ("GreaterThanOrEqualTo", [95], 95, 94),
    ("EqualTo", [95], 95, 94),
    ("NotEqualTo", [95], 96, 95),
    ("In", [90, 95], 95, 96),
    ("NotIn", [90, 95], 96, 95),
    ("Exists", [], 0, None),
    ("DoesNotExist", [], None, 0),
]


@pytest.mark.parametrize(("comparator", "values", "meets", "misses"), COMPARATOR_CASES)
def test_each_comparator_on_both_sides_of_its_boundary(comparator, values, meets, misses):
    rule = requirement("T" * 30, comparator, values)
    has = {} if meets is None else {"T" * 30: meets}
    has_not = {} if misses is None else {"T" * 30: misses}
    assert qualifications.requirement_met(rule, has)
    assert not qualifications.requirement_met(rule, has_not)


@pytest.mark.parametrize("comparator", ["LessThan", "NotEqualTo", "NotIn"])
def test_a_worker_without_the_qualification_misses_every_comparator_but_does_not_exist(comparator):
    assert not qualifications.requirement_met(requirement("T" * 30, comparator, [5]), {})


@pytest.mark.parametrize(("approved", "rejected", "may"), [(95, 5, True), (94, 6, False)])
def test_the_claim_applies_the_approval_rate_on_both_sides_of_the_boundary(requester, approved, rejected, may):
    job = make_job(requester=requester)
    job_set_worker_rules(
        job=job, actor=requester, requirements=[requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95])]
    )
    worker = make_user()
    set_stats(worker, approved=approved, rejected=rejected)
    if may:
        assert assignment_claim(job=job, worker=worker).worker == worker
    else:
        with pytest.raises(NotQualified, match="your approval rate is 94% and this job asks at least 95%"):
            assignment_claim(job=job, worker=worker)


def test_system_values_of_a_worker():
    worker = make_user()
    worker.date_joined = timezone.now() - timedelta(days=40, hours=1)
    worker.save(update_fields=["date_joined"])
    assert qualifications.worker_values(worker) == {APPROVED_COUNT_TYPE_ID: 0, ACCOUNT_AGE_TYPE_ID: 40}
    set_stats(worker, approved=9, rejected=1)
    set_payout_destination(worker, "worker@example.com")
    assert qualifications.worker_values(worker) == {
        APPROVED_COUNT_TYPE_ID: 9,
        APPROVAL_RATE_TYPE_ID: 90,
        ACCOUNT_AGE_TYPE_ID: 40,
        PAYOUT_DESTINATION_TYPE_ID: 1,
    }


# Custom types and grants ------------------------------------------------------------------------------------------


def test_custom_type_grant_revoke_and_csv(requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Native French speaker")
    one, two, three = make_user(), make_user(), make_user()
    qualifications.qualification_grant(qualification=qualification, actor=requester, worker_id=one.public_id, value=80)
    assert qualifications.worker_values(one)[qualification.public_id] == 80
    granted = qualifications.qualification_grants_from_csv(
        qualification=qualification,
        actor=requester,
        csv_text=f"worker_id,value\n{one.public_id},90\n{two.public_id},70\n{three.public_id}\n",
    )
    assert granted == 3
    scores = dict(QualificationGrant.objects.values_list("worker__public_id", "value"))
    assert scores == {one.public_id: 90, two.public_id: 70, three.public_id: 1}
    assert qualifications.qualification_revoke(qualification=qualification, actor=requester, worker_id=two.public_id)
    assert qualification.public_id not in qualifications.worker_values(two)


def test_a_bad_csv_row_grants_nothing(requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Checked")
    worker = make_user()
    too_long_field = f'{worker.public_id},"{"9" * 200_000}"\n'
    for text in (
        f"{worker.public_id},90\nnot-a-worker,1\n",
        f"{worker.public_id},ninety\n",
        "",
        "A" + "B" * 13,
        too_long_field,
    ):
        with pytest.raises((InvalidInput, NotFound)):
            qualifications.qualification_grants_from_csv(qualification=qualification, actor=requester, csv_text=text)
    assert not QualificationGrant.objects.exists()


def test_only_the_owner_grants_and_names_are_unique_per_owner(requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Mine")
    stranger, worker = make_user(), make_user()
    with pytest.raises(NotFound):
        qualifications.qualification_grant(
            qualification=qualification, actor=stranger, worker_id=worker.public_id, value=1
        )
    with pytest.raises(InvalidInput):
        qualifications.qualification_type_create(owner=requester, name="Mine")
    qualifications.qualification_type_create(owner=stranger, name="Mine")  # another requester's is fine
    with pytest.raises(InvalidInput):
        qualifications.qualification_type_create(owner=requester, name=" ")


def test_auto_granted_qualification_is_given_on_request(requester, worker):
    qualification = qualifications.qualification_type_create(owner=requester, name="Agreed", auto_grant_value=1)
    closed = qualifications.qualification_type_create(owner=requester, name="By hand only")
    assert qualifications.qualification_request(qualification=qualification, worker=worker).value == 1
    assert qualifications.qualification_request(qualification=qualification, worker=worker).value == 1
    with pytest.raises(QualificationNotGranted):
        qualifications.qualification_request(qualification=closed, worker=worker)


def test_a_type_a_live_job_requires_cannot_be_deleted(requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Needed")
    job = make_job(requester=requester)
    job_set_worker_rules(job=job, actor=requester, requirements=[requirement(qualification.public_id, "Exists")])
    with pytest.raises(InvalidInput, match="requires this qualification"):
        qualifications.qualification_type_delete(qualification=qualification, actor=requester)


# Requirements on a job --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        requirement("NOSUCHTYPE", "Exists"),
        requirement(APPROVAL_RATE_TYPE_ID, "Around", [5]),
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThan", []),
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThan", [1, 2]),
        requirement(APPROVAL_RATE_TYPE_ID, "Exists", [1]),
        requirement(APPROVAL_RATE_TYPE_ID, "In", list(range(16))),
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThan", ["95"]),
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThan", [True]),
        requirement(APPROVAL_RATE_TYPE_ID, "GreaterThan", [95], guard="Everything"),
    ],
)
def test_bad_requirements_are_refused_and_change_nothing(requester, bad):
    job = make_job(requester=requester)
    with pytest.raises(InvalidInput):
        job_set_worker_rules(job=job, actor=requester, requirements=[bad])
    job.refresh_from_db()
    assert job.qualification_requirements == []


def test_another_requesters_custom_type_cannot_be_required(requester):
    theirs = qualifications.qualification_type_create(owner=make_user(), name="Theirs")
    with pytest.raises(InvalidInput, match="no such qualification type"):
        job_set_worker_rules(
            job=make_job(requester=requester), actor=requester, requirements=[requirement(theirs.public_id, "Exists")]
        )


def test_what_a_requirement_guards_board_preview_or_accept(client, requester):
    custom = qualifications.qualification_type_create(owner=requester, name="Trained annotator")
    jobs = {}
    for guard in (Guard.ACCEPT, Guard.PREVIEW_AND_ACCEPT, Guard.DISCOVER_PREVIEW_AND_ACCEPT):
        job = make_job(requester=requester, title=f"Guarded {guard}")
        job_set_worker_rules(
            job=job, actor=requester, requirements=[requirement(custom.public_id, "Exists", guard=guard)]
        )
        jobs[guard] = job
    worker = make_user()
    client.force_login(worker)
    board = client.get(reverse("board")).content.decode()
    assert "Guarded Accept" in board
    assert "Guarded PreviewAndAccept" in board
    assert "Guarded DiscoverPreviewAndAccept" not in board

    accept_only = jobs[Guard.ACCEPT]
    assert client.get(reverse("job_task_preview", args=[accept_only.public_id])).status_code == 200
    page = client.get(reverse("job_detail", args=[jobs[Guard.PREVIEW_AND_ACCEPT].public_id])).content.decode()
    assert "you do not have the qualification “Trained annotator” this job asks for" in page
    assert client.get(reverse("job_task_preview", args=[jobs[Guard.PREVIEW_AND_ACCEPT].public_id])).status_code == 403
    for job in jobs.values():
        with pytest.raises(NotQualified):
            assignment_claim(job=job, worker=worker)

    qualifications.qualification_grant(qualification=custom, actor=requester, worker_id=worker.public_id, value=1)
    board = client.get(reverse("board")).content.decode()
    assert "Guarded DiscoverPreviewAndAccept" in board
    for job in jobs.values():
        assert assignment_claim(job=job, worker=worker).job == job


def test_a_visitor_does_not_see_jobs_hidden_from_the_unqualified(client, requester):
    job = make_job(requester=requester, title="Only for veterans")
    job_set_worker_rules(
        job=job,
        actor=requester,
        requirements=[
            requirement(APPROVED_COUNT_TYPE_ID, "GreaterThan", [100], guard=Guard.DISCOVER_PREVIEW_AND_ACCEPT)
        ],
    )
    assert "Only for veterans" not in client.get(reverse("board")).content.decode()
    client.force_login(requester)  # its requester always sees it
    assert "Only for veterans" in client.get(reverse("board")).content.decode()


def test_board_says_who_qualifies_and_filters_qualified_only(client, requester):
    strict = make_job(requester=requester, title="Strict job")
    job_set_worker_rules(
        job=strict, actor=requester, requirements=[requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [95])]
    )
    make_job(requester=requester, title="Open job")
    worker = make_user()
    set_stats(worker, approved=93, rejected=7)
    client.force_login(worker)
    board = client.get(reverse("board")).content.decode()
    assert "your approval rate is 93% and this job asks at least 95%" in board
    qualified_only = client.get(reverse("board"), {"qualified": "on"}).content.decode()
    assert "Open job" in qualified_only
    assert "Strict job" not in qualified_only
    set_stats(worker, approved=95, rejected=5)
    board = client.get(reverse("board"), {"qualified": "on"}).content.decode()
    assert "Strict job" in board
    assert "You qualify" in board


def test_the_claim_stays_within_its_query_budget_with_five_requirements(requester, django_assert_num_queries):
    from tests.tasks.test_query_counts import CLAIM

    customs = [qualifications.qualification_type_create(owner=requester, name=f"Q{n}") for n in range(2)]
    job = make_job(requester=requester, tasks=5)
    job_set_worker_rules(
        job=job,
        actor=requester,
        requirements=[
            requirement(APPROVAL_RATE_TYPE_ID, "GreaterThanOrEqualTo", [90]),
            requirement(APPROVED_COUNT_TYPE_ID, "GreaterThan", [10]),
            requirement(ACCOUNT_AGE_TYPE_ID, "GreaterThanOrEqualTo", [0]),
            requirement(customs[0].public_id, "In", [1, 2, 3]),
            requirement(customs[1].public_id, "DoesNotExist"),
        ],
        excluded_job_ids=[make_job(requester=requester).public_id],
        max_tasks_per_worker=3,
    )
    worker = make_user()
    set_stats(worker, approved=50, rejected=1)
    qualifications.qualification_grant(qualification=customs[0], actor=requester, worker_id=worker.public_id, value=2)
    with django_assert_num_queries(CLAIM):
        assignment_claim(job=job, worker=worker)


# Exclusions and the cap -------------------------------------------------------------------------------------------


def test_workers_of_an_excluded_job_cannot_take_the_next_study(client, requester):
    first_study = make_job(requester=requester, title="Study 1")
    second_study = make_job(requester=requester, title="Study 2")
    job_set_worker_rules(job=second_study, actor=requester, requirements=[], excluded_job_ids=[first_study.public_id])
    veteran, newcomer = make_user(), make_user()
    assignment_return(assignment=assignment_claim(job=first_study, worker=veteran), worker=veteran)
    with pytest.raises(NotQualified, match="you took part in an earlier job this one excludes"):
        assignment_claim(job=second_study, worker=veteran)
    assert assignment_claim(job=second_study, worker=newcomer).job == second_study
    client.force_login(veteran)
    assert "Study 2" not in client.get(reverse("board"), {"qualified": "on"}).content.decode()
    board = client.get(reverse("board")).content.decode()
    assert "Study 2" in board
    assert "you took part in an earlier job this one excludes" in board
    assert (
        "you took part in an earlier job"
        in client.get(reverse("job_detail", args=[second_study.public_id])).content.decode()
    )


def test_exclusions_name_only_the_requesters_own_other_jobs(requester):
    job = make_job(requester=requester)
    for bad in ([job.public_id], [make_job().public_id], ["nonsense"]):
        with pytest.raises(InvalidInput):
            job_set_worker_rules(job=job, actor=requester, requirements=[], excluded_job_ids=bad)


def test_the_cap_on_tasks_per_worker(requester):
    job = make_job(requester=requester, tasks=5)
    job_set_worker_rules(job=job, actor=requester, requirements=[], max_tasks_per_worker=2)
    worker = make_user()
    returned = assignment_claim(job=job, worker=worker)
    assignment_return(assignment=returned, worker=worker)  # a returned task does not count
    for _ in range(2):
        done = assignment_claim(job=job, worker=worker)
        assignment_submit(assignment=done, worker=worker, data=answer_data())
    with pytest.raises(NotQualified, match="you already did the 2 tasks this job allows each worker"):
        assignment_claim(job=job, worker=worker)
    job.refresh_from_db()
    access = eligibility.job_access(job=job, worker=worker)
    assert not access.may_accept
    assert assignment_claim(job=job, worker=make_user()).job == job
    for bad in (0, -1, True, "2"):
        with pytest.raises(InvalidInput):
            job_set_worker_rules(job=job, actor=requester, requirements=[], max_tasks_per_worker=bad)


def test_the_boards_queries_do_not_grow_with_requirements(client, requester):
    from tests.marketplace.test_query_counts import BOARD_LOGGED_IN
    from tests.tasks.test_query_counts import queries_of

    custom = qualifications.qualification_type_create(owner=requester, name="Needed")
    worker = make_user()
    client.force_login(worker)

    def add_jobs(count):
        for n in range(count):
            job = make_job(requester=requester, tasks=1)
            job_set_worker_rules(
                job=job,
                actor=requester,
                requirements=[
                    requirement(custom.public_id, "Exists"),
                    requirement(APPROVAL_RATE_TYPE_ID, "GreaterThan", [90], guard=Guard.DISCOVER_PREVIEW_AND_ACCEPT)
                    if n % 2
                    else requirement(ACCOUNT_AGE_TYPE_ID, "GreaterThan", [-1]),
                ],
            )

    add_jobs(2)
    few = queries_of(lambda: client.get(reverse("board")))
    add_jobs(30)
    assert queries_of(lambda: client.get(reverse("board"))) == few
    # The names of the custom types the worker misses, read once for the page.
    assert few == BOARD_LOGGED_IN + 1


def test_a_qualification_with_a_test_is_granted_by_the_test_only(requester, worker):
    from marketplace.qualification_tests import qualification_test_set

    qualification = qualifications.qualification_type_create(owner=requester, name="Tested")
    qualification_test_set(
        qualification=qualification,
        actor=requester,
        csv_text="question,options,answer\nTwo and two?,3|4,4\n",
        retry_delay_seconds=0,
    )
    with pytest.raises(InvalidInput, match="granted by its test"):
        qualifications.qualification_type_update(
            qualification=qualification, actor=requester, name="Tested", description="", auto_grant_value=1
        )
    qualification.auto_grant_value = 1  # as if set before the test: asking still does not grant it
    qualification.save(update_fields=["auto_grant_value"])
    with pytest.raises(QualificationNotGranted, match="take the test"):
        qualifications.qualification_request(qualification=qualification, worker=worker)


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_cannot_get_round_an_exclusion_or_a_cap():
    """Each claim reads the worker's earlier work after it holds their row lock, so the one that waited sees the
    assignment the other just made."""
    from tests.concurrency import raised, run_in_threads

    requester = make_user()
    study_a, study_b = make_job(requester=requester, tasks=6), make_job(requester=requester, tasks=6)
    job_set_worker_rules(job=study_a, actor=requester, requirements=[], excluded_job_ids=[study_b.public_id])
    job_set_worker_rules(job=study_b, actor=requester, requirements=[], excluded_job_ids=[study_a.public_id])
    capped = make_job(requester=requester, tasks=5)
    job_set_worker_rules(job=capped, actor=requester, requirements=[], max_tasks_per_worker=1)
    for _ in range(5):
        worker = make_user()
        results = run_in_threads(
            2, lambda index, worker=worker: assignment_claim(job=[study_a, study_b][index], worker=worker)
        )
        assert len(raised(results)) == 1, results
        assert isinstance(raised(results)[0], NotQualified)
        assert Assignment.objects.filter(worker=worker).count() == 1
        # Two clicks at once on a job with a cap of one: both get the same task.
        taken = run_in_threads(2, lambda index, worker=worker: assignment_claim(job=capped, worker=worker))
        assert not raised(taken), taken
        assert taken[0].pk == taken[1].pk
