from django.apps import AppConfig


class LnauthConfig(AppConfig):
    name = "lnauth"
    verbose_name = "Log in with a Lightning wallet (LNURL-auth)"
