"""The Mechanical Turk requester API's Tier 1 operations, called by the real boto3 client against the test server."""

import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from core.money import MSAT_PER_SAT
from marketplace.models import Job, JobStatus
from mturk.credentials import credential_create
from mturk.models import RequestToken
from payments.models import Bonus
from tasks import services
from tasks.models import Assignment, AssignmentStatus, Task
from tests.balances import available, earned
from tests.factories.users import make_user
from tests.mturk.clients import HTML_QUESTION, NO_RETRIES, QUESTION_FORM, hit_terms, mturk_client

pytestmark = pytest.mark.django_db(transaction=True)

ANSWERS_NS = "{http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd}"


@pytest.fixture
def rate(settings):
    settings.MTURK_SATS_PER_USD = 1_000  # 0.05 USD is 50 sats
    return 1_000


@pytest.fixture
def owner(db):
    return make_user(funds_sats=1_000_000)


@pytest.fixture
def turk(live_server, owner, rate):
    return mturk_client(live_server.url, owner)


def create_hit(turk, **overrides):
    params = {**hit_terms(), "MaxAssignments": 2, "LifetimeInSeconds": 3600, "Question": HTML_QUESTION}
    params.update(overrides)
    return turk.create_hit(**params)["HIT"]


def work_on(hit_id: str, *, answer: dict | None = None) -> Assignment:
    """A worker claims the HIT on the site and submits an answer, as the task page does."""
    task = Task.objects.select_related("job").get(public_id=hit_id)
    worker = make_user()
    assignment = services.assignment_claim(job=task.job, worker=worker)
    assert assignment.task_id == task.pk
    return services.assignment_submit(
        assignment=assignment, worker=worker, data=answer or {"sentiment": "positive", "assignmentId": "x"}
    )


