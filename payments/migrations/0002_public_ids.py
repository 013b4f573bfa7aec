"""Public ids (core/ids.py) for the rows that exist: added empty, one made for each row, then unique and required."""

from django.db import migrations

from core.migration_operations import add_public_ids


class Migration(migrations.Migration):
    # Its name for a while, before the first months' migrations were squashed.
    replaces = [("payments", "0006_public_ids")]

    dependencies = [("payments", "0001_squashed_0005_payout_fee_reserve")]

    operations = add_public_ids("payments", ["Deposit", "Payout", "WithdrawLink", "Bonus"])
