"""Issue 9: a job's estimated time and sats per hour, its cost while being created, and expiry in the requester's
own time zone."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from marketplace.models import Job
from tests.api.conftest import api_client_for
from tests.factories import make_job
from tests.html_parsing import visible_text

pytestmark = pytest.mark.django_db

TERMS = {
    "title": "Label photos",
    "description": "Say what is in a photo.",
    "instructions": "",
    "reward_sats": "20",
    "assignments_per_task": "3",
    "time_limit_minutes": "10",
    "estimated_seconds_per_task": "30",
    "auto_approve_hours": "72",
    "expires_at": "",
    "tags": "",
}


def test_the_estimate_and_sats_per_hour_show_on_the_board_the_job_page_and_the_api(client, requester):
    job = make_job(requester=requester, reward_msat=20_000, estimated_seconds_per_task=30)
    board = visible_text(client.get(reverse("board")).content.decode())
    assert "about 30 seconds per task ·" in board
    # Sats per hour shows with the requester's reputation, said to be their estimate until work is measured.
    assert "New requester · 2,400 sats/hour (requester's estimate)" in board
    page = visible_text(client.get(reverse("job_detail", args=[job.public_id])).content.decode())
    assert "Takes about 30 seconds per task · 2,400 sats/hour" in page
    item = api_client_for(requester).get("/board").json()["items"][0]
    assert (item["estimated_seconds_per_task"], item["sats_per_hour"]) == (30, 2400)


def test_an_estimate_longer_than_the_time_limit_is_refused(client, requester):
    client.force_login(requester)
    response = client.post(reverse("job_create"), TERMS | {"estimated_seconds_per_task": "601"})
    assert "at most the time limit" in response.content.decode()
    assert not Job.objects.exists()


def test_the_job_form_saves_the_estimate(client, requester):
    client.force_login(requester)
    client.post(reverse("job_create"), TERMS)
    assert Job.objects.get().estimated_seconds_per_task == 30


def test_the_cost_of_a_task_is_shown_while_the_job_is_created(client, requester, settings):
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000
    client.force_login(requester)
    blank = visible_text(client.get(reverse("job_create")).content.decode())
    assert "What it costs" in blank
    # A form sent back with an error keeps the figures for the terms typed: 20 sats + 2 fee, 3 times.
    page = client.post(reverse("job_create"), TERMS | {"title": ""}).content.decode()
    text = visible_text(page)
    assert "Platform fee (10%) 2 sats" in text
    assert "Each task costs 66 sats" in text
    assert "100 tasks cost 6,600 sats" in text
    assert "Workers make about 2,400 sats/hour" in text


def test_expiry_is_typed_in_the_browsers_time_zone_and_stored_in_utc(client, requester):
    client.force_login(requester)
    client.cookies["tz"] = "Asia/Tokyo"
    page = client.get(reverse("job_create")).content.decode()
    assert "Expires (optional, Asia/Tokyo time)" in page
    client.post(reverse("job_create"), TERMS | {"expires_at": "2031-01-01T09:00"})
    job = Job.objects.get()
    assert job.expires_at == datetime(2031, 1, 1, 0, 0, tzinfo=UTC)
    edit = client.get(reverse("job_edit", args=[job.public_id])).content.decode()
    assert 'value="2031-01-01T09:00"' in edit


def test_an_unknown_time_zone_cookie_falls_back_to_utc(client, requester):
    client.force_login(requester)
    client.cookies["tz"] = "Mars/Olympus_Mons"
    assert "Expires (optional, UTC time)" in client.get(reverse("job_create")).content.decode()
    client.post(reverse("job_create"), TERMS | {"expires_at": "2031-01-01T09:00"})
    assert Job.objects.get().expires_at == datetime(2031, 1, 1, 9, 0, tzinfo=UTC)


def test_the_expiry_change_on_the_manage_page_uses_the_time_zone_too(client, requester):
    job = make_job(requester=requester)
    client.force_login(requester)
    client.cookies["tz"] = "America/New_York"
    manage_page = client.get(reverse("job_manage", args=[job.public_id])).content.decode()
    assert "New expiry (America/New_York time)" in manage_page
    client.post(reverse("job_expiry", args=[job.public_id]), {"expires_at": "2031-07-01T12:00"})
    job.refresh_from_db()
    assert job.expires_at == datetime(2031, 7, 1, 16, 0, tzinfo=UTC)
