"""`manage.py create_mturk_credentials <username> [--currency usd|sat]`: print a new Mechanical Turk access key pair
in the two lines an AWS credentials file (~/.aws/credentials) takes, and nothing else, so the output can be appended
to that file or read by a script."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from marketplace.models import User
from mturk.credentials import credential_create
from mturk.models import Currency


class Command(BaseCommand):
    help = "Create Mechanical Turk API credentials for a user and print them (the secret is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--currency",
            choices=Currency.values,
            default=Currency.USD,
            help="What the credentials' amounts are in: usd (converted to sats at MTURK_SATS_PER_USD) or sat. "
            "Default: usd.",
        )

    def handle(self, *args, username: str, currency: str, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            credential, secret = credential_create(user=user, currency=currency)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"aws_access_key_id = {credential.access_key_id}")
        self.stdout.write(f"aws_secret_access_key = {secret}")
