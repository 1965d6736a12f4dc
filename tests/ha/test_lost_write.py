"""Asynchronous replication (`ha.sh sync off`): a member's post, acknowledged by the
leader, that no standby received when the leader's node died. The failover loses it, and
the member is told so once, on their next page; the old leader, started again, is
rewound, and its replica alias comes back into rotation only once it streams the new
timeline.

The standbys are kept from receiving it for real: the leader's WAL senders are stopped
(SIGSTOP) before the post, and killed (SIGKILL) with the node, so the WAL that holds it
never leaves the leader. (An apply delay would not do: a promotion applies all the WAL
a standby received.)

One failover for the module: the tests look at its outcome from different sides.
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from forum.lost_writes import LOST_WRITE_WORDS
from tests.ha.cluster import NODES, HaCluster
from tests.ha.members import Member
from tests.helpers import REPO, answers, wait_until

pytestmark = pytest.mark.ha


@dataclass
class LostPost:
    old: str
    new: str
    member: Member
    title: str
    #: The member's first two pages once the app writes to the new leader.
    next_page: str
    page_after: str
    #: The routers' view of the old leader's replica alias while it rejoined.
    rejoin_samples: list[dict[str, Any]]


def healthy(url: str) -> bool:
    """The app's /healthz says its primary is up: the new leader, after a failover."""
    return answers(f"{url}/healthz")


def rotation_samples(ha: HaCluster, alias: str, seconds: float) -> subprocess.Popen[str]:
    """The routers' view of `alias`, sampled by tests/ha/rotation_sampler.py in a process
    with the cluster's settings."""
    env = {**os.environ, **ha.urls(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.setdefault("DJANGO_SECRET_KEY", "test-only-secret")
    command = [sys.executable, "-m", "tests.ha.rotation_sampler", alias, str(seconds)]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)


def replica_alias_of(node: str) -> str:
    """REPLICA_URLS lists the nodes in order: replica, replica_2, replica_3."""
    index = NODES.index(node)
    return "replica" if index == 0 else f"replica_{index + 1}"


@pytest.fixture(scope="module")
def lost(ha_cluster: HaCluster, ha_forum: str) -> Iterator[LostPost]:
    ha_cluster.whole()
    ha_cluster.run("sync", "off")
    try:
        wait_until(lambda: not ha_cluster.config()["synchronous_mode"], what="asynchronous mode")
        wait_until(ha_cluster.settled, what="no synchronous standby left")
        member = Member(ha_forum)
        old = ha_cluster.wait_for_leader()
        senders = ha_cluster.wal_senders(old)
        assert len(senders) == 2
        for pid in senders:
            os.kill(pid, signal.SIGSTOP)
        try:
            title, _ = member.start_thread()
            ha_cluster.run("kill", old)
        finally:
            for pid in senders:
                os.kill(pid, signal.SIGKILL)
        new = ha_cluster.wait_for_leader(other_than=old, timeout=ha_cluster.ttl + 15)
        wait_until(lambda: healthy(ha_forum), timeout=15, what="the app on the new leader")
        next_page = member.get("/")[1]
        page_after = member.get("/")[1]
        # The old leader started again, while the routers' view of its alias is sampled.
        sampler = rotation_samples(ha_cluster, replica_alias_of(old), seconds=60)
        ha_cluster.run("start", old)
        output, _ = sampler.communicate(timeout=90)
        samples = [json.loads(line) for line in output.splitlines()]
        yield LostPost(old, new, member, title, next_page, page_after, samples)
    finally:
        ha_cluster.run("sync", "on")
        ha_cluster.whole()


def test_it_loses_the_acknowledged_post(ha: HaCluster, lost: LostPost) -> None:
    sql = f"SELECT count(*) FROM forum_thread WHERE title = '{lost.title}'"

    assert ha.superuser_query(lost.new, sql) == [("0",)]


def test_it_tells_the_member_once_on_their_next_page(lost: LostPost) -> None:
    assert lost.next_page.count(LOST_WRITE_WORDS) == 1
    assert LOST_WRITE_WORDS not in lost.page_after


def test_it_takes_the_rewound_old_leader_into_rotation_on_the_new_timeline(
    ha: HaCluster, lost: LostPost
) -> None:
    samples = lost.rejoin_samples

    patroni_log = (REPO / ha.env["STACK_DIR"] / "log" / f"{lost.old}.log").read_text()
    assert "pg_rewind" in patroni_log  # it had WAL the new leader never had
    assert samples
    assert samples[-1]["in_rotation"], "it never came into rotation"
    new_timeline = samples[-1]["primary_timeline"]
    for sample in samples:
        if sample["in_rotation"]:
            assert sample["receiver"] == "streaming"
            assert sample["timeline"] == sample["primary_timeline"] == new_timeline
    # It was down, then answered, and came into rotation only later.
    assert not samples[0]["up"]