def test_the_balance_is_in_dollars_at_the_sites_rate(turk):
    balance = turk.get_account_balance()
    assert balance["AvailableBalance"] == "1000.00"
    assert balance["OnHoldBalance"] == "0.00"
    assert balance["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_create_hit_escrows_reward_times_assignments_plus_the_fee(turk, owner):
    before = available(owner)
    hit = create_hit(turk)
    assert hit["HITStatus"] == "Assignable"
    assert hit["MaxAssignments"] == 2
    assert hit["Reward"] == "0.05"
    assert hit["NumberOfAssignmentsAvailable"] == 2
    assert hit["NumberOfAssignmentsPending"] == 0
    assert hit["Question"] == HTML_QUESTION
    assert hit["HITGroupId"] == hit["HITTypeId"]
    assert isinstance(hit["CreationTime"], datetime)
    assert isinstance(hit["Expiration"], datetime)
    assert abs((hit["Expiration"] - datetime.now(UTC)).total_seconds() - 3600) < 60
    # 50 sats of reward and 5 of fee (10 %), for each of 2 assignments.
    assert before - available(owner) == 2 * 55 * MSAT_PER_SAT
    job = Job.objects.get(public_id=hit["HITTypeId"])
    assert (job.status, job.sats_per_usd, job.sandbox) == (JobStatus.PUBLISHED, 1_000, False)
    assert turk.get_account_balance()["OnHoldBalance"] == "0.11"


def test_a_thousand_hits_of_one_type_are_one_job(turk):
    first = create_hit(turk)
    second = create_hit(turk, Question=QUESTION_FORM)
    assert first["HITTypeId"] == second["HITTypeId"]
    hit_type = turk.create_hit_type(**hit_terms())["HITTypeId"]
    assert hit_type == first["HITTypeId"]
    other = turk.create_hit_type(**hit_terms(Reward="0.06"))["HITTypeId"]
    assert other != hit_type
    third = turk.create_hit_with_hit_type(
        HITTypeId=hit_type, MaxAssignments=1, LifetimeInSeconds=600, Question=HTML_QUESTION
    )
    assert third["HIT"]["HITGroupId"] == hit_type
    assert Job.objects.get(public_id=hit_type).task_count == 3


def test_a_hit_done_on_the_site_is_reviewed_and_its_answer_read_back(turk, owner):
    hit = create_hit(turk, MaxAssignments=1)
    work_on(hit["HITId"], answer={"sentiment": "positive", "assignmentId": "ignored"})
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"
    reviewable = turk.list_reviewable_hits()["HITs"]
    assert [each["HITId"] for each in reviewable] == [hit["HITId"]]

    listed = turk.list_assignments_for_hit(HITId=hit["HITId"])
    assert listed["NumResults"] == 1
    assignment = listed["Assignments"][0]
    assert assignment["AssignmentStatus"] == "Submitted"
    answers = ElementTree.fromstring(assignment["Answer"])  # noqa: S314 (our own answer, as a client reads it)
    fields = {
        each.find(f"{ANSWERS_NS}QuestionIdentifier").text: each.find(f"{ANSWERS_NS}FreeText").text
        for each in answers.findall(f"{ANSWERS_NS}Answer")
    }
    assert fields == {"sentiment": "positive"}

    turk.approve_assignment(AssignmentId=assignment["AssignmentId"], RequesterFeedback="Thanks!")
    got = turk.get_assignment(AssignmentId=assignment["AssignmentId"])
    assert got["Assignment"]["AssignmentStatus"] == "Approved"
    assert got["Assignment"]["RequesterFeedback"] == "Thanks!"
    assert isinstance(got["Assignment"]["ApprovalTime"], datetime)
    assert got["HIT"]["NumberOfAssignmentsCompleted"] == 1
    worker = Assignment.objects.get(public_id=assignment["AssignmentId"]).worker
    assert earned(worker) == 50 * MSAT_PER_SAT
    # Approving again changes nothing.
    turk.approve_assignment(AssignmentId=assignment["AssignmentId"])
    assert earned(worker) == 50 * MSAT_PER_SAT


def test_reject_then_override_goes_through_the_dispute_rules(turk):
    hit = create_hit(turk, MaxAssignments=1)
    submitted = work_on(hit["HITId"])
    turk.reject_assignment(AssignmentId=submitted.public_id, RequesterFeedback="Did not follow the instructions.")
    submitted.refresh_from_db()
    assert submitted.status == AssignmentStatus.REJECTED
    # The rejection re-opened the slot for another worker.
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["NumberOfAssignmentsAvailable"] == 1

    with pytest.raises(ClientError) as refused:
        turk.approve_assignment(AssignmentId=submitted.public_id)
    assert refused.value.response["Error"]["Code"] == "RequestError"

    turk.approve_assignment(AssignmentId=submitted.public_id, OverrideRejection=True, RequesterFeedback="My mistake.")
    submitted.refresh_from_db()
    assert submitted.status == AssignmentStatus.APPROVED
    assert submitted.dispute.status == "withdrawn"
    assert earned(submitted.worker) == 50 * MSAT_PER_SAT
    # The slot the rejection re-opened paid for the hold: it is off the board again.
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["NumberOfAssignmentsAvailable"] == 0


def test_a_bonus_is_sent_once_per_request_token(turk, owner):
    hit = create_hit(turk, MaxAssignments=1)
    submitted = work_on(hit["HITId"])
    turk.approve_assignment(AssignmentId=submitted.public_id)
    before = available(owner)
    bonus = {
        "WorkerId": submitted.worker.public_id,
        "BonusAmount": "0.10",
        "AssignmentId": submitted.public_id,
        "Reason": "Great work",
        "UniqueRequestToken": "bonus-1",
    }
    turk.send_bonus(**bonus)
    with pytest.raises(turk.exceptions.RequestError) as repeat:
        turk.send_bonus(**bonus)
    assert "bonus-1" in repeat.value.response["Error"]["Message"]
    assert Bonus.objects.filter(assignment=submitted).count() == 1
    assert before - available(owner) == (100 + 10) * MSAT_PER_SAT
    payments = turk.list_bonus_payments(AssignmentId=submitted.public_id)["BonusPayments"]
    assert [(each["BonusAmount"], each["Reason"]) for each in payments] == [("0.10", "Great work")]
    assert turk.list_bonus_payments(HITId=hit["HITId"])["NumResults"] == 1


def test_create_hit_with_a_used_token_makes_nothing_and_names_the_hit(turk, owner):
    hit = create_hit(turk, UniqueRequestToken="batch-7-row-1")
    before = available(owner)
    with pytest.raises(turk.exceptions.RequestError) as repeat:
        create_hit(turk, UniqueRequestToken="batch-7-row-1")
    assert hit["HITId"] in repeat.value.response["Error"]["Message"]
    assert available(owner) == before
    assert Task.objects.filter(job__public_id=hit["HITTypeId"]).count() == 1
    # After 24 hours the token may be used again.
    RequestToken.objects.update(created_at=datetime.now(UTC) - timedelta(hours=25))
    assert create_hit(turk, UniqueRequestToken="batch-7-row-1")["HITId"] != hit["HITId"]


def test_insufficient_funds_is_a_request_error_that_moves_nothing(live_server, rate):
    poor = make_user(funds_sats=60)
    turk = mturk_client(live_server.url, poor)
    with pytest.raises(turk.exceptions.RequestError) as refused:
        create_hit(turk, MaxAssignments=2)
    assert "not enough funds" in refused.value.response["Error"]["Message"].lower()
    assert available(poor) == 60 * MSAT_PER_SAT
    assert not Task.objects.filter(job__requester=poor).exists()


def test_boto3_paginators_walk_every_hit(turk):
    made = {create_hit(turk, MaxAssignments=1, LifetimeInSeconds=600)["HITId"] for _ in range(12)}
    pages = list(turk.get_paginator("list_hits").paginate(PaginationConfig={"PageSize": 5}))
    assert [page["NumResults"] for page in pages] == [5, 5, 2]
    assert {hit["HITId"] for page in pages for hit in page["HITs"]} == made
    assert len(turk.list_hits()["HITs"]) == 10  # Mechanical Turk's default page
    with pytest.raises(turk.exceptions.RequestError):
        turk.list_hits(NextToken="forged-token")


def test_expire_extend_add_assignments_and_delete(turk, owner):
    hit = create_hit(turk, MaxAssignments=2)
    before = available(owner)
    turk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1, tzinfo=UTC))
    expired = turk.get_hit(HITId=hit["HITId"])["HIT"]
    assert expired["HITStatus"] == "Reviewable"
    assert expired["NumberOfAssignmentsAvailable"] == 0
    assert available(owner) - before == 2 * 55 * MSAT_PER_SAT  # both unfilled slots refunded

    turk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime.now(UTC) + timedelta(hours=1))
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Assignable"
    assert available(owner) == before

    turk.create_additional_assignments_for_hit(HITId=hit["HITId"], NumberOfAdditionalAssignments=3)
    grown = turk.get_hit(HITId=hit["HITId"])["HIT"]
    assert (grown["MaxAssignments"], grown["NumberOfAssignmentsAvailable"]) == (5, 5)
    assert before - available(owner) == 3 * 55 * MSAT_PER_SAT

    with pytest.raises(turk.exceptions.RequestError):
        turk.delete_hit(HITId=hit["HITId"])  # still assignable
    turk.update_expiration_for_hit(HITId=hit["HITId"], ExpireAt=datetime(2015, 1, 1, tzinfo=UTC))
    turk.delete_hit(HITId=hit["HITId"])
    assert hit["HITId"] not in {each["HITId"] for each in turk.list_hits()["HITs"]}
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"
    assert available(owner) == before + 2 * 55 * MSAT_PER_SAT


