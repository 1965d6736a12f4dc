"""A reply's notification: a task on the worker writes it for the thread's author, who
finds it on their Replies page.

The task reads the reply it was enqueued for. The replicas hold commits back for 3 s,
and the worker (the project's own process, under causal) picks a task up within 0.1 s,
so carrying the replier's write is what lets it find the reply.
"""

import pytest
from django.conf import global_settings
from django_tasks_db.models import DBTaskResult

from forum.models import Notification, Post
from forum.tasks import notify_thread_author
from tests.factories import PostFactory, UserFactory
from tests.helpers import HttpBrowser, finished_task, replicated_thread, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def thread(stack):
    """A thread by `starter`, on every replica."""
    return replicated_thread("Who replies?", author=UserFactory(username="starter"))


def notify_results(post: Post) -> list[DBTaskResult]:
    return [
        row
        for row in DBTaskResult.objects.filter(task_path=notify_thread_author.module_path)
        if row.args_kwargs["kwargs"].get("post_id") == post.pk
    ]


@pytest.mark.usefixtures("task_worker")
def test_a_reply_over_http_is_on_the_thread_authors_replies_page(
    gunicorn_url, thread, lagging_replicas, settings
):
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS  # gunicorn's hashers
    UserFactory(username="replier", password="replier-password")
    browser = HttpBrowser()
    browser.get(gunicorn_url + "/login/")
    browser.post(gunicorn_url + "/login/", {"username": "replier", "password": "replier-password"})

    status, _, _ = browser.post(f"{gunicorn_url}/t/{thread.pk}/reply", {"body": "Me!"})

    assert status == 200
    post = Post.objects.get(body="Me!")
    (queued,) = wait_until(lambda: notify_results(post), what="the reply's task")
    assert finished_task(notify_thread_author, str(queued.id)).return_value == "notified"
    assert Notification.objects.filter(recipient=thread.author, post=post).exists()


@pytest.mark.usefixtures("task_worker")
def test_the_same_task_carrying_nothing_misses_the_reply(thread, lagging_replicas):
    post = PostFactory(thread=thread, body="Not there yet")

    result = finished_task(notify_thread_author, notify_thread_author.enqueue(post_id=post.pk).id)

    assert result.return_value == "missing"  # the replica had not replayed the reply
    assert Post.objects.filter(pk=post.pk).exists()
    assert not Notification.objects.filter(post=post).exists()


def test_a_reply_in_ones_own_thread_notifies_nobody_and_a_task_run_twice_notifies_once(thread):
    own = PostFactory(thread=thread, author=thread.author)
    other = PostFactory(thread=thread)

    assert notify_thread_author.call(post_id=own.pk) == "own thread"
    assert notify_thread_author.call(post_id=other.pk) == "notified"
    assert notify_thread_author.call(post_id=other.pk) == "notified"
    assert list(Notification.objects.filter(post__thread=thread)) == [
        Notification.objects.get(recipient=thread.author, post=other)
    ]


def test_the_replies_page_lists_the_replies_newest_first(client, thread):
    first, second = PostFactory(thread=thread), PostFactory(thread=thread)
    for post in (first, second):
        Notification.objects.create(recipient=thread.author, post=post)
    client.force_login(thread.author)

    page = client.get("/replies/").content.decode()

    assert page.index(f'href="/p/{second.pk}/"') < page.index(f'href="/p/{first.pk}/"')
    assert f"{first.author.username} replied" in page
    assert 'href="/replies/"' in page  # the navbar's link


def test_the_replies_page_is_for_members(client):
    response = client.get("/replies/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
