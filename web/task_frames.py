"""What a task page frames (issue 13): our own sandboxed HTML (an HTML template, or a HIT's HTMLQuestion) or a page of
the requester's own site (an ExternalQuestion, or an external study), with the ids Mechanical Turk's conventions put
in the frame's URL, and the page's Content-Security-Policy that lets exactly that site be framed.

A study's frame is `<iframe sandbox="allow-scripts allow-forms allow-same-origin allow-popups">`:
- allow-same-origin keeps the study in its OWN origin (another site: the URL is refused if it is ours,
  marketplace.external_studies.check_study_url), so it has its own cookies and storage, which Qualtrics, oTree,
  psiTurk and jsPsych's data saving need; the same-origin policy still keeps it away from this page and our
  cookies. (The pair allow-scripts + allow-same-origin defeats a sandbox only for a same-origin document.)
- allow-forms: studies end with a form POST to {turkSubmitTo}/mturk/externalSubmit (jsPsych's submitToTurk).
- allow-popups: consent forms and debriefings open in a new window; popups keep the sandbox.
- Not allow-top-navigation: a study can never take the worker's page away (to a look-alike login, say).
`allow="fullscreen"`: jsPsych's and lab.js's fullscreen trials. `referrerpolicy="strict-origin"`: jsPsych reads its
ids from the frame's own URL, where they are, and falls back to document.referrer only when that URL has no
assignmentId, i.e. on a later page of the study, whose referrer is the study's previous page and follows the
study's own policy, not this attribute. So nothing jsPsych needs is lost, and the study learns that its
participant came from this site, never the path of the worker's page.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils.html import linebreaks

from marketplace import answer_forms, external_studies
from marketplace.models import FormKind, Job
from tasks.models import Assignment, Task
from web.framing import sandboxed_frame_response
from web.middleware import DEFAULT_POLICY

MIN_FRAME_HEIGHT = 100
MAX_FRAME_HEIGHT = 4000


@dataclass(frozen=True)
class TaskFrame:
    kind: str  # "sandboxed": our own sandboxed document; "study": a page of another site
    url: str
    height: int = 0  # pixels; 0: the stylesheet's height
    origin: str = ""  # a study's, for the page's frame-src

    @property
    def host(self) -> str:
        return external_studies.host_of(self.url)


def task_question(job: Job, task: Task | None) -> dict:
    """The HIT's own question on a task of a per-task job ({"kind": "html" | "external" | "form", ...}), else {}."""
    if job.form_kind != FormKind.PER_TASK or task is None or not isinstance(task.question, dict):
        return {}
    return task.question


def frame_for_assignment(assignment: Assignment) -> TaskFrame | None:
    job, task = assignment.job, assignment.task
    if job.form_kind == FormKind.HTML:
        return TaskFrame("sandboxed", reverse("assignment_frame", args=[assignment.public_id]))
    if job.form_kind == FormKind.EXTERNAL:
        url = external_studies.fill_placeholders(
            job.external_url,
            {
                "worker_id": assignment.worker.public_id,
                "assignment_id": assignment.public_id,
                "task_id": task.public_id,
                "job_id": job.public_id,
            },
        )
        return TaskFrame("study", url, origin=external_studies.origin_of(url))
    ids = {
        "assignmentId": assignment.public_id,
        "hitId": task.public_id,
        "workerId": assignment.worker.public_id,
        "turkSubmitTo": external_studies.turk_submit_to(sandbox=job.sandbox),
    }
    frame_url = reverse("assignment_frame", args=[assignment.public_id])
    return _question_frame(task_question(job, task), ids, frame_url)


def frame_for_preview(job: Job, task: Task | None, frame_url: str) -> TaskFrame | None:
    """The frame of a preview, before a task is taken: as Mechanical Turk previews a HIT, with
    assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE and no worker id. An external study is not opened in a preview (a
    Prolific-style study cannot tell a preview from a participant)."""
    if job.form_kind == FormKind.HTML:
        return TaskFrame("sandboxed", frame_url)
    if task is None:
        return None
    ids = {
        "assignmentId": external_studies.ASSIGNMENT_ID_NOT_AVAILABLE,
        "hitId": task.public_id,
        "turkSubmitTo": external_studies.turk_submit_to(sandbox=job.sandbox),
    }
    return _question_frame(task_question(job, task), ids, frame_url)


def _question_frame(question: dict, ids: dict[str, str], frame_url: str) -> TaskFrame | None:
    height = _frame_height(question.get("frame_height"))
    if question.get("kind") == "html":
        # Served by our frame view: the ids are in its URL only so that the document's scripts, reading
        # location.search as MTurk's HTMLQuestions do, find them.
        separator = "&" if "?" in frame_url else "?"
        return TaskFrame("sandboxed", frame_url + separator + urlencode(ids), height=height)
    if question.get("kind") == "external" and question.get("url"):
        url = external_studies.with_query(question["url"], ids)
        return TaskFrame("study", url, height=height, origin=external_studies.origin_of(url))
    return None


def _frame_height(value: object) -> int:
    """MTurk's FrameHeight: 0 (or nothing) fits the page, which here is the stylesheet's height."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return 0
    return max(MIN_FRAME_HEIGHT, min(MAX_FRAME_HEIGHT, value))


def policy_framing(origin: str) -> str:
    """The site's Content-Security-Policy with `origin` added to frame-src and nothing else changed: a page that
    frames a study may frame that one site (and, as always, our own pages: the frame comes back to
    /mturk/externalSubmit when the study ends)."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_POLICY)
    if not origin:
        return policy
    directives = [directive.strip() for directive in policy.split(";") if directive.strip()]
    for index, directive in enumerate(directives):
        if directive.split()[0] == "frame-src":
            directives[index] = f"{directive} {origin}"
            break
    else:
        directives.append(f"frame-src 'self' {origin}")
    return "; ".join(directives)


def with_frame_policy(response, frame: TaskFrame | None):
    if frame is not None and frame.kind == "study":
        response["Content-Security-Policy"] = policy_framing(frame.origin)
    return response


def sandboxed_document(job: Job, task: Task | None) -> HttpResponse:
    """The task's HTML in the sandbox (web.framing): a job's HTML template filled with the task's inputs, or a
    HIT's own HTMLQuestion, served as Mechanical Turk serves it (no placeholders of ours)."""
    if job.form_kind == FormKind.HTML:
        rendered = answer_forms.render_html_template(job.html_template, task.input if task else {})
        return sandboxed_frame_response(rendered, asset_hosts=job.asset_hosts)
    question = task_question(job, task)
    if question.get("kind") == "html":
        return sandboxed_frame_response(str(question.get("html", "")), asset_hosts=job.asset_hosts)
    raise Http404("This task has no HTML to show.")


def form_fields_of(job: Job, question: dict) -> list[dict] | None:
    """The fields of the answer form the page builds: a form builder job's, or a HIT's own QuestionForm's; None
    when the task is answered in a frame."""
    if job.form_kind == FormKind.BUILDER:
        return job.form_fields
    if question.get("kind") == "form":
        return question.get("fields") or []
    return None


def task_prompt_html(job: Job, question: dict, task_input: dict) -> str:
    if question.get("kind") == "form":
        # A QuestionForm's overview is plain text (mturk.questions): escaped, its paragraphs kept.
        return linebreaks(str(question.get("overview", "")), autoescape=True)
    return answer_forms.fill_prompt(job.prompt_html, task_input)
