"""The cluster panel and /healthz on the HA stack (the forum served with PATRONI_URLS):
Patroni's leader, timeline and members, a hung Patroni that degrades them without
breaking them, the switchover button and the apply delay set through Patroni."""

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.ha.cluster import NODES, HaCluster, process_state
from tests.helpers import REPO, HttpBrowser, wait_until

pytestmark = pytest.mark.ha


def healthz(url: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - started


@contextmanager
def hung(ha: HaCluster, *nodes: str) -> Iterator[None]:
    """The nodes' Patroni stopped (SIGSTOP: its port still accepts, nothing answers), for
    less than the TTL, so the leader keeps its lock."""
    pids = [ha.patroni_pid(node) for node in nodes]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def waiting_on(ha: HaCluster, node: str) -> list[int]:
    """The processes other than its Patroni that name `node`'s pidfile: a wrapper
    postgres/ha.sh started it through, still waiting on it."""
    pidfile = REPO / ha.env["STACK_DIR"] / "run" / f"{node}.pid"
    names = {str(pidfile), os.path.realpath(pidfile)}
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        if any(name in command for name in names):
            found.append(int(proc.name))
    return found


def test_a_node_hung_and_resumed_leaves_no_process_behind_once_stopped(ha: HaCluster) -> None:
    node = next(n for n in NODES if n != ha.wait_for_leader())

    def stopped(*pids: int) -> bool:
        return all(process_state(pid) in ("T", None) for pid in pids)

    with hung(ha, node):
        wait_until(lambda: stopped(ha.patroni_pid(node)), timeout=10, what="Patroni stopped")
        # A process waiting on it sees it stop: runuser then stops itself, for good.
        wait_until(lambda: stopped(*waiting_on(ha, node)), timeout=10, what="its waiters")
    ha.run("stop", node)
    try:
        left = waiting_on(ha, node)
    finally:
        ha.run("start", node)
        ha.whole()

    assert left == []


def operator(url: str) -> HttpBrowser:
    browser = HttpBrowser()
    browser.get(url + "/lab/cluster/")  # the CSRF cookie
    return browser


def test_it_shows_the_leader_its_timeline_and_the_members(ha: HaCluster, ha_forum: str) -> None:
    leader = ha.wait_for_leader()
    timeline = next(m["timeline"] for m in ha.members() if m["name"] == leader)

    status, body, _ = healthz(ha_forum)
    page = urllib.request.urlopen(ha_forum + "/lab/cluster/", timeout=10).read().decode()

    assert status == 200
    assert body["patroni"]["leader"] == leader
    assert body["patroni"]["timeline"] == timeline
    assert sorted(m["name"] for m in body["patroni"]["members"]) == list(NODES)
    assert f'<dd id="patroni-leader"><code>{leader}</code></dd>' in page
    assert f'<dd id="patroni-timeline">{timeline}</dd>' in page
    assert all(f'data-member="{node}"' in page for node in NODES)
    assert 'href="/lab/glossary/#timeline"' in page


def test_a_hung_patroni_costs_its_timeout_and_the_next_one_answers(
    ha: HaCluster, ha_forum: str
) -> None:
    leader = ha.wait_for_leader()

    with hung(ha, NODES[0]):  # the first of PATRONI_URLS
        status, body, took = healthz(ha_forum)

    assert status == 200
    assert body["patroni"]["leader"] == leader
    assert 0.5 <= took < 2


def test_every_patroni_hung_degrades_the_panel_and_healthz(ha: HaCluster, ha_forum: str) -> None:
    with hung(ha, *NODES):
        status, body, took = healthz(ha_forum)
        page = urllib.request.urlopen(ha_forum + "/lab/cluster/", timeout=10).read().decode()

    assert status == 200
    assert body["status"] == "ok"
    assert body["patroni"]["error"].count("timed out") == 3
    assert took < 3.5  # three URLs at PATRONI_TIMEOUT (0.5 s) each, and the page's own work
    assert "Patroni is not answering" in page
    assert 'data-field="state" class="ok"' in page  # the routers' table is still there


def test_the_switchover_button_hands_the_lead_to_the_synchronous_standby(
    ha: HaCluster, ha_forum: str
) -> None:
    old = ha.wait_for_leader()
    sync_standby = next(m["name"] for m in ha.members() if m["role"] == "sync_standby")

    _, _, page = operator(ha_forum).post(ha_forum + "/lab/cluster/switchover", {})

    assert f"Successfully switched over to &quot;{sync_standby}&quot;" in page
    assert ha.wait_for_leader(other_than=old) == sync_standby


def test_the_delay_goes_through_patroni_to_every_standby(ha: HaCluster, ha_forum: str) -> None:
    browser = operator(ha_forum)
    try:
        every = {"target": "all", "seconds": "2.5"}
        _, _, page = browser.post(ha_forum + "/lab/cluster/delay", every)
        leader = ha.wait_for_leader()
        standbys = [node for node in NODES if node != leader]
        delays = [ha.superuser_query(node, "SHOW recovery_min_apply_delay") for node in standbys]
        one, _, one_page = browser.post(
            ha_forum + "/lab/cluster/delay", {"target": "replica", "seconds": "4"}
        )
    finally:
        ha.run("lag", ha.env["REPLICA_LAG"])

    assert "Apply delay set to 2.5 s on" in page
    assert delays == [[("2500ms",)], [("2500ms",)]]
    assert one == 400  # one delay for the cluster
    assert "Select a valid choice" in one_page
