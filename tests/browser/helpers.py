import re

from django.core import mail
from playwright.sync_api import Page, expect


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Find work")).to_be_visible()


def sign_up(page: Page, username: str, password: str, *, display_name: str = "") -> None:
    """Sign up through allauth's form and follow the link in the verification email in the same browser, which
    logs the newcomer in and shows them the payment step."""
    page.goto("/accounts/signup/")
    page.locator("#id_email").fill(f"{username}@example.com")
    page.locator("#id_username").fill(username)
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    if display_name:
        page.locator("#id_display_name").fill(display_name)
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()
    confirm_path = re.search(r"(/accounts/confirm-email/[^\s]+)", mail.outbox[-1].body).group(1)
    page.goto(confirm_path)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="How do you want to be paid?")).to_be_visible()
