"""Hypothesis generates calls to every operation the Mechanical Turk endpoint offers, from botocore's own service
model: each operation's input shape becomes a strategy (strings with their lengths, patterns and enums, numbers,
booleans, timestamps, lists, structures). Most calls are well-formed as boto3 would send them (leaving out the
features Boltwork refuses by name), a third of them with a plausible value in every member that has some; the
others have wrong types and junk in their fields, or a body that is not a JSON object at all. Two ids in three are
those of the caller's real HIT, assignment, worker, HIT type and qualification type, so the success paths are
fuzzed too and not only "not found".

Each call is signed as boto3 signs it (botocore's SigV4 signer, tests.mturk.sigv4) and handed to the view. Checked:
- never a 5xx;
- a refusal is HTTP 400 `{"__type": "RequestError", "Message", "TurkErrorCode"?}` that botocore reads as a
  RequestError, and it moves no money: no ledger entry is written and the caller's balance is unchanged;
- a 200 answer parses with botocore's own parser for the operation's output shape and matches that shape exactly
  (no member the model does not have, every value of the member's type, enums within their values);
- the ledger is sound after every call.

`RELIABILITY_SCALE` (environment) multiplies the number of calls per operation.
"""

import json
import os
import time
from collections import Counter
from dataclasses import dataclass

import botocore.session
import pytest
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.qualifications import qualification_grant, qualification_type_create
from mturk.operations import OPERATIONS
from mturk.views import live_endpoint
from payments.ledger import ledger_check
from payments.models import LedgerEntry
from tasks import services
from tests.balances import available
from tests.factories.users import make_user
from tests.mturk.clients import HTML_QUESTION, QUESTION_FORM, make_hit
from tests.mturk.sigv4 import django_request, signed_headers_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SCALE = int(os.environ.get("RELIABILITY_SCALE", "1"))
CALLS_PER_OPERATION = 50 * SCALE
MINIMUM_CALLS = 1_500  # at the default: the figure in docs/RELIABILITY.md must not fall silently
SERVICE_MODEL = botocore.session.get_session().get_service_model("mturk")
JSON_PARSER = create_parser("json")
CALLS: Counter = Counter()  # (operation, status code) of every call made, reported at the end

EXTERNAL_QUESTION = """<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/ExternalQuestion.xsd">
  <ExternalURL>https://study.example/start</ExternalURL>
  <FrameHeight>600</FrameHeight>
</ExternalQuestion>"""


