"""`manage.py create_api_key <username> [--name N]`: print a new API key for scripts."""

from django.core.management.base import BaseCommand, CommandError

from api.services import api_key_create
from marketplace.errors import DomainError
from marketplace.models import User


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it is shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="Command line", help="A name to recognise the key by.")

    def handle(self, *args, username: str, name: str, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            _, secret = api_key_create(user=user, name=name)
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write(secret)
