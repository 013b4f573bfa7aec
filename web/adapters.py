import secrets

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib.auth.hashers import make_password

# allauth's "Confirmation email sent to …" flash message.
CONFIRMATION_SENT_MESSAGE = "account/messages/email_confirmation_sent.txt"


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
