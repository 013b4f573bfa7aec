"""Issue 11: the qualification pages. A requester creates a qualification, grants it by hand or by CSV and takes it
away, and sets who may work on a job; a worker sees a type with their score and gets an auto-granted one."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace import qualifications
from marketplace.models import APPROVAL_RATE_TYPE_ID, QualificationGrant, QualificationType
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


def test_a_requester_creates_grants_by_hand_and_by_csv_and_revokes(client, requester):
    client.force_login(requester)
    response = client.post(reverse("qualification_types"), {"name": "Medical coder", "description": "Certified."})
    qualification = QualificationType.objects.get(owner=requester)
    manage = reverse("qualification_manage", args=[qualification.public_id])
    assert response["Location"] == manage

    one, two = make_user(), make_user()
    client.post(manage, {"action": "grant", "worker_id": one.public_id, "value": "7"})
    upload = SimpleUploadedFile("grants.csv", f"worker_id,value\n{two.public_id},3\n".encode(), "text/csv")
    client.post(manage, {"action": "csv", "csv_file": upload})
    assert dict(QualificationGrant.objects.values_list("worker__public_id", "value")) == {
        one.public_id: 7,
        two.public_id: 3,
    }
    page = client.get(manage).content.decode()
    assert one.public_id in page
    assert "Workers who have it (2)" in page

    client.post(manage, {"action": "revoke", "worker_id": one.public_id})
    assert list(QualificationGrant.objects.values_list("worker__public_id", flat=True)) == [two.public_id]


def test_a_bad_grant_is_shown_next_to_the_form_and_changes_nothing(client, requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Q")
    client.force_login(requester)
    manage = reverse("qualification_manage", args=[qualification.public_id])
    response = client.post(manage, {"action": "grant", "worker_id": "ANOSUCHWORKER1", "value": "1"})
    assert response.status_code == 200
    assert "No such worker." in response.content.decode()
    upload = SimpleUploadedFile("grants.csv", b"worker_id\nnonsense\n", "text/csv")
    response = client.post(manage, {"action": "csv", "csv_file": upload})
    assert "is not a worker id" in response.content.decode()
    assert not QualificationGrant.objects.exists()


def test_another_requesters_qualification_is_not_found(client, requester):
    theirs = qualifications.qualification_type_create(owner=make_user(), name="Theirs")
    client.force_login(requester)
    assert client.get(reverse("qualification_manage", args=[theirs.public_id])).status_code == 404


def test_who_may_work_is_set_from_the_jobs_page(client, requester):
    custom = qualifications.qualification_type_create(owner=requester, name="Trusted")
    earlier = make_job(requester=requester, title="Earlier study")
    job = make_job(requester=requester)
    client.force_login(requester)
    url = reverse("job_worker_rules", args=[job.public_id])
    assert "Earlier study" in client.get(url).content.decode()
    data = {
        "requirement-TOTAL_FORMS": "3",
        "requirement-INITIAL_FORMS": "0",
        "requirement-0-qualification_type_id": APPROVAL_RATE_TYPE_ID,
        "requirement-0-comparator": "GreaterThanOrEqualTo",
        "requirement-0-integer_values": "95",
        "requirement-0-actions_guarded": "Accept",
        "requirement-1-qualification_type_id": custom.public_id,
        "requirement-1-comparator": "In",
        "requirement-1-integer_values": "1, 2",
        "requirement-1-actions_guarded": "DiscoverPreviewAndAccept",
        "requirement-2-qualification_type_id": "",
        "requirement-2-comparator": "Exists",
        "requirement-2-actions_guarded": "Accept",
        "excluded_job_ids": [earlier.public_id],
        "max_tasks_per_worker": "5",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    job.refresh_from_db()
    assert job.qualification_requirements == [
        {
            "qualification_type_id": APPROVAL_RATE_TYPE_ID,
            "comparator": "GreaterThanOrEqualTo",
            "integer_values": [95],
            "actions_guarded": "Accept",
        },
        {
            "qualification_type_id": custom.public_id,
            "comparator": "In",
            "integer_values": [1, 2],
            "actions_guarded": "DiscoverPreviewAndAccept",
        },
    ]
    assert job.hides_from_unqualified
    assert list(job.excluded_jobs.all()) == [earlier]
    assert job.max_tasks_per_worker == 5

    data["requirement-0-integer_values"] = "ninety"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Give whole numbers" in response.content.decode()
    data["requirement-0-integer_values"] = "1, 2"  # GreaterThanOrEqualTo takes one value: the service says so
    response = client.post(url, data)
    assert "takes exactly one value" in response.content.decode()
    job.refresh_from_db()
    assert job.qualification_requirements[0]["integer_values"] == [95]


def test_a_worker_sees_their_score_and_gets_an_auto_granted_qualification(client, requester, worker):
    qualification = qualifications.qualification_type_create(owner=requester, name="Read the rules", auto_grant_value=1)
    client.force_login(worker)
    detail = reverse("qualification_detail", args=[qualification.public_id])
    assert "Get this qualification" in client.get(detail).content.decode()
    client.post(reverse("qualification_request", args=[qualification.public_id]))
    assert "with the score <strong>1</strong>" in client.get(detail).content.decode()
    mine = client.get(reverse("my_qualifications")).content.decode()
    assert "Read the rules" in mine
    assert "Approval rate (%)" in mine


def test_a_requester_sees_a_workers_profile_and_blocks_or_grants_from_it(client, requester, worker):
    from marketplace.models import WorkerBlock
    from tests.factories import make_submitted_assignment

    qualification = qualifications.qualification_type_create(owner=requester, name="Reliable")
    make_submitted_assignment(job=make_job(requester=requester), worker=worker)
    client.force_login(requester)
    profile = reverse("worker_profile", args=[worker.public_id])
    page = client.get(profile).content.decode()
    assert worker.public_id in page
    assert "1 submitted, 0 approved, 0 rejected" in page
    client.post(
        reverse("qualification_manage", args=[qualification.public_id]),
        {"action": "grant", "worker_id": worker.public_id, "value": "1"},
    )
    assert "Reliable" in client.get(profile).content.decode()
    client.post(reverse("worker_block", args=[worker.public_id]), {"reason": "Spam.", "next": profile})
    assert WorkerBlock.objects.filter(requester=requester, worker=worker).exists()
    assert "You blocked this worker" in client.get(profile).content.decode()
    assert client.get(reverse("worker_profile", args=["ANOSUCHWORKER1"])).status_code == 404


def test_who_may_work_saves_again_unchanged_and_keeps_exclusions_it_does_not_list(client, requester, settings):
    from marketplace.services import job_set_worker_rules
    from web import qualification_views

    old_study = make_job(requester=requester, title="The oldest study")
    job = make_job(requester=requester)
    job_set_worker_rules(
        job=job,
        actor=requester,
        requirements=[
            {
                "qualification_type_id": APPROVAL_RATE_TYPE_ID,
                "comparator": "In",
                "integer_values": [95, 96],
                "actions_guarded": "Accept",
            }
        ],
        excluded_job_ids=[old_study.public_id],
    )
    qualification_views.OTHER_JOBS_SHOWN = 0  # the excluded study is not among the recent jobs listed
    try:
        client.force_login(requester)
        url = reverse("job_worker_rules", args=[job.public_id])
        page = client.get(url).content.decode()
        assert 'value="95, 96"' in page
        data = {
            "requirement-TOTAL_FORMS": "1",
            "requirement-INITIAL_FORMS": "1",
            "requirement-0-qualification_type_id": APPROVAL_RATE_TYPE_ID,
            "requirement-0-comparator": "In",
            "requirement-0-integer_values": "95, 96",
            "requirement-0-actions_guarded": "Accept",
            "excluded_job_ids": [old_study.public_id],
        }
        assert client.post(url, data).status_code == 302
    finally:
        qualification_views.OTHER_JOBS_SHOWN = 100
    job.refresh_from_db()
    assert list(job.excluded_jobs.all()) == [old_study]
    data["max_tasks_per_worker"] = "99999999999"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "less than or equal to" in response.content.decode()


def test_a_visitor_is_asked_to_log_in_not_told_they_do_not_qualify(client, requester):
    from marketplace.services import job_set_worker_rules

    job = make_job(requester=requester)
    job_set_worker_rules(
        job=job,
        actor=requester,
        requirements=[
            {
                "qualification_type_id": APPROVAL_RATE_TYPE_ID,
                "comparator": "GreaterThan",
                "integer_values": [90],
                "actions_guarded": "Accept",
            }
        ],
    )
    page = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert "log in</a> to see whether you qualify" in page
    assert "You don't qualify" not in page
    assert client.get(reverse("board")).status_code == 200


def test_text_that_is_not_text_is_refused_not_a_500(client, requester, worker):
    from marketplace.models import WorkerBlock

    client.force_login(requester)
    response = client.post(reverse("worker_block", args=[worker.public_id]), {"reason": "bad\x00reason"})
    assert response.status_code == 302
    assert not WorkerBlock.objects.exists()


def test_a_workers_profile_is_only_for_requesters_they_have_to_do_with(client, requester, worker):
    client.force_login(requester)
    assert client.get(reverse("worker_profile", args=[worker.public_id])).status_code == 404