# Strategies from the service model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A stand-in for one of the caller's real objects, resolved when the call is made (the objects are made per
    test, the strategies once)."""

    kind: str
    index: int


# Members whose ids can name the caller's real objects.
KNOWN_KIND_BY_MEMBER = {
    "HITId": "hit",
    "AssignmentId": "assignment",
    "WorkerId": "worker",
    "WorkerIds": "worker",
    "HITTypeId": "hit_type",
    "QualificationTypeId": "qualification_type",
}
# Features Boltwork refuses by name (docs/mturk.md): well-formed calls leave them out, so they reach the services;
# calls with junk in them still send them.
UNOFFERED_MEMBERS = frozenset(
    {"HITLayoutId", "HITLayoutParameters", "AssignmentReviewPolicy", "HITReviewPolicy", "LocaleValues", "Test"}
)
# Members a fully random value would never get right, with values that are.
PLAUSIBLE_VALUES = {
    "Question": [HTML_QUESTION, QUESTION_FORM, EXTERNAL_QUESTION],
    "Reward": ["0.05", "0.01", "1.00"],
    "BonusAmount": ["0.05", "0.01"],
    "Title": ["Is this review positive?"],
    "Description": ["Read one short review."],
    "LifetimeInSeconds": [3600, 86_400],
    "AssignmentDurationInSeconds": [600],
    "AutoApprovalDelayInSeconds": [3600],
    "MaxAssignments": [1, 2],
    "NumberOfAdditionalAssignments": [1],
}
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=8), st.integers(), max_size=2),
)
# Epoch seconds around now (resolved when drawn), and any number at all.
TIMESTAMPS = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**8).map(lambda offset: time.time() + offset),
    st.floats(allow_nan=False, allow_infinity=False),
)


def value_strategy(shape, *, member: str = "", junk: bool) -> st.SearchStrategy:
    """Values for `shape`; with `junk`, any field may instead hold a value of the wrong type."""
    well_formed = well_formed_strategy(shape, member=member, junk=junk)
    return st.one_of(well_formed, JUNK) if junk else well_formed


def well_formed_strategy(shape, *, member: str, junk: bool) -> st.SearchStrategy:
    kind = shape.type_name
    if kind == "structure":
        return structure_strategy(shape, junk=junk)
    if kind == "list":
        return st.lists(value_strategy(shape.member, member=member, junk=junk), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=10), value_strategy(shape.value, junk=junk), max_size=3)
    if kind == "string":
        return string_strategy(shape, member=member)
    if kind in {"integer", "long"}:
        return with_plausible_values(
            st.integers(min_value=shape.metadata.get("min", -5), max_value=shape.metadata.get("max", 10**8)), member
        )
    if kind in {"double", "float"}:
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return TIMESTAMPS
    raise AssertionError(f"no strategy for the shape type {kind}")


def structure_strategy(shape, *, junk: bool) -> st.SearchStrategy:
    required = {name: value_strategy(shape.members[name], member=name, junk=junk) for name in shape.required_members}
    optional = {
        name: value_strategy(member_shape, member=name, junk=junk)
        for name, member_shape in shape.members.items()
        if name not in shape.required_members and (junk or name not in UNOFFERED_MEMBERS)
    }
    return st.fixed_dictionaries(required, optional=optional)


def string_strategy(shape, *, member: str) -> st.SearchStrategy:
    if shape.enum:
        return st.sampled_from(shape.enum)
    shortest, longest = shape.metadata.get("min", 0), shape.metadata.get("max", 200)
    pattern = shape.metadata.get("pattern")
    if pattern:
        generated = st.from_regex(pattern, fullmatch=True).filter(lambda text: shortest <= len(text) <= longest)
    else:
        generated = st.text(min_size=max(shortest, 1), max_size=min(longest, 60))
    alternatives = [generated]
    if member in KNOWN_KIND_BY_MEMBER:
        known = st.builds(Known, st.just(KNOWN_KIND_BY_MEMBER[member]), st.integers(0, 3))
        alternatives += [known, known]  # two in three: the success paths need real ids
    return with_plausible_values(st.one_of(*alternatives), member)


def with_plausible_values(generated: st.SearchStrategy, member: str) -> st.SearchStrategy:
    """Two draws in three from the member's plausible values, if it has some: a call succeeds only when every
    field is right, and the success paths are where money moves."""
    if member not in PLAUSIBLE_VALUES:
        return generated
    plausible = st.sampled_from(PLAUSIBLE_VALUES[member])
    return st.one_of(plausible, plausible, generated)


def plausible_strategy(input_shape) -> st.SearchStrategy:
    """Calls with a plausible value or a real id in every member that has some (the rest well-formed): the calls
    that reach the success paths, where money moves."""
    chosen = {}
    for name, member_shape in input_shape.members.items():
        if name in PLAUSIBLE_VALUES:
            chosen[name] = st.sampled_from(PLAUSIBLE_VALUES[name])
        elif name in KNOWN_KIND_BY_MEMBER:
            known = st.builds(Known, st.just(KNOWN_KIND_BY_MEMBER[name]), st.integers(0, 3))
            chosen[name] = st.lists(known, min_size=1, max_size=1) if member_shape.type_name == "list" else known
    required = {
        name: chosen[name] if name in chosen else value_strategy(input_shape.members[name], member=name, junk=False)
        for name in input_shape.required_members
    }
    return st.fixed_dictionaries(
        required, optional={name: value for name, value in chosen.items() if name not in required}
    )


def body_strategy(operation: str) -> st.SearchStrategy:
    """The body of a call: plausible or well-formed parameters, parameters with junk in them, or not a JSON object
    at all."""
    input_shape = SERVICE_MODEL.operation_model(operation).input_shape
    not_an_object = st.one_of(
        st.binary(max_size=30), st.sampled_from([b"[]", b"null", b"42", b'"text"', b"{", b"[" * 5000])
    )
    well_formed, with_junk = structure_strategy(input_shape, junk=False), structure_strategy(input_shape, junk=True)
    plausible = plausible_strategy(input_shape)
    # About a third plausible, a third otherwise well-formed, a fifth with junk, the rest not an object.
    return st.one_of(plausible, plausible, well_formed, well_formed, with_junk, not_an_object)


# What the answers must look like -----------------------------------------------------------------------------------


def shape_problems(value, shape, path: str) -> list[str]:
    """Where the JSON `value` differs from the botocore `shape` (an empty list: it matches exactly)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {value!r:.80} is not an object"]
        problems = [f"{path}.{name}: not in the model" for name in value if name not in shape.members]
        problems += [f"{path}.{name}: required, missing" for name in shape.required_members if value.get(name) is None]
        for name, member_value in value.items():
            if name in shape.members and member_value is not None:
                problems += shape_problems(member_value, shape.members[name], f"{path}.{name}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {value!r:.80} is not a list"]
        return [
            problem for i, item in enumerate(value) for problem in shape_problems(item, shape.member, f"{path}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {value!r:.80} is not an object"]
        return [
            problem for key, item in value.items() for problem in shape_problems(item, shape.value, f"{path}.{key}")
        ]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {value!r:.80} is not a string"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r:.80} is not one of {shape.enum}"]
        return []
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in {"integer", "long"} and not (numeric and isinstance(value, int)):
        return [f"{path}: {value!r:.80} is not a whole number"]
    if kind in {"double", "float", "timestamp"} and not numeric:
        return [f"{path}: {value!r:.80} is not a number"]
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{path}: {value!r:.80} is not true or false"]
    return []


