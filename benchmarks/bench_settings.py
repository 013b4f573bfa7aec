"""Benchmark-only settings: production settings with a plain view at /bench/plain/ and a middleware stack chosen by
the environment, to measure what each middleware costs (benchmarks/work_loop.py --overhead).

BENCH_MIDDLEWARE=all (the default) keeps Boltwork's stack; `none` removes every middleware (a bare Django view);
`-<dotted path>,-<dotted path>` removes those. Never used outside benchmarks.
"""

import os

from marketplace.settings import *  # noqa: F403
from marketplace.settings import MIDDLEWARE as BOLTWORK_MIDDLEWARE

ROOT_URLCONF = "benchmarks.bench_urls"


def _chosen_middleware(choice: str) -> list[str]:
    if choice == "all":
        return list(BOLTWORK_MIDDLEWARE)
    if choice == "none":
        return []
    removed = {name.strip().removeprefix("-") for name in choice.split(",") if name.strip()}
    unknown = removed - set(BOLTWORK_MIDDLEWARE)
    if unknown:
        raise ValueError(f"BENCH_MIDDLEWARE names middleware Boltwork does not use: {sorted(unknown)}")
    return [name for name in BOLTWORK_MIDDLEWARE if name not in removed]


MIDDLEWARE = _chosen_middleware(os.environ.get("BENCH_MIDDLEWARE", "all"))
