from django.urls import path, re_path

from core.ids import WORKER_ID_PATTERN
from web import moderation_views as views

urlpatterns = [
    path("jobs/<public_id:job_id>/report/", views.job_report, name="job_report"),
    re_path(rf"^users/(?P<user_id>{WORKER_ID_PATTERN})/report/$", views.user_report, name="user_report"),
]
