"""Qualification tests (issue 11): a requester attaches a short test with known answers to one of their custom
qualification types; a worker's score on it (0-100) becomes their value of the qualification, and they may retake it
once the type's retry delay has passed since their last attempt.

A test is stored on the type (`QualificationType.test_questions`) as a list of {"question", "options", "answer"}:
`options` empty for a free-text question. Known answers never leave this module towards a worker:
`qualification_test_questions_for_worker` gives the questions without them, and an attempt stores only what the
worker answered and whether it was right.
"""

import csv
import io
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.errors import DomainError, InvalidInput, NotFound
from core.events import Actor, record_event
from core.locks import lock_user
from core.ratelimit import duration_in_words
from marketplace.models import QualificationTestAttempt, QualificationType, User
from marketplace.qualifications import qualification_grant

MAX_TEST_QUESTIONS = 50
MAX_TEST_CSV_CHARS = 200_000
MAX_QUESTION_CHARS = 1_000
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MAX_OPTION_CHARS = 200
MAX_ANSWER_CHARS = 200
# What a worker types into a free-text answer is kept up to this (a longer one cannot match a known answer anyway).
MAX_GIVEN_ANSWER_CHARS = 1_000
MAX_RETRY_DELAY_SECONDS = 30 * 24 * 3600
HEADER = ["question", "options", "answer"]
OPTION_SEPARATOR = "|"
# The same answers sent again this soon after an attempt are one attempt sent twice (a double click, a resent form),
# whatever the retry delay: the second sending gets the first one's attempt.
DOUBLE_SUBMIT_SECONDS = 60
GRANT_RULE = "qualification_test"


class RetakeTooSoon(DomainError):
    code = "qualification_test_retake_too_soon"
    status = 409

    def __init__(self, message: str, *, retake_at: datetime) -> None:
        super().__init__(message, details={"retake_at": retake_at.isoformat()})
        self.retake_at = retake_at


class OwnQualificationTest(DomainError):
    code = "own_qualification_test"
    status = 403


class NoQualificationTest(NotFound):
    code = "no_qualification_test"


class QualificationTestChanged(DomainError):
    """The requester changed the test after the worker opened it: their answers would be scored against other
    questions."""

    code = "qualification_test_changed"
    status = 409


# The requester's side --------------------------------------------------------------------------------------------


def qualification_test_set(
    *, qualification: QualificationType, actor: User, csv_text: str, retry_delay_seconds: int
) -> QualificationType:
    """Attach a test to the actor's own custom type (someone else's is NotFound), replacing any test it had, from CSV
    rows `question,options,answer` under that header row (options separated by "|", none for a free-text answer).
    Every row is checked first: one bad row refuses the whole test, naming the row, and nothing changes. A CSV with
    no question rows removes the test. Attempts already made keep their scores; retakes follow the new delay."""
    _check_owner(qualification, actor)
    delay = _retry_delay(retry_delay_seconds)
    questions = parse_test_csv(csv_text)
    if not questions:
        return qualification_test_remove(qualification=qualification, actor=actor)
    if qualification.auto_grant_value is not None:
        raise InvalidInput(
            "This qualification is granted to any worker who asks. Remove its auto-grant value before adding a "
            "test: a qualification with a test is granted by the test only."
        )
    with transaction.atomic():
        locked = _lock_type(qualification)
        locked.test_questions = questions
        locked.test_retry_delay_seconds = delay
        locked.save(update_fields=["test_questions", "test_retry_delay_seconds"])
        record_event(
            type="qualification_test.set",
            actor=Actor.of(actor),
            subject=("qualification_type", locked.public_id),
            audience=[actor.pk],
            data={
                "qualification_type_id": locked.public_id,
                "questions": len(questions),
                "retry_delay_seconds": delay,
            },
        )
    qualification.test_questions, qualification.test_retry_delay_seconds = questions, delay
    return qualification


