"""The moderators' screens for users, jobs and reports. Every action asks for a written reason on a page of its own
and calls a moderation service, which records it in the audit log with the moderator as actor.

Moderators (the Moderators group, staff, not superusers) see users and jobs read-only: a user's change permission
would let them set anyone's password. They ban and unban with the `moderation.ban_user` permission, hide, show and
force-close jobs with `marketplace.change_job`, and resolve reports with `moderation.change_report`.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin import sats_column
from core.errors import DomainError
from marketplace.models import Job, JobStatus, User
from moderation import selectors, services
from moderation.forms import BalanceDecisionForm, ReasonForm, ReportResolveForm
from moderation.models import Report, ReportStatus

# Admin pages ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeratorAction:
    """One moderator's action: a changelist action over the selected rows and a page for one row, both asking for
    `form` and calling `perform(row, moderator, cleaned_data)` (a service) for each row."""

    name: str
    label: str  # in the changelist's menu and on a row's page
    title: str  # the heading of the action's page
    permission: str  # checked through the ModelAdmin's has_<permission>_permission
    form: type[forms.Form]
    perform: Callable[[Model, User, dict], object]
    done: str  # the message after it, with {count}
    applies: Callable[[Model], bool] = lambda row: True  # whether a row's page offers it

    def as_changelist_action(self):
        def action(modeladmin, request, queryset):
            return modeladmin.run_moderator_action(request, queryset, self)

        action.__name__ = self.name
        action.short_description = self.label
        action.allowed_permissions = (self.permission,)
        return action


class ModeratorActionsAdmin(admin.ModelAdmin):
    """Moderator actions (`moderator_actions`) on the changelist and, from each row's page, on that row alone."""

    moderator_actions: tuple[ModeratorAction, ...] = ()

    def get_actions(self, request):
        actions = super().get_actions(request)
        if IS_POPUP_VAR in request.GET:
            return actions
        for moderator_action in self.moderator_actions:
            action = moderator_action.as_changelist_action()
            if getattr(self, f"has_{moderator_action.permission}_permission")(request):
                actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_moderate"
        view = self.admin_site.admin_view(self.moderator_action_view)
        return [path("<path:object_id>/moderate/<slug:action_name>/", view, name=name), *super().get_urls()]

    def moderator_action_view(self, request: HttpRequest, object_id: str, action_name: str) -> HttpResponse:
        action = next((action for action in self.moderator_actions if action.name == action_name), None)
        if action is None:
            raise Http404("No such action.")
        if not getattr(self, f"has_{action.permission}_permission")(request):
            raise PermissionDenied
        row = self.get_object(request, unquote(object_id))
        if row is None:
            raise Http404("Not found.")
        queryset = self.get_queryset(request).filter(pk=row.pk)
        response = self.run_moderator_action(request, queryset, action, single=True)
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[row.pk])
        return response or HttpResponseRedirect(change_url)

    def run_moderator_action(
        self, request: HttpRequest, queryset: QuerySet, action: ModeratorAction, *, single: bool = False
    ) -> HttpResponse | None:
        """The action's page until its form is sent valid; then the service for each row, each in its own
        transaction, one message per refusal, and None (Django goes back to the list)."""
        form = action.form(request.POST if "apply" in request.POST else None)
        if not (form.is_bound and form.is_valid()):
            context = {
                **self.admin_site.each_context(request),
                "title": action.title,
                "opts": self.opts,
                "rows": list(queryset),
                "form": form,
                "action": action,
                "single": single,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "moderation/admin/action_form.html", context)
        done = 0
        for row in queryset:
            try:
                action.perform(row, request.user, form.cleaned_data)
            except DomainError as error:
                self.message_user(request, f"{row}: {error.message}", messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, action.done.format(count=done), messages.SUCCESS)
        return None

    def moderator_links(self, request: HttpRequest, row: Model) -> list[tuple[str, str]]:
        """(label, url) of the actions this row's page offers the moderator."""
        name = f"admin:{self.opts.app_label}_{self.opts.model_name}_moderate"
        return [
            (action.label, reverse(name, args=[row.pk, action.name]))
            for action in self.moderator_actions
            if action.applies(row) and getattr(self, f"has_{action.permission}_permission")(request)
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        row = self.get_object(request, unquote(object_id))
        extra = {"moderator_links": self.moderator_links(request, row) if row is not None else []}
        if row is not None:
            extra |= self.moderation_context(row)
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def moderation_context(self, row: Model) -> dict:
        """What a row's page shows besides its fields."""
        return {}


class RowsChangeThroughServicesOnly:
    """Jobs and reports are made by their owners' services and never deleted (money and the audit log refer to
    them): nobody adds or deletes one here, superusers included."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box (a list of every requester would not fit)."""

    template = "moderation/admin/input_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # has_output() needs one

    def choices(self, changelist):
        kept = {key: value for key, value in changelist.get_filters_params().items() if key != self.parameter_name}
        yield {
            "value": self.value() or "",
            "kept": [(key, value) for key, values in kept.items() for value in values],
        }


# Users ----------------------------------------------------------------------------------------------------------


class BannedFilter(admin.SimpleListFilter):
    title = "ban"
    parameter_name = "banned"

    def lookups(self, request, model_admin):
        return [("yes", "Banned"), ("no", "Not banned")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(banned_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(banned_at__isnull=True)
        return queryset


def _ban(user, moderator, data):
    return services.user_ban(user=user, moderator=moderator, reason=data["reason"])


def _unban(user, moderator, data):
    return services.user_unban(user=user, moderator=moderator, reason=data["reason"])


def _decide_balance(user, moderator, data):
    return services.user_balance_decision(user=user, moderator=moderator, decision=data["decision"], note=data["note"])


@admin.register(User)
class UserAdmin(ModeratorActionsAdmin, DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("public_id", "display_name")}),
        ("Moderation", {"fields": ("banned_at", "ban_reason")}),
    )
    # Bans change through the actions only (they also switch is_active, and release the user's work).
    readonly_fields = ("public_id", "banned_at", "ban_reason")
    list_display = (
        "username",
        "public_id",
        "email",
        "display_name",
        "is_staff",
        "banned_at",
        "blocked_by_requesters",
        "workers_blocked",
        "date_joined",
    )
    list_filter = (BannedFilter, "is_staff", "is_superuser")
    search_fields = ("username", "email", "=public_id", "display_name")
    change_form_template = "moderation/admin/user_change_form.html"

    def get_queryset(self, request):
        # Blocks by requesters (issue 11), counted in the list's one query: how often a worker is blocked, and how
        # many workers a requester blocks.
        return (
            super()
            .get_queryset(request)
            .annotate(
                blocks_received_count=Count("blocks_received", distinct=True),
                blocks_made_count=Count("blocks_made", distinct=True),
            )
        )

    @admin.display(description="blocked by requesters", ordering="blocks_received_count")
    def blocked_by_requesters(self, user) -> int:
        return user.blocks_received_count

    @admin.display(description="workers blocked", ordering="blocks_made_count")
    def workers_blocked(self, user) -> int:
        return user.blocks_made_count

    # What someone who may only look at a user sees: no password hash with its "Reset password" link, no rights.
    VIEW_ONLY_HIDDEN_FIELDS = frozenset({"password", "groups", "user_permissions"})
    moderator_actions = (
        ModeratorAction(
            name="ban",
            label="Ban…",
            title="Ban: they can no longer log in, post, take work or be paid automatically",
            permission="ban",
            form=ReasonForm,
            perform=_ban,
            done="{count} user(s) banned; their tasks in progress went back to the pool.",
            applies=lambda user: user.banned_at is None and not user.is_staff,
        ),
        ModeratorAction(
            name="unban",
            label="Lift the ban…",
            title="Lift the ban",
            permission="ban",
            form=ReasonForm,
            perform=_unban,
            done="{count} ban(s) lifted.",
            applies=lambda user: user.banned_at is not None,
        ),
        ModeratorAction(
            name="balance",
            label="Decide on the earned balance…",
            title="Decide what happens to a banned user's earned balance",
            permission="ban",
            form=BalanceDecisionForm,
            perform=_decide_balance,
            done="The decision on the balance is recorded.",
            applies=lambda user: user.banned_at is not None,
        ),
    )

    def has_ban_permission(self, request) -> bool:
        return request.user.has_perm("moderation.ban_user")

    def get_readonly_fields(self, request, obj=None):
        # A banned account stays inactive until the ban is lifted (a CHECK constraint says so too).
        if obj is not None and obj.banned_at is not None:
            return (*self.readonly_fields, "is_active")
        return self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in self.VIEW_ONLY_HIDDEN_FIELDS]})
            for name, options in fieldsets
        ]

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("balance", None)  # one user at a time, from their page
        return actions

    def moderation_context(self, user) -> dict:
        return {"overview": selectors.user_overview(user=user)}


