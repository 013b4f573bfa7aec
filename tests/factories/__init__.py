"""Plain factory functions for tests: they go through the services, so test data obeys the same rules.

One module per subject; import from `tests.factories`, which has every name.
"""

from tests.factories.assignments import (
    answer_data,
    give_earnings,
    make_claimed_assignment,
    make_many_submitted_assignments,
    make_submitted_assignment,
)
from tests.factories.jobs import (
    HTML_TEMPLATE,
    SENTIMENT_FIELDS,
    make_bare_draft,
    make_board_jobs,
    make_draft_job,
    make_html_job,
    make_job,
)
from tests.factories.money import fund, set_payout_destination
from tests.factories.reputations import approved_work, paid_out, reviewed, worked
from tests.factories.users import PASSWORD, make_moderator, make_user, unique_number

__all__ = [
    "HTML_TEMPLATE",
    "PASSWORD",
    "SENTIMENT_FIELDS",
    "answer_data",
    "approved_work",
    "fund",
    "give_earnings",
    "make_bare_draft",
    "make_board_jobs",
    "make_claimed_assignment",
    "make_draft_job",
    "make_html_job",
    "make_job",
    "make_many_submitted_assignments",
    "make_moderator",
    "make_submitted_assignment",
    "make_user",
    "paid_out",
    "reviewed",
    "set_payout_destination",
    "unique_number",
    "worked",
]
