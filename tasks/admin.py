from django.contrib import admin

from tasks.models import Assignment, Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "position", "slots_open")
    list_select_related = ("job",)
    raw_id_fields = ("job",)
    search_fields = ("job__title",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Read-only for now: every change goes through the services (disputes arrive with moderation)."""

    list_display = ("id", "job", "worker", "status", "accepted_at", "submitted_at", "reviewed_at")
    list_filter = ("status", "review_source")
    list_select_related = ("job", "worker")
    search_fields = ("worker__username", "job__title")
    raw_id_fields = ("task", "job", "worker")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
