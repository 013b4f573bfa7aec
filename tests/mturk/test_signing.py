"""Every call to the Mechanical Turk API proves who sent it with an AWS Signature Version 4: requests signed by
botocore (as boto3 signs them) pass; anything changed after signing, a wrong or revoked key, a stale or future date,
a missing header or a wrong scope is refused with AWS's own words."""

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from moderation.services import user_ban
from mturk.credentials import credential_revoke
from mturk.models import MturkCredential
from mturk.signing import (
    DATE_MISSING,
    HOST_NOT_SIGNED,
    INVALID_TOKEN,
    MISSING_TOKEN,
    SIGNATURE_MISMATCH,
    SignatureRefused,
    verify_signature,
)
from tests.factories import make_moderator
from tests.mturk.sigv4 import django_request, signed_headers_for, signed_request

BODY = json.dumps({"HITId": "3ABC", "MaxResults": 10}).encode()


def signed_at(request) -> datetime:
    return datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def refusal(request, **kwargs) -> str:
    with pytest.raises(SignatureRefused) as refused:
        verify_signature(request, **kwargs)
    return refused.value.message


def with_header(request_headers: dict, **changes) -> dict:
    return {**request_headers, **changes}


@pytest.mark.django_db
def test_a_call_signed_as_boto3_signs_it_is_accepted_and_names_its_credential(mturk_pair, requester):
    credential, secret = mturk_pair
    found = verify_signature(signed_request(key=credential.access_key_id, secret=secret, body=BODY))
    assert found == credential
    assert found.user == requester
    credential.refresh_from_db()
    assert credential.last_used_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_any_region_is_accepted(mturk_pair, region):
    credential, secret = mturk_pair
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY, region=region)
    assert verify_signature(request) == credential


@pytest.mark.django_db
def test_an_empty_body_and_a_query_string_are_signed_too(mturk_pair):
    credential, secret = mturk_pair
    assert verify_signature(signed_request(key=credential.access_key_id, secret=secret, body=b"")) == credential
    path = "/mturk?b=2&a=1&a=0"
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY, path=path)
    assert verify_signature(request) == credential


@pytest.mark.django_db
def test_a_changed_body_is_refused(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    changed = json.dumps({"HITId": "3ABD", "MaxResults": 10}).encode()
    assert refusal(django_request(path="/mturk", headers=headers, body=changed)) == SIGNATURE_MISMATCH


@pytest.mark.django_db
def test_a_changed_operation_is_refused(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY, operation="GetHIT")
    headers = with_header(headers, **{"X-Amz-Target": "MTurkRequesterServiceV20170117.DeleteHIT"})
    assert refusal(django_request(path="/mturk", headers=headers, body=BODY)) == SIGNATURE_MISMATCH


@pytest.mark.django_db
def test_a_call_signed_for_another_host_or_path_is_refused(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    other_host = django_request(path="/mturk", headers=headers, body=BODY, host="boltwork.example")
    assert refusal(other_host) == SIGNATURE_MISMATCH
    # Signed for the live endpoint, sent to the sandbox's: it must not act on play money's behalf, nor the reverse.
    assert refusal(django_request(path="/sandbox/mturk", headers=headers, body=BODY)) == SIGNATURE_MISMATCH


@pytest.mark.django_db
def test_a_wrong_secret_is_refused(mturk_pair):
    credential, secret = mturk_pair
    wrong = ("A" if secret[0] != "A" else "B") + secret[1:]
    request = signed_request(key=credential.access_key_id, secret=wrong, body=BODY)
    assert refusal(request) == SIGNATURE_MISMATCH
    credential.refresh_from_db()
    assert credential.last_used_at is None  # a refused call leaves no trace


@pytest.mark.django_db
def test_an_unknown_key_and_a_revoked_key_are_refused(mturk_pair, requester):
    credential, secret = mturk_pair
    unknown = signed_request(key="AKIA" + "Z" * 16, secret=secret, body=BODY)
    assert refusal(unknown) == INVALID_TOKEN

    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY)
    credential_revoke(user=requester, access_key_id=credential.access_key_id)
    assert refusal(request) == INVALID_TOKEN


@pytest.mark.django_db
def test_a_banned_requesters_key_is_refused(mturk_pair, requester):
    credential, secret = mturk_pair
    user_ban(moderator=make_moderator(), user=requester, reason="Fraud")
    assert refusal(signed_request(key=credential.access_key_id, secret=secret, body=BODY)) == INVALID_TOKEN


@pytest.mark.django_db
def test_a_stale_date_is_refused_in_aws_words(mturk_pair):
    credential, secret = mturk_pair
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY)
    signed = signed_at(request)
    assert verify_signature(request, now=signed + timedelta(seconds=300)) == credential
    now = signed + timedelta(seconds=301)
    assert refusal(request, now=now) == (
        f"Signature expired: {signed:%Y%m%dT%H%M%SZ} is now earlier than "
        f"{signed + timedelta(seconds=1):%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} - 5 min.)"
    )


