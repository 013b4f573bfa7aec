"""Studies on the requester's own site, in Chromium (issue 13): a HIT's ExternalQuestion whose page ends the way
jsPsych's `jsPsych.turk.submitToTurk(data)` does, a web external study whose page ends the way psiTurk's does, and a
HIT's HTMLQuestion posting to Mechanical Turk's externalSubmit from its own Submit button. The worker's page moves
on by itself and the answer is stored.

The studies are served from 127.0.0.1 on a port of their own: another origin than the site's live server, allowed
over plain http as the project's insecure-hosts allowlist allows loopback in tests."""

import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from marketplace.models import Job
from tasks.models import Assignment, AssignmentStatus
from tests.browser.helpers import log_in
from tests.browser.test_accessibility import VIEWPORTS, axe_violations, check_pages
from tests.factories import PASSWORD, make_bare_draft, make_user
from tests.factories.external import make_external_job, make_per_task_job
from tests.http_servers import LoopbackServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What every study page checks first: that it keeps its own origin in the frame (cookies and storage work).
OWN_ORIGIN_CHECK = """
  function ownOrigin() {
    try {
      document.cookie = "study=1; SameSite=None; Secure";
      document.cookie = "study_lax=1";
      localStorage.setItem("study", "1");
      return localStorage.getItem("study") === "1" && document.cookie.indexOf("study_lax=1") !== -1 ? "ok" : "no";
    } catch (error) { return "blocked:" + error.name; }
  }
"""

# Written after jsPsych's turk module (7.x): the ids come from the frame's URL, or the referrer when the URL has no
# assignmentId; submitToTurk builds a form posting to turkSubmitTo + "/mturk/externalSubmit?assignmentId=…", one
# hidden field per data key, appends it to the body and submits it.
JSPSYCH_PAGE = (
    """<!doctype html><html><head><meta charset="utf-8"><title>Reaction times</title></head><body>
<h1>Reaction-time study</h1>
<p id="mode"></p>
<button type="button" id="finish">Finish the study</button>
<script>
"""
    + OWN_ORIGIN_CHECK
    + """
  function turkInfo() {
    function param(url, name) {
      var match = new RegExp("[\\\\?&]" + name + "=([^&#]*)").exec(url);
      return match === null ? "" : match[1];
    }
    var source = param(window.location.href, "assignmentId") ? window.location.href : document.referrer;
    var info = {};
    ["assignmentId", "hitId", "workerId", "turkSubmitTo"].forEach(function (key) {
      info[key] = decodeURIComponent(param(source, key));
    });
    info.previewMode = info.assignmentId === "ASSIGNMENT_ID_NOT_AVAILABLE";
    return info;
  }
  function submitToTurk(data) {
    var turk = turkInfo();
    if (!turk.assignmentId || !turk.turkSubmitTo) { return; }
    var form = document.createElement("form");
    form.method = "POST";
    form.action = turk.turkSubmitTo + "/mturk/externalSubmit?assignmentId=" + turk.assignmentId;
    Object.keys(data).forEach(function (key) {
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = key;
      field.id = key;
      field.value = data[key];
      form.appendChild(field);
    });
    document.body.appendChild(form);
    form.submit();
  }
  document.getElementById("mode").textContent = turkInfo().previewMode ? "Preview" : "Ready";
  document.getElementById("finish").addEventListener("click", function () {
    var turk = turkInfo();
    submitToTurk({rt: "512", condition: new URLSearchParams(location.search).get("condition"),
                  hit: turk.hitId, worker: turk.workerId, own_origin: ownOrigin()});
  });
</script></body></html>"""
)

# psiTurk's "thanks-mturksubmit" page: a form with the ids as hidden fields in the body (assignmentId among them),
# posted to the site the study was configured with.
PSITURK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Thanks</title></head><body>
<h1>Thanks for your participation</h1>
<form id="mturk_form" method="post" action="{submit_to}/mturk/externalSubmit">
  <input type="hidden" name="assignmentId" value="{assignment_id}">
  <input type="hidden" name="hitId" value="{hit_id}">
  <input type="hidden" name="workerId" value="{worker_id}">
  <input type="hidden" name="condition" value="{condition}">