def botocore_reads(response, output_shape) -> dict:
    return JSON_PARSER.parse(
        {"status_code": response.status_code, "headers": dict(response.items()), "body": response.content},
        output_shape,
    )


def check_answer(operation: str, response) -> None:
    assert response.status_code < 500, response.content
    body = json.loads(response.content)
    output_shape = SERVICE_MODEL.operation_model(operation).output_shape
    parsed = botocore_reads(response, output_shape)
    if response.status_code == 200:
        assert shape_problems(body, output_shape, operation) == []
        assert "Error" not in parsed, parsed
        return
    assert response.status_code == 400, body
    assert set(body) <= {"__type", "Message", "TurkErrorCode"}, body
    assert body["__type"] == "RequestError", body
    assert isinstance(body["Message"], str), body
    assert body["Message"], body
    assert isinstance(body.get("TurkErrorCode", ""), str), body
    assert parsed["Error"]["Code"] == "RequestError", parsed


# The caller and its objects ----------------------------------------------------------------------------------------


@pytest.fixture
def caller(settings):
    """A funded requester with one of each thing the operations act on, and a credential to sign calls with."""
    from mturk.credentials import credential_create

    settings.API_RATE_LIMIT_PER_MINUTE = 0  # hundreds of calls in seconds; the limit has tests of its own
    settings.MTURK_SATS_PER_USD = 1_000
    owner = make_user(funds_sats=1_000_000)
    credential, secret = credential_create(user=owner, currency="usd")
    task = make_hit(owner, max_assignments=3)
    worker = make_user(funds_sats=0)
    assignment = services.assignment_claim(job=task.job, worker=worker)
    submitted = services.assignment_submit(assignment=assignment, worker=worker, data={"sentiment": "positive"})
    qualification_type = qualification_type_create(owner=owner, name="Fuzzed type", auto_grant_value=1)
    qualification_grant(qualification=qualification_type, actor=owner, worker_id=worker.public_id, value=5)
    known = {
        "hit": [task.public_id],
        "hit_type": [task.job.public_id],
        "assignment": [submitted.public_id],
        "worker": [worker.public_id],
        "qualification_type": [qualification_type.public_id],
    }
    return owner, credential.access_key_id, secret, known


def resolved(value, known: dict[str, list[str]]):
    if isinstance(value, Known):
        choices = known[value.kind]
        return choices[value.index % len(choices)]
    if isinstance(value, dict):
        return {name: resolved(item, known) for name, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, known) for item in value]
    return value


def post(operation: str, body: bytes, *, key: str, secret: str):
    headers = signed_headers_for(key=key, secret=secret, body=body, operation=operation)
    return live_endpoint(django_request(path="/mturk", headers=headers, body=body))


@pytest.fixture(scope="module", autouse=True)
def call_report(request):
    """Print how many calls were made, per operation and status code, and check there were enough."""
    CALLS.clear()
    yield
    per_operation: dict[str, Counter] = {}
    for (operation, status), count in CALLS.items():
        per_operation.setdefault(operation, Counter())[status] = count
    total = sum(CALLS.values())
    lines = [f"Mechanical Turk fuzzing: {total} signed calls over {len(per_operation)} operations"]
    for operation, statuses in sorted(per_operation.items()):
        spread = ", ".join(f"{status}×{count}" for status, count in sorted(statuses.items()))
        lines.append(f"  {sum(statuses.values()):5d}  {operation}  ({spread})")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))
    if len(per_operation) == len(OPERATIONS):  # the whole module ran, not a selection of it
        assert total >= MINIMUM_CALLS * SCALE, lines


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_generated_call_gets_an_answer_boto3_reads_and_a_refusal_moves_no_money(operation, caller):
    owner, key, secret, known = caller
    strategy = body_strategy(operation)

    @settings(
        max_examples=CALLS_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(params=strategy)
    def one_call(params):
        body = params if isinstance(params, bytes) else json.dumps(resolved(params, known)).encode()
        balance_before, entries_before = available(owner), LedgerEntry.objects.count()
        response = post(operation, body, key=key, secret=secret)
        CALLS[operation, response.status_code] += 1
        check_answer(operation, response)
        if response.status_code != 200:
            assert (available(owner), LedgerEntry.objects.count()) == (balance_before, entries_before), body
        assert ledger_check() == []

    one_call()
