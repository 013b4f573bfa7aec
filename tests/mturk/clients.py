"""A real boto3 Mechanical Turk client against the test server (pytest-django's live_server), and the question
documents the tests post."""

import boto3
from botocore.config import Config

from marketplace.models import User
from mturk.credentials import credential_create

# No retries: a ServiceFault must show up in the test that caused it, not be retried away.
NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})

HTML_QUESTION = """<HTMLQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2011-11-11/HTMLQuestion.xsd">
  <HTMLContent><![CDATA[
<!DOCTYPE html>
<html><head><meta charset="utf-8"></head><body>
<form name="mturk_form" method="post" id="mturk_form" action="https://www.mturk.com/mturk/externalSubmit">
  <input type="hidden" value="" name="assignmentId" id="assignmentId">
  <p>Is this review positive?</p>
  <label><input type="radio" name="sentiment" value="positive"> Positive</label>
  <label><input type="radio" name="sentiment" value="negative"> Negative</label>
  <input type="submit" id="submitButton" value="Submit">
</form>
</body></html>
]]></HTMLContent>
  <FrameHeight>450</FrameHeight>
</HTMLQuestion>"""

QUESTION_FORM = """<QuestionForm xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionForm.xsd">
  <Question>
    <QuestionIdentifier>colour</QuestionIdentifier>
    <DisplayName>Colour</DisplayName>
    <IsRequired>true</IsRequired>
    <QuestionContent><Text>What colour is the sky?</Text></QuestionContent>
    <AnswerSpecification><FreeTextAnswer/></AnswerSpecification>
  </Question>
</QuestionForm>"""


def mturk_client(live_server_url: str, user: User, *, currency: str = "usd", sandbox: bool = False):
    credential, secret = credential_create(user=user, currency=currency)
    return boto3.client(
        "mturk",
        region_name="us-east-1",
        endpoint_url=f"{live_server_url}{'/sandbox' if sandbox else ''}/mturk",
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=secret,
        config=NO_RETRIES,
    )


def hit_terms(**overrides) -> dict:
    terms = {
        "Title": "Is this review positive?",
        "Description": "Read one short product review and say whether it is positive.",
        "Keywords": "sentiment, reviews, quick",
        "Reward": "0.05",
        "AssignmentDurationInSeconds": 600,
        "AutoApprovalDelayInSeconds": 3600,
    }
    terms.update(overrides)
    return terms


def make_hit(requester: User, *, question_xml: str = HTML_QUESTION, max_assignments: int = 1, sandbox: bool = False):
    """A HIT made through the services the API calls (no server needed): its task."""
    from mturk.hit_types import HitTypeTerms, hit_type_get_or_create
    from mturk.questions import parse_question
    from tasks.hits import hit_add

    job = hit_type_get_or_create(
        requester=requester,
        sandbox=sandbox,
        terms=HitTypeTerms(
            title="Is this review positive?",
            description="Read one short review.",
            keywords="sentiment",
            reward_msat=50_000,
            sats_per_usd=1_000,
            assignment_duration_seconds=600,
            auto_approval_delay_seconds=3600,
            requirements=[],
        ),
    )
    return hit_add(
        job=job,
        actor=requester,
        question=parse_question(question_xml),
        question_xml=question_xml,
        max_assignments=max_assignments,
        lifetime_seconds=3600,
    )
