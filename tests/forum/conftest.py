import pytest

from routers import conf, health
from tests.factories import BoardFactory, PostFactory, ThreadFactory


@pytest.fixture
def board(db):
    return BoardFactory(name="Replication", slug="replication")


@pytest.fixture
def thread(board, author):
    """A thread by `author`, with its opening post."""
    thread = ThreadFactory(board=board, author=author, title="Lag after a redirect")
    PostFactory(thread=thread, author=author, body="Opening post")
    return thread


@pytest.fixture
def lag_measured(settings):
    """The footer's lag probes, run and cached before the page: a query count counts
    only the page's own queries, as the footer's does."""
    settings.ROUTERS_HEALTH_TTL = 3600
    for alias in (conf.primary(), *conf.replicas()):
        health(alias)
