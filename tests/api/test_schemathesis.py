"""Schemathesis runs the API's own OpenAPI document against the app in-process (WSGI), as a funded user.

Every generated request must get an answer the document promises: no 5xx, a documented status code and content
type, and a body that matches its schema. Each operation gets the coverage phase's boundary cases and fuzzed ones,
valid and invalid; path IDs are half the time those of the fuzzing user's real jobs, assignments and deposit, so
the success paths are fuzzed too and not only "not found".
"""

import zlib
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from alerts.services import saved_search_create
from api.services import api_key_create
from marketplace.models import APPROVAL_RATE_TYPE_ID
from marketplace.qualifications import qualification_grant, qualification_type_create
from payments.deposits import deposit_create
from tests.factories import make_claimed_assignment, make_job, make_submitted_assignment, make_user

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZED_PER_OPERATION = 70  # 50 made 4,199 requests; 70 makes about 5,100
MINIMUM_CASES = 5_000  # at the default: the figure in docs/RELIABILITY.md must not fall silently
CASES: Counter = Counter()  # (operation, status code) of every generated request, reported at the end
KNOWN_IDS: dict[str, list[str]] = {}  # the fuzzing user's objects, filled by the `fuzzer` fixture


@pytest.fixture
def fuzzer(settings, background_jobs_run_at_once):
    """A funded requester who also works on someone else's job, with something of each kind to act on."""
    settings.API_RATE_LIMIT_PER_MINUTE = 0  # hundreds of requests in seconds; the limit has tests of its own
    settings.LNURL_TIMEOUT_SECONDS = 1.0  # generated Lightning Addresses must not hang the run
    user = make_user("fuzzer")
    _, secret = api_key_create(user=user, name="schemathesis")
    published = make_job(requester=user, tasks=20, title="Fuzzed published job")
    draft = make_job(requester=user, tasks=2, publish=False, title="Fuzzed draft")
    submitted = [make_submitted_assignment(job=published) for _ in range(3)]
    other_job = make_job(requester=make_user("other_requester"), tasks=20, title="Someone else's job")
    claimed = make_claimed_assignment(job=other_job, worker=user)
    deposit = deposit_create(user=user, amount_msat=21_000)
    own_type = qualification_type_create(owner=user, name="Fuzzed type", auto_grant_value=1)
    others_type = qualification_type_create(owner=other_job.requester, name="Someone else's type", auto_grant_value=2)
    granted = make_user("fuzzed_worker")
    qualification_grant(qualification=own_type, actor=user, worker_id=granted.public_id, value=5)
    KNOWN_IDS.update(
        job_id=[published.public_id, draft.public_id, other_job.public_id],
        type_id=[own_type.public_id, others_type.public_id, APPROVAL_RATE_TYPE_ID],
        worker_id=[granted.public_id],
        assignment_id=[assignment.public_id for assignment in [*submitted, claimed]],
        deposit_id=[deposit.public_id],
        saved_search_id=[saved_search_create(worker=user, keywords="fuzzed").public_id],
    )
    return {"authorization": f"Bearer {secret}"}


def _load_schema():
    from marketplace.wsgi import application

    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    loaded.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    loaded.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    return loaded


schema = _load_schema()
OPERATIONS = sum(1 for _ in schema.get_all_operations())


def aim_at_known_objects(case) -> None:
    """Point about half the cases at the fuzzing user's real objects, so success paths are fuzzed too and not only
    "not found". Chosen from the generated value itself, so a replayed case gets the same substitution."""
    for name, value in list((case.path_parameters or {}).items()):
        known = KNOWN_IDS[name]
        pick = zlib.crc32(str(value).encode("utf-8", "surrogatepass")) % (2 * len(known))
        if pick < len(known):
            case.path_parameters[name] = known[pick]


@pytest.fixture(scope="module", autouse=True)
def case_report(request):
    """Print how many requests were generated, per operation and status code, and check there were enough."""
    CASES.clear()
    yield
    per_operation: dict[str, Counter] = {}
    for (label, status), count in CASES.items():
        per_operation.setdefault(label, Counter())[status] = count
    total = sum(CASES.values())
    lines = [f"schemathesis: {total} generated requests over {len(per_operation)} operations"]
    for label, statuses in sorted(per_operation.items()):
        spread = ", ".join(f"{status}×{count}" for status, count in sorted(statuses.items()))
        lines.append(f"  {sum(statuses.values()):5d}  {label}  ({spread})")
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))
    if len(per_operation) == OPERATIONS:  # the whole document was fuzzed, not a selection of it
        assert total >= MINIMUM_CASES, lines


@schema.parametrize()
@settings(
    max_examples=FUZZED_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db(transaction=True)
def test_every_generated_request_gets_an_answer_the_openapi_document_promises(case, fuzzer):
    aim_at_known_objects(case)
    headers = {"Authorization": fuzzer["authorization"]}
    response = case.call(headers=headers)
    CASES[case.operation.label, response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)
