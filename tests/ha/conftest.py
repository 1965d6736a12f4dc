"""The HA suite's cluster: tests/ha.env's (or HA_ENV_FILE's) three Patroni nodes, made
afresh by postgres/ha.sh when the first HA test runs, once per session, and removed at
the end (stopped by PID, data deleted), whatever the tests did. Each test leaves it
whole again for the next: every node running, a leader, two standbys streaming."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ha.cluster import HaCluster, read_env
from tests.helpers import REPO, gunicorn

PROBE_TABLE = (
    "CREATE TABLE ha_probe (id bigserial PRIMARY KEY, body text NOT NULL);"
    " ALTER TABLE ha_probe OWNER TO forum"
)


@pytest.fixture(scope="session")
def ha_cluster() -> Iterator[HaCluster]:
    env = read_env(Path(os.environ.get("HA_ENV_FILE", REPO / "tests/ha.env")))
    cluster = HaCluster(env)
    try:
        # Afresh: a cluster an interrupted run left behind is not this session's.
        cluster.run("reset")
        cluster.run("up")
        cluster.whole()
        # The tests' own table, the app role's, as the forum's tables are.
        cluster.run("psql", cluster.wait_for_leader(), "-c", PROBE_TABLE)
        yield cluster
    finally:
        cluster.run("reset")


@pytest.fixture
def ha(ha_cluster: HaCluster, django_db_blocker: Any) -> Iterator[HaCluster]:
    """The cluster, whole; made whole again after the test. Django connections to it
    (HaCluster.django) are allowed for the test."""
    with django_db_blocker.unblock():
        yield ha_cluster
    ha_cluster.whole()


@pytest.fixture(scope="session")
def ha_forum(ha_cluster: HaCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The forum served by gunicorn on the cluster, as `make ha` serves it (the URLs of
    `ha.sh env`, causal routing, the lab's controls on), migrated and seeded; its URL."""
    env = {
        **ha_cluster.urls(),
        "FORUM_ROUTING": "causal",
        "LAB_CLUSTER_CONTROLS": "true",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "test-only-secret",
    }
    for command in (("migrate_primaries", "--noinput"), ("seed_forum",)):
        subprocess.run(
            [sys.executable, "manage.py", *command, "-v0"],
            cwd=REPO,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
            timeout=120,
        )
    with gunicorn(tmp_path_factory.mktemp("ha-forum"), **env) as url:
        yield url
