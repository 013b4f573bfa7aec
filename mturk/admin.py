"""Moderators see who holds Mechanical Turk credentials and when they were used; never the secret (not even its
ciphertext), and nobody adds or changes one here: requesters make and revoke their own on the API settings page."""

from django.contrib import admin

from mturk.models import MturkCredential


@admin.register(MturkCredential)
class MturkCredentialAdmin(admin.ModelAdmin):
    list_display = ("access_key_id", "user", "currency", "created_at", "last_used_at", "revoked_at")
    list_filter = ("currency",)
    search_fields = ("=access_key_id", "user__username", "=user__public_id")
    list_select_related = ("user",)
    fields = ("access_key_id", "user", "currency", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
