"""A client that wrote on a cluster since replaced (a new initdb behind the same alias,
as the demo's reset makes) brings back a genuine position of that cluster, signed with
this app's key. It means nothing here, with the primary up or down: the client's reads
go to the replicas, never to an endless "saved, on its way" page.

The former cluster is a real one, made as the stack's primary is (postgres/stack.sh,
no replicas), its WAL moved far ahead of the stack's with pg_resetwal: the position a
write there gets is past anything this stack's replicas will replay for a long time.
"""

import os
import subprocess
from contextlib import contextmanager
from dataclasses import replace

import pytest
from django.db import connections
from django.http import HttpResponse

from forum.models import Tag
from routers import RequestState, conf, forget, probe
from routers.cookies import remember_write
from routers.probes import health_cache
from routers.tokens import writes_made
from tests.helpers import REPO, free_port, wait_for_replay, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db", "causal")]

# Far past any position the test stack reaches: the former cluster wrote for longer.
FORMER_WAL_SEGMENT = "000000010000FFFF00000000"


def as_cluster_owner():
    """The prefix that runs a PostgreSQL program as stack.sh runs it: as the postgres
    user when root (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="module")
def former_cluster(tmp_path_factory):
    """The former cluster's primary, running on a port of its own; its port."""
    port = free_port()
    env = {
        **os.environ,
        "STACK_DIR": str(tmp_path_factory.mktemp("former") / "stack"),
        "STACK_PORT": str(port),
        "POOLER_PORT": str(free_port()),
        "REPLICAS": "0",
    }

    def stack(*args):
        subprocess.run(
            [REPO / "postgres/stack.sh", *args], env=env, check=True, capture_output=True
        )

    pg_bin = subprocess.run(
        ["bash", "-c", '. scripts/lib.sh && find_pg_bin && echo "$PG_BIN"'],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stack("up")
    try:
        stack("stop", "primary")
        # stack.sh may keep the data elsewhere, behind a symlink (see resolve_stack_dir).
        data = os.path.realpath(env["STACK_DIR"]) + "/primary"
        subprocess.run(
            [*as_cluster_owner(), f"{pg_bin}/pg_resetwal", "-l", FORMER_WAL_SEGMENT, "-D", data],
            check=True,
            capture_output=True,
        )
        stack("start", "primary")
        yield port
    finally:
        stack("reset")


@contextmanager
def primary_alias_at(port):
    """The primary alias pointed at another server, as a replaced cluster is reached
    through the same alias; back afterwards. Caches are left as they are."""
    settings_dict = connections[conf.primary()].settings_dict
    own_port = settings_dict["PORT"]
    connections[conf.primary()].close()
    settings_dict["PORT"] = str(port)
    try:
        yield
    finally:
        connections[conf.primary()].close()
        settings_dict["PORT"] = own_port


@pytest.fixture(scope="module")
def former_position(former_cluster, django_db_setup, django_db_blocker):
    """The position cookie a write on the former cluster got: set by the routers' own
    code, after a request that wrote on the primary alias while it reached that cluster."""
    state = RequestState()
    state.cluster().wrote = True
    response = HttpResponse()
    with django_db_blocker.unblock(), primary_alias_at(former_cluster):
        remember_write(writes_made(state), response)
    forget()
    return response.cookies[conf.LSN_COOKIE].value


@pytest.fixture
def replicated_tag(tag_name):
    Tag.objects.create(name=tag_name)
    wait_for_replay()
    return tag_name


@pytest.fixture
def primary_down(stack):
    stack.stop("default")
    yield
    stack.start("default")


def test_it_reads_the_replicas_for_a_position_of_the_replaced_cluster_while_the_primary_is_down(
    client, former_position, replicated_tag, primary_down
):
    client.cookies[conf.LSN_COOKIE] = former_position

    reads = [client.get(f"/tag/{replicated_tag}") for _ in range(4)]

    assert [read.status_code for read in reads] == [200] * 4
    assert {read.content.decode() for read in reads} <= {"replica", "replica_2"}


def test_it_reads_the_replicas_for_a_position_of_the_replaced_cluster_while_the_primary_is_up(
    client, settings, former_position, replicated_tag
):
    settings.ROUTERS_CAUSAL_WAIT_MS = 0
    client.cookies[conf.LSN_COOKIE] = former_position

    reads = [client.get(f"/tag/{replicated_tag}") for _ in range(4)]

    assert [read.status_code for read in reads] == [200] * 4
    assert {read.content.decode() for read in reads} <= {"replica", "replica_2"}


@pytest.fixture
def slow_replicas(stack):
    """Replicas that apply each commit 10 s late: ample time to see a write missing."""
    stack.set_lag("10s")
    yield
    stack.set_lag("1s")


def test_a_genuine_position_is_still_on_its_way_while_the_primary_is_down(
    client, stack, slow_replicas, tag_name
):
    """The control: the client's own write, made on this cluster just before the
    primary stopped, is never read as missing."""
    assert client.post(f"/create/{tag_name}").status_code == 200
    stack.stop("default")
    try:
        waiting = client.get(f"/tag/{tag_name}")
        assert waiting.status_code == 503
        assert 'id="not-visible-yet"' in waiting.content.decode()
        shown = wait_until(
            lambda: (read := client.get(f"/tag/{tag_name}")).status_code == 200 and read,
            timeout=30,
            what="a replica to replay the tag",
        )
        assert shown.content.decode() in ("replica", "replica_2")
    finally:
        stack.start("default")


def test_a_cached_identifier_of_the_replaced_cluster_never_voids_a_genuine_position(
    client, settings, lagging_replicas, former_cluster, tag_name
):
    """Another app server still has the former cluster's identifier cached for the
    primary alias: compared with it, the client's genuine position would look foreign
    and its next read would go to a replica that lacks the write."""
    settings.ROUTERS_HEALTH_TTL = 60
    assert client.post(f"/create/{tag_name}").status_code == 200
    with primary_alias_at(former_cluster):
        former_identifier = probe(conf.primary()).system_identifier
    # Cached before the replacement: this cluster's position, the former one's identity.
    here = probe(conf.primary())
    health_cache.remember(replace(here, system_identifier=former_identifier))

    response = client.get(f"/tag/{tag_name}")

    assert (response.status_code, response.content.decode()) == (200, conf.primary())
