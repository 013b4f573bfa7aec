from django.urls import path

from web import notification_views as views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/settings/", views.notification_settings, name="notification_settings"),
    path("notifications/read-all/", views.notifications_mark_all_read, name="notifications_mark_all_read"),
    path("notifications/<public_id:notification_id>/", views.notification_open, name="notification_open"),
    path(
        "notifications/<public_id:notification_id>/read/", views.notification_mark_read, name="notification_mark_read"
    ),
]