def test_review_status(turk):
    hit = create_hit(turk, MaxAssignments=1)
    work_on(hit["HITId"])
    turk.update_hit_review_status(HITId=hit["HITId"])
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewing"
    assert [each["HITId"] for each in turk.list_reviewable_hits(Status="Reviewing")["HITs"]] == [hit["HITId"]]
    assert turk.list_reviewable_hits()["NumResults"] == 0
    turk.update_hit_review_status(HITId=hit["HITId"], Revert=True)
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["HITStatus"] == "Reviewable"


def test_credentials_in_sats_speak_whole_sats(live_server, owner):
    turk = mturk_client(live_server.url, owner, currency="sat")
    assert turk.get_account_balance()["AvailableBalance"] == "1000000"
    hit = create_hit(turk, Reward="21", MaxAssignments=1)
    assert hit["Reward"] == "21"
    assert Job.objects.get(public_id=hit["HITTypeId"]).reward_msat == 21 * MSAT_PER_SAT
    with pytest.raises(turk.exceptions.RequestError) as refused:
        create_hit(turk, Reward="21.5")
    assert "whole number of sats" in refused.value.response["Error"]["Message"]


def test_refusals_name_what_is_wrong(turk):
    cases = [
        (
            {
                "QualificationRequirements": [
                    {
                        "QualificationTypeId": "00000000000000000071",
                        "Comparator": "EqualTo",
                        "LocaleValues": [{"Country": "US"}],
                    }
                ]
            },
            "Locale",
        ),
        ({"AutoApprovalDelayInSeconds": 30 * 24 * 3600}, "14 days"),
        ({"Question": "<not-a-question/>"}, "question"),
        ({"HITLayoutId": "ABC", "Question": None}, "layout"),
    ]
    for overrides, words in cases:
        params = {**hit_terms(), "MaxAssignments": 1, "LifetimeInSeconds": 600, "Question": HTML_QUESTION}
        params.update(overrides)
        params = {name: value for name, value in params.items() if value is not None}
        with pytest.raises(turk.exceptions.RequestError) as refused:
            turk.create_hit(**params)
        assert words.lower() in refused.value.response["Error"]["Message"].lower(), overrides
    assert not Task.objects.exists()


