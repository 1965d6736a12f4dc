"""The friendly 404 page, and its replication-lag hint."""

import pytest


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "path", ["/t/999999/gone/", "/t/999999/", "/p/999999/", "/b/nowhere/", "/no/such/page"]
)
def test_it_answers_a_friendly_404(client, path):
    response = client.get(path)

    assert response.status_code == 404
    assert b"<h1>Not found</h1>" in response.content
    assert b'href="/"' in response.content
    assert b'id="routing-footer"' in response.content


@pytest.mark.django_db(databases="__all__")
def test_it_blames_no_replica_when_the_primary_served_the_page(client):
    response = client.get("/t/999999/gone/")

    assert b'data-alias="default"' in response.content
    assert b'id="lag-hint"' not in response.content


# Real commits and the replicas: a TestCase's rows never become visible on a replica (their
# commit never comes).
@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_it_suggests_replication_lag_when_a_replica_served_the_page(client, settings):
    settings.ROUTERS_STRATEGY = "naive"

    response = client.get("/t/999999/gone/")

    assert response.status_code == 404
    assert b'id="lag-hint"' in response.content
    assert b"replication lag" in response.content
    assert b"Reload in a moment" in response.content
    assert b'data-alias="default"' not in response.content


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize(
    "path",
    [
        "/u/%00/",
        "/u/ada%00/",
        "/react/%00/1/",
        "/b/general/?page=%00",
        "/t/1/x/?page=%00",
        "/login/?next=%00",
        "/lab/%00/",
    ],
)
@pytest.mark.parametrize("strategy", ["primary", "causal"])
def test_it_never_answers_500_to_a_nul_in_the_url(client, settings, path, strategy):
    settings.ROUTERS_STRATEGY = strategy

    response = client.get(path)

    assert response.status_code in (200, 302, 404, 405)


@pytest.mark.django_db(databases="__all__")
def test_it_refuses_a_username_a_browser_cannot_open(client):
    """The profile of ".." would be /u/../, which a browser resolves to /."""
    response = client.post(
        "/signup/",
        {"username": "..", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )

    assert response.status_code == 200
    assert "not only dots" in response.content.decode()
