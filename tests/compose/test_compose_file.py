"""docker-compose.yml and the web image, checked offline: no Docker engine needed.

check-jsonschema validates the file against the compose specification (its schema is
vendored in the package), and tests/compose/compose_check.py cross-references it with the
repository.
"""

import copy
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compose.compose_check import load, problems

REPO = Path(__file__).resolve().parent.parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
HA_COMPOSE_FILE = REPO / "docker-compose.ha.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def validate_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def compose() -> dict[str, Any]:
    return load(COMPOSE_FILE)


@pytest.mark.parametrize("path", [COMPOSE_FILE, HA_COMPOSE_FILE], ids=lambda path: path.name)
def test_it_matches_the_compose_specification(path: Path) -> None:
    result = validate_schema(path)

    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("services:\n  web:\n    ports: 8000\n", id="ports-not-a-list"),
        pytest.param("services:\n  web:\n    image: x\nservicse: {}\n", id="unknown-top-level-key"),
        pytest.param(
            "services:\n  web:\n    image: x\n    depends_on: {db: {condition: eventually}}\n",
            id="unknown-depends-on-condition",
        ),
    ],
)
def test_it_rejects_a_file_that_breaks_the_specification(text: str, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text)

    result = validate_schema(broken)

    assert result.returncode == 1, result.stdout + result.stderr
    # A schema failure, not a crash or a missing schema.
    assert "Schema validation errors" in result.stdout + result.stderr


def test_it_fits_the_repository(compose: dict[str, Any]) -> None:
    assert problems(compose, REPO) == []


