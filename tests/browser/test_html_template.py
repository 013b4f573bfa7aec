"""A Mechanical Turk style HTML template: it works for the worker, and its scripts cannot reach the site."""

import re

import pytest
from playwright.sync_api import expect

from marketplace.models import Job
from tasks.models import Assignment, AssignmentStatus
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# The script tries what a hostile template would: read the site's cookies and the parent page. What it gets is
# written into hidden fields, so the test sees it in the stored answer.
TEMPLATE = """
<h2>Receipt ${receipt_id}</h2>
<p>Store: <b id="store">${store}</b></p>
<form>
  <label for="total">Total</label>
  <input id="total" name="total" required>
  <input type="hidden" id="cookie" name="cookie_probe" value="">
  <input type="hidden" id="parent" name="parent_probe" value="">
</form>
<script>
  var cookieProbe, parentProbe;
  try { cookieProbe = "read:" + document.cookie; } catch (e) { cookieProbe = "blocked:" + e.name; }
  try { parentProbe = "read:" + parent.document.cookie; } catch (e) { parentProbe = "blocked:" + e.name; }
  document.getElementById("cookie").value = cookieProbe;
  document.getElementById("parent").value = parentProbe;
</script>
"""
TASKS_CSV = 'receipt_id,store\nR-1,"Bakery <img src=x onerror=alert(1)>"\nR-2,Hardware\n'


def test_html_template_job_runs_sandboxed(new_page, screenshot):
    requester = make_user("ada")
    make_user("wendy")

    requester_page = new_page()
    log_in(requester_page, "ada", PASSWORD)
    requester_page.goto("/requester/jobs/new/")
    requester_page.get_by_label("Title").fill("Transcribe a receipt")
    requester_page.get_by_label("Description").fill("Copy the total from a receipt.")
    requester_page.get_by_label("Reward per assignment (sats)").fill("50")
    requester_page.get_by_role("button", name="Save draft and continue").click()
    requester_page.get_by_role("link", name="Use an HTML template instead").click()
    requester_page.get_by_label("HTML template").fill(TEMPLATE)
    requester_page.get_by_role("button", name="Save template").click()
    requester_page.get_by_label("…or paste CSV").fill(TASKS_CSV)
    requester_page.get_by_role("button", name="Add tasks").click()
    expect(requester_page.get_by_text("2 tasks added.")).to_be_visible()

    # The preview runs the template in the same sandbox, with the placeholder value escaped.
    requester_page.get_by_role("link", name="Continue to preview").click()
    preview_frame = requester_page.frame_locator("#task-frame")
    expect(preview_frame.locator("#store")).to_have_text("Bakery <img src=x onerror=alert(1)>")
    requester_page.get_by_role("link", name="Looks good: continue to publish").click()
    requester_page.get_by_role("button", name="Publish").click()
    job = Job.objects.get(requester=requester)

    worker_page = new_page()
    log_in(worker_page, "wendy", PASSWORD)
    worker_page.goto(f"/jobs/{job.public_id}/")
    worker_page.get_by_role("button", name="Start working").click()
    frame = worker_page.frame_locator("#task-frame")
    expect(frame.get_by_role("heading", name="Receipt R-1")).to_be_visible()
    frame.get_by_label("Total").fill("12.50")
    screenshot(worker_page, "assignment-html-template")
    worker_page.get_by_role("button", name="Submit and take the next task").click()
    expect(worker_page.get_by_text("Submitted. Thank you!")).to_be_visible()
    expect(worker_page.frame_locator("#task-frame").get_by_role("heading", name="Receipt R-2")).to_be_visible()

    assignment = Assignment.objects.get(job=job, status=AssignmentStatus.SUBMITTED)
    assert assignment.answer["total"] == "12.50"
    assert re.match(r"^blocked:", assignment.answer["cookie_probe"]), assignment.answer
    assert re.match(r"^blocked:", assignment.answer["parent_probe"]), assignment.answer
    site_cookies = {cookie["name"]: cookie["value"] for cookie in worker_page.context.cookies()}
    assert "sessionid" in site_cookies
    assert "csrftoken" in site_cookies
    for value in site_cookies.values():
        assert value not in assignment.answer["cookie_probe"]
