"""Reads. Each page's queries live in one function, so its query count is plain."""

from collections import Counter
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from analytics.models import Event

from .models import Board, Notification, Post, Reaction, Thread

THREADS_PER_PAGE = 25
POSTS_PER_PAGE = 20


def board_list() -> QuerySet[Board]:
    """Boards with their thread count and latest activity, in one query."""
    return Board.objects.annotate(
        thread_count=Count("threads"), last_activity=Max("threads__last_posted_at")
    )


@dataclass
class BoardPage:
    board: Board
    threads: Page[Thread]


def board_threads(*, slug: str, page: str | int | None) -> BoardPage:
    """A board and one page of its threads, with post counts and tags: four queries."""
    board = get_object_or_404(Board, slug=slug)
    threads = (
        board.threads.select_related("author")
        .annotate(post_count=Count("posts"))
        .prefetch_related("tags")
        .order_by("-last_posted_at", "-id")
    )
    return BoardPage(board=board, threads=Paginator(threads, THREADS_PER_PAGE).get_page(page))


@dataclass
class ReactionSummary:
    """Reactions on one thread or post: counts per kind, and which ones are the viewer's."""

    counts: dict[str, int]
    mine: set[str]

    @classmethod
    def of(
        cls, reactions: list[Reaction], viewer: AbstractBaseUser | AnonymousUser
    ) -> "ReactionSummary":
        return cls(
            counts=dict(Counter(r.kind for r in reactions)),
            mine={r.kind for r in reactions if r.user_id == viewer.pk},
        )

    def choices(self) -> list[tuple[str, str, int, bool]]:
        """(kind, emoji, count, given by the viewer) for every kind, for the buttons."""
        return [
            (kind, emoji, self.counts.get(kind, 0), kind in self.mine)
            for kind, emoji in Reaction.KINDS.items()
        ]


@dataclass
class ThreadPage:
    """A thread page; each post on it carries its `reaction_summary`."""

    thread: Thread
    posts: Page[Post]
    thread_reactions: ReactionSummary


def thread_posts(
    *, pk: int, page: str | int | None, viewer: AbstractBaseUser | AnonymousUser
) -> ThreadPage:
    """The thread, one page of its posts, tags and reactions: a fixed number of queries."""
    thread = get_object_or_404(
        Thread.objects.select_related("board", "author").prefetch_related("tags", "reactions"),
        pk=pk,
    )
    posts = thread.posts.select_related("author").prefetch_related("reactions")
    posts_page = Paginator(posts, POSTS_PER_PAGE).get_page(page)
    for post in posts_page:
        post.reaction_summary = ReactionSummary.of(list(post.reactions.all()), viewer)  # type: ignore[attr-defined]
    return ThreadPage(
        thread=thread,
        posts=posts_page,
        thread_reactions=ReactionSummary.of(list(thread.reactions.all()), viewer),
    )


def thread_list() -> QuerySet[Thread]:
    """Every thread, latest activity first, with its board, author, post count and
    tags: for the API's paginator (three queries a page)."""
    return (
        Thread.objects.select_related("board", "author")
        .annotate(post_count=Count("posts"))
        .prefetch_related("tags")
        .order_by("-last_posted_at", "-id")
    )


@dataclass
class ThreadPosts:
    thread: Thread
    posts: Page[Post]


def thread_with_posts(*, pk: int, page: str | int | None) -> ThreadPosts:
    """A thread and one page of its posts, for the API: four queries."""
    thread = get_object_or_404(
        Thread.objects.select_related("board", "author").prefetch_related("tags"), pk=pk
    )
    posts = thread.posts.select_related("author")
    return ThreadPosts(thread=thread, posts=Paginator(posts, POSTS_PER_PAGE).get_page(page))


def post_location(*, pk: int) -> str:
    """The URL that shows post `pk`: its thread's page holding it, anchored at the post."""
    post = get_object_or_404(Post.objects.select_related("thread"), pk=pk)
    return f"{post.thread.get_absolute_url()}?page={post_page_number(post)}#post-{post.pk}"


def post_page_number(post: Post) -> int:
    """The page of its thread that shows `post`."""
    before = Post.objects.filter(
        Q(created_at__lt=post.created_at) | Q(created_at=post.created_at, pk__lt=post.pk),
        thread_id=post.thread_id,
    ).count()
    return before // POSTS_PER_PAGE + 1


@dataclass
class UserPage:
    member: AbstractBaseUser
    posts: Page[Post]


def user_posts(*, username: str, page: str | int | None) -> UserPage:
    """A member and one page of their posts, newest first, with each post's thread."""
    if "\x00" in username:  # PostgreSQL text cannot hold NUL: no such member
        raise Http404("No such member.")
    member = get_object_or_404(get_user_model(), username=username)
    posts = (
        Post.objects.filter(author=member)
        .select_related("thread", "thread__board")
        .order_by("-created_at", "-id")
    )
    return UserPage(member=member, posts=Paginator(posts, POSTS_PER_PAGE).get_page(page))


ACTIVITY_PAGE_SIZE = 30


def recent_activity(*, page: str | int | None) -> Page[Event]:
    """The activity log, newest first: a second database, read from its own replicas."""
    events = Event.objects.exclude(kind="lab")
    return Paginator(events, ACTIVITY_PAGE_SIZE).get_page(page)


def member_notifications(*, member: AbstractBaseUser, page: str | int | None) -> Page[Notification]:
    """The replies in a member's threads, newest first, each with its post, thread and
    author: the tasks on the worker write them (forum/tasks.py)."""
    notifications = Notification.objects.filter(recipient_id=member.pk).select_related(
        "post__author", "post__thread"
    )
    return Paginator(notifications, POSTS_PER_PAGE).get_page(page)
