"""The lab's cluster panel: every node's state, and demo controls that change a replica."""

import pytest
from django.test import Client

from forum.models import Tag
from tests.helpers import fetch, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def controls(settings, stack, live_db):
    """Controls on; every replica back to the stack's 1 s delay and replaying afterwards."""
    settings.LAB_CLUSTER_CONTROLS = True
    yield
    for alias in ("replica", "replica_2"):
        if fetch(alias, "SELECT pg_is_wal_replay_paused()"):
            Client().post("/lab/cluster/replay", {"replica": alias, "action": "resume"})
    stack.set_lag("1s")


def delay_of(alias):
    return fetch(alias, "SHOW recovery_min_apply_delay")


def test_it_shows_every_node(client):
    page = client.get("/lab/cluster/").content.decode()

    for alias in ("default", "replica", "replica_2"):
        assert f'data-node="{alias}"' in page
    assert page.count('data-field="state" class="ok"') == 3


def test_it_changes_nothing_while_the_controls_are_off(client, settings):
    settings.LAB_CLUSTER_CONTROLS = False

    response = client.post("/lab/cluster/delay", {"target": "all", "seconds": "5"}, follow=True)

    assert "controls are off" in response.content.decode()
    assert delay_of("replica") == delay_of("replica_2") == "1s"


@pytest.mark.usefixtures("controls")
def test_it_sets_one_replicas_apply_delay_live(client):
    response = client.post(
        "/lab/cluster/delay", {"target": "replica_2", "seconds": "2.5"}, follow=True
    )

    assert "Apply delay set to 2.5 s on replica_2" in response.content.decode()
    wait_until(lambda: delay_of("replica_2") == "2500ms", what="replica_2 to reload")
    assert delay_of("replica") == "1s"


@pytest.mark.usefixtures("controls")
@pytest.mark.parametrize(
    ("seconds", "error"),
    [("31", "At most 30 seconds"), ("-1", "cannot be negative"), ("soon", "A number of seconds")],
)
def test_it_refuses_a_delay_out_of_bounds(client, seconds, error):
    response = client.post("/lab/cluster/delay", {"target": "all", "seconds": seconds})

    assert response.status_code == 400
    assert error in response.content.decode()
    assert delay_of("replica") == delay_of("replica_2") == "1s"


@pytest.mark.usefixtures("controls")
def test_it_pauses_and_resumes_a_replicas_replay(client, stack):
    client.post("/lab/cluster/replay", {"replica": "replica", "action": "pause"})
    wait_until(lambda: fetch("replica", "SELECT pg_is_wal_replay_paused()"), what="the pause")
    Tag.objects.create(name="written-while-paused")
    stack.wait_for_replay("replica_2")

    paused_page = client.get("/lab/cluster/").content.decode()
    missing = fetch("replica", "SELECT count(*) FROM forum_tag WHERE name = 'written-while-paused'")
    client.post("/lab/cluster/replay", {"replica": "replica", "action": "resume"})

    assert "paused" in paused_page
    assert missing == 0
    stack.wait_for_replay("replica")
    assert fetch("replica", "SELECT count(*) FROM forum_tag WHERE name = 'written-while-paused'")


@pytest.mark.usefixtures("controls")
def test_it_requires_the_csrf_token():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/lab/cluster/delay", {"target": "all", "seconds": "5"})

    assert response.status_code == 403
    assert delay_of("replica") == "1s"


def test_it_shows_no_patroni_on_the_plain_stack(client):
    page = client.get("/lab/cluster/").content.decode()

    assert "The Patroni cluster" not in page
    assert "patroni" not in client.get("/healthz").json()


@pytest.mark.parametrize("control", ["switchover", "kill-leader"])
def test_its_patroni_controls_change_nothing_when_off_or_without_patroni(client, settings, control):
    settings.PATRONI_URLS = ["http://127.0.0.1:1"]
    settings.LAB_CLUSTER_CONTROLS = False
    off = client.post(f"/lab/cluster/{control}", follow=True).content.decode()
    settings.LAB_CLUSTER_CONTROLS = True
    settings.PATRONI_URLS = []
    plain = client.post(f"/lab/cluster/{control}", follow=True).content.decode()

    assert "controls are off" in off
    assert "runs on no Patroni cluster" in plain
    assert client.get(f"/lab/cluster/{control}").status_code == 405
