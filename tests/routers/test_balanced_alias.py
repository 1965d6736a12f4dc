"""Read-your-writes behind one alias that reaches several standbys.

Under `docker compose up --scale replica=2`, one host name answers with every replica
container, and each new connection may reach another one: the alias is load-balanced.
A replay position seen on one connection says nothing about the next connection's
server. Here the alias lists both test standbys (libpq tries the hosts in order), and the
order is swapped between requests as DNS round-robin does: the first request reaches a
standby that has replayed the client's write, the next one a standby held 3 s behind.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connections

from routers import forget
from tests.helpers import REPO, fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]


# Each standby's own address, read before a fixture makes "replica" reach both.
STANDBYS = {
    alias: f"127.0.0.1:{connections[alias].settings_dict['PORT']}"
    for alias in ("replica", "replica_2")
}


@pytest.fixture
def balanced_alias(stack, settings):
    """The replica alias reaching both standbys: the caught-up one first, then the slow one."""
    alias = "replica"
    fast, slow = (connections[name].settings_dict for name in ("replica", "replica_2"))
    stack.set_lag("0", "replica")
    stack.set_lag("3s", "replica_2")
    original = dict(fast)
    host_pairs = [(fast["HOST"], fast["PORT"]), (slow["HOST"], slow["PORT"])]

    def reach(order):
        connections[alias].close()
        pairs = [host_pairs[i] for i in order]
        connections[alias].settings_dict["HOST"] = ",".join(h for h, _ in pairs)
        connections[alias].settings_dict["PORT"] = ",".join(str(p) for _, p in pairs)

    settings.ROUTERS_CLUSTERS = {**settings.ROUTERS_CLUSTERS, "default": [alias]}
    reach((0, 1))
    yield reach
    connections[alias].close()
    connections[alias].settings_dict.update(original)
    forget()
    stack.set_lag("1s")


def test_a_position_seen_on_one_server_does_not_vouch_for_another(client, balanced_alias, tag_name):
    client.post(f"/create/{tag_name}")

    first = client.get(f"/tag/{tag_name}")
    balanced_alias((1, 0))  # the next connection reaches the standby 3 s behind
    second = client.get(f"/tag/{tag_name}")

    assert (first.status_code, first.content.decode()) == (200, "replica")
    assert second.status_code == 200, "read from the standby that lacks the write"
    assert second.content.decode() == "default"


def test_healthz_describes_each_server_behind_the_alias(client, balanced_alias):
    (replica,) = client.get("/healthz").json()["replicas"]

    assert replica["alias"] == "replica"
    servers = replica["servers"]
    assert [s["server"] for s in servers] == [STANDBYS["replica"], STANDBYS["replica_2"]]
    assert [(s["up"], s["apply_delay"]) for s in servers] == [(True, "0"), (True, "3s")]


def test_the_cluster_panel_changes_every_server_behind_the_alias(client, balanced_alias, settings):
    settings.LAB_CLUSTER_CONTROLS = True

    response = client.post("/lab/cluster/delay", {"target": "replica", "seconds": "2"})

    assert response.status_code == 302
    # "replica" reaches the first standby, "replica_2" is the second's own alias.
    for alias in ("replica", "replica_2"):
        wait_until(
            lambda alias=alias: fetch(alias, "SHOW recovery_min_apply_delay") == "2s",
            what=f"{alias} to reload its apply delay",
        )


def test_the_cluster_page_shows_each_server_behind_the_alias(client, balanced_alias):
    page = client.get("/lab/cluster/").content.decode()

    for standby in STANDBYS.values():
        assert f'data-node="replica@{standby}"' in page
    assert "reaches several servers" in page


@pytest.fixture
def socket_alias(stack, settings):
    """The replica alias through a socket directory whose link the test can move from
    one standby to the other: one address, then another server behind it, as when a
    restarted container takes over an address another one had."""
    run = Path(os.environ.get("STACK_DIR", REPO / ".stack-test")).resolve() / "run"
    here = Path(tempfile.mkdtemp(dir="/tmp"))
    link = here / ".s.PGSQL.5432"
    replica = connections["replica"]
    original = dict(replica.settings_dict)

    ports = {
        "replica": original["PORT"],
        "replica_2": connections["replica_2"].settings_dict["PORT"],
    }

    def point_at(alias: str) -> None:
        link.unlink(missing_ok=True)
        link.symlink_to(run / f".s.PGSQL.{ports[alias]}")
        replica.close()

    stack.set_lag("0", "replica")
    stack.set_lag("30s", "replica_2")
    settings.ROUTERS_CLUSTERS = {**settings.ROUTERS_CLUSTERS, "default": ["replica"]}
    replica.settings_dict.update(HOST=str(here), PORT="5432")
    point_at("replica")
    yield point_at
    replica.close()
    replica.settings_dict.clear()
    replica.settings_dict.update(original)
    shutil.rmtree(here)
    forget()
    stack.set_lag("1s")


def test_a_server_that_takes_over_an_address_shows_its_own_position(client, socket_alias, tag_name):
    client.post(f"/create/{tag_name}")
    first = client.get(f"/tag/{tag_name}")
    socket_alias("replica_2")  # the same address now reaches the standby 30 s behind
    second = client.get(f"/tag/{tag_name}")

    assert (first.status_code, first.content.decode()) == (200, "replica")
    assert second.status_code == 200, "trusted the position of the server that had the address"
    assert second.content.decode() == "default"


def test_the_cluster_panel_changes_every_server_it_can_and_says_which_it_could_not(
    client, balanced_alias, settings, stack
):
    settings.LAB_CLUSTER_CONTROLS = True
    stack.stop("replica")  # the first server behind the alias
    try:
        response = client.post(
            "/lab/cluster/delay", {"target": "replica", "seconds": "2"}, follow=True
        )
    finally:
        stack.start("replica")

    page = response.content.decode()
    assert f"Could not change replica ({STANDBYS['replica']})" in page
    assert f"Changed: replica ({STANDBYS['replica_2']})." in page
    wait_until(
        lambda: fetch("replica_2", "SHOW recovery_min_apply_delay") == "2s",
        what="the second server to take the delay",
    )
