"""The allauth provider: a Lightning wallet's LNURL-auth linking key is the social account's uid, so wallet users
keep what allauth gives every account (sessions, adding an email later, connections). No SocialApp is needed
(`uses_apps = False`): there is no client id or secret, only the signature a wallet makes with its own key."""

from allauth.socialaccount.providers.base import Provider, ProviderAccount
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from lnauth.services import PROVIDER_ID


class LnurlAuthAccount(ProviderAccount):
    def to_str(self) -> str:
        key = self.account.uid
        return f"Lightning wallet {key[:8]}…{key[-4:]}"


class LnurlAuthProvider(Provider):
    id = PROVIDER_ID
    name = "Lightning wallet"
    account_class = LnurlAuthAccount
    uses_apps = False
    supports_redirect = True

    def get_login_url(self, request: HttpRequest, **kwargs) -> str:
        # allauth passes process ("login" or "connect"), next and others; the page reads process and next.
        query = {key: value for key, value in kwargs.items() if key in ("process", "next") and value}
        url = reverse("lnurl_auth_login")
        return f"{url}?{urlencode(query)}" if query else url

    def redirect(self, request: HttpRequest, process, next_url=None, data=None, **kwargs):
        return HttpResponseRedirect(self.get_login_url(request, process=process, next=next_url))

    def extract_uid(self, data) -> str:
        return data["key"]

    def extract_common_fields(self, data) -> dict:
        # lnauth.adapter makes it unique; no email: a wallet has none to give.
        return {"username": f"wallet-{data['key'][:8]}"}


provider_classes = [LnurlAuthProvider]
