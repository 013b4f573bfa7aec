"""The sandboxed frame's Content-Security-Policy and the asset hosts a requester may declare (the browser tests in
tests/browser/test_html_template_containment.py show the policy at work in Chromium)."""

import pytest
from django.test import Client
from django.urls import reverse

from api.services import api_key_create
from core.errors import InvalidInput
from marketplace import services
from marketplace.answer_forms import clean_asset_hosts
from tasks.services import assignment_claim, tasks_add
from tests.factories import make_user
from web.framing import frame_policy

pytestmark = pytest.mark.django_db

TEMPLATE = "<form><input name='a'></form>"


def html_job(requester, asset_hosts=None):
    job = services.job_create(requester=requester, title="T", description="D", reward_msat=10_000)
    services.job_set_html_template(job=job, actor=requester, html_template=TEMPLATE, asset_hosts=asset_hosts)
    tasks_add(job=job, actor=requester, columns=["n"], rows=[{"n": "1"}])
    return services.job_publish(job=job, actor=requester)


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def test_without_declared_hosts_the_frame_reaches_only_this_site_and_data():
    policy = directives(frame_policy())

    assert policy["img-src"] == ["'self'", "data:"]  # was `data: https:`: any host, with the typed text in the URL
    assert policy["media-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert policy["sandbox"] == ["allow-scripts", "allow-forms"]
    assert "https:" not in frame_policy()


def test_declared_hosts_are_added_to_what_the_frame_may_load():
    policy = directives(frame_policy(["https://cdn.example", "https://fonts.example:8443"]))

    for name in ("script-src", "style-src", "img-src", "media-src", "font-src", "connect-src"):
        assert policy[name][-2:] == ["https://cdn.example", "https://fonts.example:8443"]
    assert policy["form-action"] == ["'none'"]


def test_the_assignment_frame_carries_the_jobs_hosts(client):
    requester, worker = make_user("ada"), make_user("wendy")
    job = html_job(requester, ["https://cdn.example"])
    assignment = assignment_claim(job=job, worker=worker)
    client.force_login(worker)

    response = client.get(reverse("assignment_frame", args=[assignment.public_id]))

    assert "img-src 'self' data: https://cdn.example;" in response["Content-Security-Policy"]
    page = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert "<code>https://cdn.example</code>" in page


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (["https://CDN.Example.com/"], ["https://cdn.example.com"]),
        (["https://cdn.example.com:443", "https://cdn.example.com"], ["https://cdn.example.com"]),
        (["https://xn--bcher-kva.example:8443", "  "], ["https://xn--bcher-kva.example:8443"]),
    ],
)
def test_asset_hosts_are_normalised(typed, expected):
    assert clean_asset_hosts(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "http://cdn.example.com",  # not https
        "https://*.example.com",  # no wildcards: workers are shown exactly where their typing can go
        "https://cdn.example.com/js/",  # an origin, not a path
        "https://cdn.example.com?x=1",
        "https://user@cdn.example.com",
        "https://cdn.example.com; script-src *",  # would inject into the policy header
        "https://cdn.example.com 'unsafe-eval'",
        "'self'",
        "data:",
        "https://",
        "https://[::1]",
    ],
)
def test_anything_but_an_https_origin_is_refused(typed):
    with pytest.raises(InvalidInput, match="is not an https origin"):
        clean_asset_hosts([typed])


def test_at_most_ten_hosts():
    with pytest.raises(InvalidInput, match="At most 10"):
        clean_asset_hosts([f"https://cdn{n}.example" for n in range(11)])


def test_the_html_template_page_saves_the_hosts(client):
    requester = make_user("ada")
    job = services.job_create(requester=requester, title="T", description="D", reward_msat=10_000)
    client.force_login(requester)

    response = client.post(
        reverse("job_form", args=[job.public_id]),
        {"form_kind": "html", "html_template": TEMPLATE, "asset_hosts": "https://cdn.example\nhttp://bad.example"},
    )
    assert response.status_code == 200
    assert "is not an https origin" in response.content.decode()

    client.post(
        reverse("job_form", args=[job.public_id]),
        {"form_kind": "html", "html_template": TEMPLATE, "asset_hosts": "https://cdn.example\n"},
    )
    job.refresh_from_db()
    assert job.asset_hosts == ["https://cdn.example"]


def test_the_api_takes_and_shows_asset_hosts():
    requester = make_user("ada")
    _, secret = api_key_create(user=requester, name="t")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = {"title": "T", "description": "D", "reward_msat": 10_000, "html_template": TEMPLATE}

    created = api.post(
        "/api/v1/jobs", {**body, "asset_hosts": ["https://cdn.example"]}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["asset_hosts"] == ["https://cdn.example"]

    refused = api.post("/api/v1/jobs", {**body, "asset_hosts": ["https://*.example"]}, content_type="application/json")
    assert refused.status_code == 400
    assert "is not an https origin" in refused.json()["error"]["message"]

    job_id = created.json()["id"]
    patched = api.patch(f"/api/v1/jobs/{job_id}", {"asset_hosts": []}, content_type="application/json")
    assert patched.json()["asset_hosts"] == []
    assert patched.json()["html_template"] == TEMPLATE
