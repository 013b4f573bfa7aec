from django.apps import AppConfig
from django.urls import register_converter

from core.ids import PublicIdConverter


class WebConfig(AppConfig):
    """The web interface: every page's view, form and URL, the template tags, the site's middleware."""

    name = "web"
    verbose_name = "Web pages"

    def ready(self) -> None:
        # `<public_id:job_id>` in the URL patterns: pages name jobs, assignments, deposits and withdraw links by
        # their public ids (core/ids.py), never by primary key.
        register_converter(PublicIdConverter, "public_id")
