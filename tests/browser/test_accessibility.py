"""Issue 9: axe-core on the main pages, on a phone (390×844) and a desktop (1280×800).

A page fails on any serious or critical violation, and on the moderate ones the issue named: headings out of order
(`heading-order`) and content outside every landmark (`region`, which caught the development banner).

axe-core 4.14.1, `axe.min.js` from the npm package (`npm pack axe-core@4.14.1`), vendored in tests/browser/vendor
with its licence (MPL-2.0). It is a test tool: the test injects it, the site never serves it.
"""

from pathlib import Path

import pytest

from tests.browser.helpers import log_in
from tests.browser.main_pages import make_marketplace, requester_pages, visitor_pages, worker_pages
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}
FAILING_MODERATE_RULES = {"heading-order", "region"}
VIEWPORTS = [(390, 844), (1280, 800)]


def axe_violations(page) -> list[str]:
    """Run axe on the page as it is; describe each failing violation with the elements it found."""
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in results["violations"]:
        if violation["impact"] in FAILING_IMPACTS or violation["id"] in FAILING_MODERATE_RULES:
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    return found


def check_pages(page, paths: list[str]) -> list[str]:
    problems = []
    for path in paths:
        response = page.goto(path)
        assert response.ok, f"{path} answered {response.status}"
        problems += [f"{path}: {violation}" for violation in axe_violations(page)]
    return problems


@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_the_main_pages_have_no_serious_accessibility_violations(axe_page, width, height):
    data = make_marketplace()
    problems = check_pages(axe_page(width, height), visitor_pages(data))

    worker = axe_page(width, height)
    log_in(worker, data.worker.username, PASSWORD)
    problems += check_pages(worker, worker_pages(data))

    requester = axe_page(width, height)
    log_in(requester, data.requester.username, PASSWORD)
    problems += check_pages(requester, requester_pages(data))
    assert not problems, f"axe-core at {width}×{height}:\n" + "\n".join(problems)
