import pytest

from forum.selectors import THREADS_PER_PAGE
from tests.factories import PostFactory, TagFactory, ThreadFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_lists_a_boards_threads_with_tags_and_post_counts(client, board):
    thread = ThreadFactory(board=board, title="Causal reads")
    PostFactory.create_batch(3, thread=thread)
    thread.tags.add(TagFactory(name="lsn"))

    response = client.get(f"/b/{board.slug}/")

    assert response.status_code == 200
    assert b"Causal reads" in response.content
    assert b"3 posts" in response.content
    assert b"lsn" in response.content


def test_it_paginates_threads(client, board):
    ThreadFactory.create_batch(THREADS_PER_PAGE + 2, board=board)

    first = client.get(f"/b/{board.slug}/")
    second = client.get(f"/b/{board.slug}/?page=2")

    assert len(first.context["threads"]) == THREADS_PER_PAGE
    assert len(second.context["threads"]) == 2
    assert b"Page 2 of 2" in second.content


def test_it_answers_404_for_an_unknown_board(client):
    assert client.get("/b/nowhere/").status_code == 404


@pytest.mark.parametrize("threads", [1, THREADS_PER_PAGE])
def test_it_shows_a_board_page_in_a_fixed_number_of_queries(
    client, board, threads, django_assert_num_queries, lag_measured
):
    for thread in ThreadFactory.create_batch(threads, board=board):
        PostFactory.create_batch(2, thread=thread)
        thread.tags.add(TagFactory())

    # board, thread count, threads page, their tags
    with django_assert_num_queries(4):
        client.get(f"/b/{board.slug}/")
