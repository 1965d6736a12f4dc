"""The postgres:17.6 image (official, or the stand-in built here) keeps the documented
contract docker-compose.yml relies on: init scripts run once, each kind its own way."""

import subprocess
import uuid

import pytest

from tests.helpers import wait_until

pytestmark = pytest.mark.compose


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


@pytest.fixture
def init_dir(tmp_path):
    (tmp_path / "01-executed.sh").write_text("#!/bin/bash\necho executed-marker\n")
    (tmp_path / "01-executed.sh").chmod(0o755)
    # Sourced, so it shares the entrypoint's shell: an unset variable must not stop it.
    (tmp_path / "02-sourced.sh").write_text('echo "sourced-marker [$NOT_SET_ANYWHERE]"\n')
    (tmp_path / "03-table.sql").write_text("CREATE TABLE made_by_init (id int);\n")
    (tmp_path / "04-notes.txt").write_text("not a script\n")
    tmp_path.chmod(0o755)
    return tmp_path


def test_init_scripts_run_once_each_kind_its_own_way(compose, init_dir):
    name = f"forum-image-check-{uuid.uuid4().hex[:8]}"
    docker(
        "run", "--detach", "--name", name, "--env", "POSTGRES_PASSWORD=check",
        "--volume", f"{init_dir}:/docker-entrypoint-initdb.d:ro", "postgres:17.6",
    )  # fmt: skip
    try:
        # Over TCP: the server that runs the init scripts listens on its socket only.
        ready = ["docker", "exec", name, "pg_isready", "--quiet", "-h", "127.0.0.1"]
        wait_until(
            lambda: subprocess.run(ready, capture_output=True, check=False).returncode == 0,
            timeout=60,
            interval=0.5,
            what="the server to come up",
        )
        logs = subprocess.run(
            ["docker", "logs", name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, check=True,
        ).stdout  # fmt: skip
        table = docker(
            "exec", "--user", "postgres", name,
            "psql", "-At", "-c", "SELECT to_regclass('made_by_init') IS NOT NULL",
        )  # fmt: skip
        pid_one_user = docker("exec", name, "stat", "-c", "%u", "/proc/1")
    finally:
        subprocess.run(["docker", "rm", "--force", "--volumes", name], capture_output=True)

    assert "executed-marker" in logs
    assert "sourced-marker []" in logs
    assert "ignoring /docker-entrypoint-initdb.d/04-notes.txt" in logs
    assert table.strip() == "t"
    assert pid_one_user.strip() == "999"
