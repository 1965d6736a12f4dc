import pytest
from django.contrib.auth.models import User

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

PASSPHRASE = "a-long-passphrase"


@pytest.mark.parametrize(("path", "heading"), [("/signup/", b"Sign up"), ("/login/", b"Log in")])
def test_it_shows_the_account_forms(client, path, heading):
    response = client.get(path)

    assert response.status_code == 200
    assert b"<h1>" + heading + b"</h1>" in response.content
    assert b'name="username"' in response.content


def test_it_signs_up_and_logs_in(client):
    response = client.post(
        "/signup/",
        {
            "username": "newcomer",
            "password1": PASSPHRASE,
            "password2": PASSPHRASE,
        },
        follow=True,
    )

    assert User.objects.filter(username="newcomer").exists()
    assert response.context["user"].username == "newcomer"
    assert b"Welcome, newcomer!" in response.content


def test_it_rerenders_a_bad_signup_and_keeps_the_username(client):
    response = client.post(
        "/signup/", {"username": "newcomer", "password1": PASSPHRASE, "password2": "other"}
    )

    assert response.status_code == 200
    assert b'value="newcomer"' in response.content
    assert "password fields didn\u2019t match" in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_it_logs_in_and_out(client):
    user = UserFactory(username="regular")

    logged_in = client.post("/login/", {"username": "regular", "password": PASSWORD})
    assert logged_in["Location"] == "/"
    assert client.get("/").context["user"] == user

    client.post("/logout/")
    assert not client.get("/").context["user"].is_authenticated


def test_it_rejects_a_wrong_password(client):
    UserFactory(username="regular")

    response = client.post("/login/", {"username": "regular", "password": "wrong"})

    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_it_refuses_a_username_that_is_taken(client, author):
    response = client.post(
        "/signup/", {"username": "author", "password1": PASSPHRASE, "password2": PASSPHRASE}
    )

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(username="author").count() == 1


def test_it_goes_back_where_it_was_after_logging_in(client, author, thread):
    response = client.post(
        f"/login/?next={thread.get_absolute_url()}",
        {"username": "author", "password": "author-password", "next": thread.get_absolute_url()},
    )

    assert response["Location"] == thread.get_absolute_url()
