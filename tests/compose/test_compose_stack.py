"""docker-compose.yml, for real: what a user of `docker compose up` meets.

The tests share one project (see conftest.py), in any order: each brings it to the
shape it needs (`--scale replica=2`, a lag), and the test of `down` brings it back up.
"""

import json
import os
import re
import subprocess
import uuid

import pytest

from tests.compose.conftest import APPLY_DELAY, DEMO_MEMBER, REPO, Compose, Visitor
from tests.helpers import wait_until

pytestmark = pytest.mark.compose

THREAD_LINK = re.compile(r'href="(/t/\d+/[\w-]+/)"')


def a_thread(visitor: Visitor) -> str:
    status, page, _ = visitor.request("/b/general/")
    assert status == 200
    found = THREAD_LINK.search(page)
    assert found, "the seeded board lists no thread"
    return found.group(1)


def reply(visitor: Visitor, thread: str) -> tuple[str, int, str, str]:
    """Reply to a thread and follow the redirects: (body, status, page, its path)."""
    body = f"compose reply {uuid.uuid4().hex[:12]}"
    thread_id = thread.split("/")[2]
    status, _, location = visitor.request(f"/t/{thread_id}/reply", {"body": body})
    assert status == 302, f"the reply was not accepted ({status})"
    while status in (301, 302):
        path = location
        status, page, location = visitor.request(path)
    return body, status, page, path


def lesson_run(compose: Compose, slug: str) -> str:
    """The lab's page of lesson `slug` once it has run (its form posted), as a visitor."""
    visitor = Visitor(compose.url)
    visitor.request(f"/lab/{slug}/")  # the CSRF cookie
    status, page, _ = visitor.request(f"/lab/{slug}/", {})
    assert status == 200
    return page


def member(compose: Compose, strategy: str) -> Visitor:
    """The demo member, logged in (under causal) and then using `strategy`."""
    visitor = Visitor(compose.url)
    visitor.log_in(*DEMO_MEMBER)
    compose.wait_for_replay()  # naive reads the session from a replica too
    visitor.use_strategy(strategy)
    return visitor


