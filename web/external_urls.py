from django.urls import path

from web import external_views

urlpatterns = [
    # Mechanical Turk's externalSubmit, under {turkSubmitTo}: SITE_URL live, SITE_URL/sandbox in the sandbox.
    path("mturk/externalSubmit", external_views.external_submit, {"sandbox": False}, name="external_submit"),
    path(
        "sandbox/mturk/externalSubmit",
        external_views.external_submit,
        {"sandbox": True},
        name="sandbox_external_submit",
    ),
    path("complete/<str:code>", external_views.completion, name="completion"),
    path("complete/<str:code>/", external_views.completion),
    path(
        "work/assignments/<public_id:assignment_id>/study-status/",
        external_views.assignment_external_status,
        name="assignment_external_status",
    ),
]
