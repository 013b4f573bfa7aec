"""Issue 9: the site at 390 px (an ordinary phone) and at 1280 px.

On a phone the navigation is one row with a menu, the board's filters fold away so the first job is on the first
screen, "My work" and "My jobs" are card lists rather than tables that scroll sideways, and no page is wider than
the screen. On a desktop the links and the filters show as before.
"""

import re

import pytest
from playwright.sync_api import expect

from tasks.services import assignment_review
from tests.browser.helpers import log_in
from tests.browser.main_pages import make_marketplace, requester_pages, visitor_pages, worker_pages
from tests.factories import (
    PASSWORD,
    make_board_jobs,
    make_claimed_assignment,
    make_draft_job,
    make_job,
    make_submitted_assignment,
    make_user,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

# Everything inside <main> whose right edge is past the viewport, and every table wrapper that scrolls sideways.
OVERFLOWING = """() => [...document.querySelectorAll('main *')]
    .filter(element => element.getBoundingClientRect().right > window.innerWidth + 0.5)
    .map(element => element.outerHTML.slice(0, 120))"""
SCROLLING_TABLES = """() => [...document.querySelectorAll('.table-wrap')]
    .filter(wrap => wrap.scrollWidth > wrap.clientWidth)
    .map(wrap => wrap.outerHTML.slice(0, 120))"""


def top_of(locator) -> float:
    return locator.bounding_box()["y"]


def test_on_a_phone_the_navigation_is_one_row_and_a_menu_that_works_with_the_keyboard(new_page, screenshot):
    worker = make_user()
    page = new_page(**PHONE)
    log_in(page, worker.username, PASSWORD)
    menu = page.locator(".site-nav summary")
    wallet = page.get_by_role("link", name="Wallet")

    expect(menu).to_be_visible()
    expect(menu).to_have_text("Menu")
    assert abs(top_of(menu) - top_of(page.locator(".brand"))) < 8, "the brand and the menu share one row"
    header = page.locator(".site-header-inner").bounding_box()
    assert header["height"] < 64, f"the header row is {header['height']} px tall"
    expect(wallet).to_be_hidden()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()

    # Tab to the menu (skip link, brand, menu) and open it with Enter: the links show, and Tab goes through them.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(menu).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("details.nav-menu")).to_have_attribute("open", "")
    expect(wallet).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Find work").first).to_be_focused()
    panel = page.locator(".nav-menu > ul").bounding_box()
    assert panel["x"] >= 0, "the open menu fits the screen"
    assert panel["x"] + panel["width"] <= PHONE["width"], "the open menu fits the screen"
    for link in page.locator(".nav-menu .nav-link").all():
        assert link.bounding_box()["height"] >= 44, "menu entries are 44 px tap targets"
    screenshot(page, "phone-menu")

    for name in ["My work", "My jobs", "Post a job", "Wallet"]:
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name=name, exact=True)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Wallet", level=1)).to_be_visible()
    expect(wallet).to_be_hidden()  # a new page starts with the menu closed

    # Space toggles it too, and closes it again.
    menu.focus()
    page.keyboard.press("Space")
    expect(wallet).to_be_visible()
    page.keyboard.press("Space")
    expect(wallet).to_be_hidden()

    # Escape closes it from inside and gives the focus back to "Menu"; a tap outside closes it too.
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Escape")
    expect(wallet).to_be_hidden()
    expect(menu).to_be_focused()
    menu.click()
    expect(wallet).to_be_visible()
    page.mouse.click(200, 700)
    expect(wallet).to_be_hidden()


def test_on_a_desktop_the_links_show_in_the_header_row_without_a_menu(new_page):
    worker = make_user()
    page = new_page(**DESKTOP)
    log_in(page, worker.username, PASSWORD)
    expect(page.locator(".site-nav summary")).to_be_hidden()
    brand_top = top_of(page.locator(".brand"))
    for name in ["Find work", "My work", "My jobs", "Post a job", "Wallet", "Activity", "API"]:
        link = page.get_by_role("link", name=name, exact=True).first
        expect(link).to_be_visible()
        assert abs(top_of(link) - brand_top) < 8, f"{name} is beside the brand"
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.get_by_role("link", name="Wallet").click()
    expect(page.get_by_role("heading", name="Wallet", level=1)).to_be_visible()


def test_the_active_sign_up_link_keeps_dark_text_on_amber(new_page):
    page = new_page(**DESKTOP)
    page.goto("/accounts/signup/")
    sign_up = page.locator(".nav-cta")
    expect(sign_up).to_have_attribute("aria-current", "page")
    expect(sign_up).to_have_css("color", "rgb(26, 19, 0)")


def test_on_a_phone_the_board_filters_fold_away_so_the_first_job_is_on_the_first_screen(new_page, screenshot):
    make_board_jobs(3)
    page = new_page(**PHONE)
    page.goto("/")
    filters = page.get_by_text("Filters", exact=True)
    search = page.get_by_label("Search")
    expect(filters).to_be_visible()
    expect(search).to_be_hidden()
    first_job = page.locator(".job-card").first
    box = first_job.bounding_box()
    assert box["y"] + 80 < PHONE["height"], f"the first job starts at {box['y']} px on an 844 px screen"
    expect(first_job.locator(".job-card-reward")).to_be_visible()
    assert box["y"] + first_job.locator(".job-card-reward").bounding_box()["y"] - box["y"] < PHONE["height"], (
        "the first job's reward is on the first screen"
    )
    screenshot(page, "phone-board")

    filters.click()
    expect(search).to_be_visible()
    search.fill("Board job 1")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".job-card")).to_have_count(1)
    expect(search).to_be_visible()  # while a filter is in use, the filters stay open
    expect(search).to_have_value("Board job 1")


