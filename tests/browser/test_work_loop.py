"""The core loop in a real browser: post a job, claim and submit, review, see the outcome."""

import re

import pytest
from playwright.sync_api import expect

from marketplace.models import Job, JobStatus
from tasks.models import Assignment, AssignmentStatus
from tests.browser.helpers import sign_up
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TASKS_CSV = (
    "review,product\n"
    '"Great battery, lasts days",Phone\n'
    '"Broke after a week, ""support"" never answered",Kettle\n'
    "Does what it says,Lamp\n"
)


def test_form_builder_job_from_signup_to_reviewed_work(new_page, screenshot):
    requester_page = new_page()

    # A requester signs up and follows the link in the verification email, which logs her in (the same browser
    # signed up). Asked how she wants to be paid, she only posts jobs, so she skips that for now.
    sign_up(requester_page, "ada", PASSWORD)
    requester_page.get_by_role("link", name="Skip for now").click()
    expect(requester_page.get_by_role("heading", name="Find work")).to_be_visible()

    # Creates a job...
    requester_page.get_by_role("link", name="Post a job").first.click()
    requester_page.get_by_label("Title").fill("Is this review positive?")
    requester_page.get_by_label("Description").fill("Read a **short** product review and judge its tone.")
    requester_page.get_by_label("Instructions").fill("Judge the whole review, not single words.")
    requester_page.get_by_label("Reward per assignment (sats)").fill("21")
    requester_page.get_by_label("Tags").fill("sentiment, english")
    requester_page.get_by_role("button", name="Save draft and continue").click()

    # ...with a form-builder form: one single-choice field and, added with the builder's button, a text field.
    expect(requester_page.get_by_role("heading", name="Answer form")).to_be_visible()
    requester_page.get_by_label("Prompt").fill("> {{review}}\n\nProduct: {{product}}")
    requester_page.locator("#id_fields-0-name").fill("sentiment")
    requester_page.locator("#id_fields-0-label").fill("How does the customer feel?")
    requester_page.locator("#id_fields-0-kind").select_option("single_choice")
    requester_page.locator("#id_fields-0-choices").fill("Positive\nNegative\nMixed")
    requester_page.get_by_role("button", name="Add a field").click()
    requester_page.locator("#id_fields-1-name").fill("notes")
    requester_page.locator("#id_fields-1-label").fill("Anything unclear?")
    requester_page.locator("#id_fields-1-required").uncheck()
    screenshot(requester_page, "form-builder")
    requester_page.get_by_role("button", name="Save answer form").click()

    # ...from a CSV upload.
    expect(requester_page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    requester_page.get_by_label("CSV file").set_input_files(
        files=[{"name": "tasks.csv", "mimeType": "text/csv", "buffer": TASKS_CSV.encode()}]
    )
    requester_page.get_by_role("button", name="Add tasks").click()
    expect(requester_page.get_by_text("3 tasks added.")).to_be_visible()

    # Previews a task exactly as a worker will see it, then publishes.
    requester_page.get_by_role("link", name="Continue to preview").click()
    expect(requester_page.get_by_text("Great battery, lasts days")).to_be_visible()
    expect(requester_page.get_by_text("How does the customer feel?")).to_be_visible()
    requester_page.get_by_role("link", name="Looks good: continue to publish").click()

    # Publishing needs escrow: 3 tasks × (21 sats + 10 % fee). The requester adds the missing funds over Lightning
    # (the development backend's test wallet pays the invoice) and comes back to publish.
    requester_page.get_by_role("button", name="Publish").click()
    expect(requester_page.get_by_text("sats short of this job's escrow")).to_be_visible()
    requester_page.get_by_role("link", name=re.compile(r"^Add 70 sats$")).click()
    expect(requester_page.get_by_label("Amount (sats)")).to_have_value("70")
    requester_page.get_by_role("button", name="Create invoice").click()
    expect(requester_page.get_by_text("Waiting for payment")).to_be_visible()
    expect(requester_page.locator(".qr svg")).to_be_visible()
    screenshot(requester_page, "deposit")
    requester_page.get_by_role("button", name=re.compile("Pay with the test wallet")).click()
    expect(requester_page.get_by_text("70 sats were added to your balance.")).to_be_visible()
    requester_page.goto(f"/requester/jobs/{Job.objects.get(title='Is this review positive?').public_id}/")
    requester_page.get_by_role("button", name="Publish").click()
    expect(requester_page.get_by_text("Published: your job is on the board.")).to_be_visible()
    job = Job.objects.get(title="Is this review positive?")
    assert job.status == JobStatus.PUBLISHED
    assert job.task_count == 3

    # A worker signs up on a phone. She has no Lightning Address yet: her earnings will collect in the wallet and
    # she withdraws them with a QR code (at the end of this test).
    worker_page = new_page(width=390, height=844)  # a phone
    sign_up(worker_page, "wendy", PASSWORD, display_name="Wendy")
    screenshot(worker_page, "phone-payment-step")
    worker_page.get_by_role("button", name="I'll withdraw with a QR code").click()
    expect(worker_page.get_by_text("Your earnings collect in your wallet")).to_be_visible()
    # She goes on at a desktop (the README's pictures; tests/browser/test_phone_layout.py covers the phone views).
    worker_page.set_viewport_size({"width": 1280, "height": 900})

    # She finds the job on the board, claims and submits two tasks.
    expect(worker_page.get_by_role("heading", name="Find work")).to_be_visible()
    screenshot(worker_page, "board")
    worker_page.get_by_role("link", name="Is this review positive?").click()
    worker_page.get_by_role("button", name="Start working").click()
    expect(worker_page.get_by_text("Great battery, lasts days")).to_be_visible()
    expect(worker_page.locator(".countdown")).to_contain_text(re.compile(r"Time left \d+:\d\d"))
    screenshot(worker_page, "assignment")
    worker_page.get_by_label("Positive").check()
    worker_page.get_by_role("button", name="Submit and take the next task").click()
    expect(worker_page.get_by_text("Submitted. Thank you!")).to_be_visible()
    expect(worker_page.get_by_text('Broke after a week, "support" never answered')).to_be_visible()
    worker_page.get_by_label("Negative").check()
    worker_page.get_by_label("Anything unclear?").fill("Short review")
    worker_page.get_by_role("button", name="Submit", exact=True).click()
    expect(worker_page.get_by_role("heading", name="My work")).to_be_visible()
    assert Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED).count() == 2

    # The requester approves one and rejects the other with a reason.
    requester_page.get_by_role("link", name=re.compile(r"Review submissions")).click()
    expect(requester_page.locator(".review-item")).to_have_count(2)
    screenshot(requester_page, "review")
    first = requester_page.locator(".review-item").nth(0)
    first.get_by_role("button", name="Approve").click()
    expect(requester_page.locator(".review-item").nth(0).locator(".badge")).to_have_text("Approved")
    second = requester_page.locator(".review-item").nth(1)
    second.get_by_label("Feedback or reason for rejection").fill("The review is clearly negative, not mixed.")
    requester_page.once("dialog", lambda dialog: dialog.accept())  # "Reject this submission?"
    second.get_by_role("button", name="Reject").click()
    expect(requester_page.locator(".review-item").nth(1).locator(".badge")).to_have_text("Rejected")
    requester_page.get_by_role("link", name="My jobs").click()
    screenshot(requester_page, "requester-dashboard")

    # The worker sees both outcomes, with the reason.
    worker_page.goto("/work/")
    expect(worker_page.get_by_text("The review is clearly negative, not mixed.")).to_be_visible()
    expect(worker_page.locator(".badge-approved")).to_have_count(1)
    expect(worker_page.locator(".badge-rejected")).to_have_count(1)
    expect(worker_page.get_by_text("50%")).to_be_visible()
    screenshot(worker_page, "worker-dashboard")

    # The approved reward (21 sats) is the worker's to withdraw; the test wallet claims the LNURL-withdraw link and
    # a background job (run eagerly here) pays it. The receipt shows the payment hash and preimage.
    worker_page.get_by_role("link", name="Wallet").click()
    expect(worker_page.locator("#earned-balance")).to_have_text("21")
    worker_page.goto("/wallet/payouts/")
    worker_page.get_by_role("link", name="Withdraw 21 sats").click()
    expect(worker_page.locator(".qr svg")).to_be_visible()
    screenshot(worker_page, "withdraw")
    worker_page.get_by_role("button", name=re.compile("Withdraw to the test wallet")).click()
    expect(worker_page.locator(".payout .badge")).to_have_text("Paid")
    expect(worker_page.get_by_text("Preimage (proof of payment)")).to_be_visible()
    screenshot(worker_page, "payouts")
