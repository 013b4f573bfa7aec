"""Services on people themselves (jobs have marketplace.services)."""

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction

from core.errors import DomainError, InvalidInput, NotFound
from core.ids import is_worker_id
from core.migration_operations import MODERATORS_GROUP
from marketplace.models import User

BANNED_MESSAGE = "This account is banned by a moderator: it cannot post, publish or take work."


class AccountBanned(DomainError):
    code = "account_banned"
    status = 403


BLOCKED_MESSAGE = "The requester of this job has blocked you from their jobs."


class WorkerBlocked(DomainError):
    code = "worker_blocked"
    status = 403


def worker_get(*, worker_id: str) -> User:
    """A person by their worker id (what pages, the APIs and exports call them), or NotFound."""
    worker = User.objects.filter(public_id=worker_id).first() if is_worker_id(worker_id) else None
    if worker is None:
        raise NotFound("No such worker.")
    return worker


def check_not_banned(user: User) -> None:
    """Refuse a banned user (as read with the row the caller has)."""
    if user.banned_at is not None:
        raise AccountBanned(BANNED_MESSAGE)


def lock_user_not_banned(user_id: int) -> None:
    """core.locks.lock_user, refusing a banned user in the same query: read under the lock, so a ban that committed
    meanwhile wins (a ban takes the same lock before it releases the user's work). The claim has its own version
    that also checks blocks and qualifications (tasks.eligibility.check_worker_for_claim)."""
    banned_at = User.objects.select_for_update(no_key=True).filter(pk=user_id).values_list("banned_at", flat=True).get()
    if banned_at is not None:
        raise AccountBanned(BANNED_MESSAGE)


def user_make_moderator(*, username: str, email: str = "", password: str = "") -> tuple[User, bool]:
    """Make `username` a moderator: staff (the admin panel) in the Moderators group, whose permissions the migrations
    set; not a superuser. Creates the user when there is none, with `password` (and `email`), verified. Returns the
    user and whether they were created."""
    username = username.strip()
    if not username:
        raise InvalidInput("Give the username of the moderator.")
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            if not password:
                raise InvalidInput(f"There is no user {username}: give a --password to create one.")
            user = User.objects.create_user(username=username, email=email, password=password)
            if email:
                EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user, created


def is_moderator(user) -> bool:
    """Whether `user` is in the Moderators group (the services that only moderators may call ask this)."""
    return bool(user.is_authenticated) and user.groups.filter(name=MODERATORS_GROUP).exists()