def test_an_operation_boltwork_does_not_offer_says_so(turk):
    with pytest.raises(turk.exceptions.RequestError) as refused:
        turk.list_qualification_requests()
    message = refused.value.response["Error"]["Message"]
    assert "ListQualificationRequests" in message
    assert "not offered" in message


def test_a_hit_of_the_system_approval_rate_is_checked_at_claim(turk):
    hit = create_hit(
        turk,
        MaxAssignments=1,
        QualificationRequirements=[
            {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThanOrEqualTo", "IntegerValues": [95]}
        ],
    )
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["QualificationRequirements"][0]["IntegerValues"] == [95]
    newcomer = make_user()
    job = Job.objects.get(public_id=hit["HITTypeId"])
    with pytest.raises(Exception, match="approval rate"):
        services.assignment_claim(job=job, worker=newcomer)


def test_a_hit_expires_by_itself_and_its_escrow_goes_back(turk, owner):
    from tasks.hits import hits_expire_due

    before = available(owner)
    hit = create_hit(turk, MaxAssignments=2, LifetimeInSeconds=30)
    assert hits_expire_due(now=datetime.now(UTC) + timedelta(seconds=31)) == 1
    assert available(owner) == before
    assert turk.get_hit(HITId=hit["HITId"])["HIT"]["NumberOfAssignmentsAvailable"] == 0


def test_calls_share_the_api_rate_limit_and_are_throttled_as_aws_throttles(turk, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    turk.get_account_balance()
    turk.get_account_balance()
    with pytest.raises(ClientError) as throttled:
        turk.get_account_balance()
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert "Too many API requests" in throttled.value.response["Error"]["Message"]


SELECTION_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd">
  <Question>
    <QuestionIdentifier>Likely-To-Win</QuestionIdentifier>
    <IsRequired>true</IsRequired>
    <QuestionContent><Text>Who wins?</Text></QuestionContent>
    <AnswerSpecification><SelectionAnswer>
      <StyleSuggestion>radiobutton</StyleSuggestion>
      <Selections>
        <Selection><SelectionIdentifier>home</SelectionIdentifier><Text>The home team</Text></Selection>
        <Selection><SelectionIdentifier>away</SelectionIdentifier><Text>The visitors</Text></Selection>
      </Selections>
    </SelectionAnswer></AnswerSpecification>
  </Question>
</QuestionForm>"""


def test_a_question_forms_answer_comes_back_with_its_own_identifiers(turk):
    hit = create_hit(turk, MaxAssignments=1, Question=SELECTION_FORM)
    task = Task.objects.select_related("job").get(public_id=hit["HITId"])
    worker = make_user()
    assignment = services.assignment_claim(job=task.job, worker=worker)
    field = task.question["fields"][0]
    services.assignment_submit_json(assignment=assignment, worker=worker, answer={field["name"]: "The visitors"})
    answer = turk.get_assignment(AssignmentId=assignment.public_id)["Assignment"]["Answer"]
    document = ElementTree.fromstring(answer)  # noqa: S314 (our own answer, as a client reads it)
    answers = document.findall(f"{ANSWERS_NS}Answer")
    assert [each.findtext(f"{ANSWERS_NS}QuestionIdentifier") for each in answers] == ["Likely-To-Win"]
    assert answers[0].findtext(f"{ANSWERS_NS}SelectionIdentifier") == "away"


def test_a_wrong_secret_is_refused_in_aws_words_and_changes_nothing(live_server, owner, rate):
    credential, _ = credential_create(user=owner, currency="usd")
    turk = boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=f"{live_server.url}/mturk",
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key="x" * 40,
        config=NO_RETRIES,
    )
    with pytest.raises(turk.exceptions.RequestError) as refused:
        create_hit(turk)
    assert "signature we calculated does not match" in refused.value.response["Error"]["Message"]
    assert not Task.objects.exists()


def test_a_stale_x_amz_date_is_refused_and_changes_nothing(turk, monkeypatch):
    import botocore.auth

    ten_minutes_ago = botocore.auth.get_current_datetime() - timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: ten_minutes_ago)
    with pytest.raises(turk.exceptions.RequestError) as refused:
        create_hit(turk)
    assert "Signature expired" in refused.value.response["Error"]["Message"]
    assert not Task.objects.exists()
