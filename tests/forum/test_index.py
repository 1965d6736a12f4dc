import pytest

from tests.factories import BoardFactory, ThreadFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_lists_boards_with_thread_counts(client):
    busy = BoardFactory(name="Busy")
    BoardFactory(name="Quiet")
    ThreadFactory.create_batch(3, board=busy)

    response = client.get("/")

    assert response.status_code == 200
    boards = {board.name: board for board in response.context["boards"]}
    assert boards["Busy"].thread_count == 3
    assert boards["Busy"].last_activity is not None
    assert boards["Quiet"].thread_count == 0
    assert b"3 threads" in response.content


def test_it_lists_boards_in_one_query(client, django_assert_num_queries, lag_measured):
    for board in BoardFactory.create_batch(5):
        ThreadFactory.create_batch(2, board=board)

    with django_assert_num_queries(1):
        client.get("/")


def test_it_shows_the_routing_footer(client):
    response = client.get("/")

    assert b'id="routing-footer"' in response.content
    assert b'data-strategy="primary"' in response.content
    assert b'data-alias="default"' in response.content