# Jobs -----------------------------------------------------------------------------------------------------------


class HiddenFilter(admin.SimpleListFilter):
    title = "visibility"
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return [("yes", "Hidden by a moderator"), ("no", "Not hidden")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


class RequesterFilter(InputFilter):
    title = "requester (username or worker id)"
    parameter_name = "requester"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if value:
            return queryset.filter(Q(requester__username=value) | Q(requester__public_id=value))
        return queryset


@admin.register(Job)
class JobAdmin(RowsChangeThroughServicesOnly, ModeratorActionsAdmin):
    list_display = (
        "title",
        "requester",
        "status",
        "hidden",
        sats_column("reward_msat", "reward (sats)"),
        "task_count",
        "open_slot_count",
        "published_at",
    )
    list_filter = ("status", HiddenFilter, RequesterFilter, "form_kind")
    search_fields = ("title", "=public_id", "requester__username", "=requester__public_id")
    list_select_related = ("requester",)
    readonly_fields = [*(field.name for field in Job._meta.concrete_fields), "tags"]
    change_form_template = "moderation/admin/job_change_form.html"
    moderator_actions = (
        ModeratorAction(
            name="hide",
            label="Hide from the board…",
            title="Hide from the board: no new work, the page is gone",
            permission="change",
            form=ReasonForm,
            perform=lambda job, moderator, data: services.job_hide(job=job, moderator=moderator, reason=data["reason"]),
            done="{count} job(s) hidden.",
            applies=lambda job: job.hidden_at is None,
        ),
        ModeratorAction(
            name="show",
            label="Show on the board again…",
            title="Show on the board again",
            permission="change",
            form=ReasonForm,
            perform=lambda job, moderator, data: services.job_show(job=job, moderator=moderator, reason=data["reason"]),
            done="{count} job(s) shown again.",
            applies=lambda job: job.hidden_at is not None,
        ),
        ModeratorAction(
            name="force_close",
            label="Force-close (refund what nobody holds)…",
            title="Force-close: no new work, and the escrow nobody holds goes back to the requester",
            permission="change",
            form=ReasonForm,
            perform=lambda job, moderator, data: services.job_force_close(
                job=job, moderator=moderator, reason=data["reason"]
            ),
            done="{count} job(s) closed; the escrow nobody holds went back to the requester.",
            applies=lambda job: job.status in {JobStatus.PUBLISHED, JobStatus.PAUSED},
        ),
    )

    @admin.display(boolean=True, description="hidden", ordering="hidden_at")
    def hidden(self, job: Job) -> bool:
        return job.hidden_at is not None

    def moderation_context(self, job) -> dict:
        reports = Report.objects.filter(job=job).select_related("reporter").order_by("-created_at")
        return {"reports": list(reports[: selectors.OVERVIEW_ROWS]), "report_count": reports.count()}


# Reports --------------------------------------------------------------------------------------------------------


def _resolve(report, moderator, data):
    return services.report_resolve(
        report=report,
        moderator=moderator,
        note=data["note"],
        ban_user=data["ban_user"],
        hide_job=data["hide_job"],
    )


@admin.register(Report)
class ReportAdmin(RowsChangeThroughServicesOnly, ModeratorActionsAdmin):
    """The queue: open reports first, oldest first."""

    list_display = ("created_at", "reason", "target", "details", "reporter", "status", "resolved_by", "resolved_at")
    list_filter = ("status", "reason")
    search_fields = (
        "=public_id",
        "reporter__username",
        "job__title",
        "=job__public_id",
        "user__username",
        "=user__public_id",
    )
    list_select_related = ("reporter", "job", "user", "resolved_by")
    ordering = ("status", "created_at")  # "open" sorts before "resolved"
    readonly_fields = [field.name for field in Report._meta.concrete_fields]
    change_form_template = "moderation/admin/report_change_form.html"
    moderator_actions = (
        ModeratorAction(
            name="resolve",
            label="Resolve…",
            title="Resolve the report",
            permission="change",
            form=ReportResolveForm,
            perform=_resolve,
            done="{count} report(s) resolved.",
            applies=lambda report: report.status == ReportStatus.OPEN,
        ),
    )

    @admin.display(description="reported")
    def target(self, report: Report) -> str:
        if report.job_id is not None:
            url = reverse("admin:marketplace_job_change", args=[report.job_id])
            return format_html('job <a href="{}">{}</a>', url, report.job.title)
        url = reverse("admin:marketplace_user_change", args=[report.user_id])
        return format_html('user <a href="{}">{}</a>', url, report.user.username)

    @admin.display(description="details")
    def details(self, report: Report) -> str:
        return Truncator(report.text).chars(80)

    def changelist_view(self, request, extra_context=None):
        title = "Reports: open ones first, oldest first"
        return super().changelist_view(request, {"title": title, **(extra_context or {})})

    def moderation_context(self, report) -> dict:
        return {"report": report}
