"""The audit log for moderators: every event, read-only (the database refuses changes too)."""

from django.contrib import admin

from core.models import Event
from core.money import format_sats


def sats_column(field: str, description: str):
    """A list column showing a `*_msat` field as sats, sortable by the field."""

    @admin.display(description=description, ordering=field)
    def column(obj) -> str:
        return format_sats(getattr(obj, field))

    column.__name__ = f"{field.removesuffix('_msat')}_sats"
    return column


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "type", "actor_kind", "actor", "rule", "subject_type", "subject_id")
    list_filter = ("type", "actor_kind", "subject_type")
    search_fields = ("type", "subject_id", "actor__username", "rule")
    list_select_related = ("actor",)
    readonly_fields = [field.name for field in Event._meta.concrete_fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
