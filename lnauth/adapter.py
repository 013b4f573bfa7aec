from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from lnauth.services import PROVIDER_ID


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        if sociallogin.account.provider == PROVIDER_ID:
            # "wallet-<first 8 of the key>", or with a number after it in the rare case two keys share 8 hex digits
            # (allauth would otherwise fall back to "user").
            user.username = get_account_adapter(request).generate_unique_username([data.get("username"), "wallet"])
        return user
