import pytest

from forum.models import Post, Thread
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reply(thread, author):
    return PostFactory(thread=thread, author=author, body="Original reply")


def test_it_lets_the_author_edit(client, author, reply):
    client.force_login(author)

    response = client.post(f"/p/{reply.pk}/edit/", {"body": "Edited reply"})

    reply.refresh_from_db()
    assert response["Location"] == f"/p/{reply.pk}/"
    assert reply.body == "Edited reply"
    assert reply.edited_at is not None


def test_it_prefills_the_edit_form(client, author, reply):
    client.force_login(author)

    assert b"Original reply" in client.get(f"/p/{reply.pk}/edit/").content


def test_it_lets_a_moderator_edit(client, moderator, reply):
    client.force_login(moderator)

    client.post(f"/p/{reply.pk}/edit/", {"body": "Moderated"})

    reply.refresh_from_db()
    assert reply.body == "Moderated"


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_it_forbids_strangers(client, stranger, reply, action):
    client.force_login(stranger)

    response = client.post(f"/p/{reply.pk}/{action}/", {"body": "Hijacked"})

    assert response.status_code == 403
    reply.refresh_from_db()
    assert reply.body == "Original reply"


def test_it_keeps_an_invalid_edit_unsaved(client, author, reply):
    client.force_login(author)

    response = client.post(f"/p/{reply.pk}/edit/", {"body": ""})

    assert response.status_code == 200
    reply.refresh_from_db()
    assert reply.body == "Original reply"


def test_it_asks_before_deleting(client, author, reply):
    client.force_login(author)

    response = client.get(f"/p/{reply.pk}/delete/")

    assert b"Delete this post?" in response.content
    assert Post.objects.filter(pk=reply.pk).exists()


def test_it_deletes_a_reply(client, author, thread, reply):
    client.force_login(author)

    response = client.post(f"/p/{reply.pk}/delete/")

    assert response["Location"] == thread.get_absolute_url()
    assert not Post.objects.filter(pk=reply.pk).exists()


def test_it_deletes_the_thread_with_its_opening_post(client, author, thread, board):
    client.force_login(author)
    opening = thread.posts.first()

    response = client.post(f"/p/{opening.pk}/delete/")

    assert response["Location"] == board.get_absolute_url()
    assert not Thread.objects.filter(pk=thread.pk).exists()
