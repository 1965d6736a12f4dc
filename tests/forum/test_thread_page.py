import pytest

from forum.models import Reaction
from forum.selectors import POSTS_PER_PAGE
from tests.factories import PostFactory, ReactionFactory, TagFactory, UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_shows_the_posts_tags_and_reactions(client, thread):
    PostFactory(thread=thread, body="A reply")
    thread.tags.add(TagFactory(name="wal"))
    ReactionFactory(target=thread, kind="insight")

    response = client.get(thread.get_absolute_url())

    assert response.status_code == 200
    assert b"Opening post" in response.content
    assert b"A reply" in response.content
    assert b"wal" in response.content
    assert Reaction.KINDS["insight"].encode() + b" 1" in response.content


def test_it_escapes_what_users_write(client, thread):
    PostFactory(thread=thread, body="<script>alert('x')</script>\nsecond line")

    response = client.get(thread.get_absolute_url())

    assert b"<script>alert" not in response.content
    assert b"&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;<br>second line" in response.content


def test_it_redirects_to_the_canonical_slug(client, thread):
    response = client.get(f"/t/{thread.pk}/")

    assert response.status_code == 302
    assert response["Location"] == thread.get_absolute_url()


def test_it_answers_404_for_a_missing_thread(client):
    response = client.get("/t/999999/anything/")

    assert response.status_code == 404
    assert b"Not found" in response.content
    # Read from the primary: no replica to blame.
    assert b'id="lag-hint"' not in response.content


def test_it_paginates_posts(client, thread):
    PostFactory.create_batch(POSTS_PER_PAGE, thread=thread)

    response = client.get(thread.get_absolute_url() + "?page=2")

    assert len(response.context["page"].posts) == 1


@pytest.mark.parametrize("posts", [2, 50])
def test_it_shows_a_thread_page_in_a_fixed_number_of_queries(
    client, thread, posts, django_assert_num_queries, lag_measured
):
    viewers = UserFactory.create_batch(3)
    thread.tags.add(TagFactory(), TagFactory())
    for post in PostFactory.create_batch(posts - 1, thread=thread):
        for viewer in viewers:
            ReactionFactory(target=post, user=viewer)
    ReactionFactory(target=thread)
    client.force_login(viewers[0])

    # session, user, thread, its tags, its reactions, post count, posts, their reactions
    with django_assert_num_queries(8):
        response = client.get(thread.get_absolute_url())

    assert len(response.context["page"].posts) == min(posts, POSTS_PER_PAGE)
