"""Requests signed as boto3 signs a Mechanical Turk call (botocore's own SigV4 signer, the headers boto3 sends), made
into Django requests as they reach the endpoint."""

import json

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.test import RequestFactory

TARGET_PREFIX = "MTurkRequesterServiceV20170117."
JSON_1_1 = "application/x-amz-json-1.1"


def signed_headers_for(
    *,
    key: str,
    secret: str,
    body: bytes,
    operation: str = "GetAccountBalance",
    url: str = "http://testserver/mturk",
    service: str = "mturk-requester",
    region: str = "us-east-1",
    extra_headers: dict | None = None,
) -> dict[str, str]:
    """The headers boto3 would send with this call, Authorization and X-Amz-Date included."""
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": JSON_1_1, **(extra_headers or {})},
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def django_request(*, path: str, headers: dict[str, str], body: bytes, host: str = "testserver", **environ):
    """The Django request a server hands the view for a POST of `body` to `path` with `headers`."""
    meta = {"HTTP_HOST": host, **environ}
    for name, value in headers.items():
        if name.lower() != "content-type":
            meta["HTTP_" + name.upper().replace("-", "_")] = value
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), JSON_1_1)
    # RequestFactory leaves CONTENT_TYPE out for an empty body; a real server passes the header on whatever the body.
    return RequestFactory().generic(
        "POST", path, data=body, content_type=content_type, CONTENT_TYPE=content_type, **meta
    )


def signed_request(
    *, key: str, secret: str, body: bytes | None = None, path: str = "/mturk", host: str = "testserver", **options
):
    """A call signed with (key, secret) for `host` and `path`, as the endpoint receives it."""
    body = json.dumps({}).encode() if body is None else body
    headers = signed_headers_for(key=key, secret=secret, body=body, url=f"http://{host}{path}", **options)
    return django_request(path=path, headers=headers, body=body, host=host)
