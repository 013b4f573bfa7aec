"""The bell in the header: the unread count in its name and on the Menu button, for one query more per page."""

import copy
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from tests.notifications.conftest import make_notifications

pytestmark = pytest.mark.django_db

PROCESSOR = "web.context_processors.notifications"


def accessible_name(response, pattern: str) -> str:
    """The name of the first element `pattern` finds (its opening tag, then its content) as a screen reader says
    it: its aria-label, or else its text."""
    found = re.search(pattern, response.content.decode(), flags=re.DOTALL)
    assert found, f"nothing matches {pattern}"
    label = re.search(r'aria-label="([^"]*)"', found.group(1))
    return label.group(1) if label else re.sub(r"<[^>]+>", "", found.group(2)).strip()


def bell_name(response) -> str:
    return accessible_name(response, r'(<a class="nav-link nav-bell"[^>]*>)(.*?)</a>')


def menu_name(response) -> str:
    return accessible_name(response, r"(<summary[^>]*>)(.*?)</summary>")


def badges(response) -> list[str]:
    return re.findall(r'<span class="nav-count" aria-hidden="true">([^<]*)</span>', response.content.decode())


def test_the_bell_says_how_many_are_unread_and_the_menu_button_too(worker_client, worker):
    read, *_ = make_notifications(worker, 3)
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    make_notifications(worker, 2, in_app=False)  # emailed only: never counted

    response = worker_client.get(reverse("worker_dashboard"))

    assert bell_name(response) == "Notifications, 2 unread"
    assert menu_name(response) == "Menu, 2 unread notifications"
    assert badges(response) == ["2", "2"]  # on the Menu button and on the bell


def test_without_unread_notifications_the_bell_shows_no_number(worker_client, worker):
    make_notifications(worker, 1)
    Notification.objects.filter(user=worker).update(read_at=timezone.now())

    response = worker_client.get(reverse("worker_dashboard"))

    assert bell_name(response) == "Notifications"
    assert menu_name(response) == "Menu"
    assert badges(response) == []


def test_more_than_99_unread_show_as_99_plus(worker_client, worker):
    make_notifications(worker, 100)

    response = worker_client.get(reverse("worker_dashboard"))

    assert bell_name(response) == "Notifications, 99+ unread"
    assert badges(response) == ["99+", "99+"]


def test_a_visitor_sees_no_bell(client):
    assert 'class="nav-link nav-bell"' not in client.get(reverse("board")).content.decode()


def queries_for(client, url: str) -> int:
    client.get(url)  # warm up: per-process caches are not the page's cost
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_bell_adds_one_query_to_a_page_however_many_notifications(
    settings, worker_client, worker, django_assert_num_queries
):
    without_bell = copy.deepcopy(settings.TEMPLATES)
    without_bell[0]["OPTIONS"]["context_processors"].remove(PROCESSOR)
    with_bell = settings.TEMPLATES
    url = reverse("worker_dashboard")
    settings.TEMPLATES = without_bell
    before = queries_for(worker_client, url)
    settings.TEMPLATES = with_bell

    with django_assert_num_queries(before + 1):
        worker_client.get(url)
    make_notifications(worker, 40)
    with django_assert_num_queries(before + 1):
        response = worker_client.get(url)
    assert bell_name(response) == "Notifications, 40 unread"
