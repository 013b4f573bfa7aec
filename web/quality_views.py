"""The requester's "Quality control" page of a job: its controls, accuracy, training, overlap and review rules
(tasks.quality), with what workers are told about them."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import DomainError
from marketplace.models import JobStatus
from tasks import quality as quality_rules
from web.job_views import own_job_or_404
from web.once import acts_once
from web.quality_forms import JobQualityForm

EDITABLE = frozenset({JobStatus.DRAFT, JobStatus.PUBLISHED, JobStatus.PAUSED})


@login_required
@acts_once
def job_quality(request: HttpRequest, job_id: str) -> HttpResponse:
    job = own_job_or_404(request, job_id)
    quality = quality_rules.job_quality_get(job=job, actor=request.user)
    editable = job.status in EDITABLE
    form = JobQualityForm(
        request.POST if request.method == "POST" and editable else None,
        initial={name: getattr(quality, name) for name in quality_rules.SETTING_NAMES},
        overlap_editable=job.status == JobStatus.DRAFT,
        max_overlap=job.assignments_per_task,
    )
    if request.method == "POST" and editable and form.is_valid():
        try:
            quality_rules.job_quality_set(job=job, actor=request.user, **form.cleaned_data)
        except quality_rules.QualitySettingsInvalid as error:
            for name, message in error.details["fields"].items():
                form.add_error(name if name in form.fields else None, message)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Saved: new work on this job follows these rules.")
            return redirect("job_quality", job_id=job.public_id)
    context = {
        "job": job,
        "form": form,
        "editable": editable,
        "saved": not quality._state.adding,
        "sentences": quality_rules.rules_described(job, quality),
    }
    return render(request, "tasks/quality_settings.html", context)
