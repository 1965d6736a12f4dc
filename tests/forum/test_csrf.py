"""CSRF: every form carries a token, and every write refuses a POST without one."""

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from forum.models import Post, Reaction, Thread

pytestmark = pytest.mark.django_db(databases="__all__")


def snapshot() -> tuple[object, ...]:
    """Everything a forum POST could change."""
    return (
        list(User.objects.values_list("username", flat=True)),
        list(Thread.objects.values_list("title", flat=True)),
        list(Post.objects.values_list("body", flat=True)),
        Reaction.objects.count(),
    )


def forms(html: str) -> list[str]:
    return re.findall(r"<form[^>]*method=\"post\".*?</form>", html, flags=re.DOTALL)


@pytest.mark.parametrize(
    "page",
    [
        "thread",
        "/b/replication/",
        "/b/replication/new/",
        "reply",
        "edit",
        "delete",
        "/u/author/",
        "/signup/",
        "/login/",
    ],
)
def test_it_puts_a_token_in_every_form(client, author, thread, page):
    client.force_login(author)
    post = thread.posts.get()
    path = {
        "thread": thread.get_absolute_url(),
        "reply": f"/t/{thread.pk}/reply",
        "edit": f"/p/{post.pk}/edit/",
        "delete": f"/p/{post.pk}/delete/",
    }.get(page, page)

    found = forms(client.get(path).content.decode())

    # The navbar alone has two: the strategy switch and log out.
    assert len(found) >= 2
    assert all('name="csrfmiddlewaretoken"' in form for form in found)


@pytest.mark.parametrize(
    ("action", "data", "logged_in"),
    [
        ("signup", {"username": "x", "password1": "a-passphrase", "password2": "a-passphrase"}, 0),
        ("login", {"username": "author", "password": "author-password"}, 0),
        ("logout", {}, 1),
        ("new-thread", {"title": "Forged", "body": "Forged"}, 1),
        ("reply", {"body": "Forged"}, 1),
        ("edit", {"body": "Forged"}, 1),
        ("delete", {}, 1),
        ("react", {"kind": "like"}, 1),
        ("switch", {"strategy": "naive", "next": "/"}, 0),
    ],
)
def test_it_refuses_a_post_without_a_token(author, thread, action, data, logged_in):
    client = Client(enforce_csrf_checks=True)
    if logged_in:
        client.force_login(author)
    post = thread.posts.get()
    path = {
        "signup": "/signup/",
        "login": "/login/",
        "logout": "/logout/",
        "new-thread": f"/b/{thread.board.slug}/new/",
        "reply": f"/t/{thread.pk}/reply",
        "edit": f"/p/{post.pk}/edit/",
        "delete": f"/p/{post.pk}/delete/",
        "react": f"/react/post/{post.pk}/",
        "switch": "/lab/strategy",
    }[action]
    before = snapshot()

    response = client.post(path, data)

    assert response.status_code == 403
    assert snapshot() == before
    assert "lab_strategy" not in response.cookies
    assert client.session.get("_auth_user_id") == (str(author.pk) if logged_in else None)


def test_it_accepts_the_token_the_page_gave(author, thread):
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    page = client.get(thread.get_absolute_url()).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    data = {"body": "Genuine", "csrfmiddlewaretoken": token}

    response = client.post(f"/t/{thread.pk}/reply", data)

    assert response.status_code == 302
    assert Post.objects.filter(body="Genuine").exists()
