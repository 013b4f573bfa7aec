"""The audit log for moderators: every event, read-only (the database refuses changes too)."""

import json

from django.contrib import admin
from django.utils.html import format_html

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
    """The audit log: searchable by who acted (username or worker id), what it was about (a subject's public id) and
    the type of event; nobody adds, changes or deletes an event here, superusers included (nor in the database)."""

    list_display = ("id", "created_at", "type", "actor_kind", "actor", "rule", "subject_type", "subject_id")
    list_filter = ("type", "actor_kind", "subject_type")
    search_fields = ("type", "=subject_id", "actor__username", "=actor__public_id", "rule")
    search_help_text = "A type (job.hidden), who acted (username or worker id), a subject's id, or a system rule."
    list_select_related = ("actor",)
    readonly_fields = [*(field.name for field in Event._meta.concrete_fields if field.name != "data"), "data_shown"]
    exclude = ("data",)
    date_hierarchy = "created_at"
    # Counting the whole log on every page would read all of it.
    show_full_result_count = False

    @admin.display(description="data")
    def data_shown(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(event.data, indent=2, ensure_ascii=False, sort_keys=True))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
