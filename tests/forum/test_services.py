"""The write services, called directly."""

import pytest

from forum import services
from forum.models import Post, Reaction, Tag, Thread
from tests.factories import PostFactory, ReactionFactory, TagFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_creates_a_thread_with_its_opening_post(board, author):
    thread = services.thread_create(board=board, author=author, title="Hot standby", body="Hi")

    assert thread.slug == "hot-standby"
    assert [(p.author, p.body) for p in thread.posts.all()] == [(author, "Hi")]


def test_it_tags_with_existing_tags_and_creates_the_missing_ones(thread):
    existing = TagFactory(name="wal")

    services.thread_tag(thread=thread, names=["wal", "standby"])

    assert set(thread.tags.all()) == {existing, Tag.objects.get(name="standby")}
    assert Tag.objects.count() == 2


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Postgres, replication ,  postgres", ["postgres", "replication"]),
        ("a; b,,c", ["a", "b", "c"]),
        ("1,2,3,4,5,6,7", ["1", "2", "3", "4", "5"]),
        ("  ", []),
    ],
)
def test_it_parses_tags_typed_in_a_form(text, names):
    assert services.parse_tags(text) == names


def test_it_moves_the_thread_up_when_a_post_arrives(thread, stranger):
    post = services.post_create(thread=thread, author=stranger, body="Bump")

    thread.refresh_from_db()
    assert thread.last_posted_at == post.created_at


def test_it_marks_an_edited_post(thread):
    post = thread.posts.get()

    services.post_update(post=post, body="Changed")

    post.refresh_from_db()
    assert (post.body, post.edited_at is not None) == ("Changed", True)


def test_it_deletes_a_reply_and_its_reactions(thread):
    reply = PostFactory(thread=thread)
    ReactionFactory(target=reply)

    assert services.post_delete(post=reply) is False
    assert not Post.objects.filter(pk=reply.pk).exists()
    assert not Reaction.objects.exists()
    assert Thread.objects.filter(pk=thread.pk).exists()


def test_it_deletes_the_whole_thread_with_its_opening_post(thread):
    reply = PostFactory(thread=thread)
    ReactionFactory(target=reply)
    ReactionFactory(target=thread)

    assert services.post_delete(post=thread.posts.first()) is True
    assert not Thread.objects.exists()
    assert not Post.objects.exists()
    assert not Reaction.objects.exists()


def test_it_toggles_a_reaction_per_user_and_kind(thread, author, stranger):
    post = thread.posts.get()

    assert services.reaction_toggle(user=author, target=post, kind="like") is True
    assert services.reaction_toggle(user=stranger, target=post, kind="like") is True
    assert services.reaction_toggle(user=author, target=post, kind="thanks") is True
    assert services.reaction_toggle(user=author, target=post, kind="like") is False

    assert sorted(post.reactions.values_list("user__username", "kind")) == [
        ("author", "thanks"),
        ("stranger", "like"),
    ]
