from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, When
from django.shortcuts import redirect
from django.urls import path, reverse

from core.admin import sats_column
from core.errors import DomainError
from marketplace.answer_fields import answer_display_items
from tasks import disputes
from tasks.models import DISPUTE_LIVE_STATUSES, Assignment, Dispute, DisputeMessage, DisputeStatus, Task


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


class DisputeMessageInline(admin.TabularInline):
    model = DisputeMessage
    fields = ("created_at", "role", "author", "body")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DecisionForm(forms.Form):
    reason = forms.CharField(
        label="Reason (both sides see it)", widget=forms.Textarea(attrs={"rows": 3}), max_length=2_000
    )


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """The moderators' dispute queue: those waiting for them first, then by age. The page of one dispute shows the
    task, the answer, the instructions, the rejection and both sides' messages, and decides it through
    tasks.disputes.dispute_decide (never by editing fields)."""

    list_display = ("public_id", "status", "job_title", "worker", "opened_at", sats_column("held_msat", "held (sats)"))
    list_filter = ("status",)
    search_fields = ("=public_id", "=assignment__public_id", "assignment__job__title", "=assignment__worker__public_id")
    list_select_related = ("assignment__job", "assignment__worker")
    readonly_fields = [field.name for field in Dispute._meta.concrete_fields]
    inlines = [DisputeMessageInline]
    change_form_template = "admin/tasks/dispute/change_form.html"

    def get_queryset(self, request):
        waiting_for_moderators = Case(
            When(status=DisputeStatus.ESCALATED, then=0),
            When(status__in=sorted(DISPUTE_LIVE_STATUSES), then=1),
            default=2,
            output_field=IntegerField(),
        )
        return super().get_queryset(request).annotate(queue=waiting_for_moderators).order_by("queue", "opened_at")

    @admin.display(description="job")
    def job_title(self, dispute: Dispute) -> str:
        return dispute.assignment.job.title

    @admin.display(description="worker")
    def worker(self, dispute: Dispute) -> str:
        return dispute.assignment.worker.public_id

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decide_view)
        return [path("<path:object_id>/decide/", decide, name="tasks_dispute_decide"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dispute = self.get_object(request, object_id)
        # Nothing on this screen is edited in place: a decision is the only change, through its own form.
        extra = {
            "decision_form": DecisionForm(),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            **(extra_context or {}),
        }
        if dispute is not None:
            assignment = dispute.assignment
            extra.update(
                assignment=assignment,
                job=assignment.job,
                answer_texts=answer_display_items(
                    form_fields=assignment.job.form_fields,
                    answer_fields=assignment.job.answer_fields,
                    answer=assignment.answer,
                ),
                can_decide=dispute.is_live and self.has_change_permission(request, dispute),
            )
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def decide_view(self, request, object_id):
        dispute = self.get_object(request, object_id)
        if dispute is None or request.method != "POST" or not self.has_change_permission(request, dispute):
            raise PermissionDenied
        form = DecisionForm(request.POST)
        decision = request.POST.get("decision")
        if not form.is_valid() or decision not in {"overturn", "uphold"}:
            self.message_user(request, "Write the reason for your decision, then uphold or overturn.", messages.ERROR)
        else:
            try:
                disputes.dispute_decide(
                    dispute_id=dispute.public_id,
                    moderator=request.user,
                    overturn=decision == "overturn",
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                outcome = "overturned: the worker is paid" if decision == "overturn" else "upheld"
                self.message_user(request, f"Rejection {outcome}.", messages.SUCCESS)
        return redirect(reverse("admin:tasks_dispute_change", args=[dispute.pk]))
