"""The pages issue 13 adds, in Chromium: a requester makes Mechanical Turk credentials and sees the secret once, a
boto3 script then makes a sandbox HIT with them, and a worker finds it on the sandbox board, marked as play money."""

import re

import boto3
from playwright.sync_api import expect

from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_user
from tests.mturk.clients import HTML_QUESTION, NO_RETRIES, hit_terms


def test_credentials_made_on_the_settings_page_drive_a_sandbox_hit_onto_the_sandbox_board(
    new_page, live_server, screenshot
):
    make_user("lab")
    make_user("wendy")
    page = new_page()
    log_in(page, "lab", PASSWORD)
    page.goto("/settings/api/")
    page.get_by_role("button", name="Create key pair").click()
    shown = page.locator("#shown-secret")
    expect(shown).to_be_visible()
    text = shown.input_value()
    key = re.search(r"aws_access_key_id = (\S+)", text).group(1)
    secret = re.search(r"aws_secret_access_key = (\S+)", text).group(1)
    screenshot(page, "mturk-credentials")

    turk = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=f"{live_server.url}/sandbox/mturk",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=NO_RETRIES,
    )
    assert turk.get_account_balance()["AvailableBalance"] == "10000.00"
    turk.create_hit(**hit_terms(), MaxAssignments=3, LifetimeInSeconds=3600, Question=HTML_QUESTION)

    worker = new_page()
    log_in(worker, "wendy", PASSWORD)
    worker.goto("/sandbox/")
    expect(worker.get_by_role("link", name=hit_terms()["Title"])).to_be_visible()
    screenshot(worker, "sandbox-board")
    worker.goto("/")
    expect(worker.get_by_role("link", name=hit_terms()["Title"])).to_have_count(0)
