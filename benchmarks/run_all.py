"""`make bench`: every benchmark of the suite in turn, then one summary table of all their figures.

.venv/bin/python -m benchmarks.run_all [--only batch_create,export] [--skip payouts]

Each script runs as `python -m benchmarks.<name>` in its own process (so each stays runnable alone, with its own
options) and writes var/bench/<name>.json through benchmarks.suite.Report; this reads them back. A script that
fails is reported and the others still run; the exit status says whether all of them ran.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from benchmarks.suite import OUTPUT_DIR, ROOT, format_load, machine, print_table

SCRIPTS = ("batch_create", "export", "board", "work_loop", "middleware_cost", "payouts")


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated scripts to run (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated scripts to leave out")
    return parser.parse_args()


def chosen_scripts(arguments: argparse.Namespace) -> list[str]:
    only = [name for name in arguments.only.split(",") if name]
    skip = {name for name in arguments.skip.split(",") if name}
    return [name for name in (only or SCRIPTS) if name not in skip]


def run_script(name: str) -> tuple[bool, float]:
    """Runs one benchmark; its old JSON is removed first so a failed run cannot show stale figures."""
    (OUTPUT_DIR / f"{name}.json").unlink(missing_ok=True)
    print(f"\n##### benchmarks.{name} (load {format_load()})", flush=True)
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=ROOT, env=dict(os.environ))
    return result.returncode == 0, time.perf_counter() - start


def print_machine(description: dict) -> None:
    print("\n== machine")
    print(f"CPU {description['cpu']}, {description['cores']} cores, {description['memory_gb']} GB memory")
    print(f"PostgreSQL {description['postgresql']}, Python {description['python']}")
    print(f"load average before the suite: {format_load(description['load'])}")


def main() -> None:
    arguments = parse_arguments()
    scripts = chosen_scripts(arguments)
    description = machine()
    print_machine(description)
    outcomes = {name: run_script(name) for name in scripts}

    figures = []
    for name in scripts:
        path = OUTPUT_DIR / f"{name}.json"
        if path.exists():
            figures.extend(json.loads(path.read_text())["figures"])
    print_machine(description)
    print(f"load average after the suite: {format_load()}")
    for name, (succeeded, seconds) in outcomes.items():
        print(f"benchmarks.{name}: {'ran' if succeeded else 'FAILED'} in {seconds:.0f} s")
    print_table("all benchmarks", figures)
    (OUTPUT_DIR / "summary.json").write_text(json.dumps({"machine": description, "figures": figures}, indent=2) + "\n")
    if not all(succeeded for succeeded, _ in outcomes.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
