"""`manage.py ledger_check`: check the books. Prints "The ledger is sound: …" and exits 0, or prints each problem
`payments.ledger.ledger_check()` finds and exits 1 (docs/operations.md says what each one means)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Sum

from payments.ledger import ledger_check
from payments.models import Account, LedgerEntry, LedgerTransaction


class Command(BaseCommand):
    help = "Check that the ledger balances: entries sum to zero, cached balances match, no owed money is negative."
    # It only reads, and is run from cron and in emergencies: a system check warning (or a broken URL module) must
    # neither stop it nor be mixed into its output.
    requires_system_checks = []

    def handle(self, *args, **options) -> None:
        # The checks are several queries. On a live site money moves between them, and a balance read before an
        # entry was posted would look wrong: read one snapshot of the database instead. (SET TRANSACTION must be a
        # transaction's first statement: inside one already begun, as in tests, that one's isolation applies.)
        snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
        with transaction.atomic():
            if snapshot:
                with connection.cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            problems = ledger_check()
            accounts = Account.objects.count()
            transactions = LedgerTransaction.objects.count()
            total = LedgerEntry.objects.aggregate(total=Sum("amount_msat"))["total"] or 0
        if problems:
            for problem in problems:
                self.stderr.write(problem)
            count = len(problems)
            raise CommandError(f"The ledger has {count} problem{'s' if count != 1 else ''}.", returncode=1)
        self.stdout.write(f"The ledger is sound: {accounts} accounts, {transactions} transactions, sum {total}.")
