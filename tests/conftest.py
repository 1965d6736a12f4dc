"""Fixtures shared by every test (the helpers they use are in tests/helpers.py)."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connections

from routers import conf, forget, unit_of_work
from tests.helpers import NODES, Stack, TaskWorker, delete_rows, gunicorn, wait_for_replay

# Suites that drive one shared thing (the HA cluster, the Docker engine's compose
# projects) run whole on one pytest-xdist worker; every other test module runs whole on
# one worker, with its module fixtures.
SHARED_BY_THE_SUITE = ("tests/ha/", "tests/compose/")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """make test's two workers, each on a stack of its own, take work a module (or a
    shared suite) at a time. A scheduler of our own, not `--dist loadgroup`: xdist 3.8
    marks the groups by rewriting Item._nodeid, which pytest 9 no longer reads."""
    from xdist.scheduler import LoadScopeScheduling

    class ByModuleOrSuite(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            return next((suite for suite in SHARED_BY_THE_SUITE if path.startswith(suite)), path)

    return ByModuleOrSuite(config, log)


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker: Any) -> None:
    """Migrate the test stack's own database instead of creating a test database.

    A streaming replica is a physical copy of the whole primary: it cannot hold a
    database of its own, and Django's usual CREATE DATABASE test_... would only
    reach it through replication. So the test stack is throwaway and its database
    is the test database.
    """
    for primary in conf.primaries():
        name = settings.DATABASES[primary]["NAME"]
        if "_test" not in str(name):
            pytest.exit(
                f"Refusing to run against database {name!r}: run the tests with `make test`."
            )
    with django_db_blocker.unblock():
        call_command("migrate_primaries", interactive=False, verbosity=0)
        # A clean slate, also when pytest runs again on a warm stack.
        delete_rows()
        # Tests that read a replica need the tables (and the slate) there too.
        wait_for_replay()


@pytest.fixture(autouse=True)
def _connections_checked_as_at_a_request(django_db_blocker: Any) -> None:
    """Each test starts as Django starts a request: a connection that a node restart
    broke (in an earlier test, through any alias that reaches that node) is
    health-checked on its next use and replaced, instead of failing the test."""
    with django_db_blocker.unblock():  # no new connection: only open ones are looked at
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None and not connection.in_atomic_block:
                connection.close_if_unusable_or_obsolete()


@pytest.fixture(autouse=True)
def _routing_defaults(settings: Any) -> Iterator[None]:
    """Tests read from the primary unless they pick a strategy themselves; the writes a
    test makes outside a request scope route its own reads, not the next test's."""
    settings.ROUTERS_STRATEGY = "primary"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    forget()
    with unit_of_work():
        yield
    forget()


@pytest.fixture
def live_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Real commits, so the replicas can see (or not yet see) the test's writes.

    Django's TestCase wraps a test in a transaction that never commits, so nothing
    would ever reach a replica. Here every statement commits, and the rows are
    deleted afterwards (the deletes replicate like any write).
    """
    with django_db_blocker.unblock():
        yield
        connections.close_all()
        delete_rows()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Drive the stack's nodes; every node is running again after the session."""
    handle = Stack()
    yield handle
    for alias in NODES:
        if alias in settings.DATABASES:
            handle.run("start", NODES[alias])


@pytest.fixture(scope="session")
def gunicorn_url(django_db_setup: None, tmp_path_factory: Any) -> Iterator[str]:
    """The project served by gunicorn, configured as the tests' settings say."""
    with gunicorn(tmp_path_factory.mktemp("gunicorn")) as url:
        yield url


@pytest.fixture(scope="session")
def _task_worker_process(django_db_setup: None, tmp_path_factory: Any) -> Iterator[TaskWorker]:
    worker = TaskWorker(tmp_path_factory.mktemp("worker"))
    yield worker
    worker.stop()


@pytest.fixture
def task_worker(_task_worker_process: TaskWorker) -> Path:
    """The project's task worker, running (from the first test that asks for it to the end
    of the session, started again if it stopped); its log."""
    return _task_worker_process.running()


@pytest.fixture
def author(db: None) -> User:
    return User.objects.create_user("author", password="author-password")


@pytest.fixture
def moderator(db: None) -> User:
    return User.objects.create_user("moderator", password="moderator-password", is_staff=True)


@pytest.fixture
def stranger(db: None) -> User:
    return User.objects.create_user("stranger", password="stranger-password")


@pytest.fixture
def lagging_replicas(stack: Stack) -> Iterator[Stack]:
    """Replicas that hold writes back for 3 s; back to the stack's 1 s afterwards."""
    with stack.lagging("3s"):
        yield stack
