"""`manage.py make_moderator <username> [--password P] [--email E]`: promote a user to moderator, or create one."""

from django.core.management.base import BaseCommand, CommandError

from core.errors import DomainError
from marketplace.users import user_make_moderator


class Command(BaseCommand):
    help = "Make a user a moderator (staff in the Moderators group, not a superuser), creating it if there is none."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", default="", help="Needed only to create a user who does not exist yet.")
        parser.add_argument("--email", default="", help="For a new user: their (verified) email address.")

    def handle(self, *args, username: str, password: str, email: str, **options) -> None:
        try:
            user, created = user_make_moderator(username=username, email=email, password=password)
        except DomainError as error:
            raise CommandError(error.message) from None
        verb = "Created" if created else "Promoted"
        self.stdout.write(f"{verb} {user.username}: a moderator now. Log in at /admin/.")
