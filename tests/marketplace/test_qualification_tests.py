"""Issue 11, qualification tests: a requester attaches a test with known answers to a custom qualification; a worker's
score on it is granted as their score, and they may retake it once the delay has passed."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from core.models import Event
from marketplace import qualification_tests, qualifications
from marketplace.models import QualificationGrant, QualificationTestAttempt
from marketplace.qualification_tests import (
    MAX_QUESTION_CHARS,
    MAX_RETRY_DELAY_SECONDS,
    MAX_TEST_QUESTIONS,
    NoQualificationTest,
    OwnQualificationTest,
    QualificationTestChanged,
    RetakeTooSoon,
)
from marketplace.qualifications import Guard
from marketplace.services import job_set_worker_rules
from tasks.eligibility import NotQualified
from tasks.services import assignment_claim
from tests.concurrency import raised, run_in_threads
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db

# A secret typed answer: it must never reach a worker's page.
TEST_CSV = (
    "question,options,answer\n"
    "Which of these is a mammal?,Shark|Dolphin|Trout,Dolphin\n"
    '"Is ""I loved it"" positive, or negative?",Positive|Negative,Positive\n'
    "Which city hosts the Zqx archive?,,New   Zqxville\n"
    "Spell the word for 7,,seven\n"
    "Pick B,A|B,B\n"
)
ALL_RIGHT = {"q1": "Dolphin", "q2": "Positive", "q3": "new zqxville", "q4": "Seven", "q5": "B"}


@pytest.fixture
def qualification(requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Careful reader")
    return qualification_tests.qualification_test_set(
        qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=3600
    )


def take(qualification, worker, answers, **kwargs):
    return qualification_tests.qualification_test_take(
        qualification=qualification, worker=worker, answers=answers, **kwargs
    )


# Setting a test --------------------------------------------------------------------------------------------------


def test_a_test_is_stored_from_csv_with_options_and_typed_answers(qualification):
    qualification.refresh_from_db()
    assert qualification.has_test
    assert qualification.test_retry_delay_seconds == 3600
    assert qualification.test_questions[:3] == [
        {"question": "Which of these is a mammal?", "options": ["Shark", "Dolphin", "Trout"], "answer": "Dolphin"},
        {
            "question": 'Is "I loved it" positive, or negative?',
            "options": ["Positive", "Negative"],
            "answer": "Positive",
        },
        {"question": "Which city hosts the Zqx archive?", "options": [], "answer": "New   Zqxville"},
    ]
    # The requester's page edits it as the same CSV.
    again = qualification_tests.parse_test_csv(qualification_tests.questions_as_csv(qualification.test_questions))
    assert again == qualification.test_questions


BAD_CSVS = [
    ("Which is a mammal?,Shark|Dolphin,Dolphin\n", "Row 1: the first row must be the header"),
    ("question,options,answer\nWhich?,Shark|Dolphin\n", "Row 2: give three cells"),
    ("question,options,answer\nOk?,Yes|No,Yes\nWhich?,Shark|Dolphin,Whale\n", "Row 3: the answer “Whale” is not one"),
    ("question,options,answer\nWhich?,Shark||Dolphin,Dolphin\n", "Row 2: an option is empty"),
    ("question,options,answer\nWhich?,Dolphin,Dolphin\n", "Row 2: give from 2 to 10 options"),
    ("question,options,answer\nWhich?,Dolphin|Dolphin,Dolphin\n", "Row 2: the options repeat"),
    ("question,options,answer\n,Yes|No,Yes\n", "Row 2: the question is empty"),
    ("question,options,answer\nCapital of France?,,\n", "Row 2: the answer is empty"),
    (f"question,options,answer\n{'x' * (MAX_QUESTION_CHARS + 1)},,y\n", "Row 2: a question is limited"),
    ("question,options,answer\n" + "Q?,,a\n" * (MAX_TEST_QUESTIONS + 1), "at most 50 questions"),
    ('question,options,answer\n"Unclosed,,a\n', "Row 2: this is not valid CSV"),
]


@pytest.mark.parametrize(("csv_text", "message"), BAD_CSVS)
def test_a_bad_row_is_refused_by_its_number_and_changes_nothing(qualification, requester, csv_text, message):
    before = list(qualification.test_questions)
    with pytest.raises(InvalidInput, match=message):
        qualification_tests.qualification_test_set(
            qualification=qualification, actor=requester, csv_text=csv_text, retry_delay_seconds=60
        )
    qualification.refresh_from_db()
    assert qualification.test_questions == before
    assert qualification.test_retry_delay_seconds == 3600


@pytest.mark.parametrize("delay", [-1, MAX_RETRY_DELAY_SECONDS + 1, True, "60"])
def test_a_retry_delay_beyond_0_to_30_days_is_refused(qualification, requester, delay):
    with pytest.raises(InvalidInput, match="from 0 to 30 days"):
        qualification_tests.qualification_test_set(
            qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=delay
        )
    qualification.refresh_from_db()
    assert qualification.test_retry_delay_seconds == 3600


def test_the_delay_may_be_0_or_30_days(qualification, requester):
    for delay in [0, MAX_RETRY_DELAY_SECONDS]:
        qualification_tests.qualification_test_set(
            qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=delay
        )
        qualification.refresh_from_db()
        assert qualification.test_retry_delay_seconds == delay


def test_only_the_owner_sets_or_removes_a_test(qualification, stranger):
    with pytest.raises(NotFound):
        qualification_tests.qualification_test_set(
            qualification=qualification,
            actor=stranger,
            csv_text="question,options,answer\nQ,,a\n",
            retry_delay_seconds=0,
        )
    with pytest.raises(NotFound):
        qualification_tests.qualification_test_remove(qualification=qualification, actor=stranger)
    qualification.refresh_from_db()
    assert len(qualification.test_questions) == 5


@pytest.mark.parametrize("empty", ["", "  \n", "question,options,answer\n"])
def test_an_empty_test_removes_it_and_the_scores_it_gave_stay(qualification, requester, worker, empty):
    take(qualification, worker, ALL_RIGHT)
    qualification_tests.qualification_test_set(
        qualification=qualification, actor=requester, csv_text=empty, retry_delay_seconds=0
    )
    qualification.refresh_from_db()
    assert not qualification.has_test
    assert QualificationGrant.objects.get(type=qualification, worker=worker).value == 100
    with pytest.raises(NoQualificationTest):
        take(qualification, make_user(), ALL_RIGHT)


def test_a_type_granted_on_request_gets_no_test(requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Open", auto_grant_value=1)
    with pytest.raises(InvalidInput, match="Remove its auto-grant value"):
        qualification_tests.qualification_test_set(
            qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=0
        )
    qualification.refresh_from_db()
    assert not qualification.has_test


# Taking it -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "score"),
    [
        (ALL_RIGHT, 100),
        ({**ALL_RIGHT, "q5": "A"}, 80),
        ({"q1": "Dolphin", "q2": "Positive"}, 40),  # unanswered questions are wrong
        ({"q1": "Shark", "q9": "Dolphin", "other": "x"}, 0),  # keys of no question count for nothing
        ({}, 0),
    ],
)
def test_the_score_is_the_percent_right_rounded_down_and_granted_as_the_value(qualification, worker, answers, score):
    attempt = take(qualification, worker, answers)
    assert attempt.score == score
    assert QualificationGrant.objects.get(type=qualification, worker=worker).value == score
    granted = Event.objects.get(type="qualification.granted")
    assert granted.data["value"] == score
    assert granted.rule == "qualification_test"


def test_two_of_three_right_is_66(requester, worker):
    qualification = qualifications.qualification_type_create(owner=requester, name="Thirds")
    qualification_tests.qualification_test_set(
        qualification=qualification,
        actor=requester,
        csv_text="question,options,answer\nA?,,a\nB?,,b\nC?,,c\n",
        retry_delay_seconds=0,
    )
    assert take(qualification, worker, {"q1": "a", "q2": "b", "q3": "x"}).score == 66


@pytest.mark.parametrize(
    ("typed", "right"),
    [
        ("New Zqxville", True),
        ("  new   ZQXVILLE ", True),
        ("new\tzqxville", True),
        ("New\n Zqxville", True),
        ("NewZqxville", False),
        ("New Zqxvill", False),
        ("", False),
    ],
)
def test_typed_answers_are_compared_without_case_outer_spaces_or_runs_of_spaces(qualification, worker, typed, right):
    attempt = take(qualification, worker, {**ALL_RIGHT, "q3": typed})
    assert attempt.score == (100 if right else 80)


@pytest.mark.parametrize("chosen", ["dolphin", " Dolphin", "Dolphin "])
def test_choices_must_match_exactly(qualification, worker, chosen):
    assert take(qualification, worker, {**ALL_RIGHT, "q1": chosen}).score == 80


def test_a_retake_waits_the_delay_to_the_second_and_the_new_score_replaces_the_old(qualification, worker):
    first_at = timezone.now()
    take(qualification, worker, {"q1": "Dolphin"}, now=first_at)
    with pytest.raises(RetakeTooSoon) as refused:
        take(qualification, worker, ALL_RIGHT, now=first_at + timedelta(seconds=3599))
    assert refused.value.retake_at == first_at + timedelta(hours=1)
    assert "You can retake this test from" in refused.value.message
    assert "(in 1 second" in refused.value.message
    assert QualificationTestAttempt.objects.count() == 1
    assert QualificationGrant.objects.get(worker=worker).value == 20

    attempt = take(qualification, worker, ALL_RIGHT, now=first_at + timedelta(seconds=3600))
    assert attempt.score == 100
    assert QualificationGrant.objects.get(worker=worker).value == 100
    assert QualificationTestAttempt.objects.filter(worker=worker).count() == 2


def test_the_message_says_when_in_words(qualification, worker):
    first_at = timezone.now()
    take(qualification, worker, {}, now=first_at)
    with pytest.raises(RetakeTooSoon) as refused:
        take(qualification, worker, ALL_RIGHT, now=first_at + timedelta(minutes=15))
    when = first_at + timedelta(hours=1)
    assert refused.value.message == (
        f"You can retake this test from {when.day} {when:%b %Y, %H:%M} UTC (in 45 minutes)."
    )


def test_the_owner_cannot_take_their_own_test(qualification, requester):
    with pytest.raises(OwnQualificationTest):
        take(qualification, requester, ALL_RIGHT)
    assert not QualificationTestAttempt.objects.exists()
    assert not QualificationGrant.objects.exists()


def test_answers_to_a_test_changed_since_it_was_opened_are_refused(qualification, requester, worker):
    version = qualification_tests.questions_version(qualification)
    qualification_tests.qualification_test_set(
        qualification=qualification, actor=requester, csv_text=TEST_CSV + "One more?,,yes\n", retry_delay_seconds=0
    )
    with pytest.raises(QualificationTestChanged):
        take(qualification, worker, ALL_RIGHT, version=version)
    assert not QualificationTestAttempt.objects.exists()


@pytest.mark.parametrize("delay", [0, 3600])
def test_the_same_answers_sent_twice_make_one_attempt(qualification, requester, worker, delay):
    qualification_tests.qualification_test_set(
        qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=delay
    )
    first = take(qualification, worker, ALL_RIGHT)
    second = take(qualification, worker, ALL_RIGHT)
    assert second.pk == first.pk
    assert QualificationTestAttempt.objects.count() == 1
    assert Event.objects.filter(type="qualification.granted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_sendings_at_once_make_one_attempt():
    requester, worker = make_user(), make_user()
    qualification = qualifications.qualification_type_create(owner=requester, name="Raced")
    qualification_tests.qualification_test_set(
        qualification=qualification, actor=requester, csv_text=TEST_CSV, retry_delay_seconds=3600
    )
    results = run_in_threads(4, lambda index: take(qualification, worker, ALL_RIGHT).pk, what="a test sending")
    assert raised(results) == []
    assert len(set(results)) == 1
    assert QualificationTestAttempt.objects.count() == 1
    assert QualificationGrant.objects.get(worker=worker).value == 100


def test_a_passing_score_lets_the_worker_claim_a_job_that_asks_for_it(qualification, requester, worker):
    job = make_job(requester=requester, tasks=2)
    job_set_worker_rules(
        job=job,
        actor=requester,
        requirements=[
            {
                "qualification_type_id": qualification.public_id,
                "comparator": "GreaterThanOrEqualTo",
                "integer_values": [80],
                "actions_guarded": Guard.ACCEPT,
            }
        ],
    )
    first_at = timezone.now() - timedelta(hours=2)
    take(qualification, worker, {**ALL_RIGHT, "q1": "Shark", "q2": "Negative"}, now=first_at)  # 60
    with pytest.raises(NotQualified, match="your score on “Careful reader” is 60 and this job asks at least 80"):
        assignment_claim(job=job, worker=worker)
    take(qualification, worker, {**ALL_RIGHT, "q1": "Shark"})  # 80
    assert assignment_claim(job=job, worker=worker).worker_id == worker.pk


# The pages -------------------------------------------------------------------------------------------------------


def test_the_workers_page_never_carries_the_known_answers(client, qualification, worker):
    client.force_login(worker)
    page = client.get(reverse("qualification_test", args=[qualification.public_id])).content.decode()
    assert "Which city hosts the Zqx archive?" in page
    assert 'name="q3"' in page
    assert 'type="radio" name="q1" value="Dolphin"' in page
    assert "Zqxville" not in page
    assert "the answer" not in page.lower()
    questions = qualification_tests.qualification_test_questions_for_worker(qualification)
    assert [question.name for question in questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert not any(hasattr(question, "answer") for question in questions)


def test_a_worker_takes_the_test_sees_the_score_and_when_to_retake(client, qualification, worker):
    client.force_login(worker)
    url = reverse("qualification_test", args=[qualification.public_id])
    version = qualification_tests.questions_version(qualification)
    response = client.post(url, {**ALL_RIGHT, "q5": "A", "version": version, "form_token": "take-once"})
    assert response.status_code == 302
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert "Your score: 80" in page
    assert "You can retake the test from" in page
    assert 'name="q1"' not in page  # no form until then

    # The same form sent again (a double click) acts once.
    client.post(url, {**ALL_RIGHT, "version": version, "form_token": "take-once"})
    assert list(QualificationTestAttempt.objects.values_list("score", flat=True)) == [80]
    # Another sending before the delay is refused, saying when.
    response = client.post(url, {**ALL_RIGHT, "version": version}, follow=True)
    assert "You can retake this test from" in response.content.decode()
    assert QualificationGrant.objects.get(worker=worker).value == 80


def test_the_owner_sees_no_form_on_the_workers_page(client, qualification, requester):
    client.force_login(requester)
    page = client.get(reverse("qualification_test", args=[qualification.public_id])).content.decode()
    assert "This is your own qualification" in page
    assert 'name="q1"' not in page


def test_the_requester_sets_the_test_on_its_page_and_a_bad_row_is_shown_next_to_the_field(client, requester):
    qualification = qualifications.qualification_type_create(owner=requester, name="Labeller")
    client.force_login(requester)
    url = reverse("qualification_test_edit", args=[qualification.public_id])
    assert "An example" in client.get(url).content.decode()

    response = client.post(url, {"csv_text": "question,options,answer\nWhich?,A|B,C\n", "retry_delay_hours": "2"})
    assert response.status_code == 400
    assert "Row 2: the answer “C” is not one of the options." in response.content.decode()
    qualification.refresh_from_db()
    assert not qualification.has_test

    response = client.post(url, {"csv_text": TEST_CSV, "retry_delay_hours": "2", "action": "save"}, follow=True)
    page = response.content.decode()
    assert "Test saved: 5 questions." in page
    assert "New   Zqxville" in page  # the requester sees the answers
    qualification.refresh_from_db()
    assert len(qualification.test_questions) == 5
    assert qualification.test_retry_delay_seconds == 7200

    response = client.post(url, {"action": "remove"}, follow=True)
    assert "Test removed" in response.content.decode()
    qualification.refresh_from_db()
    assert not qualification.has_test


def test_another_requesters_test_page_is_not_found(client, qualification, stranger):
    client.force_login(stranger)
    url = reverse("qualification_test_edit", args=[qualification.public_id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "remove"}).status_code == 404
    qualification.refresh_from_db()
    assert qualification.has_test


def test_the_forms_version_of_a_test_is_keyed_so_it_gives_no_answer_away():
    """A plain hash of the questions and answers would let a worker try every combination of options offline."""
    import hashlib
    import json

    from marketplace.models import QualificationType

    questions = [{"question": "Two and two?", "options": ["3", "4"], "answer": "4"}]
    qualification = QualificationType(test_questions=questions)
    plain = hashlib.sha256(json.dumps(questions, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
    assert qualification_tests.questions_version(qualification) != plain


def test_an_answer_holding_a_nul_is_refused_and_records_nothing(requester, worker):
    qualification = qualifications.qualification_type_create(owner=requester, name="Nul")
    qualification_tests.qualification_test_set(
        qualification=qualification,
        actor=requester,
        csv_text="question,options,answer\nCapital of France?,,Paris\n",
        retry_delay_seconds=0,
    )
    with pytest.raises(InvalidInput, match="not text"):
        qualification_tests.qualification_test_take(
            qualification=qualification, worker=worker, answers={"q1": "Pa\x00"}
        )
    assert not QualificationTestAttempt.objects.exists()
