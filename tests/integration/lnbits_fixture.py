"""The `lnbits` fixture: one real LNbits wallet server per test session.

Import it into a conftest (`from tests.integration.lnbits_fixture import lnbits  # noqa: F401`). It installs nothing:
`scripts/install-lnbits.sh` does; run it before the tests.
"""

import pytest

from tests.lnbits_server import LnbitsNotInstalled, LnbitsServer


@pytest.fixture(scope="session")
def lnbits():
    """A started LnbitsServer (FakeWallet funding source, fresh data folder); stopped after the session."""
    try:
        server = LnbitsServer()
    except LnbitsNotInstalled as error:
        pytest.fail(str(error), pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