def test_on_a_desktop_the_board_filters_show_without_opening_them(new_page):
    make_board_jobs(1)
    page = new_page(**DESKTOP)
    page.goto("/")
    expect(page.get_by_text("Filters", exact=True)).to_be_hidden()
    expect(page.get_by_label("Search")).to_be_visible()
    expect(page.get_by_label("Sort by")).to_be_visible()
    page.get_by_label("Sort by").select_option("reward")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"sort=reward"))
    expect(page.get_by_label("Sort by")).to_have_value("reward")


def assert_card_list(page, *, width: int) -> None:
    expect(page.locator("main table")).to_have_count(0)
    assert page.evaluate(SCROLLING_TABLES) == []
    assert page.evaluate(OVERFLOWING) == [], f"wider than {width} px"
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_my_work_is_a_list_of_cards_with_the_reward_on_each(new_page, screenshot, viewport):
    worker = make_user(funds_sats=0)
    long_title = "A job with a long title about rating " + "very " * 12 + "long reviews"
    make_submitted_assignment(job=make_job(tasks=2, reward_msat=21_000, title=long_title), worker=worker)
    rejected = make_submitted_assignment(job=make_job(tasks=1, reward_msat=5_000), worker=worker)
    assignment_review(assignment=rejected, reviewer=rejected.job.requester, approve=False,
                      feedback="The review was clearly negative, not mixed.")  # fmt: skip
    make_claimed_assignment(job=make_job(tasks=1, reward_msat=1_000, title="A one-sat task"), worker=worker)
    page = new_page(**viewport)
    log_in(page, worker.username, PASSWORD)
    page.goto("/work/")
    cards = page.locator(".item-card")
    expect(cards).to_have_count(3)
    for card in cards.all():
        expect(card.get_by_role("heading", level=2)).to_be_visible()
        expect(card.locator(".badge")).to_be_visible()
        expect(card.locator(".item-card-amount")).to_be_visible()
    expect(cards.filter(has_text="very long reviews").locator(".item-card-amount")).to_have_text("21 sats")
    expect(cards.filter(has_text="A one-sat task").locator(".item-card-amount")).to_have_text("1 sat")
    expect(page.get_by_text("The review was clearly negative, not mixed.")).to_be_visible()
    assert_card_list(page, width=viewport["width"])
    if viewport is PHONE:
        screenshot(page, "phone-my-work")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_my_jobs_is_a_list_of_cards_with_progress_and_a_review_link(new_page, screenshot, viewport):
    requester = make_user()
    job = make_job(requester=requester, tasks=4, title="Rate " + "product " * 15 + "reviews")
    make_submitted_assignment(job=job)
    make_claimed_assignment(job=job)
    make_draft_job(requester=requester, title="A draft for later")
    page = new_page(**viewport)
    log_in(page, requester.username, PASSWORD)
    page.goto("/requester/")
    cards = page.locator(".item-card")
    expect(cards).to_have_count(2)
    live = cards.filter(has_text="Rate product")
    expect(live.locator(".badge")).to_have_text("Published")
    expect(live.get_by_role("img", name="0 approved, 1 waiting for review, 1 in progress of 4")).to_be_visible()
    expect(live.locator(".counts div", has_text="Waiting for review").locator("dd")).to_have_text("1")
    expect(live.locator(".counts div", has_text="Remaining").locator("dd")).to_have_text("2")
    live.get_by_role("link", name=re.compile(r"^Review ")).click()
    expect(page.get_by_role("heading", name="Review submissions")).to_be_visible()
    page.go_back()
    assert_card_list(page, width=viewport["width"])
    if viewport is PHONE:
        screenshot(page, "phone-requester-dashboard")


def test_on_a_phone_the_task_page_fits_the_screen(new_page, screenshot):
    job = make_job(tasks=1, reward_msat=21_000)
    worker = make_user(funds_sats=0)
    assignment = make_claimed_assignment(job=job, worker=worker)
    page = new_page(**PHONE)
    log_in(page, worker.username, PASSWORD)
    page.goto(f"/work/assignments/{assignment.public_id}/")
    expect(page.get_by_label("Positive")).to_be_visible()
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_visible()
    assert page.evaluate(OVERFLOWING) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "phone-task")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_main_page_is_wider_than_the_screen(new_page, viewport):
    data = make_marketplace()
    width = viewport["width"]
    too_wide = []

    def check(page, paths):
        for path in paths:
            assert page.goto(path).ok, path
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                too_wide.append(f"{path} is {scroll_width} px wide")

    check(new_page(**viewport), visitor_pages(data))
    worker = new_page(**viewport)
    log_in(worker, data.worker.username, PASSWORD)
    check(worker, worker_pages(data))
    requester = new_page(**viewport)
    log_in(requester, data.requester.username, PASSWORD)
    check(requester, requester_pages(data))
    assert not too_wide, f"on a {width} px screen: " + "; ".join(too_wide)
