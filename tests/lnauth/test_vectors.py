"""The signature check against LUD-04's example and the LUD-05 key derivation with the `lnurl` package."""

from lnurl import lnurlauth_derive_path

from lnauth.services import signature_valid
from tests.lnauth.wallet import Wallet

# LUD-04's signature check example (also in the lnurl package's own tests).
K1 = "e2af6254a8df433264fa23f67eb8188635d15ce883e8fc020989d5f82ae6f11e"
KEY = "02c3b844b8104f0c1b15c507774c9ba7fc609f58f343b9b149122e944dd20c9362"
SIG = (
    "304402203767faf494f110b139293d9bab3c50e07b3bf33c463d4aa767256cd09132dc510"
    "2205821f8efacdb5c595b92ada255876d9201e126e2f31a140d44561cc1f7e9e43d"
)
# LUD-05's derivation path example.
HASHING_PRIVATE_KEY = "7d417a6a5e9a6a4a879aeaba11a11838764c8fa2b959c242d43dea682b3e409b"
PATH_SUFFIX = "m/138'/1588488367/2659270754/38110259/4136336762"


def test_lud04_example_signature_is_accepted():
    assert signature_valid(k1=K1, sig=SIG, key=KEY)


def test_a_changed_k1_signature_or_key_is_refused():
    other_k1 = K1[:-2] + "1f"
    other_sig = SIG[:-2] + "3e"
    other_key = "03" + KEY[2:]
    assert not signature_valid(k1=other_k1, sig=SIG, key=KEY)
    assert not signature_valid(k1=K1, sig=other_sig, key=KEY)
    assert not signature_valid(k1=K1, sig=SIG, key=other_key)


def test_malformed_input_is_refused_not_raised():
    # coincurve raises on these; the check answers False.
    assert not signature_valid(k1=K1, sig="00" * 8, key=KEY)
    assert not signature_valid(k1=K1, sig=SIG, key="02" + "00" * 32)
    assert not signature_valid(k1=K1, sig="zz", key=KEY)


def test_lud05_derivation_path():
    assert lnurlauth_derive_path(bytes.fromhex(HASHING_PRIVATE_KEY), "site.com") == PATH_SUFFIX


def test_a_wallet_has_one_key_per_domain_and_its_signatures_verify():
    wallet = Wallet()
    assert wallet.key("boltwork.example") == wallet.key("boltwork.example")
    assert wallet.key("boltwork.example") != wallet.key("other.example")
    assert wallet.key("boltwork.example") != Wallet().key("boltwork.example")
    key, sig = wallet.sign(K1, "boltwork.example")
    assert len(key) == 66
    assert key[:2] in ("02", "03")
    assert signature_valid(k1=K1, sig=sig, key=key)
