"""docker-compose.ha.yml, for real: the HA stack in containers fails over by itself.

The project comes up from nothing (etcd, three Patroni nodes, Redis, web, worker), a
member writes, the leader's container is killed (SIGKILL), and the forum takes writes
again from the new leader, with the member's earlier write still there (synchronous
mode) and the old leader back as a standby of the new timeline once started again.
"""

import json
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.compose.conftest import DEMO_MEMBER, Compose, Visitor, brought_up, require_engine
from tests.compose.test_compose_stack import a_thread, reply
from tests.helpers import free_port, wait_until

pytestmark = pytest.mark.compose

NODES = ("node1", "node2", "node3")
#: Patroni 4 raises the ttl to 20 s: a new leader within it plus Patroni's loop and a
#: margin for a loaded machine.
FAILOVER_TIMEOUT = 90


class HaCompose(Compose):
    api_ports: dict[str, int]

    def cluster(self) -> dict[str, Any] | None:
        """Patroni's GET /cluster from the first node API that answers, or None."""
        for node in NODES:
            url = f"http://127.0.0.1:{self.api_ports[node]}/cluster"
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    found: dict[str, Any] = json.load(response)
                    return found
            except OSError:
                continue
        return None

    def leader(self) -> str | None:
        members = (self.cluster() or {}).get("members", [])
        return next((m["name"] for m in members if m["role"] == "leader"), None)

    def member(self, name: str) -> dict[str, Any]:
        members = (self.cluster() or {}).get("members", [])
        return next((m for m in members if m["name"] == name), {})


@pytest.fixture(scope="module")
def ha_compose() -> Iterator[HaCompose]:
    """docker-compose.ha.yml up and healthy under its own name and ports; removed at the end."""
    require_engine()
    project = HaCompose(
        name=f"forum-ha-test-{os.getpid()}",
        web_port=free_port(),
        env={"HA_SYNC": "on", "FORUM_ROUTING": "causal"},
        file="docker-compose.ha.yml",
    )
    project.api_ports = {node: free_port() for node in NODES}
    project.env["WEB_PORT"] = str(project.web_port)
    for number, node in enumerate(NODES, start=1):
        project.env[f"NODE{number}_API_PORT"] = str(project.api_ports[node])
    yield from brought_up(project)


def test_killing_the_leader_container_elects_another_and_keeps_the_acknowledged_write(
    ha_compose: HaCompose,
) -> None:
    visitor = Visitor(ha_compose.url)
    visitor.log_in(*DEMO_MEMBER)
    thread = a_thread(visitor)
    before, status, page, _ = reply(visitor, thread)
    assert status == 200
    assert before in page, "causal read the member's reply"
    old = ha_compose.leader()
    assert old in NODES

    ha_compose.run("kill", old)

    new = wait_until(
        lambda: (found := ha_compose.leader()) not in (None, old) and found,
        timeout=FAILOVER_TIMEOUT,
        interval=1,
        what=f"a leader other than {old}",
    )

    def a_reply_is_taken() -> tuple[str, int, str, str] | None:
        try:
            return reply(visitor, thread)
        except AssertionError:  # the read-only page, while the app has no primary yet
            return None

    after, status, page, _ = wait_until(
        a_reply_is_taken, timeout=FAILOVER_TIMEOUT, interval=1, what="a reply to be taken"
    )
    assert status == 200
    assert after in page
    assert before in page, "the reply acknowledged before the kill is on the new leader"

    ha_compose.run("start", old)

    rejoined = wait_until(
        lambda: (found := ha_compose.member(old)).get("state") == "streaming" and found,
        timeout=FAILOVER_TIMEOUT,
        interval=1,
        what=f"{old} to stream from {new} again",
    )
    assert rejoined["timeline"] == ha_compose.member(new)["timeline"]
