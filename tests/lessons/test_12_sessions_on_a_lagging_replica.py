"""Lesson 12: a login read back from a lagging replica logs the user out.

The replicas hold every commit back for 3 s, so the page after the login always reads
the session before the replica has it.
"""

import pytest
from django.conf import settings as django_settings

from lab.middleware import STRATEGY_COOKIE
from tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def member(stack):
    """A member whose account is already on every replica."""
    user = UserFactory(username="member")
    stack.wait_for_replay()
    return user


def log_in(client, strategy):
    client.cookies[STRATEGY_COOKIE] = strategy
    return client.post("/login/", {"username": "member", "password": PASSWORD}, follow=True)


def test_it_logs_the_user_out_under_naive_and_says_why(client, member, lagging_replicas):
    response = log_in(client, "naive")

    page = response.content.decode()
    assert 'id="login-lost"' in page
    assert 'href="/lab/sessions-on-a-lagging-replica/"' in page
    assert 'class="me"' not in page  # the navbar shows a visitor
    # Django deleted the session cookie: the browser forgets the login.
    assert response.cookies[django_settings.SESSION_COOKIE_NAME].value == ""


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_it_keeps_the_user_logged_in_with_read_your_writes(
    client, member, lagging_replicas, strategy
):
    response = log_in(client, strategy)

    page = response.content.decode()
    assert 'class="me"' in page
    assert 'id="login-lost"' not in page


def test_it_keeps_a_naive_login_once_the_replicas_have_it(client, member, stack):
    client.cookies[STRATEGY_COOKIE] = "naive"
    client.post("/login/", {"username": "member", "password": PASSWORD})
    stack.wait_for_replay()

    page = client.get("/").content.decode()

    assert 'class="me"' in page
    assert 'id="login-lost"' not in page


def test_it_says_nothing_to_a_visitor_whose_session_never_existed(client):
    client.cookies[STRATEGY_COOKIE] = "naive"
    client.cookies[django_settings.SESSION_COOKIE_NAME] = "no-such-session-key-at-all"

    page = client.get("/").content.decode()

    assert 'id="login-lost"' not in page


@pytest.mark.parametrize(("signed_up_under", "then"), [("causal", "sticky"), ("sticky", "causal")])
def test_it_keeps_a_new_member_logged_in_across_a_strategy_switch(
    client, lagging_replicas, signed_up_under, then
):
    client.cookies[STRATEGY_COOKIE] = signed_up_under
    client.post(
        "/signup/",
        {
            "username": "newcomer",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
        },
    )
    client.cookies[STRATEGY_COOKIE] = then

    page = client.get("/").content.decode()

    assert 'class="me"' in page
    assert ">newcomer<" in page
