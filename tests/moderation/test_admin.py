"""The moderators' admin: Moderators (staff in the group, not superusers) see users, jobs, reports and the audit log,
act only through the actions (each asks for a reason and calls a service), and can do nothing a superuser does."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.events import Actor, record_event
from core.models import ActorKind, Event
from marketplace.models import JobStatus, User
from marketplace.services import job_close
from moderation.models import Report, ReportReason, ReportStatus
from moderation.services import report_file, report_resolve, user_ban
from payments.ledger import ledger_check
from tasks.disputes import dispute_open
from tasks.models import RejectionReason
from tasks.services import assignment_claim, assignment_review
from tests.factories import give_earnings, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db

USERS = "/admin/marketplace/user/"
JOBS = "/admin/marketplace/job/"
REPORTS = "/admin/moderation/report/"
EVENTS = "/admin/core/event/"


def moderator_permissions() -> set[str]:
    group = Group.objects.get(name="Moderators")
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


# Permissions ----------------------------------------------------------------------------------------------------


def test_the_moderators_group_has_what_the_screens_need():
    assert {
        "marketplace.view_user",
        "marketplace.view_job",
        "marketplace.change_job",
        "moderation.view_report",
        "moderation.change_report",
        "moderation.ban_user",
        "core.view_event",
        "tasks.view_assignment",
        "payments.view_payout",
        "payments.view_account",
        "payments.view_ledgertransaction",
        "mturk.view_mturkcredential",
    } <= moderator_permissions()


def test_the_moderators_group_cannot_add_delete_edit_people_or_money_or_manage_rights():
    held = moderator_permissions()

    assert not {p for p in held if p.split(".")[1].startswith(("add_", "delete_"))}
    assert not {p for p in held if p.split(".")[0] in {"auth", "contenttypes", "sessions", "admin"}}
    assert not held & {
        "marketplace.change_user",
        "core.change_event",
        "payments.change_account",
        "payments.change_ledgertransaction",
        "payments.change_ledgerentry",
    }


def test_a_worker_without_the_group_cannot_open_the_admin(client, worker):
    client.force_login(worker)

    for url in ("/admin/", USERS, REPORTS, EVENTS):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_a_moderator_cannot_open_superuser_pages(moderator_client, worker, superuser):
    job = make_job()
    for url in (
        "/admin/auth/group/",
        "/admin/auth/group/add/",
        f"{USERS}add/",
        f"{USERS}{superuser.pk}/password/",
        f"{USERS}{worker.pk}/delete/",
        f"{JOBS}{job.pk}/delete/",
    ):
        assert moderator_client.get(url).status_code == 403, url


def test_a_moderator_cannot_edit_a_user_or_make_anyone_a_superuser(moderator_client, moderator, worker):
    url = f"{USERS}{worker.pk}/change/"
    page = moderator_client.get(url)
    assert page.status_code == 200  # to look at
    assert "Reset password" not in page.content.decode()  # a link to a page they may not open

    response = moderator_client.post(url, {"username": worker.username, "is_superuser": "on", "is_staff": "on"})

    assert response.status_code == 403
    worker.refresh_from_db()
    assert not worker.is_superuser
    assert not worker.is_staff


def test_a_moderator_cannot_delete_with_the_changelists_delete_action(moderator_client, worker, moderator):
    report = report_file(reporter=worker, user=make_user(), reason=ReportReason.SPAM)

    moderator_client.post(REPORTS, {"action": "delete_selected", "_selected_action": [report.pk], "post": "yes"})
    moderator_client.post(USERS, {"action": "delete_selected", "_selected_action": [worker.pk], "post": "yes"})

    assert Report.objects.filter(pk=report.pk).exists()
    assert User.objects.filter(pk=worker.pk).exists()


# The audit log --------------------------------------------------------------------------------------------------


def test_the_audit_log_is_searchable_by_actor_subject_and_type(moderator_client, moderator, worker):
    job = make_job(title="A watched job")
    record_event(type="job.hidden", actor=Actor.moderator(moderator), subject=("job", job.public_id), data={})
    record_event(type="user.banned", actor=Actor.moderator(moderator), subject=("user", worker.public_id), data={})

    def found(query: str) -> set[str]:
        changelist = moderator_client.get(EVENTS, {"q": query}).context["cl"]
        return {event.type for event in changelist.result_list}

    assert found(job.public_id) == {"job.created", "job.published", "job.hidden"}
    assert found(worker.public_id) == {"user.banned"}
    assert found(moderator.username) == {"job.hidden", "user.banned"}
    assert found(moderator.public_id) == {"job.hidden", "user.banned"}
    assert found("job.hidden") == {"job.hidden"}


@pytest.mark.parametrize("who", ["moderator", "superuser"])
def test_nobody_adds_changes_or_deletes_an_event(client, who, request):
    client.force_login(request.getfixturevalue(who))
    make_job()
    event = Event.objects.filter(type="job.published").get()
    url = f"{EVENTS}{event.pk}/change/"

    assert client.get(url).status_code == 200
    assert client.post(url, {"type": "job.closed"}).status_code == 403
    assert client.get(f"{EVENTS}add/").status_code == 403
    assert client.post(f"{EVENTS}{event.pk}/delete/", {"post": "yes"}).status_code == 403
    client.post(EVENTS, {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"})
    assert Event.objects.get(pk=event.pk).type == "job.published"


# Users ----------------------------------------------------------------------------------------------------------


def test_a_moderator_finds_users_by_username_email_or_worker_id(moderator_client):
    alice = make_user("alice_lovelace")
    make_user("bob_builder")

    for query in ("alice_lov", "alice_lovelace@example.com", alice.public_id):
        page = moderator_client.get(USERS, {"q": query}).content.decode()
        assert "alice_lovelace" in page
        assert "bob_builder" not in page


def test_a_users_page_shows_their_jobs_work_balances_and_reports(moderator_client, worker):
    requester = make_user("busy_requester")
    job = make_job(requester=requester, title="Label some birds")
    give_earnings(requester, 3_000)
    report_file(reporter=worker, job=job, reason=ReportReason.SCAM, text="Never pays")

    page = moderator_client.get(f"{USERS}{requester.pk}/change/").content.decode()

    assert "Label some birds" in page  # their job
    assert "Worker earnings" in page
    assert "Requester balance" in page
    assert "Scam or unfair pay" in page  # the report about their job
    assert "Paid task" in page  # the assignment they did
    assert "Ban…" in page


def test_a_users_page_shows_their_disputes_as_worker_and_as_requester(moderator_client, worker, requester):
    job = make_job(requester=requester, title="Transcribe receipts")
    rejected = reject(job, worker=worker)
    dispute_open(assignment_id=rejected.public_id, worker=worker, message="I typed every line.")

    for user in (worker, requester):
        page = moderator_client.get(f"{USERS}{user.pk}/change/").content.decode()
        assert "Transcribe receipts" in page.split("<h2>Disputes</h2>")[1]


def test_a_moderator_bans_from_the_users_list_after_giving_a_reason(moderator_client, moderator, worker):
    assignment = assignment_claim(job=make_job(), worker=worker)
    form = {"action": "ban", "_selected_action": [worker.pk]}

    asks = moderator_client.post(USERS, form)
    assert asks.status_code == 200
    assert "Reason" in asks.content.decode()
    assert moderator_client.post(USERS, {**form, "apply": "Ban", "reason": ""}).status_code == 200
    worker.refresh_from_db()
    assert worker.banned_at is None

    response = moderator_client.post(USERS, {**form, "apply": "Ban", "reason": "Bot account"}, follow=True)

    assert "1 user(s) banned" in response.content.decode()
    worker.refresh_from_db()
    assignment.refresh_from_db()
    assert (worker.ban_reason, worker.is_active, assignment.status) == ("Bot account", False, "returned")
    event = Event.objects.get(type="user.banned")
    assert (event.actor_kind, event.actor_id) == (ActorKind.MODERATOR, moderator.pk)


def test_a_moderator_bans_unbans_and_decides_on_the_balance_from_a_users_page(moderator_client, worker):
    base = f"{USERS}{worker.pk}/moderate"
    give_earnings(worker, 4_000)

    moderator_client.post(f"{base}/ban/", {"apply": "Ban", "reason": "Copied answers"})
    worker.refresh_from_db()
    assert worker.ban_reason == "Copied answers"
    page = moderator_client.get(f"{USERS}{worker.pk}/change/").content.decode()
    assert "Lift the ban…" in page
    assert "Decide on the earned balance…" in page

    moderator_client.post(f"{base}/balance/", {"apply": "Save", "decision": "hold", "note": "Until appeal"})
    moderator_client.post(f"{base}/unban/", {"apply": "Unban", "reason": "Appeal accepted"})

    worker.refresh_from_db()
    assert worker.banned_at is None
    assert list(Event.objects.filter(subject_type="user").values_list("type", flat=True).order_by("id")) == [
        "user.banned",
        "user.balance_decided",
        "user.unbanned",
    ]


def test_a_superuser_cannot_switch_a_banned_account_back_on_by_hand(client, superuser, moderator, worker):
    user_ban(user=worker, moderator=moderator, reason="Bot account")
    client.force_login(superuser)
    url = f"{USERS}{worker.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "is_active"}
    data |= {"is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "_save": "Save"}

    response = client.post(url, {key: value for key, value in data.items() if not isinstance(value, list)})

    assert response.status_code == 302
    worker.refresh_from_db()
    assert (worker.is_active, worker.ban_reason) == (False, "Bot account")


def test_without_the_ban_permission_there_is_no_ban(client, worker):
    staff = make_user("helpdesk", is_staff=True)
    staff.user_permissions.add(*Group.objects.get(name="Moderators").permissions.exclude(codename="ban_user"))
    client.force_login(staff)

    assert client.post(f"{USERS}{worker.pk}/moderate/ban/", {"apply": "Ban", "reason": "x"}).status_code == 403
    client.post(USERS, {"action": "ban", "_selected_action": [worker.pk], "apply": "Ban", "reason": "x"})

    worker.refresh_from_db()
    assert worker.banned_at is None


# Jobs -----------------------------------------------------------------------------------------------------------


def test_a_moderator_filters_jobs_by_status_and_requester(moderator_client):
    alice, bob = make_user("alice_r"), make_user("bob_r")
    make_job(requester=alice, title="Alice's live job")
    job_close(job=make_job(requester=alice, title="Alice's old job"), actor=alice)
    make_job(requester=bob, title="Bob's job")

    page = moderator_client.get(JOBS, {"requester": "alice_r", "status__exact": "published"}).content.decode()
    by_worker_id = moderator_client.get(JOBS, {"requester": bob.public_id}).content.decode()

    assert "Alice&#x27;s live job" in page
    assert "Alice&#x27;s old job" not in page
    assert "Bob&#x27;s job" not in page
    assert "Bob&#x27;s job" in by_worker_id
    assert "Alice" not in by_worker_id


def test_a_moderator_hides_shows_and_force_closes_jobs_with_a_reason(moderator_client, moderator):
    job = make_job(tasks=3)
    selected = {"_selected_action": [job.pk]}

    moderator_client.post(JOBS, {**selected, "action": "hide", "apply": "Hide", "reason": "Spam"})
    job.refresh_from_db()
    assert job.hidden_reason == "Spam"
    moderator_client.post(f"{JOBS}{job.pk}/moderate/show/", {"apply": "Show", "reason": "Fixed"})
    job.refresh_from_db()
    assert job.hidden_at is None
    asks = moderator_client.post(JOBS, {**selected, "action": "force_close"})
    assert "Force-close" in asks.content.decode()
    moderator_client.post(JOBS, {**selected, "action": "force_close", "apply": "Close", "reason": "Scam"})

    job.refresh_from_db()
    assert job.status == JobStatus.CLOSED
    by_moderator = Event.objects.filter(actor=moderator, actor_kind=ActorKind.MODERATOR).order_by("id")
    assert list(by_moderator.values_list("type", flat=True)) == [
        "job.hidden",
        "job.shown",
        "job.closed",
        "job.force_closed",
    ]
    assert ledger_check() == []


def test_a_refused_action_says_why_for_each_job(moderator_client):
    draft = make_job(publish=False)

    response = moderator_client.post(
        JOBS, {"_selected_action": [draft.pk], "action": "force_close", "apply": "Close", "reason": "x"}, follow=True
    )

    assert "was never on the board" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == JobStatus.DRAFT


# Reports --------------------------------------------------------------------------------------------------------


def test_the_report_queue_lists_open_reports_oldest_first(moderator_client, moderator):
    reporter = make_user()
    reports = [
        report_file(reporter=reporter, user=make_user(f"reported{n}"), reason=ReportReason.SPAM) for n in range(3)
    ]
    report_resolve(report=reports[0], moderator=moderator, note="Done")

    page = moderator_client.get(REPORTS).content.decode()

    assert page.index("reported1") < page.index("reported2") < page.index("reported0")


def test_a_moderator_resolves_a_report_from_its_page_and_bans_the_reported_user(moderator_client, moderator):
    reported = make_user("spammer")
    report = report_file(reporter=make_user(), user=reported, reason=ReportReason.SPAM, text="Links everywhere")
    page = moderator_client.get(f"{REPORTS}{report.pk}/change/").content.decode()
    assert "Resolve…" in page
    assert "Links everywhere" in page

    moderator_client.post(
        f"{REPORTS}{report.pk}/moderate/resolve/", {"apply": "Resolve", "note": "Spam links", "ban_user": "on"}
    )

    report.refresh_from_db()
    reported.refresh_from_db()
    assert (report.status, report.resolved_by) == (ReportStatus.RESOLVED, moderator)
    assert reported.ban_reason == "Spam links"


# The front page -------------------------------------------------------------------------------------------------


def reject(job, worker=None):
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(
        assignment=assignment,
        reviewer=job.requester,
        approve=False,
        feedback="Wrong",
        rejection_reason=RejectionReason.INCOMPLETE,
    )


def approve(job):
    assignment = make_submitted_assignment(job=job)
    return assignment_review(assignment=assignment, reviewer=job.requester, approve=True)


def test_the_front_page_flags_requesters_who_reject_a_lot(settings, moderator_client):
    settings.MODERATION_FLAG_REJECTION_RATE = 0.5
    settings.MODERATION_FLAG_MIN_REVIEWS = 4
    harsh, fair, few = make_user("harsh_requester"), make_user("fair_requester"), make_user("few_reviews")
    for requester, rejections, approvals in ((harsh, 3, 1), (fair, 1, 3), (few, 2, 1)):
        job = make_job(requester=requester, tasks=rejections + approvals)
        for _ in range(rejections):
            reject(job)
        for _ in range(approvals):
            approve(job)

    page = moderator_client.get("/admin/").content.decode()

    assert "Requesters who reject a lot" in page
    assert "harsh_requester" in page
    assert "75%" in page
    assert "fair_requester" not in page
    assert "few_reviews" not in page


def test_the_front_page_shows_no_flags_to_staff_who_cannot_see_users(client):
    client.force_login(make_user("plain_staff", is_staff=True))

    assert "Requesters who reject a lot" not in client.get("/admin/").content.decode()


# Query counts ---------------------------------------------------------------------------------------------------


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize("url", [USERS, JOBS, REPORTS, EVENTS])
def test_changelists_take_the_same_queries_for_many_rows(moderator_client, url):
    def add_rows(count: int) -> None:
        for _ in range(count):
            job = make_job(tasks=1)
            report_file(reporter=make_user(), job=job, reason=ReportReason.SPAM)

    add_rows(2)
    few = queries_for(moderator_client, url)
    add_rows(25)
    many = queries_for(moderator_client, url)

    assert few == many
