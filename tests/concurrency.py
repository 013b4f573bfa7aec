"""Racing threads against the real PostgreSQL: how the tests check that locks and unique keys hold under load."""

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

TIMEOUT_SECONDS = 60  # for the threads to meet, and again for each to finish


def run_in_threads(count: int, target: Callable[[int], Any], *, what: str = "a thread") -> list:
    """Run `target(index)` for index 0 to count - 1 in as many threads, released together, each on its own database
    connection (as separate web or Celery worker processes would be). Returns each one's result, or the exception
    it raised; fails the test if one is still running after the timeout (`what` names it in the message)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=TIMEOUT_SECONDS)
            results[index] = target(index)
        except Exception as error:  # noqa: BLE001 - handed back to the test, which asserts on it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_SECONDS)
    assert not any(thread.is_alive() for thread in threads), f"{what} hung"
    return results


def raised(results: list) -> list[Exception]:
    """The exceptions among what `run_in_threads` handed back."""
    return [result for result in results if isinstance(result, Exception)]
