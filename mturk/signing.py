"""Signature Version 4 verification of calls to the Mechanical Turk requester API.

Every call to /mturk and /sandbox/mturk is signed by the requester's client (boto3 and every other AWS SDK) with
an access key pair made in mturk.credentials. verify_signature checks it the way AWS does and refuses with AWS's own
words, so a requester's tooling and their searches for the message behave as they would against Amazon.

The expected signature is computed by botocore's own signer (the code that signed the request on the client's
side), fed the request as it arrived: its method, its path and query as received, exactly the headers the client
says it signed with their values as received, the raw body bytes, and the client's X-Amz-Date as the signing time.
Only the choice of headers is ours (see _ReceivedRequestSigner): the canonical request, the string to sign and the
key derivation are botocore's.
"""

import hashlib
import hmac
import logging
import re
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from mturk.credentials import credential_find, credential_secret
from mturk.models import MturkCredential

logger = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "mturk-requester"
TERMINATOR = "aws4_request"
LAST_USED_RESOLUTION = timedelta(minutes=1)
_REGION = re.compile(r"[a-z0-9-]{1,32}")
_DATE = re.compile(r"\d{8}T\d{6}Z")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
# What a refusal may echo of what the client sent (a region, a date): enough to recognise, never a wall of text.
_ECHO_CHARS = 64

# AWS's own wording (its answers to the same mistakes).
MISSING_TOKEN = "Missing Authentication Token"  # noqa: S105 - a message, not a password
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - a message
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
DATE_NOT_SIGNED = "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
DATE_MISSING = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
MUST_BE_SIGNED_IF_SENT = ("x-amz-content-sha256", "x-amz-target")
CONTENT_SHA256_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."


