"""The forum's JSON API (forum/api.py): threads listed and read, replies and threads
posted with a token; bad input is a JSON 400 (or 401, 404, 415), never a 500."""

import json

import pytest
from rest_framework.authtoken.models import Token

from forum.models import BODY_MAX, TITLE_MAX, Post, Thread
from forum.selectors import POSTS_PER_PAGE
from forum.services import MAX_TAGS
from tests.factories import PASSWORD, PostFactory, UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def token(stranger):
    return Token.objects.create(user=stranger).key


def send(client, path, body, token=None, **extra):
    """POST `body` as JSON (a str is sent as it is), with the token if given."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers, **extra)


def test_it_lists_the_threads_latest_activity_first(client, thread, author):
    PostFactory(thread=thread, author=author)
    older = PostFactory(body="Elsewhere").thread
    Thread.objects.filter(pk=older.pk).update(
        last_posted_at=thread.last_posted_at.replace(year=2000)
    )

    listed = client.get("/api/threads/").json()

    assert listed["count"] == 2
    first = listed["results"][0]
    assert first["id"] == thread.pk
    assert first == {
        "id": thread.pk,
        "title": "Lag after a redirect",
        "board": "replication",
        "author": "author",
        "tags": [],
        "post_count": 2,
        "created_at": first["created_at"],
        "last_posted_at": first["last_posted_at"],
    }


def test_it_lists_a_page_of_threads_in_three_queries(client, django_assert_num_queries):
    for _ in range(3):
        PostFactory()

    with django_assert_num_queries(3):  # the count, the page, its tags
        assert len(client.get("/api/threads/").json()["results"]) == 3


def test_it_reads_a_thread_with_a_page_of_its_posts(client, thread):
    PostFactory.create_batch(POSTS_PER_PAGE, thread=thread)

    first = client.get(f"/api/threads/{thread.pk}/").json()
    second = client.get(f"/api/threads/{thread.pk}/?page=2").json()

    assert first["title"] == "Lag after a redirect"
    assert (first["post_count"], first["pages"]) == (POSTS_PER_PAGE + 1, 2)
    assert first["posts"][0]["body"] == "Opening post"
    assert first["posts"][0]["author"] == "author"
    assert len(second["posts"]) == 1
    assert second["page"] == 2


@pytest.mark.parametrize("page", ["0", "999", "x", "\x00"])
def test_it_reads_the_nearest_page_of_posts_for_a_page_out_of_range(client, thread, page):
    response = client.get(f"/api/threads/{thread.pk}/", {"page": page})

    assert response.status_code == 200
    assert response.json()["posts"]


@pytest.mark.parametrize("pk", [0, 999_999, 10**30])
def test_it_answers_a_json_404_for_a_thread_that_does_not_exist(client, pk):
    response = client.get(f"/api/threads/{pk}/")

    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_posts_a_reply_with_a_token(client, thread, token):
    response = send(client, f"/api/threads/{thread.pk}/posts/", {"body": "Me too"}, token)

    assert response.status_code == 201
    post = Post.objects.get(body="Me too")
    assert response.json() == {
        "id": post.pk,
        "thread": thread.pk,
        "author": "stranger",
        "body": "Me too",
        "created_at": response.json()["created_at"],
        "edited_at": None,
    }
    thread.refresh_from_db()
    assert thread.last_posted_at == post.created_at


def test_it_keeps_a_replys_indentation(client, thread, token):
    send(client, f"/api/threads/{thread.pk}/posts/", {"body": "    indented code\n"}, token)

    assert Post.objects.filter(body="    indented code\n").exists()


@pytest.mark.parametrize(
    "authorization", [None, "Token not-a-token", "Token ", "Bearer x", "Token a b"]
)
def test_it_refuses_a_reply_without_a_valid_token(client, thread, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.post(
        f"/api/threads/{thread.pk}/posts/",
        json.dumps({"body": "Who am I?"}),
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()
    assert thread.posts.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"body": ""}, "body", "may not be blank"),
        ({"body": "  \n "}, "body", "cannot be empty"),
        ({"body": "x" * (BODY_MAX + 1)}, "body", "no more than"),
        ({"body": "nul \x00 inside"}, "body", "Null characters"),
        ({"body": ["a list"]}, "body", "Not a valid string"),
        ({"body": None}, "body", "may not be null"),
        ({}, "body", "required"),
        (["not", "an", "object"], "non_field_errors", "Expected a dictionary"),
    ],
)
def test_it_answers_an_invalid_reply_with_a_400_naming_the_field(
    client, thread, token, body, field, message
):
    response = send(client, f"/api/threads/{thread.pk}/posts/", body, token)

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert thread.posts.count() == 1


@pytest.mark.parametrize(
    "body",
    ["{not json", "", "\x00", '{"body": "\\ud800"}', "1e999999", "[" * 100_000, "9" * 5000],
)
def test_it_answers_a_body_that_is_not_json_with_a_400(client, thread, token, body):
    response = send(client, f"/api/threads/{thread.pk}/posts/", body, token)

    assert response.status_code == 400
    assert response.json()  # a parse error, or what was parsed is no object


def test_it_answers_a_body_past_the_upload_limit_with_a_json_413(client, settings, thread, token):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    response = send(client, f"/api/threads/{thread.pk}/posts/", {"body": "x" * 2000}, token)

    assert response.status_code == 413
    assert "detail" in response.json()


def test_it_takes_json_alone_for_a_token_too(client):
    response = client.post("/api/token/", {"username": "member", "password": PASSWORD})

    assert response.status_code == 415
    assert "detail" in response.json()


def test_it_answers_a_token_request_nested_too_deeply_with_a_400(client):
    assert send(client, "/api/token/", "[" * 100_000).status_code == 400


def test_it_answers_a_form_body_with_a_415(client, thread, token):
    response = client.post(
        f"/api/threads/{thread.pk}/posts/",
        {"body": "A form"},
        headers={"Authorization": f"Token {token}"},
    )

    assert response.status_code == 415
    assert "detail" in response.json()


def test_it_answers_a_reply_to_a_missing_thread_with_a_json_404(client, token):
    response = send(client, "/api/threads/999999/posts/", {"body": "Anyone?"}, token)

    assert response.status_code == 404
    assert "detail" in response.json()


def test_it_starts_a_thread_with_its_tags(client, board, token):
    response = send(
        client,
        "/api/threads/",
        {
            "board": "replication",
            "title": "Over the API",
            "body": "First!",
            "tags": ["Postgres", "postgres ", "API"],
        },
        token,
    )

    assert response.status_code == 201
    started = response.json()
    thread = Thread.objects.get(title="Over the API")
    assert started["id"] == thread.pk
    assert sorted(started["tags"]) == ["api", "postgres"]
    assert [post["body"] for post in started["posts"]] == ["First!"]
    assert started["author"] == "stranger"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"board": "nowhere"}, "board", "No board 'nowhere'"),
        ({"board": "bad\x00slug"}, "board", "Enter a valid"),
        ({"board": ["replication"]}, "board", "Enter a valid"),
        ({"title": ""}, "title", "may not be blank"),
        ({"title": "t" * (TITLE_MAX + 1)}, "title", "no more than"),
        ({"tags": [f"t{n}" for n in range(MAX_TAGS + 1)]}, "tags", "no more than"),
        ({"tags": "postgres"}, "tags", "Expected a list"),
        ({"tags": ["x" * 33]}, "tags", "no more than"),
        ({"tags": [None]}, "tags", "may not be null"),
    ],
)
def test_it_answers_an_invalid_thread_with_a_400_naming_the_field(
    client, board, token, fields, field, message
):
    valid = {"board": "replication", "title": "Hello", "body": "World"}

    response = send(client, "/api/threads/", {**valid, **fields}, token)

    assert response.status_code == 400
    assert message in json.dumps(response.json()[field])
    assert not Thread.objects.exists()


def test_it_refuses_to_start_a_thread_without_a_token(client, board):
    response = send(client, "/api/threads/", {"board": "replication", "title": "t", "body": "b"})

    assert response.status_code == 401


def test_it_hands_out_a_token_for_a_username_and_password(client):
    member = UserFactory(username="member")

    response = send(client, "/api/token/", {"username": "member", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=member).key}


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "member", "password": "wrong"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "mem\x00ber", "password": PASSWORD},
        {"username": "member"},
        {"username": ["member"], "password": PASSWORD},
    ],
)
def test_it_refuses_a_token_for_bad_credentials_with_a_400(client, credentials):
    UserFactory(username="member")

    response = send(client, "/api/token/", credentials)

    assert response.status_code == 400
    assert not Token.objects.exists()
