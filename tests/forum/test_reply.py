import pytest
from django.test import Client

from forum.models import BODY_MAX, Post
from forum.selectors import POSTS_PER_PAGE
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


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


def test_it_refuses_a_reply_without_a_csrf_token(thread, stranger):
    client = Client(enforce_csrf_checks=True)
    client.force_login(stranger)

    assert client.post(f"/t/{thread.pk}/reply", {"body": "x"}).status_code == 403


def test_it_answers_404_for_a_missing_post(client):
    assert client.get("/p/999999/").status_code == 404
