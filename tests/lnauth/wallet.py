"""A real LNURL-auth wallet for tests: the `lnurl` package's LUD-05 key derivation (a seed and the site's domain
give the linking key) and its LUD-04 signature. It reads the k1 and action from the LNURL the page shows, as a
phone would from the QR code."""

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from lnurl import lnurlauth_derive_linking_key, lnurlauth_signature, url_decode


class Wallet:
    def __init__(self, seed_hex: str | None = None) -> None:
        self.seed_hex = seed_hex or secrets.token_hex(32)

    def linking_key(self, domain: str) -> bytes:
        private_key, _public = lnurlauth_derive_linking_key(self.seed_hex, domain)
        return private_key

    def sign(self, k1: str, domain: str) -> tuple[str, str]:
        """(key, sig) in hex: the compressed public linking key for `domain`, and its DER signature of k1."""
        return lnurlauth_signature(k1, self.linking_key(domain))

    def key(self, domain: str) -> str:
        return self.sign("00" * 32, domain)[0]

    def callback_url(self, bech32_lnurl: str) -> str:
        """The URL the wallet calls for this LNURL: the LNURL's own URL plus `sig` and `key` (LUD-04)."""
        url = str(url_decode(bech32_lnurl))
        parts = urlsplit(url)
        k1 = parse_qs(parts.query)["k1"][0]
        key, sig = self.sign(k1, parts.hostname)
        return f"{url}&{urlencode({'sig': sig, 'key': key})}"
