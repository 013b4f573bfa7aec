"""Issue 9, the rough edges of a first hour: each test failed before its fix."""

import io
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.errors import InvalidInput
from marketplace import services as job_services
from marketplace.models import User
from payments.models import Bonus
from tasks import services as task_services
from tests.api.conftest import api_client_for
from tests.factories import (
    give_earnings,
    make_bare_draft,
    make_draft_job,
    make_job,
    make_submitted_assignment,
    make_user,
)

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


# "Add one task" with empty fields made a blank task -----------------------------------------------------------------


def test_add_one_task_with_every_field_empty_is_refused_and_adds_nothing(client, requester):
    job = make_draft_job(requester=requester, tasks=1)
    client.force_login(requester)
    response = client.post(reverse("job_tasks", args=[job.public_id]), {"add_one": "1", "task-column_0": "   "})
    assert response.status_code == 200
    assert "Task 1 is empty: a task needs a value in at least one column." in response.content.decode()
    job.refresh_from_db()
    assert job.task_count == 1


def test_no_blank_task_comes_from_a_csv_or_the_api(requester):
    job = make_bare_draft(requester=requester)
    task_services.tasks_add_from_csv(job=job, actor=requester, csv_text="review,stars\nGood,5\n,\nBad,1\n")
    assert [task.input for task in job.tasks.order_by("position")] == [
        {"review": "Good", "stars": "5"},
        {"review": "Bad", "stars": "1"},
    ]
    response = api_client_for(requester).post(f"/jobs/{job.public_id}/tasks", {"tasks": [{"input": {"review": ""}}]})
    assert response.status_code == 400
    assert "Task 1 is empty" in response.json()["error"]["message"]
    assert job.tasks.count() == 2


# A tag with markup silently became another word -------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["<b>routing</b>", "a/b", "c++", "tag;drop"])
def test_a_tag_that_is_not_words_is_refused_with_a_message(requester, tag):
    with pytest.raises(InvalidInput, match="A tag is a word or two"):
        job_services.job_create(requester=requester, title="t", description="d", reward_msat=10_000, tags=[tag])


def test_tags_of_words_in_any_script_are_kept(requester):
    job = job_services.job_create(
        requester=requester, title="t", description="d", reward_msat=10_000, tags=["Images", "café", "long-form"]
    )
    assert sorted(job.tags.values_list("name", flat=True)) == ["cafe", "images", "long-form"]


# The admin said "Bonuss" -----------------------------------------------------------------------------------------


def test_the_admin_says_bonuses(admin_client):
    assert str(Bonus._meta.verbose_name_plural) == "bonuses"
    assert "Bonuss" not in admin_client.get("/admin/").content.decode()


# A moderator in one command ------------------------------------------------------------------------------------------


def test_make_moderator_promotes_a_user_to_staff_in_the_moderators_group():
    user = make_user("mod")
    out = io.StringIO()
    call_command("make_moderator", "mod", stdout=out)
    user.refresh_from_db()
    assert user.is_staff
    assert not user.is_superuser
    assert user.groups.filter(name="Moderators").exists()
    assert "Promoted mod" in out.getvalue()


def test_make_moderator_creates_one_who_can_log_in_to_the_admin(client):
    call_command("make_moderator", "newmod", "--password", "a long enough pass", "--email", "m@example.com",
                 stdout=io.StringIO())  # fmt: skip
    assert client.login(username="newmod", password="a long enough pass")
    assert client.get("/admin/payments/payout/").status_code == 200
    assert Group.objects.get(name="Moderators").user_set.filter(username="newmod").exists()


def test_make_moderator_without_a_password_for_a_new_user_says_so_and_creates_nobody():
    with pytest.raises(CommandError, match="give a --password"):
        call_command("make_moderator", "nobody", stdout=io.StringIO())
    assert not User.objects.filter(username="nobody").exists()


# Every manage.py command works in development without setting SECRET_KEY by hand ------------------------------------


