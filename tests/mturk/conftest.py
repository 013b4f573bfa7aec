import pytest

from mturk.credentials import credential_create


@pytest.fixture
def mturk_pair(requester):
    """The requester's Mechanical Turk credential (in USD) and its secret."""
    return credential_create(user=requester, currency="usd")
