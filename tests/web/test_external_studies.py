"""External studies (issue 13): the requester's external study form and its service, completion links, the
externalSubmit endpoint, and the task page that frames a study or a HIT's own question."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition
from marketplace import services
from marketplace.models import FormKind, Job
from payments.selectors import wallet_summary
from tasks.models import Assignment, AssignmentStatus, ReviewSource
from tasks.services import assignment_claim
from tests.factories import make_bare_draft, make_job, make_user
from tests.factories.external import STUDY_URL, make_external_job, make_per_task_job
from tests.html_parsing import start_tags

pytestmark = pytest.mark.django_db

CODES = [{"code": "C0MPL3TE", "action": "approve"}, {"code": "CHECK-ME", "action": "review"}]
EXTERNAL_QUESTION = {"kind": "external", "url": "https://hit.example/task?lang=en", "frame_height": 600}
HTML_QUESTION = {
    "kind": "html",
    "html": '<form action="https://www.mturk.com/mturk/externalSubmit"><input name="label"></form>',
    "frame_height": 0,
}
FORM_QUESTION = {
    "kind": "form",
    "overview": "Read the sentence.\n\nThen say what it is about.",
    "fields": [
        {"name": "topic", "kind": "short_text", "label": "Topic", "required": True},
    ],
}


def unchanged(job: Job) -> dict:
    job.refresh_from_db()
    return {name: getattr(job, name) for name in ("form_kind", "external_url", "completion_codes", "answer_fields")}


# The service ------------------------------------------------------------------------------------------------------


def test_a_draft_becomes_an_external_study_with_its_codes():
    draft = make_bare_draft()
    job = services.job_set_external_study(
        job=draft, actor=draft.requester, external_url=f"  {STUDY_URL} ", completion_codes=CODES
    )
    assert job.form_kind == FormKind.EXTERNAL
    assert job.external_url == STUDY_URL
    assert job.completion_codes == CODES
    assert job.has_form


@pytest.mark.parametrize(
    ("url", "codes", "message"),
    [
        ("http://study.example/?a={assignment_id}", [], "https://"),
        ("ftp://study.example/?a={assignment_id}", [], "https://"),
        ("https://study.example/?a={assignmentid}", [], "{assignmentid}"),
        ("https://study.example/?a={assignment_id", [], "not part of a placeholder"),
        ("https://user:secret@study.example/?a={assignment_id}", [], "user name or password"),
        ("https://study.example;script-src/?a={assignment_id}", [], "domain name"),
        ("https://study.example/?pid={worker_id}", [], "{assignment_id}"),
        ("", [], "URL"),
        ("https://study.example/?a={assignment_id}", [{"code": "ab", "action": "approve"}], "4 to 64"),
        ("https://study.example/?a={assignment_id}", [{"code": "abc/def", "action": "approve"}], "4 to 64"),
        ("https://study.example/?a={assignment_id}", [{"code": "ABCD", "action": "pay"}], "approve at once"),
        (
            "https://study.example/?a={assignment_id}",
            [{"code": "ABCD", "action": "approve"}, {"code": "abcd", "action": "review"}],
            "twice",
        ),
    ],
)
def test_a_bad_study_is_refused_and_changes_nothing(url, codes, message):
    draft = make_bare_draft()
    before = unchanged(draft)
    with pytest.raises(InvalidInput, match=re.escape(message)):
        services.job_set_external_study(job=draft, actor=draft.requester, external_url=url, completion_codes=codes)
    assert unchanged(draft) == before


def test_a_study_on_this_very_site_is_refused(settings):
    """The frame keeps the study's own origin (allow-same-origin): on ours it would be out of its sandbox."""
    settings.SITE_URL = "https://boltwork.example"
    draft = make_bare_draft()
    with pytest.raises(InvalidInput, match="not on Boltwork"):
        services.job_set_external_study(
            job=draft,
            actor=draft.requester,
            external_url="https://boltwork.example/x?a={assignment_id}",
            completion_codes=[],
        )


