"""The package's own read-only page (routers/templates/routers/read_only.html), which a
project gets unless it overrides the template (this one's forum does)."""

import re
from pathlib import Path

import pytest
from django.test import RequestFactory

import routers
from routers import read_only_response


@pytest.fixture(autouse=True)
def _package_templates_only(settings):
    package_templates = Path(routers.__file__).parent / "templates"
    settings.TEMPLATES = [
        {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [package_templates]}
    ]


def test_it_gives_back_every_value_of_a_field_in_order():
    request = RequestFactory().post(
        "/lists/new", {"line": ["eggs", "milk", "flour"], "title": "Shopping"}
    )

    html = read_only_response(request).content.decode()

    assert re.findall(r"<dt>(.*?)</dt>", html) == ["line", "title"]
    assert re.findall(r"<dd><pre>(.*?)</pre></dd>", html) == ["eggs", "milk", "flour", "Shopping"]


def test_it_leaves_out_passwords_and_the_csrf_token():
    request = RequestFactory().post(
        "/login/",
        {"username": "ada", "password": "never shown", "csrfmiddlewaretoken": "nor this"},
    )

    html = read_only_response(request).content.decode()

    assert "ada" in html
    assert "never shown" not in html
    assert "nor this" not in html


def test_it_leaves_out_a_password_in_any_case_and_what_the_view_marked_sensitive():
    request = RequestFactory().post(
        "/pay/", {"Password": "hunter2", "PIN": "1234", "card": "4111", "note": "Shown"}
    )
    request.sensitive_post_parameters = ["PIN", "card"]

    html = read_only_response(request).content.decode()

    assert re.findall(r"<dd><pre>(.*?)</pre></dd>", html) == ["Shown"]


def test_it_shows_nothing_of_a_view_that_marked_every_field_sensitive():
    request = RequestFactory().post("/pay/", {"note": "Hidden too"})
    request.sensitive_post_parameters = "__ALL__"

    assert "Hidden too" not in read_only_response(request).content.decode()