def qualification_test_remove(*, qualification: QualificationType, actor: User) -> QualificationType:
    """Take the test off the actor's own type. Scores it granted stay; no one can take it any more. Removing a test
    the type does not have changes nothing."""
    _check_owner(qualification, actor)
    with transaction.atomic():
        locked = _lock_type(qualification)
        if locked.test_questions:
            locked.test_questions = []
            locked.save(update_fields=["test_questions"])
            record_event(
                type="qualification_test.removed",
                actor=Actor.of(actor),
                subject=("qualification_type", locked.public_id),
                audience=[actor.pk],
                data={"qualification_type_id": locked.public_id},
            )
    qualification.test_questions = []
    return qualification


def parse_test_csv(csv_text: str) -> list[dict]:
    """The questions of a test from its CSV, in the stored shape; [] when it has no question rows. Raises
    InvalidInput naming the first bad row."""
    text = (csv_text or "").lstrip("\ufeff")
    if len(text) > MAX_TEST_CSV_CHARS:
        raise _csv_error(f"The test is limited to {MAX_TEST_CSV_CHARS:,} characters.")
    rows = _csv_rows(text)
    if not rows:
        return []
    number, header = rows[0]
    if [cell.lower() for cell in header] != HEADER:
        raise _csv_error(f"Row {number}: the first row must be the header {','.join(HEADER)}.")
    questions = [_question(number, cells) for number, cells in rows[1:]]
    if len(questions) > MAX_TEST_QUESTIONS:
        raise _csv_error(f"A test has at most {MAX_TEST_QUESTIONS} questions; this one has {len(questions)}.")
    return questions


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """The rows that have something in them, numbered as records of the file (a blank line counts)."""
    rows = []
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        for number, row in enumerate(reader, 1):
            cells = [cell.strip() for cell in row]
            if any(cells):
                rows.append((number, cells))
    except csv.Error as error:
        raise _csv_error(f"Row {reader.line_num}: this is not valid CSV ({error}).") from None
    return rows


