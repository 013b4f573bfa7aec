"""A HIT's HTMLQuestion written for Amazon's crowd-html-elements works unchanged: the script it names is never
fetched (the frame's policy blocks it), yet the crowd-form gets a Submit button, its fields are collected, and its
own "submit" listeners can still keep the worker on the page."""

import pytest
from playwright.sync_api import expect

from marketplace.models import FormKind, Job
from mturk.questions import parse_question
from tasks.models import Assignment, AssignmentStatus, Task
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_job, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HTML_NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd"

# Amazon's own example of a crowd-form, plus a checkbox group, a hidden assignmentId as MTurk templates have, and a
# check of the document's own that refuses an empty description.
CROWD_FORM = """<!DOCTYPE html>
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <p><label for="weather">Describe the current weather where you live</label></p>
  <p><textarea id="weather" name="weather" cols="80" rows="3"></textarea></p>
  <p><label><input type="checkbox" name="tags" value="sunny"> Sunny</label>
     <label><input type="checkbox" name="tags" value="windy"> Windy</label></p>
  <input type="hidden" name="assignmentId" value="x">
  <p id="problem" hidden>Please describe the weather.</p>
</crowd-form>
<script>
  document.querySelector("crowd-form").addEventListener("submit", function (event) {
    if (!document.getElementById("weather").value.trim()) {
      event.preventDefault();
      document.getElementById("problem").hidden = false;
    }
  });
</script>"""


def crowd_form_hit():
    """A per-task job (HIT type) with one HIT carrying the crowd-form as its HTMLQuestion, as CreateHIT leaves it."""
    job = make_job(requester=make_user("ada"), tasks=1)
    xml = f"<HTMLQuestion xmlns='{HTML_NS}'><HTMLContent><![CDATA[{CROWD_FORM}]]></HTMLContent>"
    xml += "<FrameHeight>0</FrameHeight></HTMLQuestion>"
    Job.objects.filter(pk=job.pk).update(form_kind=FormKind.PER_TASK)
    Task.objects.filter(job=job).update(question=parse_question(xml), question_xml=xml)
    return job


def test_a_crowd_form_submits_its_fields_through_the_submit_button_it_gets(new_page):
    job = crowd_form_hit()
    make_user("wendy")
    page = new_page()
    log_in(page, "wendy", PASSWORD)
    page.goto(f"/jobs/{job.public_id}/")
    page.get_by_role("button", name="Start working").click()
    page.wait_for_url("**/work/assignments/*/")
    frame = page.frame_locator("#task-frame")

    # The document has no submit button of its own: it gets one, as Amazon's crowd-form adds it.
    submit = frame.get_by_role("button", name="Submit", exact=True)
    expect(submit).to_be_visible()
    # Its own check refuses an empty description, and nothing is submitted.
    submit.click()
    expect(frame.get_by_text("Please describe the weather.")).to_be_visible()
    assert list(Assignment.objects.values_list("status", flat=True)) == [AssignmentStatus.ACCEPTED]

    frame.get_by_label("Describe the current weather where you live").fill("Cold & <clear>")
    frame.get_by_label("Sunny").check()
    frame.get_by_label("Windy").check()
    submit.click()
    expect(page.get_by_text("Submitted. Thank you!")).to_be_visible()

    assignment = Assignment.objects.get()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"weather": "Cold & <clear>", "tags": ["sunny", "windy"]}
