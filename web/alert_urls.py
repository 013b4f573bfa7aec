from django.urls import path

from web import alert_views as views

urlpatterns = [
    path("work/alerts/", views.alert_list, name="alert_list"),
    path("work/alerts/<public_id:alert_id>/delete/", views.alert_delete, name="alert_delete"),
]
