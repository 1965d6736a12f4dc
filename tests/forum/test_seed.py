import pytest
from django.core.management import call_command

from forum.models import Board, Post, Thread

pytestmark = pytest.mark.django_db


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
    assert "ada / ada-demo-password" in out
