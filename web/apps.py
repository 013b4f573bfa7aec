from django.apps import AppConfig


class WebConfig(AppConfig):
    """The web interface: every page's view, form and URL, the template tags, the site's middleware."""

    name = "web"
    verbose_name = "Web pages"
