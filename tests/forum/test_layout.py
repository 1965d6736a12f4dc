"""The base template: the navbar's strategy switch and the routing footer."""

import re

import pytest
from django.contrib.contenttypes.models import ContentType

from forum import context_processors
from forum.models import Post, Thread
from routers.conf import STRATEGIES

pytestmark = pytest.mark.django_db(databases="__all__")


def test_it_offers_every_strategy_with_the_current_one_selected(client):
    html = client.get("/b/nowhere/?x=1").content.decode()

    switch = re.search(r'<form class="strategy-switch".*?</form>', html, flags=re.DOTALL).group(0)
    assert 'action="/lab/strategy"' in switch
    assert re.findall(r'<option value="(\w+)"', switch) == list(STRATEGIES)
    assert re.findall(r'<option value="(\w+)" selected', switch) == ["primary"]
    assert '<input type="hidden" name="next" value="/b/nowhere/?x=1">' in switch


def test_it_ends_every_page_with_the_routing_footer(client, thread):
    html = client.get(thread.get_absolute_url()).content.decode()

    footer = html[html.index('<footer id="routing-footer"') :]
    assert html.index("</main>") < html.index('<footer id="routing-footer"')
    assert footer.rstrip().endswith("</footer>\n</body>\n</html>")
    assert 'data-strategy="primary"' in footer


def test_it_counts_the_queries_that_really_ran(
    client, thread, stranger, django_assert_num_queries, lag_measured
):
    client.force_login(stranger)
    # Warm, as for every page but a process's first (the reactions' generic relation
    # looks its content types up once).
    ContentType.objects.get_for_models(Thread, Post)

    with django_assert_num_queries(8) as captured:
        html = client.get(thread.get_absolute_url()).content.decode()

    assert re.findall(r'data-alias="(\w+)" data-count="(\d+)"', html) == [
        ("default", str(len(captured)))
    ]


def test_it_shows_each_replicas_lag_in_seconds_and_bytes(client, monkeypatch):
    lags = {"replica": 2048, "replica_2": None}
    seconds = {"replica": 2.04, "replica_2": None}
    monkeypatch.setattr(context_processors, "lag_bytes", lags.get)
    monkeypatch.setattr(context_processors, "lag_seconds", seconds.get)

    footer = client.get("/").content.decode().split('id="routing-footer"')[1]

    assert '<strong data-replica="replica" data-lag-seconds="2.04">2.0 s</strong>' in footer
    assert '<span data-lag="replica">2.0\xa0KB</span>' in footer
    assert "replica_2 <em>not measured</em>" in footer