@pytest.mark.django_db
def test_a_future_date_is_refused_in_aws_words(mturk_pair):
    credential, secret = mturk_pair
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY)
    signed = signed_at(request)
    assert verify_signature(request, now=signed - timedelta(seconds=300)) == credential
    now = signed - timedelta(seconds=301)
    assert refusal(request, now=now) == (
        f"Signature not yet current: {signed:%Y%m%dT%H%M%SZ} is still later than "
        f"{signed - timedelta(seconds=1):%Y%m%dT%H%M%SZ} ({now:%Y%m%dT%H%M%SZ} + 5 min.)"
    )


@pytest.mark.django_db
def test_the_allowed_skew_is_the_setting(mturk_pair, settings):
    settings.MTURK_SIGNATURE_MAX_SKEW_SECONDS = 60
    credential, secret = mturk_pair
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY)
    assert refusal(request, now=signed_at(request) + timedelta(seconds=61)).endswith(" - 1 min.)")


@pytest.mark.django_db
def test_a_call_without_authorization_or_date_is_refused(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    no_authorization = {name: value for name, value in headers.items() if name != "Authorization"}
    assert refusal(django_request(path="/mturk", headers=no_authorization, body=BODY)) == MISSING_TOKEN
    no_date = {name: value for name, value in headers.items() if name != "X-Amz-Date"}
    assert refusal(django_request(path="/mturk", headers=no_date, body=BODY)) == DATE_MISSING


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        ("Bearer bw_abc", "Only Signature Version 4 (AWS4-HMAC-SHA256) is accepted"),
        ("AWS AKIAEXAMPLE:c2lnbmF0dXJl", "Only Signature Version 4 (AWS4-HMAC-SHA256) is accepted"),
        (
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/mturk-requester/aws4_request",
            (
                "Authorization header requires 'Signature' parameter. "
                "Authorization header requires 'SignedHeaders' parameter."
            ),
        ),
    ],
)
def test_a_malformed_authorization_header_is_refused(mturk_pair, authorization, message):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    request = django_request(path="/mturk", headers=with_header(headers, Authorization=authorization), body=BODY)
    assert refusal(request).startswith(message)


@pytest.mark.django_db
def test_host_and_date_must_be_signed(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    signed_list = re.search(r"SignedHeaders=([^,]+)", headers["Authorization"]).group(1)
    assert signed_list == "content-type;host;x-amz-date;x-amz-target"  # what boto3 signs

    without_host = headers["Authorization"].replace(signed_list, "content-type;x-amz-date;x-amz-target")
    request = django_request(path="/mturk", headers=with_header(headers, Authorization=without_host), body=BODY)
    assert refusal(request) == HOST_NOT_SIGNED

    without_date = headers["Authorization"].replace(signed_list, "content-type;host;x-amz-target")
    request = django_request(path="/mturk", headers=with_header(headers, Authorization=without_date), body=BODY)
    assert refusal(request) == "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."


@pytest.mark.django_db
def test_an_operation_header_added_after_signing_is_refused(mturk_pair):
    """A request signed without X-Amz-Target that arrives with one: whoever added it chose the operation."""
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    signed_list = re.search(r"SignedHeaders=([^,]+)", headers["Authorization"]).group(1)
    unsigned_target = headers["Authorization"].replace(signed_list, "content-type;host;x-amz-date")
    request = django_request(path="/mturk", headers=with_header(headers, Authorization=unsigned_target), body=BODY)
    assert refusal(request) == "There were headers present in the request which were not signed: x-amz-target"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("service", "region", "message"),
    [
        ("sqs", "us-east-1", "Credential should be scoped to correct service: 'mturk-requester'."),
        ("mturk", "us-east-1", "Credential should be scoped to correct service: 'mturk-requester'."),
        ("mturk-requester", "US_EAST", "Credential should be scoped to a valid region, not 'US_EAST'."),
    ],
)
def test_a_wrong_scope_is_refused(mturk_pair, service, region, message):
    credential, secret = mturk_pair
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY, service=service, region=region)
    assert refusal(request) == message


@pytest.mark.django_db
def test_the_scopes_date_must_be_the_signing_day(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    day = headers["X-Amz-Date"][:8]
    other_day = "19991231"
    authorization = headers["Authorization"].replace(f"/{day}/", f"/{other_day}/")
    request = django_request(path="/mturk", headers=with_header(headers, Authorization=authorization), body=BODY)
    assert refusal(request) == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'{other_day}' != '{day}', from '{headers['X-Amz-Date']}'."
    )


@pytest.mark.django_db
def test_a_malformed_date_is_refused(mturk_pair):
    credential, secret = mturk_pair
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY)
    request = django_request(
        path="/mturk", headers=with_header(headers, **{"X-Amz-Date": "2026-11-30T12:00:00Z"}), body=BODY
    )
    assert refusal(request).startswith("Date must be in ISO-8601 'basic format'. Got '2026-11-30T12:00:00Z'.")


