from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from core.admin import sats_column
from core.errors import DomainError
from marketplace import services
from marketplace.models import Job, Tag, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Profile", {"fields": ("display_name",)}))
    list_display = ("username", "email", "display_name", "is_staff", "date_joined")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "requester",
        "status",
        sats_column("reward_msat", "reward (sats)"),
        "task_count",
        "open_slot_count",
        "published_at",
    )
    list_filter = ("status", "form_kind")
    search_fields = ("title", "requester__username")
    list_select_related = ("requester",)
    readonly_fields = [field.name for field in Job._meta.concrete_fields]
    actions = ["close_jobs"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Close the selected jobs (no new work; live work can finish)", permissions=["change"])
    def close_jobs(self, request, queryset) -> None:
        closed = 0
        for job in queryset:
            try:
                services.job_close(job=job, actor=None, moderator=request.user)
                closed += 1
            except DomainError as error:
                self.message_user(request, f"{job}: {error.message}", messages.WARNING)
        self.message_user(request, f"{closed} job(s) closed.")