</form>
<button type="button" id="complete">Complete HIT</button>
<script>
  document.getElementById("complete").addEventListener("click", function () {{
    document.getElementById("mturk_form").submit();
  }});
</script></body></html>"""


class StudySite(LoopbackServer):
    """The requester's study server: /jspsych and /psiturk pages (the latter told where the site is)."""

    def __init__(self, site_url: str) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                if parts.path == "/jspsych":
                    body = JSPSYCH_PAGE
                elif parts.path == "/psiturk":
                    body = PSITURK_PAGE.format(
                        submit_to=site.site_url,
                        assignment_id=query.get("assignmentId", ""),
                        hit_id=query.get("hitId", ""),
                        worker_id=query.get("workerId", ""),
                        condition=query.get("condition", ""),
                    )
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.site_url = site_url
        super().__init__(Handler)


@pytest.fixture
def study_site(live_server, settings):
    settings.SITE_URL = live_server.url  # turkSubmitTo, and the origin the "Submitted" page tells
    with StudySite(live_server.url) as site:
        settings.LNURL_ALLOWED_INSECURE_HOSTS = [site.host_port]
        yield site


def start_working(page, job: Job) -> Assignment:
    page.goto(f"/jobs/{job.public_id}/")
    page.get_by_role("button", name="Start working").click()
    page.wait_for_url("**/work/assignments/*/")
    public_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    return Assignment.objects.get(public_id=public_id)


def test_an_external_question_ends_the_jspsych_way_and_the_page_moves_on(new_page, study_site, screenshot):
    question = {"kind": "external", "url": f"http://{study_site.host_port}/jspsych?condition=2", "frame_height": 500}
    job = make_per_task_job(questions=[question, question], title="Reaction times")
    worker = make_user("wendy")
    page = new_page()
    log_in(page, "wendy", PASSWORD)
    page.clock.install()

    first = start_working(page, job)
    # Timers stand still (htmx's polling among them): only the "Submitted" page's message can move this page on.
    page.clock.pause_at(time.time() + 1)
    frame = page.frame_locator("#task-frame")
    expect(frame.get_by_text("Ready")).to_be_visible()
    # FrameHeight 500, set by static/js/task-frame.js (the policy forbids inline styles); the border aside.
    assert 500 <= page.locator("#task-frame").evaluate("frame => frame.getBoundingClientRect().height") <= 504
    screenshot(page, "assignment-external-question")
    frame.get_by_role("button", name="Finish the study").click()

    # The study's POST answered in the frame; the page took the next HIT of the group by itself.
    page.wait_for_url(lambda url: first.public_id not in url and "/work/assignments/" in url)
    expect(page.get_by_text("Submitted. Thank you!")).to_be_visible()
    expect(page.frame_locator("#task-frame").get_by_text("Ready")).to_be_visible()
    page.clock.resume()

    first.refresh_from_db()
    assert first.status == AssignmentStatus.SUBMITTED
    assert first.answer == {
        "rt": "512",
        "condition": "2",
        "hit": first.task.public_id,
        "worker": worker.public_id,
        "own_origin": "ok",
    }
    second = Assignment.objects.get(job=job, worker=worker, status=AssignmentStatus.ACCEPTED)
    assert second.task_id != first.task_id


