"""Synchronous mode (the stack's default): a member's post, acknowledged, then the leader
killed from the cluster panel's "kill the leader" button. The new leader has the post,
the member reads it on their next page (read-your-writes across the failover) and is
told nothing, and no reader page fails once the new leader is up.

One failover for the module: the tests look at its outcome from different sides.
"""

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from forum.lost_writes import LOST_WRITE_WORDS
from tests.ha.cluster import HaCluster, process_state
from tests.ha.members import Member
from tests.helpers import HttpBrowser, wait_until

pytestmark = pytest.mark.ha

READER_PAGES = ("/", "/b/general/", "/lab/cluster/")
READS_AFTER = 30


@dataclass
class KeptPost:
    old: str
    new: str
    #: The old leader's Patroni and PostgreSQL still running once the new leader is up.
    survivors: list[int]
    killed_page: str
    title: str
    #: The member's page of their post, their first once the app writes to the new leader.
    post_page: tuple[int, str]
    #: Anonymous readers' statuses, from the moment Patroni names the new leader.
    reader_statuses: list[int]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def alive(pid: int) -> bool:
    """Whether the process runs: a killed one its parent has not reaped yet (a zombie,
    state Z) does not."""
    return process_state(pid) not in (None, "Z")


@pytest.fixture(scope="module")
def kept(ha_cluster: HaCluster, ha_forum: str) -> Iterator[KeptPost]:
    ha_cluster.whole()
    try:
        member = Member(ha_forum)
        title, post_url = member.start_thread()
        old = ha_cluster.wait_for_leader()
        old_pids = [ha_cluster.patroni_pid(old), ha_cluster.postmaster_pid(old)]
        operator = HttpBrowser()
        operator.get(ha_forum + "/lab/cluster/")  # the CSRF cookie
        _, _, killed_page = operator.post(ha_forum + "/lab/cluster/kill-leader", {})
        new = ha_cluster.wait_for_leader(other_than=old, timeout=ha_cluster.ttl + 15)
        survivors = [pid for pid in old_pids if alive(pid)]
        statuses = [status_of(ha_forum + READER_PAGES[n % 3]) for n in range(READS_AFTER)]
        wait_until(
            lambda: status_of(ha_forum + "/healthz") == 200, timeout=15, what="the app's primary"
        )
        yield KeptPost(old, new, survivors, killed_page, title, member.get(post_url), statuses)
    finally:
        ha_cluster.whole()


def test_it_kills_the_leaders_patroni_and_postgresql(kept: KeptPost) -> None:
    assert f"Killed {kept.old}" in kept.killed_page
    assert kept.survivors == []
    assert kept.new != kept.old


def test_it_keeps_the_acknowledged_post_on_the_new_leader(ha: HaCluster, kept: KeptPost) -> None:
    sql = f"SELECT count(*) FROM forum_thread WHERE title = '{kept.title}'"

    assert ha.superuser_query(kept.new, sql) == [("1",)]


def test_the_member_reads_their_post_and_is_told_nothing(kept: KeptPost) -> None:
    status, body = kept.post_page

    assert status == 200
    assert kept.title in body
    assert LOST_WRITE_WORDS not in body


def test_no_reader_page_fails_once_the_new_leader_is_up(kept: KeptPost) -> None:
    assert [status for status in kept.reader_statuses if status >= 500] == []