def test_completion_codes_alone_are_enough_without_the_assignment_placeholder():
    draft = make_bare_draft()
    job = services.job_set_external_study(
        job=draft, actor=draft.requester, external_url="https://survey.example/s/1", completion_codes=CODES[:1]
    )
    assert job.completion_codes == CODES[:1]


def test_plain_http_is_allowed_only_for_the_insecure_hosts_allowlist(settings):
    settings.LNURL_ALLOWED_INSECURE_HOSTS = ["127.0.0.1:8765"]
    draft = make_bare_draft()
    url = "http://127.0.0.1:8765/study?a={assignment_id}"
    assert services.job_set_external_study(job=draft, actor=draft.requester, external_url=url, completion_codes=[])
    with pytest.raises(InvalidInput, match="https://"):
        services.job_set_external_study(
            job=draft,
            actor=draft.requester,
            external_url="http://127.0.0.1:9999/?a={assignment_id}",
            completion_codes=[],
        )


def test_only_a_draft_and_only_its_owner_can_become_an_external_study():
    job = make_job()
    with pytest.raises(InvalidTransition):
        services.job_set_external_study(job=job, actor=job.requester, external_url=STUDY_URL, completion_codes=[])
    draft = make_bare_draft()
    with pytest.raises(Exception, match="No such job"):
        services.job_set_external_study(job=draft, actor=make_user(), external_url=STUDY_URL, completion_codes=[])
    assert unchanged(draft)["form_kind"] == FormKind.BUILDER


def test_a_job_of_hits_with_their_own_questions_keeps_them():
    job = make_per_task_job(questions=[EXTERNAL_QUESTION], publish=False)
    with pytest.raises(InvalidInput, match="its own question"):
        services.job_set_external_study(job=job, actor=job.requester, external_url=STUDY_URL, completion_codes=[])
    assert unchanged(job)["form_kind"] == FormKind.PER_TASK


# The requester's form ---------------------------------------------------------------------------------------------