def web_env(compose: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = compose["services"]["web"]["environment"]
    return env


def replica_env(compose: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = compose["services"]["replica"]["environment"]
    return env


def depend_on_missing_service(compose: dict[str, Any]) -> None:
    compose["services"]["web"]["depends_on"]["cache"] = {"condition": "service_started"}


def mount_missing_script_dir(compose: dict[str, Any]) -> None:
    compose["services"]["replica"]["volumes"][0] = "./postgres/standby:/opt/forum/replica:ro"


def drop_replica_urls(compose: dict[str, Any]) -> None:
    del web_env(compose)["REPLICA_URLS"]


def point_database_url_at_unknown_host(compose: dict[str, Any]) -> None:
    web_env(compose)["DATABASE_URL"] = "postgres://forum:forum@db:5432/forum"


def use_wrong_database_port(compose: dict[str, Any]) -> None:
    web_env(compose)["REPLICA_URLS"] = "postgres://forum_reader:forum_reader@replica:54321/forum"


def drop_replica_lag(compose: dict[str, Any]) -> None:
    del replica_env(compose)["REPLICA_LAG"]


def hard_code_replica_lag(compose: dict[str, Any]) -> None:
    replica_env(compose)["REPLICA_LAG"] = "2s"


def name_a_missing_entrypoint(compose: dict[str, Any]) -> None:
    compose["services"]["replica"]["entrypoint"] = ["/opt/forum/replica/start.sh"]


def use_undeclared_volume(compose: dict[str, Any]) -> None:
    compose["volumes"] = {}


def share_a_named_volume_between_replicas(compose: dict[str, Any]) -> None:
    del compose["services"]["replica"]["tmpfs"]
    compose["services"]["replica"]["volumes"].append("primary-data:/var/lib/postgresql/data")


def pin_the_replica_container_name(compose: dict[str, Any]) -> None:
    compose["services"]["replica"]["container_name"] = "forum-replica"


def drop_pg_isready(compose: dict[str, Any]) -> None:
    compose["services"]["primary"]["healthcheck"]["test"] = ["CMD", "true"]


def wait_for_a_service_without_healthcheck(compose: dict[str, Any]) -> None:
    del compose["services"]["replica"]["healthcheck"]


def check_health_on_another_port(compose: dict[str, Any]) -> None:
    test = compose["services"]["web"]["healthcheck"]["test"]
    test[-1] = test[-1].replace("8000", "8080")


def bind_gunicorn_to_loopback(compose: dict[str, Any]) -> None:
    web_env(compose)["GUNICORN_BIND"] = "127.0.0.1:8000"


def misspell_a_primary_variable(compose: dict[str, Any]) -> None:
    env = compose["services"]["primary"]["environment"]
    env["APP_PASWORD"] = env.pop("APP_PASSWORD")


def drop_the_secret_key(compose: dict[str, Any]) -> None:
    del web_env(compose)["DJANGO_SECRET_KEY"]


def point_redis_url_at_unknown_host(compose: dict[str, Any]) -> None:
    web_env(compose)["REDIS_URL"] = "redis://cache:6379/0"


def use_wrong_redis_port(compose: dict[str, Any]) -> None:
    web_env(compose)["REDIS_URL"] = "redis://redis:54328/0"


def run_replicas_on_another_version(compose: dict[str, Any]) -> None:
    compose["services"]["replica"]["image"] = "postgres:16.10"


def sign_tasks_with_another_key(compose: dict[str, Any]) -> None:
    compose["services"]["worker"]["environment"]["DJANGO_SECRET_KEY"] = "another-key"


def drop_the_workers_healthcheck(compose: dict[str, Any]) -> None:
    del compose["services"]["worker"]["healthcheck"]


BREAKAGES = [
    (depend_on_missing_service, "depends on 'cache', which is not a service"),
    (mount_missing_script_dir, "mounts ./postgres/standby, which does not exist"),
    (drop_replica_urls, "'web' does not set REPLICA_URLS"),
    (point_database_url_at_unknown_host, "DATABASE_URL points at host 'db'"),
    (use_wrong_database_port, "REPLICA_URLS uses port 54321"),
    (drop_replica_lag, "'replica' does not get REPLICA_LAG"),
    (hard_code_replica_lag, "'replica' hard-codes REPLICA_LAG"),
    (name_a_missing_entrypoint, "postgres/replica/start.sh does not exist"),
    (use_undeclared_volume, "volume 'primary-data', which is not declared"),
    (share_a_named_volume_between_replicas, "scaled replicas would share"),
    (pin_the_replica_container_name, "'replica' sets container_name"),
    (drop_pg_isready, "'primary' needs a healthcheck that runs pg_isready"),
    (wait_for_a_service_without_healthcheck, "'replica' has no healthcheck"),
    (check_health_on_another_port, "healthcheck that requests port 8000"),
    (bind_gunicorn_to_loopback, "must set GUNICORN_BIND=0.0.0.0:8000"),
    (misspell_a_primary_variable, "sets APP_PASWORD, which neither"),
    (drop_the_secret_key, "DEBUG off but sets no DJANGO_SECRET_KEY"),
    (run_replicas_on_another_version, "run different images"),
    (sign_tasks_with_another_key, "'worker' must set DJANGO_SECRET_KEY as web does"),
    (drop_the_workers_healthcheck, "'worker' needs a healthcheck"),
    (point_redis_url_at_unknown_host, "REDIS_URL points at host 'cache'"),
    (use_wrong_redis_port, "REDIS_URL uses port 54328"),
]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [pytest.param(breakage, expected, id=breakage.__name__) for breakage, expected in BREAKAGES],
)
def test_it_reports_a_broken_copy(
    compose: dict[str, Any], breakage: Callable[[dict[str, Any]], None], expected: str
) -> None:
    broken = copy.deepcopy(compose)
    breakage(broken)

    found = problems(broken, REPO)

    assert any(expected in problem for problem in found), found


def test_it_reports_an_entrypoint_that_is_not_executable(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    scripts = tmp_path / "postgres" / "replica"
    scripts.mkdir(parents=True)
    (scripts / "entrypoint.sh").write_text("#!/bin/sh\n")
    (tmp_path / "postgres" / "primary").mkdir()
    (tmp_path / "postgres" / "primary" / "init.sh").write_text("#!/bin/sh\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")

    found = problems(compose, tmp_path)

    assert any("postgres/replica/entrypoint.sh is not executable" in p for p in found), found


def dockerfile_instruction(name: str) -> str:
    """The argument of the Dockerfile's last `name` instruction."""
    lines = (REPO / "Dockerfile").read_text().splitlines()
    values = [line.split(None, 1)[1] for line in lines if line.startswith(f"{name} ")]
    assert values, f"the Dockerfile has no {name}"
    return values[-1]


def exec_form(name: str) -> list[str]:
    arguments: list[str] = json.loads(dockerfile_instruction(name))
    return arguments


def test_it_builds_an_image_whose_entrypoint_is_an_executable_script_of_the_repo() -> None:
    (entrypoint,) = exec_form("ENTRYPOINT")

    # The Dockerfile copies the repository into its WORKDIR.
    script = REPO / Path(entrypoint).relative_to(dockerfile_instruction("WORKDIR"))

    assert script.is_file()
    assert os.access(script, os.X_OK)


def test_it_runs_the_same_gunicorn_command_in_the_image_and_in_compose(
    compose: dict[str, Any],
) -> None:
    command = exec_form("CMD")

    assert compose["services"]["web"]["command"] == command
    assert (REPO / command[command.index("-c") + 1]).is_file()


def test_it_binds_gunicorn_to_loopback_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    local = runpy.run_path(str(REPO / "config" / "gunicorn.conf.py"))
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8000")
    container = runpy.run_path(str(REPO / "config" / "gunicorn.conf.py"))

    assert local["bind"] == "127.0.0.1:8000"
    assert container["bind"] == "0.0.0.0:8000"
    # contextvars-based routing state is per thread: threads are safe here.
    assert local["worker_class"] == "gthread"