def test_the_real_compose_accepts_the_file(compose):
    compose.run("config", "--quiet")
    # And refuses a broken one: the check can fail.
    broken = subprocess.run(
        ["docker", "compose", "-f", "-", "config", "--quiet"],
        input="services:\n  web:\n    ports: 8000\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode != 0


def test_up_brings_every_service_to_healthy(compose):
    states = [json.loads(line) for line in compose.run("ps", "--format", "json").splitlines()]

    assert {(s["Service"], s["Health"]) for s in states} == {
        ("primary", "healthy"),
        ("replica", "healthy"),
        ("pgbouncer", "healthy"),
        ("redis", "healthy"),
        ("web", "healthy"),
        ("worker", "healthy"),
    }
    health = compose.wait_for_web()
    assert health["primary"]["up"] is True
    (replica,) = health["replicas"]
    assert replica["up"] is True
    assert replica["apply_delay"] == APPLY_DELAY  # REPLICA_LAG passed through
    assert isinstance(replica["lag_seconds"], float | int)


def test_the_web_image_opens_no_control_socket(compose):
    logs = compose.run("logs", "web")

    assert "Control server error" not in logs
    assert "Listening at: http://0.0.0.0:8000" in logs


def test_naive_meets_the_lag_404(compose):
    visitor = member(compose, "naive")

    _, status, page, _ = reply(visitor, a_thread(visitor))

    assert status == 404
    assert 'id="lag-hint"' in page


@pytest.mark.parametrize("strategy", ["causal", "sticky"])
def test_a_safe_strategy_lands_on_the_reply(compose, strategy):
    visitor = member(compose, strategy)

    body, status, page, _ = reply(visitor, a_thread(visitor))

    assert status == 200
    assert body in page


def test_lesson_10_runs_through_the_compose_pgbouncer(compose):
    page = lesson_run(compose, "transaction-pooling")

    assert 'data-strategy="iterator(), server-side cursor" data-correct="no"' in page
    assert "does not exist" in page
    assert 'data-strategy="iterator(), DISABLE_SERVER_SIDE_CURSORS" data-correct="yes"' in page


def test_lesson_15_runs_its_tasks_on_the_compose_worker(compose):
    page = lesson_run(compose, "task-reads-its-request-write")

    assert 'data-strategy="enqueue(): no position" data-correct="no"' in page
    assert 'data-strategy="enqueue_with_writes(), sticky mode" data-correct="yes"' in page
    assert 'data-strategy="enqueue_with_writes(), delayed mode" data-correct="yes"' in page


def test_lesson_18_keeps_positions_per_member_in_the_compose_redis(compose):
    page = lesson_run(compose, "second-device")

    assert 'data-strategy="causal, cookies only" data-correct="no"' in page
    assert 'data-strategy="causal, position per member" data-correct="yes"' in page


@pytest.fixture
def two_replicas(compose):
    """Two replica containers; the first applies at once, the second 3 s late."""
    compose.run("up", "--detach", "--wait", "--pull", "never", "--scale", "replica=2")
    first, second = compose.containers("replica")
    for container, delay in ((first, "0"), (second, "3s")):
        compose.psql(
            container,
            f"ALTER SYSTEM SET recovery_min_apply_delay = '{delay}'",
            "SELECT pg_reload_conf()",
            database="postgres",
        )
    yield first, second
    lag_everywhere(compose, APPLY_DELAY)


def lag_everywhere(compose: Compose, delay: str) -> None:
    """What `make lag` runs for compose."""
    done = subprocess.run(
        [str(REPO / "postgres/compose-lag.sh"), delay],
        env={**os.environ, "COMPOSE_PROJECT_NAME": compose.name},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_two_replicas_stream_and_causal_never_serves_a_stale_page(compose, two_replicas):
    streaming = compose.psql(
        compose.primary(), "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
    )
    assert streaming == "2"
    (replica,) = compose.wait_for_web()["replicas"]  # one alias, two servers behind it
    assert sorted(server["apply_delay"] for server in replica["servers"]) == ["0", "3s"]
    visitor = member(compose, "causal")
    thread = a_thread(visitor)

    # The web's threads hold connections to either container behind the one name.
    for _ in range(8):
        body, status, page, path = reply(visitor, thread)
        assert (status, body in page) == (200, True)
        for _ in range(3):
            status, page, _ = visitor.request(path)
            assert status == 200
            assert body in page, "a reload read a replica that lacks the reply"


def test_a_live_lag_change_reaches_every_replica_container(compose, two_replicas):
    lag_everywhere(compose, "5s")

    delays = [
        compose.psql(c, "SHOW recovery_min_apply_delay") for c in compose.containers("replica")
    ]
    assert delays == ["5s", "5s"]


def test_a_primary_restart_keeps_the_data_and_the_replicas_reconnect(compose):
    visitor = member(compose, "causal")
    _, status, _, _ = reply(visitor, a_thread(visitor))
    assert status == 200
    count = "SELECT count(*) FROM forum_post"
    before = compose.psql(compose.primary(), count)

    compose.run("restart", "primary")
    # The container runs again before its server accepts connections ("starting up").
    wait_until(
        lambda: compose.accepts_connections(compose.primary()),
        timeout=60,
        interval=0.5,
        what="the restarted primary to accept connections",
    )

    assert compose.psql(compose.primary(), count) == before
    replicas = len(compose.containers("replica"))
    wait_until(
        lambda: (
            compose.psql(compose.primary(), "SELECT count(*) FROM pg_stat_replication")
            == str(replicas)
        ),
        timeout=60,
        interval=0.5,
        what="the replicas to reconnect",
    )
    compose.wait_for_web()
    body, status, page, _ = reply(visitor, a_thread(visitor))
    assert (status, body in page) == (200, True)
    compose.healthy_again()


def test_web_waits_for_the_primary_instead_of_exiting(compose):
    compose.run("stop", "primary")
    try:
        compose.run("restart", "web")
        wait_until(
            lambda: "the primary is not ready" in compose.run("logs", "--since", "1m", "web"),
            timeout=60,
            interval=0.5,
            what="web to say it waits for the primary",
        )
        (web,) = compose.containers("web")  # still running, not exited
    finally:
        compose.run("start", "primary")
        compose.healthy_again()

    compose.wait_for_web()
    (after,) = compose.containers("web")
    assert after == web
    policies = subprocess.run(
        ["docker", "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", web],
        capture_output=True,
        text=True,
        check=True,
    )
    assert policies.stdout.strip() == "unless-stopped"


def test_pages_keep_loading_when_a_replica_container_dies(compose):
    compose.run("up", "--detach", "--wait", "--pull", "never", "--scale", "replica=2")
    visitor = Visitor(compose.url)
    thread = a_thread(visitor)
    victim = compose.containers("replica")[0]

    subprocess.run(["docker", "kill", victim], capture_output=True, check=True)
    statuses = [visitor.request(path)[0] for path in ["/", thread, "/b/general/"] * 8]

    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {200}


@pytest.fixture
def brought_back(compose):
    """The project up again afterwards (fresh volumes: the web seeds them), for the tests
    that run after this one."""
    yield
    compose.run("up", "--detach", "--wait", "--pull", "never", "--scale", "replica=1")
    compose.wait_for_web()


def test_down_leaves_nothing_of_the_project(compose, brought_back):
    # A scale-down first: a replica removed then must not leave its data behind.
    compose.run("up", "--detach", "--wait", "--pull", "never", "--scale", "replica=2")
    compose.run("up", "--detach", "--wait", "--pull", "never", "--scale", "replica=1")
    compose.run("down", "--volumes")

    label = f"label=com.docker.compose.project={compose.name}"
    for kind in ("container", "network", "volume"):
        listed = subprocess.run(
            ["docker", kind, "ls", "--quiet", "--filter", label]
            + (["--all"] if kind == "container" else []),
            capture_output=True,
            text=True,
            check=True,
        )
        assert listed.stdout.split() == [], f"a {kind} of the project is left"
    volumes = subprocess.run(
        ["docker", "volume", "ls", "--quiet"], capture_output=True, text=True, check=True
    )
    assert set(volumes.stdout.split()) <= compose.volumes_before, "an unlabelled volume is left"