def test_the_answer_form_page_saves_an_external_study(client):
    draft = make_bare_draft()
    client.force_login(draft.requester)
    url = reverse("job_form", args=[draft.public_id]) + "?kind=external"
    page = client.get(url)
    assert page.status_code == 200
    assert b"Study URL" in page.content
    data = {
        "form_kind": "external",
        "external_url": STUDY_URL,
        "codes-TOTAL_FORMS": "2",
        "codes-INITIAL_FORMS": "0",
        "codes-0-code": "C0MPL3TE",
        "codes-0-action": "approve",
        "codes-1-code": "",
        "codes-1-action": "review",
    }
    response = client.post(reverse("job_form", args=[draft.public_id]), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.form_kind == FormKind.EXTERNAL
    assert draft.completion_codes == [{"code": "C0MPL3TE", "action": "approve"}]


def test_the_answer_form_page_says_what_is_wrong_and_saves_nothing(client):
    draft = make_bare_draft()
    client.force_login(draft.requester)
    data = {
        "form_kind": "external",
        "external_url": "http://study.example/",
        "codes-TOTAL_FORMS": "0",
        "codes-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("job_form", args=[draft.public_id]), data)
    assert response.status_code == 200
    assert "must start with https://" in response.content.decode()
    assert unchanged(draft)["form_kind"] == FormKind.BUILDER


def test_the_answer_form_page_of_a_job_of_hits_has_nothing_to_edit(client):
    job = make_per_task_job(questions=[EXTERNAL_QUESTION], publish=False)
    client.force_login(job.requester)
    response = client.get(reverse("job_form", args=[job.public_id]) + "?kind=builder")
    assert response.status_code == 302
    assert response["Location"] == reverse("job_manage", args=[job.public_id])
    assert unchanged(job)["form_kind"] == FormKind.PER_TASK


def test_a_preview_describes_a_study_without_opening_it(client):
    job = make_external_job()
    client.force_login(make_user())
    response = client.get(reverse("job_task_preview", args=[job.public_id]))
    assert response.status_code == 200
    assert [attrs for tag, attrs in start_tags(response.content.decode()) if tag == "iframe"] == []
    assert "a study on <strong>study.example</strong>" in response.content.decode()
    assert csp_directive(response, "frame-src") == ["'self'"]


def test_workers_see_the_study_host_on_the_job_page(client):
    job = make_external_job()
    page = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert "study.example" in page


# The task page ----------------------------------------------------------------------------------------------------


def frame_of(response) -> dict:
    frames = [attrs for tag, attrs in start_tags(response.content.decode()) if tag == "iframe"]
    assert len(frames) == 1, response.content.decode()
    assert frames[0]["id"] == "task-frame"
    return frames[0]


def csp_directive(response, name: str) -> list[str]:
    for directive in response["Content-Security-Policy"].split(";"):
        parts = directive.split()
        if parts and parts[0] == name:
            return parts[1:]
    raise AssertionError(f"no {name} in {response['Content-Security-Policy']}")


def test_an_external_study_opens_with_the_ids_filled_in_and_only_its_site_may_be_framed(client):
    job = make_external_job()
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    response = client.get(reverse("assignment_detail", args=[assignment.public_id]))
    frame = frame_of(response)
    assert frame["src"] == (
        f"https://study.example/start?PROLIFIC_PID={worker.public_id}&SESSION_ID={assignment.public_id}"
        f"&STUDY_ID={job.public_id}"
    )
    assert set(frame["sandbox"].split()) == {"allow-scripts", "allow-forms", "allow-same-origin", "allow-popups"}
    assert frame["referrerpolicy"] == "strict-origin"
    assert csp_directive(response, "frame-src") == ["'self'", "https://study.example"]
    assert csp_directive(response, "script-src") == ["'self'"]
    # No Submit button of ours: the study ends the task. The page waits for it.
    assert b'id="answer-form"' not in response.content
    assert b'id="external-status"' in response.content


def test_other_pages_frame_nothing_but_the_site(client):
    worker = make_user()
    assignment = assignment_claim(job=make_job(), worker=worker)
    client.force_login(worker)
    response = client.get(reverse("assignment_detail", args=[assignment.public_id]))
    assert csp_directive(response, "frame-src") == ["'self'"]


def test_a_hits_external_question_gets_mturks_parameters_after_its_own_query(client, settings):
    settings.SITE_URL = "https://boltwork.example"
    job = make_per_task_job(questions=[EXTERNAL_QUESTION])
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    response = client.get(reverse("assignment_detail", args=[assignment.public_id]))
    frame = frame_of(response)
    parts = urlsplit(frame["src"])
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://hit.example/task"
    assert parse_qs(parts.query) == {
        "lang": ["en"],
        "assignmentId": [assignment.public_id],
        "hitId": [assignment.task.public_id],
        "workerId": [worker.public_id],
        "turkSubmitTo": ["https://boltwork.example"],
    }
    assert frame["data-frame-height"] == "600"
    assert csp_directive(response, "frame-src") == ["'self'", "https://hit.example"]


def test_a_sandbox_hit_submits_to_the_sandbox(client, settings):
    settings.SITE_URL = "https://boltwork.example"
    job = make_per_task_job(questions=[EXTERNAL_QUESTION], sandbox=True)
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    src = frame_of(client.get(reverse("assignment_detail", args=[assignment.public_id])))["src"]
    assert parse_qs(urlsplit(src).query)["turkSubmitTo"] == ["https://boltwork.example/sandbox"]


def test_a_preview_of_a_hit_says_the_assignment_is_not_available(client, settings):
    settings.SITE_URL = "https://boltwork.example"
    job = make_per_task_job(questions=[EXTERNAL_QUESTION])
    client.force_login(make_user())
    response = client.get(reverse("job_task_preview", args=[job.public_id]))
    query = parse_qs(urlsplit(frame_of(response)["src"]).query)
    assert query["assignmentId"] == ["ASSIGNMENT_ID_NOT_AVAILABLE"]
    assert "workerId" not in query
    assert query["hitId"] == [job.tasks.get().public_id]


def test_a_hits_html_question_is_served_in_the_sandbox_with_the_ids_in_the_frames_url(client):
    job = make_per_task_job(questions=[HTML_QUESTION])
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    response = client.get(reverse("assignment_detail", args=[assignment.public_id]))
    frame = frame_of(response)
    assert frame["sandbox"] == "allow-scripts allow-forms"
    assert "data-frame-height" not in frame  # FrameHeight 0: the page's own height
    src = urlsplit(frame["src"])
    assert src.path == reverse("assignment_frame", args=[assignment.public_id])
    assert parse_qs(src.query)["assignmentId"] == [assignment.public_id]
    document = client.get(frame["src"])
    assert document.status_code == 200
    assert b'<input name="label">' in document.content
    assert document["Content-Security-Policy"].startswith("sandbox allow-scripts allow-forms;")
    preview = client.get(reverse("job_task_preview_frame", args=[job.public_id]))
    assert b'<input name="label">' in preview.content


def test_a_hits_question_form_is_a_form_with_its_overview_and_is_submitted_on_the_page(client):
    job = make_per_task_job(questions=[FORM_QUESTION])
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    page = client.get(reverse("assignment_detail", args=[assignment.public_id])).content.decode()
    assert "<p>Read the sentence.</p>" in page
    assert 'name="answer-topic"' in page
    refused = client.post(reverse("assignment_submit", args=[assignment.public_id]), {"answer-topic": ""})
    assert refused.status_code == 400
    response = client.post(reverse("assignment_submit", args=[assignment.public_id]), {"answer-topic": "Cats"})
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"topic": "Cats"}


def test_a_study_is_not_submitted_from_the_task_page(client):
    job = make_external_job()
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    response = client.post(
        reverse("assignment_submit", args=[assignment.public_id]), {"answer_json": '{"done": "yes"}'}
    )
    assert response.status_code == 400
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


def test_the_status_fragment_waits_then_moves_on(client):
    job = make_external_job(tasks=2, assignments_per_task=1)
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    status_url = reverse("assignment_external_status", args=[assignment.public_id])
    waiting = client.get(status_url).content.decode()
    assert "hx-trigger" in waiting
    assert "data-external-done" not in waiting
    Client().post(f"/mturk/externalSubmit?assignmentId={assignment.public_id}", {"score": "3"})
    done = client.get(status_url).content.decode()
    assert "data-external-done" in done
    assert "hx-trigger" not in done
    assert reverse("job_start", args=[job.public_id]) in done
    # The task page now shows what the study sent, and frames the study no more (it would start over).
    page = client.get(reverse("assignment_detail", args=[assignment.public_id]))
    assert [attrs for tag, attrs in start_tags(page.content.decode()) if tag == "iframe"] == []
    assert re.search(r"<dt>score</dt><dd>3</dd>", page.content.decode())


# externalSubmit -------------------------------------------------------------------------------------------------


@pytest.fixture
def anonymous():
    """A browser with no session, that sends no CSRF token: what a study's cross-site frame is to us."""
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def study_assignment():
    return assignment_claim(job=make_external_job(), worker=make_user())


def test_a_jspsych_style_submit_stores_the_answer_without_any_csrf_token(anonymous, study_assignment, settings):
    settings.SITE_URL = "https://boltwork.example"
    response = anonymous.post(
        f"/mturk/externalSubmit?assignmentId={study_assignment.public_id}",
        {"rt": "512", "choice": ["a", "b"]},
    )
    assert response.status_code == 200
    assert b"Submitted" in response.content
    assert b'data-parent-origin="https://boltwork.example"' in response.content
    assert b"external-submitted.js" in response.content
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.SUBMITTED
    assert study_assignment.answer == {"rt": "512", "choice": ["a", "b"]}


def test_a_psiturk_style_submit_carries_the_assignment_id_in_the_body(anonymous, study_assignment):
    response = anonymous.post(
        "/mturk/externalSubmit",
        {"assignmentId": study_assignment.public_id, "workerId": study_assignment.worker.public_id, "bonus": "0.5"},
    )
    assert response.status_code == 200
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.SUBMITTED
    assert study_assignment.answer == {"workerId": study_assignment.worker.public_id, "bonus": "0.5"}


def test_a_second_submit_is_refused_and_the_first_answer_stays(anonymous, study_assignment):
    url = f"/mturk/externalSubmit?assignmentId={study_assignment.public_id}"
    assert anonymous.post(url, {"answer": "first"}).status_code == 200
    replay = anonymous.post(url, {"answer": "second"})
    assert replay.status_code == 400
    assert b"already submitted" in replay.content
    study_assignment.refresh_from_db()
    assert study_assignment.answer == {"answer": "first"}


def test_a_submit_after_the_deadline_is_refused(anonymous, study_assignment):
    Assignment.objects.filter(pk=study_assignment.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    response = anonymous.post(f"/mturk/externalSubmit?assignmentId={study_assignment.public_id}", {"a": "1"})
    assert response.status_code == 400
    assert b"time limit" in response.content
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.ACCEPTED
    assert study_assignment.answer is None


def test_the_wrong_endpoint_knows_no_such_assignment(anonymous, study_assignment):
    response = anonymous.post(f"/sandbox/mturk/externalSubmit?assignmentId={study_assignment.public_id}", {"a": "1"})
    assert response.status_code == 404
    assert b"No such open assignment." in response.content
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.ACCEPTED


def test_a_sandbox_assignment_is_submitted_only_at_the_sandbox_endpoint(anonymous):
    job = make_per_task_job(questions=[EXTERNAL_QUESTION], sandbox=True)
    assignment = assignment_claim(job=job, worker=make_user())
    live = anonymous.post(f"/mturk/externalSubmit?assignmentId={assignment.public_id}", {"a": "1"})
    assert live.status_code == 404
    assert b"No such open assignment." in live.content
    sandbox = anonymous.post(f"/sandbox/mturk/externalSubmit?assignmentId={assignment.public_id}", {"a": "1"})
    assert sandbox.status_code == 200
    assignment.refresh_from_db()
    assert assignment.answer == {"a": "1"}


@pytest.mark.parametrize("assignment_id", ["", "nope", "A" * 30, "ASSIGNMENT_ID_NOT_AVAILABLE"])
def test_an_unknown_assignment_is_not_found(anonymous, assignment_id):
    response = anonymous.post(f"/mturk/externalSubmit?assignmentId={assignment_id}", {"a": "1"})
    assert response.status_code == 404
    assert b"No such open assignment." in response.content


def test_an_assignment_of_a_job_that_is_not_a_study_is_not_found(anonymous):
    assignment = assignment_claim(job=make_job(), worker=make_user())
    response = anonymous.post(f"/mturk/externalSubmit?assignmentId={assignment.public_id}", {"answer-sentiment": "x"})
    assert response.status_code == 404
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


def test_an_oversized_answer_is_refused_before_it_is_read(anonymous, study_assignment):
    response = anonymous.post(
        f"/mturk/externalSubmit?assignmentId={study_assignment.public_id}", {"data": "x" * (64 * 1024)}
    )
    assert response.status_code == 413
    assert b"64 KB" in response.content
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.ACCEPTED


def test_a_body_that_is_not_form_fields_is_refused(anonymous, study_assignment):
    response = anonymous.post(
        f"/mturk/externalSubmit?assignmentId={study_assignment.public_id}", '{"a": 1}', content_type="application/json"
    )
    assert response.status_code == 400
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.ACCEPTED


def test_an_answer_with_nothing_but_the_assignment_id_is_refused(anonymous, study_assignment):
    response = anonymous.post("/mturk/externalSubmit", {"assignmentId": study_assignment.public_id})
    assert response.status_code == 400
    assert b"The answer is empty" in response.content
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.ACCEPTED


def test_psiturks_stock_completion_form_the_three_ids_alone_is_submitted(anonymous, study_assignment):
    """psiTurk keeps its data on its own server and posts only the ids: Mechanical Turk keeps hitId and workerId
    as the answer, and so does Boltwork."""
    worker_id = study_assignment.worker.public_id
    body = {"assignmentId": study_assignment.public_id, "hitId": "H1", "workerId": worker_id}
    response = anonymous.post("/mturk/externalSubmit", body)
    assert response.status_code == 200
    study_assignment.refresh_from_db()
    assert study_assignment.status == AssignmentStatus.SUBMITTED
    assert study_assignment.answer == {"hitId": "H1", "workerId": worker_id}


def test_a_hits_external_question_is_submitted_like_on_mturk(anonymous):
    job = make_per_task_job(questions=[EXTERNAL_QUESTION])
    assignment = assignment_claim(job=job, worker=make_user())
    response = anonymous.post(
        "/mturk/externalSubmit",
        {"assignmentId": assignment.public_id, "hitId": assignment.task.public_id, "label": "cat"},
    )
    assert response.status_code == 200
    assignment.refresh_from_db()
    assert assignment.answer == {"hitId": assignment.task.public_id, "label": "cat"}


# Completion links ------------------------------------------------------------------------------------------------


@pytest.fixture
def coded_study():
    return make_external_job(codes=CODES, reward_msat=21_000)


def test_a_completion_link_asks_first_and_a_get_changes_nothing(client, coded_study):
    worker = make_user()
    assignment = assignment_claim(job=coded_study, worker=worker)
    client.force_login(worker)
    page = client.get("/complete/C0MPL3TE")
    assert page.status_code == 200
    assert b"Submit my task" in page.content
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


def test_an_approve_code_submits_and_approves_at_once_by_the_codes_rule(client, coded_study):
    worker = make_user(funds_sats=0)
    assignment = assignment_claim(job=coded_study, worker=worker)
    client.force_login(worker)
    response = client.post("/complete/c0mpl3te")  # typed in another case
    assert response.status_code == 302
    assert response["Location"] == reverse("assignment_detail", args=[assignment.public_id])
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED
    assert assignment.answer == {"completion_code": "C0MPL3TE"}
    assert assignment.review_source == ReviewSource.RULE
    assert assignment.review_rule == "completion_code"
    money = wallet_summary(user=worker)
    assert money["earned_msat"] + money["pending_payout_msat"] + money["paid_out_msat"] == 21_000


def test_a_review_code_submits_and_leaves_the_work_for_review(client, coded_study):
    worker = make_user()
    assignment = assignment_claim(job=coded_study, worker=worker)
    client.force_login(worker)
    response = client.post("/complete/CHECK-ME/")
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"completion_code": "CHECK-ME"}
    assert assignment.review_source == ""


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_unknown_code_is_not_found_and_changes_nothing(client, coded_study, method):
    worker = make_user()
    assignment = assignment_claim(job=coded_study, worker=worker)
    client.force_login(worker)
    response = getattr(client, method)("/complete/NOT-A-CODE")
    assert response.status_code == 404
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


def test_a_code_works_only_for_the_worker_who_took_the_task(client, coded_study):
    taker = make_user()
    assignment = assignment_claim(job=coded_study, worker=taker)
    client.force_login(make_user())
    assert client.post("/complete/C0MPL3TE").status_code == 404
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


def test_a_code_after_the_deadline_is_not_found(client, coded_study):
    worker = make_user()
    assignment = assignment_claim(job=coded_study, worker=worker)
    Assignment.objects.filter(pk=assignment.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    client.force_login(worker)
    assert client.post("/complete/C0MPL3TE").status_code == 404
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED


def test_a_visitor_is_asked_to_log_in_first(client, coded_study):
    response = client.get("/complete/C0MPL3TE")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
