"""Which Lightning backend the app uses: `settings.LIGHTNING_BACKEND` (dev, lnbits, lnd or cln)."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.lightning.base import LightningBackend


def get_backend() -> LightningBackend:
    """A backend built from the current settings. Cheap: build one per use, so tests can override settings."""
    name = getattr(settings, "LIGHTNING_BACKEND", "dev")
    builder = BUILDERS.get(name)
    if builder is None:
        raise ImproperlyConfigured(f"LIGHTNING_BACKEND is {name!r}; it must be one of {', '.join(sorted(BUILDERS))}.")
    return builder()


def test_wallet_enabled() -> bool:
    """Whether the development backend's test wallet may pay invoices here: only on a development, test or demo
    machine (see LIGHTNING_DEV_BACKEND_ALLOWED). Anywhere else it would be free money."""
    return settings.LIGHTNING_BACKEND == "dev" and (settings.DEBUG or settings.LIGHTNING_DEV_BACKEND_ALLOWED)


def _required(backend: str, *names: str) -> dict[str, str]:
    values = {name: getattr(settings, name, "") or "" for name in names}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise ImproperlyConfigured(f"LIGHTNING_BACKEND={backend} needs {', '.join(missing)} to be set.")
    return values


def _dev() -> LightningBackend:
    from payments.lightning.dev import DevBackend

    return DevBackend(secret_key=settings.SECRET_KEY, network=settings.BITCOIN_NETWORK)


def _lnbits() -> LightningBackend:
    from payments.lightning.lnbits import LnbitsBackend

    values = _required("lnbits", "LNBITS_URL", "LNBITS_ADMIN_KEY")
    return LnbitsBackend(
        url=values["LNBITS_URL"], admin_key=values["LNBITS_ADMIN_KEY"], network=settings.BITCOIN_NETWORK
    )


def _lnd() -> LightningBackend:
    from payments.lightning.lnd import LndBackend

    values = _required("lnd", "LND_REST_URL", "LND_MACAROON_HEX")
    try:
        return LndBackend(
            url=values["LND_REST_URL"],
            macaroon_hex=values["LND_MACAROON_HEX"],
            tls_cert_path=getattr(settings, "LND_TLS_CERT_PATH", "") or None,
            network=settings.BITCOIN_NETWORK,
        )
    except ValueError as error:
        raise ImproperlyConfigured(f"LND_TLS_CERT_PATH: {error}") from error


def _cln() -> LightningBackend:
    from payments.lightning.cln import ClnBackend

    values = _required("cln", "CLN_REST_URL", "CLN_RUNE")
    return ClnBackend(url=values["CLN_REST_URL"], rune=values["CLN_RUNE"], network=settings.BITCOIN_NETWORK)


# Imported when chosen: `payments.lightning` is imported while apps load, before the dev backend's model may be.
BUILDERS: dict[str, Callable[[], LightningBackend]] = {"dev": _dev, "lnbits": _lnbits, "lnd": _lnd, "cln": _cln}
