"""get_backend() builds the backend LIGHTNING_BACKEND names, from the current settings, or says what is missing."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from payments.lightning import get_backend
from payments.lightning.cln import ClnBackend
from payments.lightning.common import system_tls_context
from payments.lightning.dev import DevBackend
from payments.lightning.lnbits import LnbitsBackend
from payments.lightning.lnd import LndBackend


@pytest.fixture
def no_node_settings(settings):
    for name in ("LNBITS_URL", "LNBITS_ADMIN_KEY", "LND_REST_URL", "LND_MACAROON_HEX", "LND_TLS_CERT_PATH"):
        setattr(settings, name, "")
    settings.CLN_REST_URL = settings.CLN_RUNE = ""
    return settings


def test_dev_backend_signs_for_the_configured_network(no_node_settings):
    no_node_settings.LIGHTNING_BACKEND = "dev"
    no_node_settings.BITCOIN_NETWORK = "signet"

    backend = get_backend()

    assert isinstance(backend, DevBackend)
    assert backend.currency == "tbs"


@pytest.mark.parametrize(
    ("name", "given", "kind", "built"),
    [
        pytest.param(
            "lnbits",
            {"LNBITS_URL": "http://127.0.0.1:5000", "LNBITS_ADMIN_KEY": "key"},
            LnbitsBackend,
            {"url": "http://127.0.0.1:5000", "admin_key": "key"},
            id="lnbits",
        ),
        pytest.param(
            "lnd",
            {"LND_REST_URL": "https://127.0.0.1:8080/", "LND_MACAROON_HEX": "0201036c6e64"},
            LndBackend,
            # No certificate configured: the system's authorities, one context per process.
            {"url": "https://127.0.0.1:8080", "macaroon_hex": "0201036c6e64", "verify": system_tls_context()},
            id="lnd",
        ),
        pytest.param(
            "cln",
            {"CLN_REST_URL": "https://127.0.0.1:3010", "CLN_RUNE": "rune"},
            ClnBackend,
            {"url": "https://127.0.0.1:3010", "rune": "rune"},
            id="cln",
        ),
    ],
)
def test_each_call_reads_the_settings_again_and_builds_the_backend_from_them(
    no_node_settings, name, given, kind, built
):
    no_node_settings.LIGHTNING_BACKEND = "dev"
    assert isinstance(get_backend(), DevBackend)

    no_node_settings.LIGHTNING_BACKEND = name
    for setting, value in given.items():
        setattr(no_node_settings, setting, value)

    backend = get_backend()
    assert isinstance(backend, kind)
    assert {attribute: getattr(backend, attribute) for attribute in built} == built


@pytest.mark.parametrize(
    ("backend", "present", "missing"),
    [
        ("lnbits", {"LNBITS_URL": "http://127.0.0.1:5000"}, "LNBITS_ADMIN_KEY"),
        ("lnbits", {}, "LNBITS_URL, LNBITS_ADMIN_KEY"),
        ("lnd", {"LND_MACAROON_HEX": "0201"}, "LND_REST_URL"),
        ("cln", {"CLN_REST_URL": "https://127.0.0.1:3010"}, "CLN_RUNE"),
    ],
)
def test_missing_settings_are_named(no_node_settings, backend, present, missing):
    no_node_settings.LIGHTNING_BACKEND = backend
    for name, value in present.items():
        setattr(no_node_settings, name, value)

    with pytest.raises(ImproperlyConfigured, match=f"LIGHTNING_BACKEND={backend} needs {missing} to be set"):
        get_backend()


def test_an_unreadable_lnd_certificate_is_a_configuration_error(no_node_settings, tmp_path):
    no_node_settings.LIGHTNING_BACKEND = "lnd"
    no_node_settings.LND_REST_URL = "https://127.0.0.1:8080"
    no_node_settings.LND_MACAROON_HEX = "0201"
    no_node_settings.LND_TLS_CERT_PATH = str(tmp_path / "missing-tls.cert")

    with pytest.raises(ImproperlyConfigured, match="LND_TLS_CERT_PATH"):
        get_backend()


def test_an_unknown_backend_name_is_a_configuration_error(no_node_settings):
    no_node_settings.LIGHTNING_BACKEND = "eclair"

    with pytest.raises(ImproperlyConfigured, match="one of cln, dev, lnbits, lnd"):
        get_backend()
