"""Writes. Each runs on the primary (the routers send every write there)."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from routers import enqueue_on_commit, replica_aware_get_or_create

from . import outbox
from .models import Board, Post, Reaction, Tag, Thread
from .tasks import notify_thread_author

MAX_TAGS = 5


def parse_tags(text: str) -> list[str]:
    """'Postgres, replication ,  postgres' -> ['postgres', 'replication']."""
    names: list[str] = []
    for raw in text.replace(";", ",").split(","):
        name = raw.strip().lower()[: Tag._meta.get_field("name").max_length]
        if name and name not in names:
            names.append(name)
    return names[:MAX_TAGS]


@transaction.atomic
def thread_create(*, board: Board, author: AbstractBaseUser, title: str, body: str) -> Thread:
    thread = Thread.objects.create(board=board, author=author, title=title)
    post = Post.objects.create(thread=thread, author=author, body=body)
    outbox.record("thread", author=author, thread=thread, post=post)
    return thread


def thread_tag(*, thread: Thread, names: list[str]) -> None:
    """Tag a thread, creating the tags that do not exist yet.

    Tags almost always exist already: look them up on a replica first, and only go
    to the primary for a new one (Lesson 3: get_or_create).
    """
    tags = [replica_aware_get_or_create(Tag.objects, name=name)[0] for name in names]
    thread.tags.add(*tags)


@transaction.atomic
def post_create(*, thread: Thread, author: AbstractBaseUser, body: str) -> Post:
    post = Post.objects.create(thread=thread, author=author, body=body)
    Thread.objects.filter(pk=thread.pk).update(last_posted_at=post.created_at)
    outbox.record("post", author=author, thread=thread, post=post)
    # On the worker, after the commit: the task carries the reply's position to read it.
    enqueue_on_commit(notify_thread_author, post_id=post.pk)
    return post


def post_update(*, post: Post, body: str) -> Post:
    post.body = body
    post.edited_at = timezone.now()
    post.save(update_fields=["body", "edited_at"])
    return post


def post_delete(*, post: Post) -> bool:
    """Delete a post; deleting a thread's opening post deletes the thread.

    Returns True when the whole thread went.
    """
    thread = post.thread
    if thread.posts.order_by("created_at", "id").values_list("pk", flat=True).first() == post.pk:
        thread.delete()
        return True
    post.delete()
    return False


def reaction_toggle(*, user: AbstractBaseUser, target: Model, kind: str) -> bool:
    """Add the reaction, or take it back if the user already gave it. True if added."""
    reactions = target.reactions  # type: ignore[attr-defined]
    deleted, _ = reactions.filter(user=user, kind=kind).delete()
    if deleted:
        return False
    Reaction.objects.create(user=user, kind=kind, target=target)
    return True
