"""The forum's styled 503 "read-only" page, shown for a write while the primary is down."""

import re

import pytest
from django.test import RequestFactory

from routers import read_only_response

# The page's footer probes the replicas' lag.
pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_gives_back_what_the_user_typed_in_textareas():
    request = RequestFactory().post(
        "/t/1/reply",
        {
            "body": "A long reply\n<script>alert(1)</script>",
            "password": "never shown",
            "csrfmiddlewaretoken": "never shown either",
        },
    )

    response = read_only_response(request)

    html = response.content.decode()
    assert response.status_code == 503
    assert 'id="read-only"' in html
    assert 'class="navbar"' in html
    assert "A long reply\n&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in html
    assert "<script>alert" not in html
    assert "never shown" not in html


def test_it_explains_itself_when_nothing_was_submitted():
    response = read_only_response(RequestFactory().post("/logout/"))

    html = response.content.decode()
    assert "read-only mode" in html
    assert "<textarea" not in html


def test_it_gives_back_every_value_of_a_field_in_order():
    request = RequestFactory().post(
        "/lists/new", {"line": ["eggs", "milk", "flour"], "title": "Shopping"}
    )

    html = read_only_response(request).content.decode()

    kept = re.findall(r"<textarea readonly[^>]*>\n(.*?)</textarea>", html, re.DOTALL)
    assert kept == ["eggs", "milk", "flour", "Shopping"]


@pytest.mark.parametrize(
    ("maybe_saved", "said", "not_said"),
    [(False, 'id="not-saved"', 'id="maybe-saved"'), (True, 'id="maybe-saved"', 'id="not-saved"')],
)
def test_it_says_not_saved_or_maybe_saved_never_both(maybe_saved, said, not_said):
    request = RequestFactory().post("/t/1/reply", {"body": "A reply"})

    html = read_only_response(request, maybe_saved=maybe_saved).content.decode()

    assert said in html
    assert not_said not in html
    assert "A reply</textarea>" in html
