from django.urls import path

from mturk import views

urlpatterns = [
    path("mturk", views.live_endpoint, name="mturk_live"),
    path("sandbox/mturk", views.sandbox_endpoint, name="mturk_sandbox"),
]
