"""make bench's oracle (bench/oracle.py): the reads a replica could have served without
a stale read, counted from the ledger bench/oracle_ledger.py keeps of each request."""

import json
import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from bench.oracle import oracle
from bench.oracle_ledger import ReadsLedger
from forum.models import Tag
from routers.middleware import RoutingMiddleware


def request_line(**fields):
    line = {
        "visitor": "v1",
        "method": "GET",
        "started": 100.0,
        "ended": 100.1,
        "wrote": False,
        "reads": {},
        "replica_reads": 0,
        "reads_before_write": 0,
        "replica_reads_before_write": 0,
        "primary_reads_before_write_by_rule": {},
    }
    return {**line, **fields}


def counted(tmp_path, *lines):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return oracle(ledger, apply_delay=1.0)


def test_replica_reads_after_a_gets_own_write_are_beside_the_oracle_not_within(tmp_path):
    page = request_line(
        wrote=True,
        reads={"default": 2, "replica": 2},
        replica_reads=2,
        reads_before_write=2,
        primary_reads_before_write_by_rule={"not_replayed": 2},
    )

    result = counted(tmp_path, page)

    assert result["oracle_share"] == 0.5
    assert result["reached_of_oracle"] == 0.0
    assert result["replica_reads_beside_the_oracle"] == 0.5


def test_the_reads_it_missed_are_counted_by_each_reads_own_rule(tmp_path):
    page = request_line(
        reads={"default": 3, "replica": 1},
        replica_reads=1,
        reads_before_write=4,
        replica_reads_before_write=1,
        primary_reads_before_write_by_rule={"not_replayed": 2, "pinned": 1},
    )

    result = counted(tmp_path, page)

    assert result["reached_of_oracle"] == 0.25
    assert result["possible_reads_missed_by_reason"] == {"not_replayed": 2, "pinned": 1}


def test_a_client_reads_the_primary_for_the_apply_delay_after_its_write(tmp_path):
    write = request_line(method="POST", wrote=True, ended=100.0, reads={"default": 1})
    too_soon = request_line(started=100.5, reads={"default": 2}, reads_before_write=2)
    later = request_line(started=101.5, reads={"default": 2}, reads_before_write=2)

    result = counted(tmp_path, write, too_soon, later)

    assert result["read_statements"] == 5
    assert result["oracle_share"] == 0.4  # the later page's two


@pytest.mark.stack
@pytest.mark.usefixtures("live_db")
def test_the_ledger_counts_a_gets_reads_before_its_first_write_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_LEDGER", str(tmp_path / "ledger.jsonl"))
    name = f"ledger-{time.time_ns()}"

    def writing_page(request):
        list(Tag.objects.using("replica").filter(name=name))
        list(Tag.objects.filter(name=name))  # FORUM_ROUTING=primary: the strategy's rule
        Tag.objects.create(name=name)
        list(Tag.objects.using("replica").filter(name=name))
        return HttpResponse()

    ReadsLedger(RoutingMiddleware(writing_page))(RequestFactory().get("/"))

    (line,) = [json.loads(text) for text in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert line["wrote"]
    assert (line["replica_reads"], line["replica_reads_before_write"]) == (2, 1)
    assert line["reads_before_write"] == 2
    assert line["primary_reads_before_write_by_rule"] == {"strategy": 1}