@pytest.mark.django_db
def test_a_signed_payload_hash_must_be_the_bodys(mturk_pair):
    """botocore trusts a signed X-Amz-Content-SHA256 instead of hashing the body; so must it be the body's hash, or
    a signature with UNSIGNED-PAYLOAD would let anyone replace the body."""
    credential, secret = mturk_pair
    good = {"X-Amz-Content-SHA256": hashlib.sha256(BODY).hexdigest()}
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY, extra_headers=good)
    assert verify_signature(request) == credential

    unsigned = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY, extra_headers=unsigned)
    other_body = json.dumps({"HITId": "someone else's"}).encode()
    request = django_request(path="/mturk", headers=headers, body=other_body)
    assert refusal(request) == "The provided 'x-amz-content-sha256' header does not match what was computed."


@pytest.mark.django_db
def test_the_path_is_checked_as_the_client_sent_it_under_a_script_prefix(mturk_pair):
    """Mounted under /boltwork (SCRIPT_NAME), the client signs /boltwork/mturk while Django routes /mturk."""
    credential, secret = mturk_pair
    headers = signed_headers_for(
        key=credential.access_key_id, secret=secret, body=BODY, url="http://testserver/boltwork/mturk"
    )
    request = django_request(path="/mturk", headers=headers, body=BODY, SCRIPT_NAME="/boltwork")
    assert verify_signature(request) == credential


@pytest.mark.django_db
def test_the_raw_request_line_is_what_is_checked_where_the_server_keeps_it(mturk_pair):
    """gunicorn's RAW_URI holds the path exactly as it arrived, percent-escapes included."""
    credential, secret = mturk_pair
    raw = "/mturk/%7Eweird%2Fpath"
    headers = signed_headers_for(key=credential.access_key_id, secret=secret, body=BODY, url=f"http://testserver{raw}")
    request = django_request(path="/mturk/~weird/path", headers=headers, body=BODY, RAW_URI=raw)
    assert verify_signature(request) == credential


@pytest.mark.django_db
def test_last_used_is_written_at_most_once_a_minute(mturk_pair, django_assert_num_queries):
    credential, secret = mturk_pair
    request = signed_request(key=credential.access_key_id, secret=secret, body=BODY)
    first = timezone.now()
    verify_signature(request, now=first)
    credential.refresh_from_db()
    assert credential.last_used_at == first

    verify_signature(request, now=first + timedelta(seconds=30))
    credential.refresh_from_db()
    assert credential.last_used_at == first

    later = first + timedelta(seconds=61)
    with django_assert_num_queries(2):  # the credential with its user, and the conditional UPDATE
        verify_signature(request, now=later)
    assert MturkCredential.objects.get(pk=credential.pk).last_used_at == later


@pytest.mark.django_db
def test_the_secret_never_appears_in_a_refusal_or_the_log(mturk_pair, caplog):
    credential, secret = mturk_pair
    caplog.set_level("DEBUG")
    messages = []
    for request in [
        signed_request(key=credential.access_key_id, secret=secret[::-1], body=BODY),
        signed_request(key=credential.access_key_id, secret=secret, body=BODY, service="sqs"),
    ]:
        messages.append(refusal(request))
    verify_signature(signed_request(key=credential.access_key_id, secret=secret, body=BODY))
    assert not any(secret in message for message in messages)
    assert secret not in caplog.text


class _Sent(Exception):
    """Stops boto3 after it signed, with what it would have sent."""

    def __init__(self, request) -> None:
        self.request = request


def as_boto3_sends(*, key: str, secret: str, endpoint_url: str, call):
    """The request a real boto3 mturk client sends for `call(client)`, caught before it leaves (no server needed)."""
    import boto3

    client = boto3.client(
        "mturk", region_name="us-east-1", endpoint_url=endpoint_url, aws_access_key_id=key, aws_secret_access_key=secret
    )

    def stop(request, **kwargs):
        raise _Sent(request)

    client.meta.events.register("before-send.mturk", stop)
    with pytest.raises(_Sent) as sent:
        call(client)
    return sent.value.request


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint_url", ["http://testserver/mturk", "https://testserver/sandbox/mturk"])
def test_a_request_exactly_as_boto3_sends_it_is_accepted(mturk_pair, endpoint_url):
    credential, secret = mturk_pair
    sent = as_boto3_sends(
        key=credential.access_key_id,
        secret=secret,
        endpoint_url=endpoint_url,
        call=lambda client: client.list_hits(MaxResults=5),
    )
    path = endpoint_url.removeprefix("http://testserver").removeprefix("https://testserver")
    body = sent.body if isinstance(sent.body, bytes) else sent.body.encode()
    headers = {name: value.decode() if isinstance(value, bytes) else value for name, value in sent.headers.items()}
    assert "host" in re.search(r"SignedHeaders=([^,]+)", headers["Authorization"]).group(1)
    request = django_request(path=path, headers=headers, body=body, **{"wsgi.url_scheme": "https"})
    assert verify_signature(request) == credential
    assert request.headers["X-Amz-Target"] == "MTurkRequesterServiceV20170117.ListHITs"
