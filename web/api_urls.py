from django.urls import path

from web import api_views as views

urlpatterns = [
    path("settings/api/", views.api_settings, name="api_settings"),
    path("settings/api/keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path(
        "settings/api/mturk/<str:access_key_id>/revoke/",
        views.mturk_credential_revoke,
        name="mturk_credential_revoke",
    ),
    path(
        "settings/api/webhooks/<int:endpoint_id>/delete/", views.webhook_endpoint_delete, name="webhook_endpoint_delete"
    ),
]
