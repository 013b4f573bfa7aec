"""The deployment files in deploy/ (docs/deployment.md): no Docker engine or systemd runs here, so each file is
parsed and every command it starts is checked against what the project really has: a gunicorn app that imports,
Celery sub-commands and options the installed Celery accepts, manage.py commands that exist, every queue consumed,
exactly one scheduler, and no environment variable the settings never read."""

import configparser
import re
import shlex
from pathlib import Path

import click
import pytest
import yaml
from celery.bin.base import CLIContext
from celery.bin.beat import beat as celery_beat_command
from celery.bin.worker import worker as celery_worker_command
from django.core.management import get_commands

from marketplace.celery import app
from web.metrics import celery_queue_names

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# Read by deploy/gunicorn.conf.py, gunicorn itself or prometheus_client, not by the settings.
NOT_SETTINGS = {"GUNICORN_BIND", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS", "PROMETHEUS_MULTIPROC_DIR"}


def settings_read_from_environment() -> set[str]:
    source = (ROOT / "marketplace" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z0-9_]+)"', source)) | set(
        re.findall(r'percent_to_basis_points\(\s*"([A-Z0-9_]+)"', source)
    )


def check_command(argv: list[str]) -> str:
    """Fail unless `argv` is a command the project has; return which kind it is (web, worker, beat, manage)."""
    program = Path(argv[0]).name
    if program == "gunicorn":
        assert argv[1] == "marketplace.wsgi:application", argv
        if "--config" in argv:
            assert (ROOT / argv[argv.index("--config") + 1]).is_file(), argv
        return "web"
    if program == "celery":
        assert argv[1:3] == ["-A", "marketplace"], argv
        command = {"worker": celery_worker_command, "beat": celery_beat_command}[argv[3]]
        # Click parses the options as the real `celery` would: an unknown or misspelt option fails here.
        try:
            context = command.make_context(argv[3], argv[4:], obj=CLIContext(app=app, no_color=True, workdir=None))
        except click.UsageError as error:
            pytest.fail(f"{argv}: {error}")
        if argv[3] == "worker":
            queues = context.params["queues"]
            assert queues, f"a worker without --queues consumes only `celery`: {argv}"
            unknown = set(",".join(queues).split(",")) - set(celery_queue_names())
            assert not unknown, f"{argv} consumes queues no job is sent to: {unknown}"
        return argv[3]
    if program in {"python", "python3"} and argv[1] == "manage.py":
        assert argv[2] in get_commands(), argv
        return "manage"
    pytest.fail(f"not a command of this project: {argv}")


def queues_of(argv: list[str]) -> set[str]:
    return set(argv[argv.index("--queues") + 1].split(","))


def check_deployment(commands: list[list[str]], where: str) -> None:
    kinds = [check_command(argv) for argv in commands]
    assert kinds.count("beat") == 1, f"{where}: exactly one scheduler, found {kinds.count('beat')}"
    assert "web" in kinds, where
    consumed = set().union(*(queues_of(argv) for argv, kind in zip(commands, kinds, strict=True) if kind == "worker"))
    assert consumed == set(celery_queue_names()), (
        f"{where}: queues nobody consumes: {set(celery_queue_names()) - consumed}"
    )


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_compose_file_runs_each_process_of_the_project_on_postgres_redis_and_pgbouncer():
    services = compose()["services"]

    assert {
        "postgres",
        "redis",
        "pgbouncer",
        "migrate",
        "web",
        "worker-sweepers",
        "worker-outbound",
        "scheduler",
    } <= set(services)
    ours = {name: service for name, service in services.items() if service.get("image") == "boltwork:latest"}
    check_deployment([service["command"] for name, service in ours.items() if name != "migrate"], "compose.yaml")
    assert check_command(ours["migrate"]["command"]) == "manage"
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    # Every process but the migrations goes through PgBouncer; the migrations go straight to PostgreSQL.
    for name, service in ours.items():
        host = "postgres" if name == "migrate" else "pgbouncer"
        assert f"@{host}:5432/" in service["environment"]["DATABASE_URL"], name


def test_the_compose_file_sets_only_variables_the_settings_read():
    readable = settings_read_from_environment() | NOT_SETTINGS

    for name, service in compose()["services"].items():
        if service.get("image") != "boltwork:latest":
            continue
        unknown = set(service.get("environment", {})) - readable
        assert not unknown, f"{name} sets variables nothing reads: {unknown}"


def test_the_procfile_runs_each_process_of_the_project():
    lines = [line for line in (DEPLOY / "Procfile").read_text().splitlines() if line and not line.startswith("#")]
    processes = dict(line.split(": ", 1) for line in lines)

    for step in processes.pop("release").split("&&"):
        assert check_command(shlex.split(step)) == "manage"
    check_deployment([shlex.split(command) for command in processes.values()], "Procfile")


def test_the_systemd_units_run_each_process_of_the_project():
    commands = []
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(path)
        # systemd expands %h itself (a home directory): the units write %%h for Celery's own %h.
        commands.append(shlex.split(unit["Service"]["ExecStart"].replace("%%", "%")))
        assert unit["Service"]["WorkingDirectory"] == "/srv/boltwork", path.name
    check_deployment(commands, "deploy/systemd")
