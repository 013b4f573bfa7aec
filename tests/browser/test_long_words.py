"""Issue 9: a 150-character username pushed the page 1,550 px wide. Long words wrap everywhere: no page is wider
than the screen, on a phone or a desktop."""

import pytest

from tests.browser.helpers import log_in
from tests.factories import PASSWORD, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db(transaction=True)

LONG = "w" * 150


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_a_very_long_name_and_title_never_widen_a_page(new_page, width, height):
    requester = make_user(LONG[:150], display_name=LONG[:80])
    job = make_job(requester=requester, tasks=2, title="T" * 200)
    make_submitted_assignment(job=job, worker=make_user("v" * 150))
    page = new_page(width=width, height=height)
    log_in(page, requester.username, PASSWORD)
    for path in ["/", f"/jobs/{job.public_id}/", "/requester/", f"/requester/jobs/{job.public_id}/",
                 f"/requester/jobs/{job.public_id}/review/", "/wallet/", "/activity/"]:  # fmt: skip
        page.goto(path)
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{path} is {scroll_width} px wide on a {width} px screen"