def test_make_run_writes_a_development_env_once(tmp_path):
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "dev-env.sh"
    script.write_bytes((REPO / "scripts" / "dev-env.sh").read_bytes())
    script.chmod(0o755)

    subprocess.run([str(script)], check=True, capture_output=True)
    written = (tmp_path / ".env").read_text()
    subprocess.run([str(script)], check=True, capture_output=True)

    assert (tmp_path / ".env").read_text() == written, "an existing .env is never touched"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in written.splitlines() if line and not line.startswith("#"))
    assert values["DEBUG"] == "1"
    assert len(values["SECRET_KEY"]) >= 50
    # What it holds is enough for manage.py: no SECRET_KEY, DEBUG or DATABASE_URL from anywhere else.
    env = {key: value for key, value in os.environ.items() if key not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}}
    env.update(values, VAR_DIR=str(tmp_path / "var"))
    checked = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stderr


# `<img src=x>` in a description loaded any URL on the board ----------------------------------------------------------


def test_images_in_a_description_load_only_from_https(requester):
    job = job_services.job_create(
        requester=requester,
        title="Pictures",
        description='<img src=x> ![plain](http://plain.example/a.png) <img src="//cdn.example/b.png"> '
        "![fine](https://img.example/c.png)",
        reward_msat=10_000,
    )
    sources = re.findall(r'<img[^>]* src="([^"]*)"', job.description_html)
    assert sources == ["https://img.example/c.png"]


def test_a_prompt_image_from_a_task_value_is_shown_only_over_https(requester):
    from marketplace.answer_forms import fill_prompt, render_prompt_html

    stored = render_prompt_html("![photo]({{image_url}})")
    assert 'src="https://img.example/1.png"' in fill_prompt(stored, {"image_url": "https://img.example/1.png"})
    assert "src=" not in fill_prompt(stored, {"image_url": "http://img.example/1.png"})
    assert "src=" not in fill_prompt(stored, {"image_url": "x"})


# A one-task survey kept showing "Start working" to a worker who had answered it ------------------------------


def test_a_worker_who_did_all_they_can_is_told_so_instead_of_start_working(client):
    survey = make_job(tasks=1, assignments_per_task=5, title="A survey")
    other = make_job(tasks=2, title="Still open")
    worker = make_user()
    make_submitted_assignment(job=survey, worker=worker)
    client.force_login(worker)

    page = client.get(reverse("job_detail", args=[survey.public_id])).content.decode()
    assert "You have done all the tasks you can in this job." in page
    assert "Start working" not in page
    assert "Start working" in client.get(reverse("job_detail", args=[other.public_id])).content.decode()
    board = client.get(reverse("board")).content.decode()
    assert board.count("You have done all the tasks you can in this job.") == 1


def test_a_task_in_progress_is_not_done(client):
    job = make_job(tasks=1, assignments_per_task=2)
    worker = make_user()
    task_services.assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    assert "Start working" in client.get(reverse("job_detail", args=[job.public_id])).content.decode()


# A closed job's answer-form page was fully editable ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["builder", "html"])
def test_the_answer_form_of_a_published_or_closed_job_is_read_only_in_the_page(client, requester, kind):
    published = make_job(requester=requester, tasks=1)
    closed = make_job(requester=requester, tasks=1)
    job_services.job_close(job=closed, actor=requester)
    client.force_login(requester)
    for job in (published, closed):
        page = client.get(reverse("job_form", args=[job.public_id]), {"kind": kind}).content.decode()
        assert '<fieldset class="form-lock" disabled>' in page
        assert "its form can no longer change" in page
        assert "Save answer form" not in page
        assert "Save template" not in page
        assert "instead</a>" not in page
    draft = make_draft_job(requester=requester)
    page = client.get(reverse("job_form", args=[draft.public_id]), {"kind": kind}).content.decode()
    assert '<fieldset class="form-lock">' in page


# The publish page's "Add N sats" offered more than one deposit can bring ---------------------------------------------


def test_the_publish_page_offers_what_one_deposit_can_bring_and_says_when_more_are_needed(client, settings):
    settings.DEPOSIT_MAX_MSAT = 50_000  # 50 sats
    requester = make_user(funds_sats=0)
    job = make_draft_job(requester=requester, tasks=3, reward_msat=21_000)  # 3 × (21 + 2.1 fee) sats
    client.force_login(requester)
    page = client.get(reverse("job_manage", args=[job.public_id])).content.decode()
    assert f'href="{reverse("deposit_new")}?amount_sats=50"' in page
    assert "Add 50 sats</a>" in page
    assert "it takes 2 deposits" in page
    assert client.get(reverse("deposit_new"), {"amount_sats": "50"}).status_code == 200


