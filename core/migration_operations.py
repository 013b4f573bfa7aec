"""What several apps' migrations do alike, written once. Migrations run these for ever: change a function here only
in ways that leave what it did to an existing database the same (add a new function instead)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

from core.ids import PUBLIC_ID_LENGTH, new_public_id

MODERATORS_GROUP = "Moderators"


def grant_to_moderators(app_label: str, codenames: list[str]) -> migrations.RunPython:
    """The Moderators group (staff who keep the market honest from the admin, without being superusers) gets these
    permissions of one app. Django creates permissions only after all migrations; they are created here first."""

    def grant(apps, schema_editor) -> None:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=MODERATORS_GROUP)
        permissions = apps.get_model("auth", "Permission").objects.filter(
            content_type__app_label=app_label, codename__in=codenames
        )
        if permissions.count() != len(codenames):
            raise RuntimeError(f"Missing permissions of {app_label}: {sorted(codenames)}")
        group.permissions.add(*permissions)

    return migrations.RunPython(grant, migrations.RunPython.noop)


def add_public_ids(app_label: str, model_names: list[str], *, make=new_public_id, length: int = PUBLIC_ID_LENGTH):
    """Give models that already have rows a `public_id` (core/ids.py): added empty, one made for each existing row
    in batches, then unique and required with `make` as its default."""
    added = [
        migrations.AddField(
            model_name=name.lower(),
            name="public_id",
            field=models.CharField(max_length=length, null=True, editable=False),
        )
        for name in model_names
    ]
    filled = [
        migrations.RunPython(_backfill(app_label, name, make), migrations.RunPython.noop, elidable=True)
        for name in model_names
    ]
    required = [
        migrations.AlterField(
            model_name=name.lower(),
            name="public_id",
            field=models.CharField(default=make, editable=False, max_length=length, unique=True),
        )
        for name in model_names
    ]
    return [*added, *filled, *required]


def _backfill(app_label: str, model_name: str, make):
    def backfill(apps, schema_editor) -> None:
        model = apps.get_model(app_label, model_name)
        missing = model.objects.filter(public_id__isnull=True).values_list("pk", flat=True)
        batch = []
        for pk in missing.iterator(chunk_size=2_000):
            batch.append(model(pk=pk, public_id=make()))
            if len(batch) == 2_000:
                model.objects.bulk_update(batch, ["public_id"])
                batch = []
        model.objects.bulk_update(batch, ["public_id"])

    return backfill
