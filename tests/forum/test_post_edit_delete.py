import pytest

from forum.models import BODY_MAX, Post, Thread
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db(databases="__all__")


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


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_it_sends_visitors_to_log_in(client, reply, action):
    response = client.post(f"/p/{reply.pk}/{action}/", {"body": "Anonymous"})

    assert response["Location"].startswith("/login/")
    assert Post.objects.get(pk=reply.pk).body == "Original reply"


@pytest.mark.parametrize("action", ["edit", "delete"])
def test_it_does_not_even_show_strangers_the_form(client, stranger, reply, action):
    client.force_login(stranger)

    assert client.get(f"/p/{reply.pk}/{action}/").status_code == 403


def test_it_rerenders_an_invalid_edit_with_a_message_and_the_typed_text(client, author, reply):
    client.force_login(author)

    response = client.post(f"/p/{reply.pk}/edit/", {"body": "<i>new</i>" + "x" * BODY_MAX})

    assert "Keep it under" in response.content.decode()
    assert b"&lt;i&gt;new&lt;/i&gt;xxx" in response.content


def test_it_lets_a_moderator_delete(client, moderator, reply):
    client.force_login(moderator)

    client.post(f"/p/{reply.pk}/delete/")

    assert not Post.objects.filter(pk=reply.pk).exists()


@pytest.mark.parametrize(
    ("persona", "shown"), [("author", True), ("moderator", True), ("stranger", False)]
)
def test_it_shows_edit_links_to_the_author_and_staff_only(client, request, reply, persona, shown):
    client.force_login(request.getfixturevalue(persona))

    page = client.get(reply.thread.get_absolute_url())

    assert (f'href="/p/{reply.pk}/edit/"'.encode() in page.content) is shown
    assert (f'href="/p/{reply.pk}/delete/"'.encode() in page.content) is shown