def test_the_publish_page_offers_exactly_what_is_missing_when_one_deposit_is_enough(client):
    requester = make_user(funds_sats=0)
    job = make_draft_job(requester=requester, tasks=3, reward_msat=21_000)
    client.force_login(requester)
    page = client.get(reverse("job_manage", args=[job.public_id])).content.decode()
    assert "Add 70 sats</a>" in page
    assert "deposits)" not in page


# Admin amounts in sats; /favicon.ico ---------------------------------------------------------------------------------


def test_the_admin_shows_amounts_in_sats(admin_client):
    worker = make_user(funds_sats=0)
    bonus_giver = make_user()
    assignment = give_earnings(worker, 21_000, requester=bonus_giver)
    from tasks.bonuses import bonus_pay

    bonus_pay(requester=bonus_giver, worker_id=worker.public_id, amount_msat=1_234_567, reason="Thanks",
              assignment_id=assignment.public_id)  # fmt: skip
    page = admin_client.get("/admin/payments/bonus/").content.decode()
    assert "amount (sats)" in page.lower()
    assert "1,234.567" in page
    assert "1234567" not in page


def test_favicon_ico_exists(client):
    from django.contrib.staticfiles import finders
    from django.templatetags.static import static

    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == static("favicon.ico")
    with open(finders.find("favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file


# A worker's first hour: earnings in total, a Withdraw button, when they are paid -----------------------------------


def test_my_work_shows_pending_and_approved_earnings_in_total(client):
    job = make_job(tasks=3, reward_msat=21_000)
    worker = make_user(funds_sats=0)
    approved = make_submitted_assignment(job=job, worker=worker)
    task_services.assignment_review(assignment=approved, reviewer=job.requester, approve=True)
    make_submitted_assignment(job=make_job(tasks=1, reward_msat=5_000), worker=worker)
    client.force_login(worker)
    page = client.get(reverse("worker_dashboard")).content.decode()
    assert '<span class="stat-value amount" id="pending-earnings">5</span>' in page
    assert '<span class="stat-value amount" id="approved-earnings">21</span>' in page


def test_the_wallet_has_a_withdraw_button_for_earnings(client, settings):
    settings.WITHDRAW_MIN_MSAT = 10_000
    worker = make_user(funds_sats=0)
    give_earnings(worker, 21_000)
    client.force_login(worker)
    page = client.get(reverse("wallet")).content.decode()
    assert f'href="{reverse("withdraw")}">Withdraw earnings</a>' in page


def test_the_board_and_the_job_page_say_when_work_is_paid_at_the_latest(client):
    job = make_job(tasks=1, auto_approve_seconds=3 * 86400)
    assert "paid at the latest 3 days after you submit" in client.get(reverse("board")).content.decode()
    assert (
        "at the latest 3 days after you submit"
        in client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    )


# A sample CSV to download, built from the job's placeholders --------------------------------------------------------


def test_a_sample_csv_is_built_from_the_jobs_placeholders(client, requester):
    job = make_bare_draft(requester=requester)
    job_services.job_set_builder_form(
        job=job,
        actor=requester,
        prompt="Is {{word}} a noun in {{sentence}}?",
        fields=[{"name": "noun", "kind": "single_choice", "label": "Noun?", "choices": ["Yes", "No"]}],
    )
    client.force_login(requester)
    tasks_page = client.get(reverse("job_tasks", args=[job.public_id])).content.decode()
    assert reverse("job_sample_csv", args=[job.public_id]) in tasks_page
    response = client.get(reverse("job_sample_csv", args=[job.public_id]))
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines() == ["word,sentence", "example word,example sentence"]
    uploaded = client.post(
        reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_text": response.content.decode()}
    )
    assert uploaded.status_code == 302, "the sample is a CSV the job takes"
    assert client.get(reverse("job_sample_csv", args=[make_job().public_id])).status_code == 404


# After "Withdraw to the test wallet" the payouts page said "being paid out" until reloaded ---------------------------


def test_a_payout_on_its_way_updates_itself_on_the_payouts_page(client):
    from payments.models import Payout, PayoutState

    worker = make_user(funds_sats=0)
    give_earnings(worker, 21_000)
    on_its_way = Payout.objects.create(worker=worker, kind="withdraw", amount_msat=21_000, state=PayoutState.SENDING,
                                       payment_hash="ab" * 32)  # fmt: skip
    client.force_login(worker)
    card_url = reverse("payout_card", args=[on_its_way.public_id])
    page = client.get(reverse("payouts")).content.decode()
    assert f'hx-get="{card_url}" hx-trigger="every 2s" hx-swap="outerHTML"' in page

    Payout.objects.filter(pk=on_its_way.pk).update(state=PayoutState.SUCCEEDED, preimage="cd" * 32)
    card = client.get(card_url)
    assert card.status_code == 200
    assert "Paid" in card.content.decode()
    assert "hx-get" not in card.content.decode(), "a paid payout stops asking"
    assert "no-cache" in card["Cache-Control"]

    client.force_login(make_user())
    assert client.get(card_url).status_code == 404


# "1 sats"; one number format ------------------------------------------------------------------------------------------


def test_one_sat_is_one_sat_and_thousands_are_grouped_one_way(client):
    job = make_job(tasks=1, reward_msat=1_000)
    page = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert '<span class="amount">1</span> sat</dd>' in page
    assert "1 sats" not in page
    rich = make_job(tasks=1, reward_msat=1_234_000)
    assert (
        '<span class="amount">1,234</span> sats</dd>'
        in client.get(reverse("job_detail", args=[rich.public_id])).content.decode()
    )


# The demo's receipt job shows a receipt image (vendored, no network) -------------------------------------------------


def test_the_demo_receipt_job_shows_a_vendored_receipt_image(client):
    from django.contrib.staticfiles import finders

    from marketplace.answer_forms import render_html_template
    from marketplace.models import Job

    call_command("load_demo_data", stdout=io.StringIO())
    job = Job.objects.get(title__startswith="Transcribe")
    task = job.tasks.order_by("position").first()
    html = render_html_template(job.html_template, task.input)
    source = re.search(r'<img src="([^"]+)"', html)[1]
    assert source == f"/static/demo/receipts/{task.input['receipt_id']}.svg"
    receipt = Path(finders.find(source.removeprefix("/static/"))).read_text()
    assert "TOTAL" in receipt
    assert "http" not in receipt.replace('xmlns="http://www.w3.org/2000/svg"', ""), "nothing loaded from the network"


# The review queue: a message after every single approve or reject ----------------------------------------------


@pytest.mark.parametrize(
    ("decision", "said"), [("approve", "Submission approved."), ("reject", "Submission rejected.")]
)
def test_a_single_review_on_the_page_says_what_it_did(client, requester, decision, said):
    job = make_job(requester=requester, tasks=1)
    assignment = make_submitted_assignment(job=job)
    client.force_login(requester)
    response = client.post(
        reverse("assignment_review", args=[assignment.public_id]),
        {"decision": decision, "feedback": "Not what was asked."},
        HTTP_HX_REQUEST="true",
    )
    assert f'<p class="notice" role="status">{said}</p>' in response.content.decode()


# The review queue: filter by worker --------------------------------------------------------------------------------


def test_the_review_queue_filters_by_worker(client, requester):
    job = make_job(requester=requester, tasks=3)
    mine, other = make_user(), make_user()
    kept = make_submitted_assignment(job=job, worker=mine)
    hidden = make_submitted_assignment(job=job, worker=other)
    client.force_login(requester)
    url = reverse("review_queue", args=[job.public_id])
    everyone = client.get(url).content.decode()
    assert f'href="?status=submitted&amp;worker={mine.public_id}"' in everyone
    only_mine = client.get(url, {"worker": mine.public_id}).content.decode()
    assert f'id="review-{kept.public_id}"' in only_mine
    assert f'id="review-{hidden.public_id}"' not in only_mine
    assert "all workers" in only_mine
    unknown = client.get(url, {"worker": "not an id"}).content.decode()
    assert f'id="review-{hidden.public_id}"' in unknown, "a malformed worker id filters nothing"
