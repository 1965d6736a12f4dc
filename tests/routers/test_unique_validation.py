"""Validation that guards a write reads from the primary, not a lagging replica.

Another client's row is on the primary and not yet on the replicas. A uniqueness
check read from a replica would pass, and the insert would fail with an
IntegrityError (a 500) instead of the form's own error.
"""

import uuid

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from forum.models import Tag
from routers import RequestState, read_alias, request_scope

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


def signup(client, username):
    return client.post(
        "/signup/",
        {"username": username, "password1": "a-long-passphrase", "password2": "a-long-passphrase"},
    )


@pytest.mark.parametrize("strategy", ["naive", "sticky", "causal"])
def test_it_tells_the_second_of_two_racing_signups_the_name_is_taken(settings, strategy):
    # Under naive the form's check reads a replica and passes; the insert then fails
    # on the primary's unique constraint, which the view turns into the same error.
    settings.ROUTERS_STRATEGY = strategy

    # Its own name: a replica may still hold another run's racer, removed from the
    # primary after that test but not yet from the replica.
    name = f"racer-{strategy}-{uuid.uuid4().hex[:8]}"
    first = signup(Client(), name)
    second = signup(Client(), name)  # another browser, within the replicas' lag

    assert first.status_code == 302
    assert second.status_code == 200
    assert "A user with that username already exists." in second.content.decode()
    assert User.objects.using("default").filter(username=name).count() == 1


def test_it_checks_uniqueness_on_a_replica_under_naive(settings, tag_name):
    settings.ROUTERS_STRATEGY = "naive"
    Tag.objects.using("default").create(name=tag_name)

    with request_scope(RequestState(intends_to_write=True)):
        alias = read_alias(Tag)
        Tag(name=tag_name).validate_unique()  # passes: the replica lacks the row

    assert alias.startswith("replica")


def test_it_checks_uniqueness_on_the_primary_in_a_writing_request(settings, tag_name):
    settings.ROUTERS_STRATEGY = "causal"
    Tag.objects.using("default").create(name=tag_name)

    with request_scope(RequestState(intends_to_write=True)):
        alias = read_alias(Tag)
        with pytest.raises(ValidationError, match="already exists"):
            Tag(name=tag_name).validate_unique()

    assert alias == "default"
