"""Reporting a job or a user to the moderators: a small form page for each."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.errors import DomainError
from core.ids import is_public_id
from marketplace.selectors import job_public_get
from moderation import selectors
from moderation.services import report_file
from web.lookups import found_or_404
from web.moderation_forms import ReportForm

REPORT_SENT = "Thank you: your report went to the moderators."


@login_required
def job_report(request: HttpRequest, job_id: str) -> HttpResponse:
    job = found_or_404(job_public_get, public_id=job_id)
    back_url = reverse("job_detail", args=[job.public_id])
    return _report_page(request, target={"job": job}, label=f"the job “{job.title}”", back_url=back_url)


@login_required
def user_report(request: HttpRequest, user_id: str) -> HttpResponse:
    reported = found_or_404(selectors.reportable_user_get, public_id=user_id)
    # Reported from a job's page (the requester's name): Cancel and sending go back there.
    from_job = request.GET.get("from_job", "")
    back_url = reverse("job_detail", args=[from_job]) if is_public_id(from_job) else reverse("board")
    return _report_page(
        request, target={"user": reported}, label=reported.public_name, back_url=back_url, reported_user=reported
    )


def _report_page(request: HttpRequest, *, target: dict, label: str, back_url: str, **context) -> HttpResponse:
    form = ReportForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            report_file(reporter=request.user, **target, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
            status = error.status
        else:
            messages.success(request, REPORT_SENT)
            return redirect(back_url)
    context |= {"form": form, "target_label": label, "back_url": back_url}
    return render(request, "moderation/report_form.html", context, status=status)
