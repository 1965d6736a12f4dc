"""The compose suite: docker-compose.yml brought up for real, reached like a user would.

One compose project for the whole suite, under a name of its own and with the web port
published on 127.0.0.1 at a free port, so it never meets a user's `make up`. Services are
reached only through that port or `docker exec`. `make test` starts the engine and makes
the images first (scripts/ensure-docker.sh, scripts/ensure-images.sh); without an engine
the suite is skipped, except under CI=true, where it fails.
"""

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from bench import load
from tests.browser.conftest import chromium_args, page  # noqa: F401  (the browser fixture, for compose too)
from tests.helpers import free_port, wait_until

REPO = Path(__file__).resolve().parent.parent.parent
APPLY_DELAY = "2s"
DEMO_MEMBER = ("grace", "grace-demo-password")


def engine_answers() -> bool:
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass
class Compose:
    """One compose project of docker-compose.yml, driven with the docker CLI."""

    name: str
    web_port: int
    env: dict[str, str] = field(default_factory=dict)
    file: str = "docker-compose.yml"
    #: The engine's volumes before the project came up: `down -v` must leave no other.
    volumes_before: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def run(self, *args: str, timeout: float = 600) -> str:
        """`docker compose ...` for this project; its output (fails the test on an error)."""
        done = subprocess.run(
            self.command(*args),
            cwd=REPO,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"docker compose {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def command(self, *args: str) -> list[str]:
        """`docker compose ...` for this project's name and file."""
        return ["docker", "compose", "--project-name", self.name, "--file", self.file, *args]

    def remove(self) -> None:
        """`down --volumes`, whatever state the project is in (a teardown: never fails)."""
        subprocess.run(
            self.command("down", "--volumes"),
            cwd=REPO,
            capture_output=True,
            timeout=300,
            check=False,
        )

    def containers(self, service: str) -> list[str]:
        """Ids of the service's running containers."""
        return self.run("ps", "--quiet", service).split()

    def psql(self, container: str, *statements: str, database: str = "forum") -> str:
        """Statements, each on its own, as the postgres superuser inside a container,
        over its own socket; what they print."""
        commands = [arg for statement in statements for arg in ("-c", statement)]
        psql = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, *commands]
        done = subprocess.run(
            ["docker", "exec", "--user", "postgres", container, *psql],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"psql in {container} failed: {done.stderr}")
        return done.stdout.strip()

    def accepts_connections(self, container: str) -> bool:
        """pg_isready inside the container: its server is up and out of start-up."""
        ready = ["docker", "exec", "--user", "postgres", container, "pg_isready", "-q"]
        return subprocess.run(ready, capture_output=True, timeout=60, check=False).returncode == 0

    def primary(self) -> str:
        return self.containers("primary")[0]

    def healthy_again(self) -> None:
        """Until every service is healthy again (`up --wait`, as many replicas as run):
        for a test that stopped a node, so that the next test finds the project as up left
        it. The worker, for one, exits when the primary goes and restarts "starting"."""
        replicas = len(self.containers("replica"))
        self.run("up", "--detach", "--wait", "--pull", "never", "--scale", f"replica={replicas}")

    def wait_for_replay(self, timeout: float = 60) -> None:
        """Until every replica container has replayed what the primary has written."""
        target = self.psql(self.primary(), "SELECT pg_current_wal_lsn()")
        sql = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        for replica in self.containers("replica"):
            wait_until(
                lambda replica=replica: self.psql(replica, sql) == "t",
                timeout=timeout,
                interval=0.2,
                what=f"replica {replica[:12]} to replay {target}",
            )

    def wait_for_web(self, timeout: float = 120) -> dict[str, object]:
        """Until /healthz answers 200 through the published port; its JSON."""
        found: dict[str, object] = wait_until(
            self.health, timeout=timeout, interval=0.5, what="/healthz to answer 200"
        )
        return found

    def health(self) -> dict[str, object] | None:
        """/healthz's JSON, or None unless it answers 200."""
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=5) as response:
                found: dict[str, object] = json.load(response)
                return found
        except OSError:
            return None


ProjectT = TypeVar("ProjectT", bound=Compose)


def brought_up(project: ProjectT) -> Iterator[ProjectT]:
    """For a fixture: `project` up and healthy (`up --wait`), removed afterwards whatever
    happened."""
    try:
        project.run("up", "--detach", "--wait", "--build", "--pull", "never")
        yield project
    finally:
        project.remove()


def require_engine() -> None:
    """Skip the test without a Docker engine, or fail it under CI."""
    if not engine_answers():
        reason = "no Docker engine answers (make test starts one as root: scripts/ensure-docker.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class Visitor(load.Visitor):
    """The bench's browser without JavaScript, which can also pick a routing strategy."""

    def use_strategy(self, name: str) -> None:
        self.request("/")  # the CSRF cookie
        status, _, _ = self.request("/lab/strategy", {"strategy": name, "next": "/"})
        assert status == 302


@pytest.fixture(scope="session")
def compose() -> Iterator[Compose]:
    """The project up and healthy: primary, one replica, web; removed at the end."""
    require_engine()
    project = Compose(
        name=f"forum-test-{os.getpid()}",
        web_port=free_port(),
        env={"REPLICA_LAG": APPLY_DELAY, "FORUM_ROUTING": "causal"},
    )
    project.env["WEB_PORT"] = str(project.web_port)
    listed = subprocess.run(
        ["docker", "volume", "ls", "--quiet"], capture_output=True, text=True, check=True
    )
    project.volumes_before = set(listed.stdout.split())
    yield from brought_up(project)
