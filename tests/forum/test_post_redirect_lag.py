"""Post, redirect, read: the forum's reply flow against the real, lagging replicas.

The replicas hold every commit back for 3 s. The thread and the member's session are
on every replica before the reply, so the reply is the only thing they are missing.
"""

import pytest

from forum.models import Post
from tests.factories import PostFactory, ThreadFactory, UserFactory
from tests.helpers import served_by, wait_until

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def thread(client, lagging_replicas):
    """A thread, and `client` logged in as a member: all of it replayed everywhere."""
    thread = ThreadFactory(title="Where did my reply go?")
    PostFactory(thread=thread, body="Opening post")
    client.force_login(UserFactory(username="replier"))
    lagging_replicas.wait_for_replay()
    return thread


def test_it_shows_the_new_post_after_the_redirect_when_reading_the_primary(
    client, settings, thread
):
    settings.ROUTERS_STRATEGY = "primary"

    response = client.post(f"/t/{thread.pk}/reply", {"body": "Read from the primary"}, follow=True)

    post = Post.objects.get(body="Read from the primary")
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"{thread.get_absolute_url()}?page=1#post-{post.pk}"
    assert f'id="post-{post.pk}"'.encode() in response.content
    assert served_by(response) == {"default"}


def test_it_404s_after_the_redirect_until_the_replicas_replay_the_reply(client, settings, thread):
    settings.ROUTERS_STRATEGY = "naive"

    posted = client.post(f"/t/{thread.pk}/reply", {"body": "Read from a replica"})
    target = posted["Location"]
    landing = client.get(target)

    assert posted.status_code == 302
    assert landing.status_code == 404
    assert b'id="lag-hint"' in landing.content
    assert served_by(landing) <= {"replica", "replica_2"}
    # Not lost: the primary has it, the replicas are only behind.
    assert Post.objects.using("default").filter(body="Read from a replica").exists()
    # Each query may pick either replica: wait until the page that answers shows it.
    wait_until(
        lambda: b"Read from a replica" in client.get(target, follow=True).content,
        timeout=15,
        what="the replicas to replay the reply",
    )
