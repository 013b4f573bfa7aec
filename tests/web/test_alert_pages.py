"""Work alerts in the site: the board's "Save this search as an alert" form carries the filters in use, the Work
alerts page lists a worker's alerts with delete and makes new ones, every creation acts once, and the page runs a
fixed number of queries."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from alerts.models import MAX_SAVED_SEARCHES_PER_WORKER, SavedSearch
from alerts.services import saved_search_create
from tests.pages import messages_of

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
SAVE_BUTTON = "Save this search as an alert"
BELL = 1
# Session, user, the header's unread count, the worker's alerts.
ALERTS_PAGE = 3 + BELL


def save_form_of(page) -> dict[str, str] | None:
    """The board's save-as-alert form as a browser would send it (checkboxes unticked), or None if there is none."""
    html = page.content.decode()
    if SAVE_BUTTON not in html:
        return None
    form = re.search(r'<form method="post" action="/work/alerts/".*?</form>', html, re.DOTALL).group(0)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    fields.pop("csrfmiddlewaretoken")  # the test client does not check it
    return fields


# The board's form ------------------------------------------------------------------------------------------------


def test_the_board_offers_to_save_the_filters_in_use_to_a_logged_in_worker(worker_client, worker):
    page = worker_client.get(reverse("board"), {"q": "street photos", "tag": "images", "min_reward": "21"})
    fields = save_form_of(page)
    assert fields is not None
    assert fields["keywords"] == "street photos"
    assert fields["tag"] == "images"
    assert fields["min_reward"] == "21"
    assert "qualified_only" not in fields
    assert TOKEN.search(page.content.decode()), "the form carries a token (web/once.py)"

    sent = worker_client.post(reverse("alert_list"), {**fields, "email": "on"})
    assert sent.status_code == 302
    assert sent["Location"] == reverse("alert_list")
    search = SavedSearch.objects.get(worker=worker)
    assert (search.keywords, search.tag, search.min_reward_msat) == ("street photos", "images", 21_000)
    assert (search.min_sats_per_hour, search.qualified_only, search.email) == (None, False, True)


def test_the_board_has_no_save_form_without_filters_or_for_visitors(worker_client):
    assert save_form_of(worker_client.get(reverse("board"))) is None
    assert save_form_of(Client().get(reverse("board"), {"q": "photos"})) is None


def test_saving_the_board_search_twice_saves_it_once(worker_client, worker):
    page = worker_client.get(reverse("board"), {"q": "photos"})
    token = TOKEN.findall(page.content.decode())[-1]
    data = {"keywords": "photos", "form_token": token}
    first = worker_client.post(reverse("alert_list"), data)
    second = worker_client.post(reverse("alert_list"), data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == first["Location"]
    assert SavedSearch.objects.filter(worker=worker).count() == 1


# The Work alerts page --------------------------------------------------------------------------------------------


def test_the_page_lists_only_the_workers_own_alerts_with_their_criteria(worker_client, worker, stranger):
    saved_search_create(worker=worker, keywords="photos", tag="images", min_reward_msat=21_000, email=True)
    saved_search_create(worker=worker, min_sats_per_hour=1_200, qualified_only=True)
    saved_search_create(worker=stranger, keywords="secret plans")
    page = worker_client.get(reverse("alert_list"))
    assert page.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page.content.decode()).split())
    assert "“photos” · tag images · at least 21 sats a task" in text
    assert "in the site and by email" in text
    assert "at least 1,200 sats per hour · only jobs I qualify for" in text
    assert "secret plans" not in text
    assert "2 of at most 20" in text


def test_the_page_is_reachable_from_my_work(worker_client):
    assert f'href="{reverse("alert_list")}"' in worker_client.get(reverse("worker_dashboard")).content.decode()


def test_bad_input_is_shown_next_to_the_form_and_saves_nothing(worker_client, worker):
    page = worker_client.post(reverse("alert_list"), {"tag": "<b>cats</b>", "min_reward": "-5"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ensure this value is greater than or equal to 0." in html
    assert not SavedSearch.objects.exists()

    page = worker_client.post(reverse("alert_list"), {"tag": "<b>cats</b>"})
    assert "A tag is a word or two" in page.content.decode()
    page = worker_client.post(reverse("alert_list"), {"email": "on"})
    assert "Choose at least one filter" in page.content.decode()
    assert not SavedSearch.objects.exists()


def test_a_form_re_shown_with_errors_acts_once_corrected(worker_client, worker):
    token = TOKEN.findall(worker_client.get(reverse("alert_list")).content.decode())[0]
    refused = worker_client.post(reverse("alert_list"), {"form_token": token})
    assert refused.status_code == 200
    corrected = worker_client.post(reverse("alert_list"), {"form_token": token, "keywords": "photos"})
    assert corrected.status_code == 302
    assert SavedSearch.objects.filter(worker=worker, keywords="photos").count() == 1


def test_a_worker_deletes_an_alert_but_not_someone_elses(worker_client, worker, stranger):
    mine = saved_search_create(worker=worker, keywords="photos")
    theirs = saved_search_create(worker=stranger, keywords="photos")

    refused = worker_client.post(reverse("alert_delete", args=[theirs.public_id]), follow=True)
    assert "No such work alert." in messages_of(refused)
    assert SavedSearch.objects.filter(pk=theirs.pk).exists()

    deleted = worker_client.post(reverse("alert_delete", args=[mine.public_id]), follow=True)
    assert "Alert deleted." in messages_of(deleted)
    assert not SavedSearch.objects.filter(pk=mine.pk).exists()
    assert worker_client.get(reverse("alert_delete", args=[mine.public_id])).status_code == 405


def test_visitors_are_sent_to_log_in(client):
    assert client.get(reverse("alert_list")).status_code == 302
    assert client.post(reverse("alert_list"), {"keywords": "photos"}).status_code == 302
    assert not SavedSearch.objects.exists()


def test_the_page_queries_do_not_grow_with_alerts(worker_client, worker, django_assert_num_queries):
    saved_search_create(worker=worker, keywords="photos")
    with django_assert_num_queries(ALERTS_PAGE):
        assert worker_client.get(reverse("alert_list")).status_code == 200
    for number in range(1, MAX_SAVED_SEARCHES_PER_WORKER):
        saved_search_create(worker=worker, keywords=f"photos {number}", min_sats_per_hour=number, email=True)
    with django_assert_num_queries(ALERTS_PAGE):
        response = worker_client.get(reverse("alert_list"))
        assert len(response.context["searches"]) == MAX_SAVED_SEARCHES_PER_WORKER
