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
from tests.factories.quality import add_tasks, make_quality_job, quality_csv, work_and_check
from tests.factories.reputations import approved_work, paid_out, reviewed, worked
from tests.factories.users import PASSWORD, make_moderator, make_user, unique_number

__all__ = [
    "HTML_TEMPLATE",
    "PASSWORD",
    "SENTIMENT_FIELDS",
    "add_tasks",
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
    "make_quality_job",
    "make_submitted_assignment",
    "make_user",
    "paid_out",
    "quality_csv",
    "reviewed",
    "set_payout_destination",
    "unique_number",
    "work_and_check",
    "worked",
]
