from django.contrib import admin
from django.urls import include, path

from api.api import api
from web import block_views, dispute_views, qualification_test_views, qualification_views, quality_views, training_views
from web import job_views as views
from web import work_views as task_views

urlpatterns = [
    path("", views.board, name="board"),
    # The sandbox's board: sandbox jobs only, play money (issue 13).
    path("sandbox/", views.sandbox_board, name="sandbox_board"),
    # Browsers and tools ask for /favicon.ico whatever the page says: the same icon, from the static files.
    path("favicon.ico", views.favicon, name="favicon"),
    path("jobs/<public_id:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<public_id:job_id>/start/", task_views.job_start, name="job_start"),
    path("jobs/<public_id:job_id>/preview/", task_views.job_task_preview, name="job_task_preview"),
    path("jobs/<public_id:job_id>/preview/frame/", task_views.job_task_preview_frame, name="job_task_preview_frame"),
    path("jobs/<public_id:job_id>/training/", training_views.job_training, name="job_training"),
    path("jobs/<public_id:job_id>/training/frame/", training_views.job_training_frame, name="job_training_frame"),
    # Requester
    path("requester/", views.requester_dashboard, name="requester_dashboard"),
    path("requester/sandbox/top-up/", views.sandbox_top_up, name="sandbox_top_up"),
    path("requester/jobs/new/", views.job_create, name="job_create"),
    path("requester/jobs/<public_id:job_id>/", views.job_manage, name="job_manage"),
    path("requester/jobs/<public_id:job_id>/edit/", views.job_edit, name="job_edit"),
    path("requester/jobs/<public_id:job_id>/form/", views.job_form, name="job_form"),
    path("requester/jobs/<public_id:job_id>/tasks/", views.job_tasks, name="job_tasks"),
    path("requester/jobs/<public_id:job_id>/tasks/<public_id:task_id>/", views.job_task_edit, name="job_task_edit"),
    path(
        "requester/jobs/<public_id:job_id>/tasks/<public_id:task_id>/known-answers/",
        training_views.job_task_known_answers,
        name="job_task_known_answers",
    ),
    path("requester/jobs/<public_id:job_id>/tasks/sample.csv", views.job_sample_csv, name="job_sample_csv"),
    path("requester/jobs/<public_id:job_id>/preview/", views.job_preview, name="job_preview"),
    path("requester/jobs/<public_id:job_id>/preview/frame/", views.job_preview_frame, name="job_preview_frame"),
    path("requester/jobs/<public_id:job_id>/expiry/", views.job_expiry, name="job_expiry"),
    path(
        "requester/jobs/<public_id:job_id>/who-may-work/", qualification_views.job_worker_rules, name="job_worker_rules"
    ),
    path("requester/jobs/<public_id:job_id>/quality/", quality_views.job_quality, name="job_quality"),
    path("requester/jobs/<public_id:job_id>/review/", task_views.review_queue, name="review_queue"),
    path("requester/jobs/<public_id:job_id>/results.csv", task_views.results_csv, name="results_csv"),
    path(
        "requester/jobs/<public_id:job_id>/<slug:action>/",
        views.job_action,
        name="job_action",
    ),
    path(
        "requester/assignments/<public_id:assignment_id>/review/",
        task_views.assignment_review,
        name="assignment_review",
    ),
    path("requester/qualifications/", qualification_views.qualification_types, name="qualification_types"),
    path(
        "requester/qualifications/<public_id:qualification_id>/",
        qualification_views.qualification_manage,
        name="qualification_manage",
    ),
    path("qualifications/", qualification_views.my_qualifications, name="my_qualifications"),
    path(
        "qualifications/<public_id:qualification_id>/",
        qualification_views.qualification_detail,
        name="qualification_detail",
    ),
    path(
        "qualifications/<public_id:qualification_id>/request/",
        qualification_views.qualification_request,
        name="qualification_request",
    ),
    path(
        "requester/qualifications/<public_id:qualification_id>/test/",
        qualification_test_views.qualification_test_edit,
        name="qualification_test_edit",
    ),
    path(
        "qualifications/<public_id:qualification_id>/test/",
        qualification_test_views.qualification_test,
        name="qualification_test",
    ),
    path("workers/<str:worker_id>/", qualification_views.worker_profile, name="worker_profile"),
    path("requester/blocks/", block_views.worker_blocks, name="worker_blocks"),
    path("requester/blocks/<str:worker_id>/block/", block_views.worker_block, name="worker_block"),
    path("requester/blocks/<str:worker_id>/unblock/", block_views.worker_unblock, name="worker_unblock"),
    # Worker
    path("work/", task_views.worker_dashboard, name="worker_dashboard"),
    path("activity/", views.activity, name="activity"),
    path("work/assignments/<public_id:assignment_id>/", task_views.assignment_detail, name="assignment_detail"),
    path("work/assignments/<public_id:assignment_id>/frame/", task_views.assignment_frame, name="assignment_frame"),
    path("work/assignments/<public_id:assignment_id>/submit/", task_views.assignment_submit, name="assignment_submit"),
    path("work/assignments/<public_id:assignment_id>/return/", task_views.assignment_return, name="assignment_return"),
    path("work/assignments/<public_id:assignment_id>/dispute/", dispute_views.dispute_open, name="dispute_open"),
    path("disputes/", dispute_views.dispute_list, name="dispute_list"),
    path("disputes/<public_id:dispute_id>/", dispute_views.dispute_detail, name="dispute_detail"),
    path("disputes/<public_id:dispute_id>/act/", dispute_views.dispute_act, name="dispute_act"),
    path(
        "disputes/held-rejections/<public_id:assignment_id>/",
        dispute_views.rejection_hold_decide,
        name="rejection_hold_decide",
    ),
    path("api/v1/", api.urls),
    path("", include("web.api_urls")),
    # The Mechanical Turk requester API (issue 13): POST /mturk and /sandbox/mturk, with no trailing slash.
    path("", include("mturk.urls")),
    # Money
    path("", include("web.wallet_urls")),
    # Notifications
    path("", include("web.notification_urls")),
    # Work alerts (saved board searches)
    path("", include("web.alert_urls")),
    # Reports to the moderators
    path("", include("web.moderation_urls")),
    # External studies and Mechanical Turk's externalSubmit (issue 13)
    path("", include("web.external_urls")),
    # Accounts and moderators
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
