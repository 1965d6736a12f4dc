"""Lesson 14: a script that writes a row reads it back, with no request around it.

The replicas hold every commit back for 3 s, so a read right after the write always
comes before any replica has it.
"""

import json
import uuid
from io import StringIO

import pytest
from django.core.management import call_command

from forum.models import Tag
from lab.lessons import LESSONS_BY_SLUG
from lab.verdicts import FRESH, STALE
from routers import read_alias, request_scope

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def tag_name():
    return f"script-{uuid.uuid4().hex[:10]}"


def test_the_script_misses_its_row_under_naive_and_finds_it_with_read_your_writes(
    lagging_replicas,
):
    outcomes = {o.strategy: o for o in LESSONS_BY_SLUG["reads-outside-a-request"].run()}

    assert outcomes["naive"].verdict == STALE
    assert outcomes["naive"].summary.startswith("4 of 4 reads missed")
    assert outcomes["sticky"].verdict == FRESH
    assert outcomes["causal"].verdict == FRESH
    assert "replica" not in outcomes["causal"].summary  # 3 s lag: none has it yet


def script_reads(strategy, name, settings):
    settings.ROUTERS_STRATEGY = strategy
    out = StringIO()
    call_command("write_then_read", name, stdout=out)
    return json.loads(out.getvalue())["reads"]


@pytest.mark.parametrize("strategy", ["sticky", "causal"])
def test_a_command_reads_its_own_write_and_leaves_none_behind(
    lagging_replicas, settings, tag_name, strategy
):
    reads = script_reads(strategy, tag_name, settings)

    assert [read["found"] for read in reads] == [True] * 4
    # The command wrote, the test did not: its reads go where a stranger's would.
    assert read_alias(Tag).startswith("replica")


def test_request_scope_in_a_script_starts_from_the_scripts_writes(
    lagging_replicas, settings, tag_name
):
    settings.ROUTERS_STRATEGY = "causal"
    Tag.objects.create(name=tag_name)

    with request_scope():
        assert Tag.objects.filter(name=tag_name).exists()
        assert read_alias(Tag) == "default"


def test_a_write_inside_request_scope_is_handed_back_to_the_script(
    lagging_replicas, settings, tag_name
):
    settings.ROUTERS_STRATEGY = "sticky"
    with request_scope():
        Tag.objects.create(name=tag_name)

    assert Tag.objects.filter(name=tag_name).exists()
    assert read_alias(Tag) == "default"
