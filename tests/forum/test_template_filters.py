from datetime import timedelta

from django.utils import timezone

from forum.templatetags.forum_extras import ago


def test_it_says_just_now_for_the_last_minute():
    assert ">just now</time>" in ago(timezone.now() - timedelta(seconds=30))


def test_it_rounds_to_the_largest_unit():
    assert ">3\xa0hours ago</time>" in ago(timezone.now() - timedelta(hours=3, minutes=20))


def test_it_puts_the_exact_moment_in_the_markup():
    moment = timezone.now() - timedelta(days=2)

    html = ago(moment)

    assert f'datetime="{moment.isoformat()}"' in html
    assert 'title="' + moment.strftime("%Y-%m-%d %H:%M") in html


def test_it_renders_nothing_for_no_moment():
    assert ago(None) == ""
