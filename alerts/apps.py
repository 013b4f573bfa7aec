from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Work alerts"

    def ready(self) -> None:
        from alerts import handlers

        handlers.connect()
