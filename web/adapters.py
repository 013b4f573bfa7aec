import secrets
import time

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import get_next_redirect_url
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

# allauth's "Confirmation email sent to …" flash message.
CONFIRMATION_SENT_MESSAGE = "account/messages/email_confirmation_sent.txt"
# When this browser last signed up or logged in (seconds since the epoch), to spare a newcomer typing the password
# they have just chosen a second time (the payment step).
AUTHENTICATED_AT_SESSION_KEY = "boltwork_authenticated_at"


def payment_step_url(*, then: str | None = None) -> str:
    """The "How do you want to be paid?" page, which continues to `then` (the job board without one)."""
    url = reverse("payment_step")
    return f"{url}?{urlencode({'next': then})}" if then else url


def authenticated_within(request: HttpRequest, seconds: float) -> bool:
    """Whether this browser signed up or logged in within the last `seconds`."""
    authenticated_at = request.session.get(AUTHENTICATED_AT_SESSION_KEY)
    return isinstance(authenticated_at, float) and 0 <= time.time() - authenticated_at <= seconds


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up must answer the same whether or not the address already has an account (ACCOUNT_PREVENT_ENUMERATION
    with mandatory verification: allauth then mails the owner instead of saying "already registered"). Two things
    allauth still lets differ are evened out here."""

    def is_open_for_signup(self, request) -> bool:
        return settings.ACCOUNT_ALLOW_SIGNUPS

    def add_message(self, request, level, message_template=None, message_context=None, extra_tags="", message=None):
        # allauth adds this only when a mail actually went out, and skips the mail while the address is in its
        # cooldown: a fresh address never is, a taken one is after any recent mail to it. With mandatory
        # verification the page after sign-up says it anyway (with "optional" this message is all the visitor sees).
        if (
            message_template == CONFIRMATION_SENT_MESSAGE
            and (message_context or {}).get("signup")
            and app_settings.EMAIL_VERIFICATION == app_settings.EmailVerificationMethod.MANDATORY
        ):
            return
        super().add_message(request, level, message_template, message_context, extra_tags, message)

    def respond_email_verification_sent(self, request, user):
        if user is None:
            # A sign-up with a taken address: allauth made no account, so hashed no password. Hash one anyway, or
            # this answer would come back a password hash (a large fraction of a second) sooner than a real one's.
            make_password(secrets.token_urlsafe(16))
        return super().respond_email_verification_sent(request, user)

    def get_signup_redirect_url(self, request) -> str:
        """A newcomer is asked how they want to be paid first, then goes on to the job board."""
        return payment_step_url()

    def post_login(self, request, user, *, signup, redirect_url, **kwargs):
        request.session[AUTHENTICATED_AT_SESSION_KEY] = time.time()
        # With a `next` (given at sign-up, kept through email verification in the login allauth stashes) allauth
        # goes straight there and never asks get_signup_redirect_url: the payment step comes first all the same.
        then = redirect_url or get_next_redirect_url(request)
        if signup and then:
            redirect_url = payment_step_url(then=then)
        return super().post_login(request, user, signup=signup, redirect_url=redirect_url, **kwargs)

    def respond_user_inactive(self, request, user):
        """A banned user who typed the right password is told so, and why (allauth's page says only "inactive")."""
        if getattr(user, "banned_at", None) is not None:
            return render(request, "moderation/banned.html", {"banned_user": user}, status=403)
        return super().respond_user_inactive(request, user)

    def get_email_verification_redirect_url(self, email_address) -> str:
        # The link followed in another browser (or after the sign-up's session ended) logs nobody in: the log-in
        # page comes next, and for an account that has never logged in, the payment step after it.
        if not self.request.user.is_authenticated and email_address.user.last_login is None:
            return f"{reverse('account_login')}?{urlencode({'next': payment_step_url()})}"
        return super().get_email_verification_redirect_url(email_address)
