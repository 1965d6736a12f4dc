"""Thin views: forms in, services for writes, selectors for reads.

Every write is a POST answered by a redirect to the page that shows its result.
That redirect is the moment the next page may be read from a lagging replica.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from routers import conf, current_state

from . import selectors, services
from .forms import PostForm, SignupForm, ThreadForm
from .models import Board, Post, Reaction, Thread


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "forum/index.html", {"boards": selectors.board_list()})


def board(request: HttpRequest, slug: str) -> HttpResponse:
    page = selectors.board_threads(slug=slug, page=request.GET.get("page"))
    return render(request, "forum/board.html", {"board": page.board, "threads": page.threads})


def thread(request: HttpRequest, pk: int, slug: str | None = None) -> HttpResponse:
    page = selectors.thread_posts(pk=pk, page=request.GET.get("page"), viewer=request.user)
    if slug != page.thread.slug:
        query = request.GET.urlencode()
        return redirect(page.thread.get_absolute_url() + (f"?{query}" if query else ""))
    return render(request, "forum/thread.html", {"page": page, "form": PostForm()})


def post_permalink(request: HttpRequest, pk: int) -> HttpResponse:
    """/p/<id>: where a reply redirects. 404 if this replica has not replayed it yet."""
    return redirect(selectors.post_location(pk=pk))


@login_required
def thread_create(request: HttpRequest, slug: str) -> HttpResponse:
    board = get_object_or_404(Board, slug=slug)
    form = ThreadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # One transaction: a thread saved without its tags (the primary lost in
        # between) would answer "not saved" for a thread that was.
        with transaction.atomic():
            thread = services.thread_create(
                board=board,
                author=request.user,
                title=form.cleaned_data["title"],
                body=form.cleaned_data["body"],
            )
            services.thread_tag(thread=thread, names=form.cleaned_data["tags"])
        return redirect(thread)
    return render(request, "forum/thread_form.html", {"board": board, "form": form})


@login_required
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    thread = get_object_or_404(Thread.objects.select_related("board"), pk=pk)
    form = PostForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        post = services.post_create(
            thread=thread, author=request.user, body=form.cleaned_data["body"]
        )
        return redirect("forum:post", post.pk)
    return render(request, "forum/reply_form.html", {"thread": thread, "form": form})


def _own_post(request: HttpRequest, pk: int) -> Post:
    post = get_object_or_404(Post.objects.select_related("thread", "thread__board"), pk=pk)
    if not post.can_change(request.user):
        raise PermissionDenied("Only the author or a moderator can change this post.")
    return post


@login_required
def post_edit(request: HttpRequest, pk: int) -> HttpResponse:
    post = _own_post(request, pk)
    form = PostForm(request.POST or None, initial={"body": post.body})
    if request.method == "POST" and form.is_valid():
        services.post_update(post=post, body=form.cleaned_data["body"])
        messages.success(request, "Post updated.")
        return redirect("forum:post", post.pk)
    return render(request, "forum/post_edit.html", {"post": post, "form": form})


@login_required
def post_delete(request: HttpRequest, pk: int) -> HttpResponse:
    post = _own_post(request, pk)
    if request.method == "POST":
        board = post.thread.board
        if services.post_delete(post=post):
            messages.success(request, "Thread deleted.")
            return redirect(board)
        messages.success(request, "Post deleted.")
        return redirect(post.thread)
    return render(request, "forum/post_delete.html", {"post": post})


REACTION_TARGETS = {"thread": Thread, "post": Post}


@login_required
@require_POST
def react(request: HttpRequest, target_type: str, pk: int) -> HttpResponse:
    model = REACTION_TARGETS.get(target_type)
    kind = request.POST.get("kind", "")
    if model is None or kind not in Reaction.KINDS:
        raise Http404("No such reaction.")
    target = get_object_or_404(model, pk=pk)
    services.reaction_toggle(user=request.user, target=target, kind=kind)
    if isinstance(target, Post):
        return redirect("forum:post", target.pk)
    return redirect(target)


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
        except IntegrityError:
            # Two sign-ups for one name at the same moment: both passed validation,
            # the database's unique constraint let only one in.
            form.add_error("username", User._meta.get_field("username").error_messages["unique"])
            return render(request, "registration/signup.html", {"form": form})
        login(request, user)
        messages.success(request, f"Welcome, {user.username}!")
        return redirect("forum:index")
    return render(request, "registration/signup.html", {"form": form})


def user_page(request: HttpRequest, username: str) -> HttpResponse:
    page = selectors.user_posts(username=username, page=request.GET.get("page"))
    return render(request, "forum/user.html", {"member": page.member, "posts": page.posts})


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    page = selectors.member_notifications(member=request.user, page=request.GET.get("page"))
    return render(request, "forum/notifications.html", {"notifications": page})


def activity(request: HttpRequest) -> HttpResponse:
    events = selectors.recent_activity(page=request.GET.get("page"))
    return render(request, "forum/activity.html", {"events": events})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 404 page. It names replication lag when the request read from a replica.

    Under a replica read path the likeliest reason for a 404 right after a write is
    that the replica has not replayed it yet: say so, so the bug is recognisable.
    """
    state = current_state()
    read_from_replica = state is not None and any(
        alias in conf.all_replicas() for alias in state.queries
    )
    return render(request, "404.html", {"read_from_replica": read_from_replica}, status=404)
