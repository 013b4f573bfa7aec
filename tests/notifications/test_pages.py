"""The list (newest first, a page at a time; mark read, one or all; opening one) and the preferences page."""

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification, NotificationKind, NotificationPreference
from notifications.selectors import unread_count
from tasks.services import assignment_review
from tests.factories import make_job, make_submitted_assignment
from tests.html_parsing import visible_text
from tests.notifications.conftest import make_notifications, notifications_of

pytestmark = pytest.mark.django_db


# The list --------------------------------------------------------------------------------------------------------


def test_the_list_shows_the_newest_first_a_page_at_a_time_with_the_unread_marked(worker_client, worker):
    made = make_notifications(worker, 30)
    Notification.objects.filter(pk=made[-1].pk).update(read_at=timezone.now())
    make_notifications(worker, 1, in_app=False)

    first = worker_client.get(reverse("notification_list"))
    second = worker_client.get(reverse("notification_list"), {"page": 2})

    assert [n.title for n in first.context["page"].object_list] == [
        f"Notification number {n}" for n in range(29, 4, -1)
    ]
    assert [n.title for n in second.context["page"].object_list] == [
        f"Notification number {n}" for n in range(4, -1, -1)
    ]
    text = visible_text(first.content.decode())
    assert "Unread: Notification number 28" in text
    assert "Unread: Notification number 29" not in text  # read
    assert "Notification number 29" in text
    assert "29 unread." in text
    assert "Body of number 28." in text


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(worker_client, worker):
    [notification] = make_notifications(worker, 1, link="/wallet/payouts/")

    response = worker_client.get(reverse("notification_open", args=[notification.public_id]))

    assert response.status_code == 302
    assert response["Location"] == "/wallet/payouts/"
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert unread_count(user_id=worker.pk) == 0
    first_read = notification.read_at
    worker_client.get(reverse("notification_open", args=[notification.public_id]))
    notification.refresh_from_db()
    assert notification.read_at == first_read


def test_mark_read_is_a_post_that_comes_back_to_the_same_page(worker_client, worker):
    made = make_notifications(worker, 30)
    target = made[0]  # on page 2
    url = reverse("notification_mark_read", args=[target.public_id])

    assert worker_client.get(url).status_code == 405
    response = worker_client.post(url, {"page": "2"})

    assert response.status_code == 302
    assert response["Location"] == reverse("notification_list") + "?page=2"
    assert [n.pk for n in notifications_of(worker, read_at__isnull=False)] == [target.pk]


def test_mark_all_read(worker_client, worker, stranger):
    make_notifications(worker, 3)
    make_notifications(stranger, 2)

    response = worker_client.post(reverse("notifications_mark_all_read"), follow=True)

    assert "Marked 3 notifications read." in visible_text(response.content.decode())
    assert unread_count(user_id=worker.pk) == 0
    assert unread_count(user_id=stranger.pk) == 2
    assert "Mark all read" not in response.content.decode()


def test_another_users_notification_is_not_found(worker_client, stranger):
    [theirs] = make_notifications(stranger, 1)

    assert worker_client.get(reverse("notification_open", args=[theirs.public_id])).status_code == 404
    assert worker_client.post(reverse("notification_mark_read", args=[theirs.public_id])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_notification_hidden_from_the_site_cannot_be_opened(worker_client, worker):
    [emailed_only] = make_notifications(worker, 1, in_app=False)

    assert worker_client.get(reverse("notification_open", args=[emailed_only.public_id])).status_code == 404


def test_visitors_are_asked_to_log_in(client):
    for url in (reverse("notification_list"), reverse("notification_settings")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_a_real_notification_links_to_the_work_it_is_about(committed, worker_client, requester, worker):
    assignment = make_submitted_assignment(job=make_job(requester=requester, tasks=2), worker=worker)
    with committed():
        assignment_review(assignment=assignment, reviewer=requester, approve=True)
    [notification] = notifications_of(worker)

    page = worker_client.get(reverse("notification_list")).content.decode()
    opened = worker_client.get(reverse("notification_open", args=[notification.public_id]), follow=True)

    assert reverse("notification_open", args=[notification.public_id]) in page
    assert opened.redirect_chain == [(reverse("assignment_detail", args=[assignment.public_id]), 302)]
    assert opened.status_code == 200


# Preferences -----------------------------------------------------------------------------------------------------


def test_the_settings_page_lists_every_kind_with_both_boxes_on_by_default(worker_client):
    response = worker_client.get(reverse("notification_settings"))

    html = response.content.decode()
    for kind in NotificationKind:
        assert kind.label in visible_text(html).replace("&#x27;", "'")
        for channel in ("in_app", "email"):
            assert f'name="{kind.value}-{channel}" id="id_{kind.value}-{channel}" checked' in html
    assert "Work approved: by email" in html  # each box's label


def test_saving_the_settings_switches_kinds_off_separately(worker_client, worker):
    data = {f"{kind}-{channel}": "on" for kind in NotificationKind.values for channel in ("in_app", "email")}
    del data["work_approved-email"]
    del data["payout_sent-in_app"]
    del data["payout_sent-email"]

    response = worker_client.post(reverse("notification_settings"), data, follow=True)

    assert "Your notification settings are saved." in visible_text(response.content.decode())
    saved = {
        kind: (in_app, email)
        for kind, in_app, email in NotificationPreference.objects.filter(user=worker).values_list(
            "kind", "in_app", "email"
        )
    }
    assert saved == {"work_approved": (True, False), "payout_sent": (False, False)}
    html = response.content.decode()
    assert 'name="work_approved-email" id="id_work_approved-email">' in html
    assert 'name="work_approved-in_app" id="id_work_approved-in_app" checked' in html
