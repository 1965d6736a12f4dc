import pytest

from forum.selectors import POSTS_PER_PAGE
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_shows_a_members_posts_with_their_threads(client, thread, author):
    response = client.get(f"/u/{author.username}/")

    assert response.status_code == 200
    assert b"<h1>author</h1>" in response.content
    assert b"1 post \xc2\xb7 member since" in response.content
    assert b"Lag after a redirect" in response.content
    assert b"Opening post" in response.content
    post = thread.posts.get()
    assert f'href="/p/{post.pk}/"'.encode() in response.content


def test_it_leaves_out_other_members_posts(client, thread, author, stranger):
    PostFactory(thread=thread, author=stranger, body="Not by the author")

    response = client.get(f"/u/{author.username}/")

    assert b"Not by the author" not in response.content


def test_it_paginates_newest_first(client, thread, author):
    PostFactory.create_batch(POSTS_PER_PAGE, thread=thread, author=author)

    first = client.get(f"/u/{author.username}/")
    second = client.get(f"/u/{author.username}/?page=2")

    assert len(first.context["posts"]) == POSTS_PER_PAGE
    assert [post.body for post in second.context["posts"]] == ["Opening post"]


def test_it_escapes_the_excerpts(client, thread, author):
    PostFactory(thread=thread, author=author, body="<img src=x onerror=alert(1)>")

    response = client.get(f"/u/{author.username}/")

    assert b"<img src=x" not in response.content
    assert b"&lt;img src=x onerror=alert(1)&gt;" in response.content


def test_it_answers_404_for_an_unknown_member(client):
    assert client.get("/u/nobody/").status_code == 404


@pytest.mark.parametrize("posts", [1, POSTS_PER_PAGE])
def test_it_shows_a_members_page_in_a_fixed_number_of_queries(
    client, author, board, posts, django_assert_num_queries, lag_measured
):
    PostFactory.create_batch(posts, author=author, thread__board=board)

    # member, post count, posts with their threads and boards
    with django_assert_num_queries(3):
        client.get(f"/u/{author.username}/")
