import pytest

from forum.models import TITLE_MAX, Tag, Thread

pytestmark = pytest.mark.django_db(databases="__all__")


def new_thread_url(board):
    return f"/b/{board.slug}/new/"


def test_it_asks_visitors_to_log_in_first(client, board):
    response = client.get(new_thread_url(board))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_creates_a_thread_and_redirects_to_it(client, board, author):
    client.force_login(author)

    response = client.post(
        new_thread_url(board),
        {
            "title": "Replicas in CI",
            "body": "How do you test lag?",
            "tags": "Testing, lag, testing",
        },
    )

    thread = Thread.objects.get(title="Replicas in CI")
    assert response.status_code == 302
    assert response["Location"] == thread.get_absolute_url()
    assert thread.posts.get().body == "How do you test lag?"
    assert sorted(thread.tags.values_list("name", flat=True)) == ["lag", "testing"]


def test_it_reuses_existing_tags(client, board, author):
    Tag.objects.create(name="lag")
    client.force_login(author)

    client.post(new_thread_url(board), {"title": "Again", "body": "More lag", "tags": "lag"})

    assert Tag.objects.filter(name="lag").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"title": "", "body": "kept body"}, "Give the thread a title."),
        ({"title": "   ", "body": "kept body"}, "Give the thread a title."),
        ({"title": "x" * (TITLE_MAX + 1), "body": "kept body"}, "Keep the title under"),
        ({"title": "kept title", "body": ""}, "the message is empty"),
    ],
)
def test_it_rerenders_invalid_input_with_a_message_and_keeps_it(
    client, board, author, data, message
):
    client.force_login(author)

    response = client.post(new_thread_url(board), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    kept = data["body"] or data["title"]
    assert kept.encode() in response.content
    assert not Thread.objects.exists()


def test_it_shows_the_new_thread_form(client, board, author):
    client.force_login(author)

    response = client.get(new_thread_url(board))

    assert response.status_code == 200
    assert b"New thread in Replication" in response.content
    for field in (b'name="title"', b'name="body"', b'name="tags"'):
        assert field in response.content


def test_it_answers_404_for_a_missing_board(client, author):
    client.force_login(author)

    assert client.get("/b/nowhere/new/").status_code == 404
