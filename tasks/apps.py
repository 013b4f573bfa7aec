from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Tasks and assignments"

    def ready(self) -> None:
        from tasks import handlers

        handlers.connect()
