import pytest

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
