import pytest
from django.contrib.auth.models import User

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PASSPHRASE = "a-long-passphrase"


def test_it_signs_up_and_logs_in(client):
    response = client.post(
        "/signup/",
        {
            "username": "newcomer",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
        },
        follow=True,
    )

    assert User.objects.filter(username="newcomer").exists()
    assert response.context["user"].username == "newcomer"
    assert b"Welcome, newcomer!" in response.content


def test_it_rerenders_a_bad_signup_and_keeps_the_username(client):
    response = client.post(
        "/signup/", {"username": "newcomer", "password1": "a-long-passphrase", "password2": "other"}
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


def test_it_shows_a_users_posts(client, thread, author):
    response = client.get(f"/u/{author.username}/")

    assert response.status_code == 200
    assert b"Lag after a redirect" in response.content
    assert client.get("/u/nobody/").status_code == 404
