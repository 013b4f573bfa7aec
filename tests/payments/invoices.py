"""Real, signed BOLT11 invoices from a throwaway node key, for the backends' tests."""

import hashlib
import secrets
import time
from dataclasses import dataclass

from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags
from bolt11 import encode as bolt11_encode

from payments.invoices import CURRENCY_BY_NETWORK

NODE_KEY = hashlib.sha256(b"boltwork tests: some other node").hexdigest()


@dataclass(frozen=True)
class SignedInvoice:
    bolt11: str
    payment_hash: str
    preimage: str


def signed_invoice(
    *,
    amount_msat: int = 50_000,
    network: str = "regtest",
    memo: str = "test invoice",
    description_hash: bytes | None = None,
    expiry_seconds: int = 3600,
    created_at: int | None = None,
    private_key: str = NODE_KEY,
) -> SignedInvoice:
    preimage = secrets.token_bytes(32)
    payment_hash = hashlib.sha256(preimage).hexdigest()
    tags = Tags()
    tags.add(TagChar.payment_hash, payment_hash)
    tags.add(TagChar.payment_secret, secrets.token_hex(32))
    if description_hash is not None:
        tags.add(TagChar.description_hash, description_hash.hex())
    else:
        tags.add(TagChar.description, memo)
    tags.add(TagChar.expire_time, expiry_seconds)
    invoice = Bolt11(
        currency=CURRENCY_BY_NETWORK[network],
        date=created_at if created_at is not None else int(time.time()),
        tags=tags,
        amount_msat=MilliSatoshi(amount_msat),
    )
    return SignedInvoice(bolt11=bolt11_encode(invoice, private_key), payment_hash=payment_hash, preimage=preimage.hex())
