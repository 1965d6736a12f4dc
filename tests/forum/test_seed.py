from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import connections
from django.db.models import Max
from django.test.utils import CaptureQueriesContext

from forum.models import Board, Post, Reaction, Thread


@pytest.mark.django_db(databases="__all__")
def test_it_seeds_demo_data_once(capsys):
    call_command("seed_forum")
    first = (Board.objects.count(), Thread.objects.count(), Post.objects.count())

    call_command("seed_forum")
    second = (Board.objects.count(), Thread.objects.count(), Post.objects.count())

    out = capsys.readouterr().out
    assert first == second
    boards, threads, posts = first
    assert boards >= 3
    assert threads >= 36
    assert posts >= 300
    assert "already present: nothing changed" in out


@pytest.mark.django_db(databases="__all__")
def test_it_prints_demo_passwords_that_work(capsys):
    call_command("seed_forum")

    out = capsys.readouterr().out
    assert "ada / ada-demo-password" in out
    assert authenticate(username="ada", password="ada-demo-password").is_staff
    assert not authenticate(username="ken", password="ken-demo-password").is_staff


@pytest.mark.django_db(databases="__all__")
def test_it_seeds_a_forum_that_looks_lived_in():
    call_command("seed_forum", stdout=StringIO())

    openers = [thread.posts.order_by("created_at", "id").first() for thread in Thread.objects.all()]
    assert all(post.author_id == post.thread.author_id for post in openers)
    assert Thread.objects.filter(tags__isnull=False).exists()
    assert Reaction.objects.exists()
    # Posts are spread over the past; a thread's latest activity is its last post.
    assert Post.objects.dates("created_at", "day").count() > 7
    threads = Thread.objects.annotate(last_post=Max("posts__created_at"))
    assert all(thread.last_posted_at == thread.last_post for thread in threads)


# Real commits and replicas that replay them 1 s late.
@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_it_reads_its_own_writes_even_when_reads_go_to_replicas(settings):
    settings.ROUTERS_STRATEGY = "causal"
    out = StringIO()

    # The second run comes before the replicas have the first one's boards.
    call_command("seed_forum", stdout=out)
    call_command("seed_forum", stdout=out)

    assert "already present: nothing changed" in out.getvalue()
    assert Board.objects.using("default").count() == 4


@pytest.mark.django_db(databases="__all__")
def test_it_reads_from_the_primary_whatever_the_visitors_strategy(settings):
    # On a fresh stack the replicas may not have replayed the migrations yet.
    settings.ROUTERS_STRATEGY = "naive"

    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["replica_2"]) as on_replica_2,
    ):
        call_command("seed_forum", stdout=StringIO())

    assert on_replica.captured_queries == on_replica_2.captured_queries == []
