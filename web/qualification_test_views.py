"""Qualification tests: a requester writes the test of one of their custom types; a worker takes it and sees their
score, and when they may retake it."""

import math

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.errors import DomainError
from marketplace import qualification_tests, qualifications
from web.lookups import found_or_404
from web.once import acts_once
from web.qualification_test_forms import EXAMPLE_CSV, QualificationTestForm


@login_required
@acts_once
def qualification_test_edit(request: HttpRequest, qualification_id: str) -> HttpResponse:
    """The requester's page: set the test from CSV with its retry delay, or remove it."""
    qualification = found_or_404(
        qualifications.qualification_type_of_owner_get, owner=request.user, public_id=qualification_id
    )
    if request.method == "POST" and request.POST.get("action") == "remove":
        try:
            qualification_tests.qualification_test_remove(qualification=qualification, actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "Test removed: scores it gave stay, and no one can take it any more.")
        return redirect("qualification_test_edit", qualification.public_id)
    initial = {
        "csv_text": qualification_tests.questions_as_csv(qualification.test_questions),
        "retry_delay_hours": math.ceil(qualification.test_retry_delay_seconds / 3600),
    }
    form = QualificationTestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            qualification_tests.qualification_test_set(
                qualification=qualification,
                actor=request.user,
                csv_text=form.cleaned_data["csv_text"],
                retry_delay_seconds=form.retry_delay_seconds(),
            )
        except DomainError as error:
            field = error.details.get("field")
            form.add_error("retry_delay_hours" if field == "retry_delay_seconds" else field, error.message)
        else:
            count = len(qualification.test_questions)
            if count:
                messages.success(request, f"Test saved: {count} question{'s' if count != 1 else ''}.")
            else:
                messages.success(request, "The test is empty, so this qualification has no test now.")
            return redirect("qualification_test_edit", qualification.public_id)
    context = {"qualification": qualification, "form": form, "example_csv": EXAMPLE_CSV}
    return render(request, "qualifications/test_edit.html", context, status=400 if form.errors else 200)


@login_required
@acts_once
def qualification_test(request: HttpRequest, qualification_id: str) -> HttpResponse:
    """The worker's page: the questions (never their answers); once sent, their score and when they may retake."""
    qualification = found_or_404(qualifications.qualification_type_get, public_id=qualification_id)
    if request.method == "POST":
        try:
            attempt = qualification_tests.qualification_test_take(
                qualification=qualification,
                worker=request.user,
                answers={key: value for key, value in request.POST.items() if key.startswith("q")},
                version=request.POST.get("version") or None,
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Your answers are in: your score is {attempt.score}.")
        return redirect("qualification_test", qualification.public_id)
    standing = qualification_tests.qualification_test_standing(qualification=qualification, worker=request.user)
    context = {
        "qualification": qualification,
        "standing": standing,
        "questions": qualification_tests.qualification_test_questions_for_worker(qualification)
        if standing.may_take
        else [],
        "version": qualification_tests.questions_version(qualification),
    }
    return render(request, "qualifications/test_take.html", context)