class SignatureRefused(Exception):
    """A call whose signature does not prove who sent it. `message` is AWS's wording for the same refusal; the
    endpoint answers it as a RequestError (HTTP 400). `aws_type` is the exception name AWS itself would answer with,
    for the log."""

    def __init__(self, message: str, *, aws_type: str = "InvalidSignatureException") -> None:
        super().__init__(message)
        self.message = message
        self.aws_type = aws_type


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, signing exactly the headers the client listed in SignedHeaders. botocore's own
    choice (every header but a blacklist, the host taken from the URL if missing) is right for the client that
    builds a request; the server must take the client's list as it is, as AWS does, or a client that also signs,
    say, User-Agent could never be verified."""

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return request.headers


def _echo(value: str) -> str:
    value = "".join(char for char in value if char.isprintable())
    return value if len(value) <= _ECHO_CHARS else value[:_ECHO_CHARS] + "…"


def _parse_authorization(header: str) -> tuple[str, str, str]:
    """(credential, signed headers, signature) of an `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
    header, or SignatureRefused."""
    algorithm, _, parameters = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureRefused(
            f"Only Signature Version 4 ({ALGORITHM}) is accepted; the Authorization header says '{_echo(algorithm)}'.",
            aws_type="IncompleteSignatureException",
        )
    values = {}
    for part in parameters.split(","):
        name, separator, value = part.strip().partition("=")
        if separator:
            values[name] = value.strip()
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if not values.get(name)]
    if missing:
        raise SignatureRefused(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing),
            aws_type="IncompleteSignatureException",
        )
    return values["Credential"], values["SignedHeaders"], values["Signature"]


def _raw_path(request: HttpRequest) -> str:
    """The path and query the client sent (and signed): the server's raw request line where it keeps one
    (gunicorn's RAW_URI, uWSGI's REQUEST_URI), else Django's full path (SCRIPT_NAME included, re-quoted)."""
    for key in ("RAW_URI", "REQUEST_URI"):
        raw = request.META.get(key, "")
        if raw.startswith("/"):
            return raw
    return request.get_full_path()


def _skew_words(seconds: int) -> str:
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} s."


def verify_signature(request: HttpRequest, *, now: datetime | None = None) -> MturkCredential:
    """The credential that signed `request` (a live one, of an active and not banned user, with the user selected),
    or SignatureRefused saying why not in AWS's words. Reads nothing else and changes nothing but the credential's
    last_used_at (at most once a minute, one conditional UPDATE)."""
    now = now or timezone.now()
    header = request.headers.get("Authorization", "")
    if not header.strip():
        raise SignatureRefused(MISSING_TOKEN, aws_type="MissingAuthenticationTokenException")
    credential_value, signed_headers_value, signature = _parse_authorization(header)

    signed_names = sorted({name.strip() for name in signed_headers_value.split(";") if name.strip()})
    if any(not _HEADER_NAME.fullmatch(name) for name in signed_names):
        raise SignatureRefused(SIGNATURE_MISMATCH)
    if "host" not in signed_names:
        raise SignatureRefused(HOST_NOT_SIGNED, aws_type="IncompleteSignatureException")
    amz_date = request.headers.get("X-Amz-Date", "").strip()
    if not amz_date:
        raise SignatureRefused(DATE_MISSING, aws_type="IncompleteSignatureException")
    if "x-amz-date" not in signed_names:
        raise SignatureRefused(DATE_NOT_SIGNED, aws_type="IncompleteSignatureException")
    # X-Amz-Target names the operation and X-Amz-Content-SHA256 stands for the body: one sent but not signed could
    # have been added on the way, so it is refused (S3's words). Other X-Amz-* headers are left alone: proxies such
    # as CloudFront add their own (X-Amz-Cf-Id) and the endpoint reads none of them.
    unsigned = [name for name in MUST_BE_SIGNED_IF_SENT if name in request.headers and name not in signed_names]
    if unsigned:
        raise SignatureRefused(
            f"There were headers present in the request which were not signed: {', '.join(unsigned)}",
            aws_type="IncompleteSignatureException",
        )

    if not _DATE.fullmatch(amz_date):
        raise SignatureRefused(
            f"Date must be in ISO-8601 'basic format'. Got '{_echo(amz_date)}'. See http://en.wikipedia.org/wiki/ISO_8601",
            aws_type="IncompleteSignatureException",
        )
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRefused(
            f"Date must be in ISO-8601 'basic format'. Got '{_echo(amz_date)}'. See http://en.wikipedia.org/wiki/ISO_8601",
            aws_type="IncompleteSignatureException",
        ) from None

    scope = credential_value.split("/")
    if len(scope) != 5:
        raise SignatureRefused(
            f"Credential should be scoped like <access key id>/<yyyymmdd>/<region>/{SERVICE}/{TERMINATOR}.",
            aws_type="IncompleteSignatureException",
        )
    access_key_id, scope_date, region, service, terminator = scope
    problems = []
    if not _REGION.fullmatch(region):
        problems.append(f"Credential should be scoped to a valid region, not '{_echo(region)}'.")
    if service != SERVICE:
        problems.append(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{_echo(terminator)}'."
        )
    if problems:
        raise SignatureRefused(" ".join(problems))
    if scope_date != amz_date[:8]:
        raise SignatureRefused(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{_echo(scope_date)}' != '{amz_date[:8]}', from '{amz_date}'."
        )

    max_skew = settings.MTURK_SIGNATURE_MAX_SKEW_SECONDS
    now_utc = now.astimezone(UTC)
    earliest, latest = now_utc - timedelta(seconds=max_skew), now_utc + timedelta(seconds=max_skew)
    if signed_at < earliest:
        raise SignatureRefused(
            f"Signature expired: {amz_date} is now earlier than {earliest.strftime(SIGV4_TIMESTAMP)} "
            f"({now_utc.strftime(SIGV4_TIMESTAMP)} - {_skew_words(max_skew)})"
        )
    if signed_at > latest:
        raise SignatureRefused(
            f"Signature not yet current: {amz_date} is still later than {latest.strftime(SIGV4_TIMESTAMP)} "
            f"({now_utc.strftime(SIGV4_TIMESTAMP)} + {_skew_words(max_skew)})"
        )

    credential = credential_find(access_key_id)
    if credential is None:
        raise SignatureRefused(INVALID_TOKEN, aws_type="UnrecognizedClientException")
    try:
        secret = credential_secret(credential)
    except InvalidToken:
        # SECRET_KEY changed without the old one kept in SECRET_KEY_FALLBACKS: every credential made before is lost.
        logger.warning(
            "Mechanical Turk credential %s cannot be decrypted with SECRET_KEY or its fallbacks.", access_key_id
        )
        raise SignatureRefused(INVALID_TOKEN, aws_type="UnrecognizedClientException") from None

    body = request.body
    headers = HTTPHeaders()
    for name in signed_names:
        value = request.headers.get(name)
        if value is None:  # signed by the client, lost on the way: the signature cannot be checked
            raise SignatureRefused(SIGNATURE_MISMATCH)
        headers[name] = value
    # botocore takes a signed X-Amz-Content-SHA256 as the body's hash without hashing the body (and accepts
    # UNSIGNED-PAYLOAD there): it must be the hash of the body that arrived, or the body would not be signed at all.
    if "x-amz-content-sha256" in headers and headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
        raise SignatureRefused(CONTENT_SHA256_MISMATCH)

    # The URL's host is never read: the host is a signed header (checked above), and a fixed one here keeps a
    # strange Host value from changing how the path is split off.
    url = "http://mturk.invalid" + _raw_path(request)
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=body)
    aws_request.context["timestamp"] = amz_date
    signer = _ReceivedRequestSigner(Credentials(access_key_id, secret), SERVICE, region)
    canonical_request = signer.canonical_request(aws_request)
    expected = signer.signature(signer.string_to_sign(aws_request, canonical_request), aws_request)
    if not _SIGNATURE.fullmatch(signature) or not hmac.compare_digest(expected, signature):
        raise SignatureRefused(SIGNATURE_MISMATCH)

    MturkCredential.objects.filter(pk=credential.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    return credential