def _question(number: int, cells: list[str]) -> dict:
    where = f"Row {number}"
    if len(cells) != len(HEADER):
        raise _csv_error(
            f"{where}: give three cells, question, options and answer (it has {len(cells)}). Put a cell with a "
            "comma in double quotes."
        )
    question, options_text, answer = cells
    if not question:
        raise _csv_error(f"{where}: the question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise _csv_error(f"{where}: a question is limited to {MAX_QUESTION_CHARS:,} characters.")
    if not answer:
        raise _csv_error(f"{where}: the answer is empty.")
    options = [option.strip() for option in options_text.split(OPTION_SEPARATOR)] if options_text else []
    if options:
        if any(not option for option in options):
            raise _csv_error(f"{where}: an option is empty (two {OPTION_SEPARATOR} in a row, or one at an end).")
        if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise _csv_error(f"{where}: give from {MIN_OPTIONS} to {MAX_OPTIONS} options (it has {len(options)}).")
        if len(set(options)) != len(options):
            raise _csv_error(f"{where}: the options repeat one another.")
        if any(len(option) > MAX_OPTION_CHARS for option in options):
            raise _csv_error(f"{where}: an option is limited to {MAX_OPTION_CHARS} characters.")
        if answer not in options:
            raise _csv_error(f"{where}: the answer “{answer[:40]}” is not one of the options.")
    elif len(answer) > MAX_ANSWER_CHARS:
        raise _csv_error(f"{where}: an answer is limited to {MAX_ANSWER_CHARS} characters.")
    return {"question": question, "options": options, "answer": answer}


def questions_as_csv(questions: list[dict]) -> str:
    """A stored test written back as the CSV it can be set from (the requester's page edits it so)."""
    if not questions:
        return ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for question in questions:
        writer.writerow([question["question"], OPTION_SEPARATOR.join(question["options"]), question["answer"]])
    return out.getvalue()


def _retry_delay(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRY_DELAY_SECONDS:
        raise InvalidInput(
            f"The retry delay must be from 0 to {MAX_RETRY_DELAY_SECONDS // 86400} days.",
            details={"field": "retry_delay_seconds"},
        )
    return value


def _csv_error(message: str) -> InvalidInput:
    return InvalidInput(message, details={"field": "csv_text"})


def _check_owner(qualification: QualificationType, actor: User) -> None:
    if qualification.owner_id != actor.pk:
        raise NotFound("No such qualification type.")


def _lock_type(qualification: QualificationType) -> QualificationType:
    # Two changes of one type's test (two tabs, a resent form) are made one after the other. A worker's take reads
    # the test in one row read, so it scores against the old test or the new one, never a mix.
    return QualificationType.objects.select_for_update(no_key=True).get(pk=qualification.pk)


# The worker's side -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerQuestion:
    """A question as a worker sees it: never with its answer."""

    number: int
    name: str  # the form field: "q1".."qN"
    question: str
    options: tuple[str, ...]

    @property
    def is_free_text(self) -> bool:
        return not self.options


def qualification_test_questions_for_worker(qualification: QualificationType) -> list[WorkerQuestion]:
    """The test's questions without their known answers, numbered as the answers are keyed ("q1".."qN")."""
    return [
        WorkerQuestion(number=number, name=f"q{number}", question=item["question"], options=tuple(item["options"]))
        for number, item in enumerate(qualification.test_questions or [], 1)
    ]


def questions_version(qualification: QualificationType) -> str:
    """A short fingerprint of the test's questions: the worker's form carries it, so answers to a test the requester
    changed meanwhile are not scored against the new one."""
    # Keyed with the site's secret: a plain hash of questions and answers would let a worker try every combination
    # of the options they see offline until the hash matched, and so read the answers.
    payload = json.dumps(qualification.test_questions or [], sort_keys=True, ensure_ascii=False)
    return salted_hmac("qualification-test-version", payload, algorithm="sha256").hexdigest()[:16]


def latest_attempt(*, qualification: QualificationType, worker: User) -> QualificationTestAttempt | None:
    """The worker's last attempt at the type's test, or None (one query)."""
    if worker is None or not worker.is_authenticated:
        return None
    return (
        QualificationTestAttempt.objects.filter(type=qualification, worker=worker)
        .order_by("-created_at", "-pk")
        .first()
    )


def retake_at(qualification: QualificationType, attempt: QualificationTestAttempt | None) -> datetime | None:
    """When the worker may take the test again after `attempt` (None: now, or they never took it)."""
    if attempt is None:
        return None
    return attempt.created_at + timedelta(seconds=qualification.test_retry_delay_seconds)


@dataclass(frozen=True)
class QualificationTestStanding:
    """Where a worker stands with a type's test, for their page."""

    latest: QualificationTestAttempt | None
    retake_at: datetime | None  # set only while they must still wait
    is_owner: bool
    has_test: bool

    @property
    def may_take(self) -> bool:
        return self.has_test and not self.is_owner and self.retake_at is None


def qualification_test_standing(
    *, qualification: QualificationType, worker: User, now: datetime | None = None
) -> QualificationTestStanding:
    """Whether `worker` may take the test now, their last attempt, and when they may retake it (one query)."""
    now = now or timezone.now()
    is_owner = qualification.owner_id == worker.pk
    latest = None if is_owner else latest_attempt(qualification=qualification, worker=worker)
    wait_until = retake_at(qualification, latest)
    return QualificationTestStanding(
        latest=latest,
        retake_at=wait_until if wait_until is not None and now < wait_until else None,
        is_owner=is_owner,
        has_test=qualification.has_test,
    )


def qualification_test_take(
    *,
    qualification: QualificationType,
    worker: User,
    answers: dict,
    version: str | None = None,
    now: datetime | None = None,
) -> QualificationTestAttempt:
    """Score the worker's answers (keyed "q1".."qN"; an unanswered question is wrong) to the type's test, record the
    attempt, and grant the score (correct × 100 // questions) as the worker's value of the qualification, in one
    transaction. Choices must match exactly; free text is compared without case, outer spaces and repeated spaces.

    Refuses the type's owner, a test the requester changed since `version` (when given), and a retake before the
    last attempt plus the type's retry delay (RetakeTooSoon says when). Holds the worker's row lock
    (core.locks.lock_user) while it re-reads their last attempt, so two sendings at once are one after the other:
    the same answers sent again within DOUBLE_SUBMIT_SECONDS return the first sending's attempt, and grant nothing
    again."""
    if qualification.owner_id == worker.pk:
        raise OwnQualificationTest("This is your own qualification: its workers take the test, you cannot.")
    given_answers = _given_answers(answers)
    with transaction.atomic():
        lock_user(worker.pk)
        # Read the clock once the lock is held: a sending that waited for another is judged when it goes on.
        now = now or timezone.now()
        qualification = QualificationType.objects.filter(pk=qualification.pk).first()
        if qualification is None or not qualification.has_test:
            raise NoQualificationTest("This qualification has no test.")
        if version is not None and version != questions_version(qualification):
            raise QualificationTestChanged(
                "The requester changed this test since you opened it: please answer it again."
            )
        questions = qualification.test_questions
        given = [_truncate(given_answers.get(f"q{number}", "")) for number in range(1, len(questions) + 1)]
        last = latest_attempt(qualification=qualification, worker=worker)
        if last is not None and _same_sending(last, given, now=now):
            return last
        wait_until = retake_at(qualification, last)
        if wait_until is not None and now < wait_until:
            raise RetakeTooSoon(retake_message(wait_until, now=now), retake_at=wait_until)
        results = [
            {"answer": answer, "correct": answer_correct(question, answer)}
            for question, answer in zip(questions, given, strict=True)
        ]
        score = sum(result["correct"] for result in results) * 100 // len(questions)
        attempt = QualificationTestAttempt.objects.create(
            type=qualification, worker=worker, score=score, answers=results, created_at=now
        )
        qualification_grant(
            qualification=qualification, actor=None, worker_id=worker.public_id, value=score, rule=GRANT_RULE
        )
        record_event(
            type="qualification_test.taken",
            actor=Actor.of(worker),
            subject=("qualification_type", qualification.public_id),
            audience=[worker.pk],
            data={"qualification_type_id": qualification.public_id, "worker_id": worker.public_id, "score": score},
        )
    return attempt


def retake_message(wait_until: datetime, *, now: datetime) -> str:
    """ "You can retake this test from 3 Jun 2025, 14:05 UTC (in 5 hours)." """
    when = wait_until.astimezone(UTC)
    seconds = max(math.ceil((wait_until - now).total_seconds()), 1)
    return f"You can retake this test from {when.day} {when:%b %Y, %H:%M} UTC (in {wait_in_words(seconds)})."


def wait_in_words(seconds: int) -> str:
    """How long is left, rounded up: seconds, minutes, hours, then days past two days."""
    if seconds < 2 * 86400:
        return duration_in_words(seconds)
    return f"{math.ceil(seconds / 86400)} days"


_SPACES = re.compile(r"\s+")


def normalised_text(text: str) -> str:
    """Free text as it is compared: without outer spaces, runs of spaces as one, without case."""
    return _SPACES.sub(" ", text.strip()).casefold()


def answer_correct(question: dict, given: str) -> bool:
    if question["options"]:
        return given == question["answer"]
    return bool(given) and normalised_text(given) == normalised_text(question["answer"])


def _given_answers(answers) -> dict[str, str]:
    if not isinstance(answers, dict):
        raise InvalidInput("Answers must be given by question, as q1, q2, …")
    given = {}
    for key, value in answers.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"The answer to {str(key)[:10]} must be text.")
        if "\x00" in value:
            raise InvalidInput(f"The answer to {str(key)[:10]} holds a character that is not text.")
        given[str(key)] = value
    return given


def _truncate(answer: str) -> str:
    return answer[:MAX_GIVEN_ANSWER_CHARS]


def _same_sending(last: QualificationTestAttempt, given: list[str], *, now: datetime) -> bool:
    recent = now - last.created_at < timedelta(seconds=DOUBLE_SUBMIT_SECONDS)
    return recent and [result.get("answer") for result in last.answers] == given
