"""`manage.py create_api_key <username> [--name N] [--scope S ...] [--expires-in-days D]`: print a new API key for
scripts."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from api.services import ALL_SCOPES, MAX_KEY_LIFETIME, api_key_create
from core.errors import DomainError
from marketplace.models import User


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Command line", help="A name to recognise the key by.")
        parser.add_argument(
            "--scope",
            action="append",
            choices=ALL_SCOPES,
            dest="scopes",
            help="What the key may do; repeat for several. Default: all of them.",
        )
        parser.add_argument(
            "--expires-in-days", type=int, help="The key stops working after this many days. Default: never."
        )

    def handle(
        self, *args, username: str, name: str, scopes: list[str] | None, expires_in_days: int | None, **options
    ) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        expires_at = None
        if expires_in_days is not None:
            if not 1 <= expires_in_days <= MAX_KEY_LIFETIME.days:
                raise CommandError(f"--expires-in-days must be between 1 and {MAX_KEY_LIFETIME.days}.")
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        try:
            _, secret = api_key_create(user=user, name=name, scopes=scopes or ALL_SCOPES, expires_at=expires_at)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(secret)