def test_a_web_external_study_ends_the_psiturk_way(new_page, study_site, live_server, settings, screenshot):
    # The site is browsed under another name than SITE_URL's: the "Submitted" page's message, addressed to
    # SITE_URL's origin, never reaches the worker's page, which moves on by asking the server (htmx's polling).
    settings.SITE_URL = live_server.url.replace("127.0.0.1", "localhost")
    requester = make_user("rita")
    worker = make_user("wendy")

    requester_page = new_page()
    log_in(requester_page, "rita", PASSWORD)
    requester_page.goto("/requester/jobs/new/")
    requester_page.get_by_label("Title").fill("A memory study")
    requester_page.get_by_label("Description").fill("Remember words, then recall them.")
    requester_page.get_by_label("Reward per assignment (sats)").fill("40")
    requester_page.get_by_role("button", name="Save draft and continue").click()
    requester_page.get_by_role("link", name="Use an external study instead").click()
    requester_page.get_by_label("Study URL").fill(
        f"http://{study_site.host_port}/psiturk?assignmentId={{assignment_id}}&hitId={{task_id}}"
        "&workerId={worker_id}&condition=B"
    )
    screenshot(requester_page, "job-form-external-study")
    requester_page.get_by_role("button", name="Save external study").click()
    expect(requester_page.get_by_text("External study saved.")).to_be_visible()
    requester_page.get_by_role("button", name="Add task", exact=True).click()
    expect(requester_page.get_by_text("Task added.")).to_be_visible()
    requester_page.get_by_role("link", name="Continue to preview").click()
    requester_page.get_by_role("link", name="Looks good: continue to publish").click()
    requester_page.get_by_role("button", name="Publish").click()
    job = Job.objects.get(requester=requester)

    page = new_page()
    log_in(page, "wendy", PASSWORD)
    page.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_text(f"a study on {study_site.host_port.split(':')[0]}")).to_be_visible()
    assignment = start_working(page, job)
    page.frame_locator("#task-frame").get_by_role("button", name="Complete HIT").click()

    # One task only: the page moves on to the worker's dashboard, saying so.
    page.wait_for_url("**/work/")
    expect(page.get_by_text("Submitted. Thank you!")).to_be_visible()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    # As on Mechanical Turk, everything the study posted but the assignment id is the answer.
    assert assignment.answer == {"hitId": assignment.task.public_id, "workerId": worker.public_id, "condition": "B"}
    assert assignment.worker == worker


HTML_QUESTION = """<p>What is in the picture?</p>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
  <input type="hidden" value="" name="assignmentId" id="assignmentId">
  <input type="hidden" value="" name="seen_hit" id="seen_hit">
  <label>Label <input name="label" id="label"></label>
  <input type="submit" id="submitButton" value="Send my label">
</form>
<script>
  var query = new URLSearchParams(location.search);
  document.getElementById("assignmentId").value = query.get("assignmentId");
  document.getElementById("seen_hit").value = query.get("hitId");
</script>"""


def test_an_html_question_posting_to_mturk_submits_from_its_own_button(new_page, live_server, settings):
    settings.SITE_URL = live_server.url
    job = make_per_task_job(questions=[{"kind": "html", "html": HTML_QUESTION, "frame_height": 0}])
    make_user("wendy")
    page = new_page()
    log_in(page, "wendy", PASSWORD)
    assignment = start_working(page, job)
    frame = page.frame_locator("#task-frame")
    frame.get_by_label("Label").fill("a cat")
    frame.get_by_role("button", name="Send my label").click()
    expect(page.get_by_text("Submitted. Thank you!")).to_be_visible()
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"label": "a cat", "seen_hit": assignment.task.public_id}


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_study_pages_have_no_serious_accessibility_violations(axe_page, study_site, width, height):
    job = make_external_job(
        url=f"http://{study_site.host_port}/jspsych?session={{assignment_id}}",
        codes=[{"code": "DONE-1234", "action": "review"}],
    )
    draft = make_bare_draft(requester=job.requester)
    make_user("wendy")
    worker = axe_page(width, height)
    log_in(worker, "wendy", PASSWORD)
    start_working(worker, job)
    problems = [f"task page: {violation}" for violation in axe_violations(worker)]
    problems += check_pages(worker, [f"/jobs/{job.public_id}/", "/complete/DONE-1234"])
    requester = axe_page(width, height)
    log_in(requester, job.requester.username, PASSWORD)
    problems += check_pages(requester, [f"/requester/jobs/{draft.public_id}/form/?kind=external"])
    assert not problems, f"axe-core at {width}×{height}:\n" + "\n".join(problems)
