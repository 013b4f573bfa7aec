"""Webhook deliveries become a consumer of the domain events: each points at its event instead of holding a copy
of the payload. Deliveries made before this get an event of their own, with the same type and data (its time is
when this migration ran; the body's `created_at` of a delivery still pending changes accordingly)."""

import django.db.models.deletion
from django.db import migrations, models


def deliveries_to_events(apps, schema_editor):
    Delivery = apps.get_model("api", "WebhookDelivery")
    Event = apps.get_model("core", "Event")
    for delivery in Delivery.objects.filter(source__isnull=True).select_related("endpoint").order_by("pk"):
        data = (delivery.payload or {}).get("data", {})
        subject_type, subject_key = ("deposit", "deposit_id") if delivery.event == "deposit.paid" else ("job", "job_id")
        if delivery.event.startswith("assignment."):
            subject_type, subject_key = "assignment", "assignment_id"
        event = Event.objects.create(
            type=delivery.event,
            actor_kind="system",
            rule="webhook deliveries recorded before events",
            subject_type=subject_type,
            subject_id=str(data.get(subject_key, "")),
            data=data,
        )
        Delivery.objects.filter(pk=delivery.pk).update(source=event)


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0003_api_key_scopes_and_expiry"),
        ("core", "0002_events_append_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="source",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.event"
            ),
        ),
        migrations.RunPython(deliveries_to_events, migrations.RunPython.noop),
        migrations.RemoveField(model_name="webhookdelivery", name="event"),
        migrations.RemoveField(model_name="webhookdelivery", name="payload"),
        migrations.RenameField(model_name="webhookdelivery", old_name="source", new_name="event"),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="core.event"),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(fields=("endpoint", "event"), name="delivery_once_per_event"),
        ),
    ]
