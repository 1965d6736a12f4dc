"""The package's own read-only page (routers/templates/routers/read_only.html), which a
project gets unless it overrides the template (this one's forum does)."""

import json
import re
from pathlib import Path

import pytest
from django.test import RequestFactory

import routers
from routers import not_visible_response, read_only_response


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


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ACCEPT": "application/json"},
        {"HTTP_ACCEPT": "application/json, text/html;q=0.5"},
        {"content_type": "application/json"},  # no Accept: the body's type decides
        {"content_type": "application/json", "HTTP_ACCEPT": "*/*"},
    ],
)
def test_it_answers_json_to_a_client_that_asked_for_json(headers):
    body = "{}" if "content_type" in headers else {"title": "Hello"}
    request = RequestFactory().post("/api/threads/", body, **headers)

    response = read_only_response(request)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "30"
    assert json.loads(response.content)["detail"].startswith("Read-only mode")


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a form, no Accept
        {"HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8"},  # a browser's
        {"content_type": "application/json", "HTTP_ACCEPT": "text/html"},
        {"HTTP_ACCEPT": "garbage;;q=x,,"},
    ],
)
def test_it_answers_the_page_to_a_client_that_did_not(headers):
    body = '{"body": "Hello"}' if "content_type" in headers else {"body": "Hello"}
    request = RequestFactory().post("/post/", body, **headers)

    response = read_only_response(request)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")


def test_its_saved_on_its_way_page_is_json_for_a_json_client_too():
    request = RequestFactory().get("/api/threads/1/", HTTP_ACCEPT="application/json")

    response = not_visible_response(request)

    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    assert json.loads(response.content)["detail"].startswith("Saved, on its way")


def test_it_says_maybe_saved_when_a_write_reached_the_primary():
    request = RequestFactory().post("/lists/new", {"title": "Shopping"})

    html = read_only_response(request, maybe_saved=True).content.decode()

    assert "may have been saved" in html
    assert "not saved" not in html
    assert "Shopping" in html


def test_it_tells_an_api_client_it_may_have_been_saved():
    request = RequestFactory().post("/api/", "{}", content_type="application/json")

    detail = json.loads(read_only_response(request, maybe_saved=True).content)["detail"]

    assert "may have been saved" in detail
    assert "nothing was saved" not in detail
