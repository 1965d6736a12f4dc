import pytest

from forum.models import BODY_MAX, Post
from forum.selectors import POSTS_PER_PAGE
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_adds_a_reply_and_redirects_to_its_permalink(client, thread, stranger):
    client.force_login(stranger)

    response = client.post(f"/t/{thread.pk}/reply", {"body": "Me too"})

    post = Post.objects.get(body="Me too")
    assert response["Location"] == f"/p/{post.pk}/"
    landing = client.get(response["Location"])
    assert landing["Location"] == f"{thread.get_absolute_url()}?page=1#post-{post.pk}"
    thread.refresh_from_db()
    assert thread.last_posted_at == post.created_at


def test_it_lands_on_the_page_that_shows_the_reply(client, thread, stranger):
    PostFactory.create_batch(POSTS_PER_PAGE, thread=thread)
    client.force_login(stranger)

    response = client.post(f"/t/{thread.pk}/reply", {"body": "On page two"}, follow=True)

    assert response.redirect_chain[-1][0].endswith(f"?page=2#post-{Post.objects.last().pk}")
    assert b"On page two" in response.content


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "the message is empty"),
        ("  \n ", "cannot be empty"),
        ("x" * (BODY_MAX + 1), "Keep it under"),
    ],
)
def test_it_rerenders_an_invalid_reply_with_a_message(client, thread, stranger, body, message):
    client.force_login(stranger)

    response = client.post(f"/t/{thread.pk}/reply", {"body": body})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert thread.posts.count() == 1


def test_it_asks_visitors_to_log_in_before_replying(client, thread):
    response = client.post(f"/t/{thread.pk}/reply", {"body": "anonymous"})

    assert response["Location"].startswith("/login/")
    assert thread.posts.count() == 1


def test_it_shows_a_reply_form(client, thread, stranger):
    client.force_login(stranger)

    response = client.get(f"/t/{thread.pk}/reply")

    assert response.status_code == 200
    assert b"Reply to \xe2\x80\x9cLag after a redirect\xe2\x80\x9d" in response.content
    assert b'<textarea name="body"' in response.content


def test_it_keeps_the_typed_text_of_an_invalid_reply(client, thread, stranger):
    client.force_login(stranger)
    too_long = "<b>draft</b>" + "x" * BODY_MAX

    response = client.post(f"/t/{thread.pk}/reply", {"body": too_long})

    assert "&lt;b&gt;draft&lt;/b&gt;xxx" in response.content.decode()
    assert "<b>draft</b>" not in response.content.decode()


def test_it_answers_404_for_a_reply_to_a_missing_thread(client, stranger):
    client.force_login(stranger)

    assert client.post("/t/999999/reply", {"body": "Hello?"}).status_code == 404


def test_it_answers_404_for_a_missing_post(client):
    assert client.get("/p/999999/").status_code == 404
