"""Every request's routing decisions, on the real stack: the log record that names
them, the counters /metrics serves, and the debug toolbar's panel."""

import html
import json
import logging
import re

import pytest
from django.db import connections, transaction
from prometheus_client import REGISTRY
from psycopg import sql

from forum.models import Tag
from routers import RequestState, request_scope
from routers.decisions import statements_recorded
from tests.helpers import HttpBrowser, gunicorn, served_with, wait_for_replay

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]


@pytest.fixture
def records(caplog):
    """The routing records of the requests made in the test, as data."""
    caplog.set_level(logging.INFO, logger="routers.decisions")
    return lambda: [r.routing for r in caplog.records if r.name == "routers.decisions"]


def decisions(record, primary="default"):
    return [(d["alias"], d["reason"]) for d in record["primaries"][primary]["decisions"]]


def test_a_read_right_after_a_write_names_why_the_primary_served_it(
    client, causal, lagging_replicas, records, tag_name
):
    assert client.get(f"/create/{tag_name}").status_code == 200
    assert client.get(f"/tag/{tag_name}").status_code == 200

    written, read = records()
    assert decisions(written) == [("default", "write")]
    (decision,) = read["primaries"]["default"]["decisions"]
    # The replicas hold the write back 3 s: causal does not wait that long for them.
    assert decision["reason"] == "not_replayed"
    assert decision["behind_bytes"] > 0
    assert re.fullmatch(r"127\.0\.0\.1:\d+", decision["server"])
    assert read["strategy"] == "causal"
    assert read["status"] == 200
    assert read["primaries"]["default"]["statements"] == {"default": 1}

    wait_for_replay()
    assert client.get(f"/tag/{tag_name}").status_code == 200
    replayed = records()[-1]
    ((alias, reason),) = decisions(replayed)
    assert alias != "default"
    assert reason == "replayed"
    assert replayed["primaries"]["default"]["statements"] == {alias: 1}


def test_a_page_that_writes_names_each_step(client, causal, lagging_replicas, records, tag_name):
    assert client.get(f"/read-write-read/{tag_name}").content == b"False:True"

    (record,) = records()
    (first, _), *after = decisions(record)
    assert first != "default"  # nothing written yet: a replica
    assert after == [("default", "write"), ("default", "wrote")]
    assert record["primaries"]["default"]["statements"] == {first: 1, "default": 2}


def test_a_writing_method_reads_the_primary_and_says_so(client, causal, records, tag_name):
    assert client.post(f"/tag/{tag_name}").status_code == 404

    assert decisions(records()[-1]) == [("default", "writing_method")]


def test_the_log_line_reads_as_the_record_says(client, causal, lagging_replicas, caplog, tag_name):
    caplog.set_level(logging.INFO, logger="routers.decisions")
    client.get(f"/create/{tag_name}")
    client.get(f"/tag/{tag_name}")

    line = caplog.records[-1].getMessage()
    assert re.fullmatch(
        rf"GET /tag/{tag_name} 200 causal: default -> default \(not_replayed, waited [\d.]+ ms,"
        r" \d+ bytes behind\); statements default=1",
        line,
    ), line


def test_the_record_names_the_strategy_the_request_chose(
    client, causal, settings, records, tag_name
):
    settings.ROUTERS_STRATEGY = "primary"
    client.cookies["lab_strategy"] = "sticky"  # the navbar's switch (lab/middleware.py)

    client.get(f"/tag/{tag_name}")

    assert records()[-1]["strategy"] == "sticky"


def test_statements_on_an_alias_no_router_chose_are_counted(client, causal, records):
    client.get("/raw-replica-read")

    assert records()[-1]["primaries"] == {
        "default": {"decisions": [], "statements": {"replica": 1}}
    }


def test_a_loop_of_writes_and_reads_notes_each_decision_once(client, causal, records, tag_name):
    client.get(f"/write-read-loop/{tag_name}")

    assert decisions(records()[-1]) == [("default", "write"), ("default", "wrote")]


def test_assigning_a_related_object_is_not_a_write(client, causal, records):
    client.get("/assign-unsaved-relation")

    ((alias, reason),) = decisions(records()[-1])
    assert (alias, reason) != ("default", "write")
    assert alias != "default"


def test_a_streamed_body_is_in_its_record(client, causal, records, tag_name):
    response = client.get(f"/stream-writes/{tag_name}")
    b"".join(response.streaming_content)
    response.close()

    assert ("default", "write") in decisions(records()[-1])


def test_each_statement_gets_the_rule_that_routed_it_or_none(causal, tag_name):
    with request_scope(RequestState(strategy="causal")), statements_recorded() as recorded:
        Tag.objects.create(name=tag_name)
        with transaction.atomic(), transaction.atomic():  # the inner one: a savepoint
            Tag.objects.filter(name=tag_name).exists()
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("forum_tag")))
        Tag.objects.using("default").filter(name=tag_name).exists()

    rules = [(each.sql.split()[0], each.reason) for each in recorded]
    assert rules == [
        ("INSERT", "write"),
        ("SAVEPOINT", "unrouted"),
        ("SELECT", "atomic"),
        ("RELEASE", "unrouted"),
        ("SELECT", "unrouted"),
        ("SELECT", "unrouted"),
        ("SELECT", "unrouted"),
    ]
    # A composed statement is kept as the text that ran.
    assert recorded[5].sql == 'SELECT count(*) FROM "forum_tag"'


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_the_decisions_and_measure_the_replicas(
    client, causal, lagging_replicas, tag_name
):
    labels = {"primary": "default", "alias": "default", "reason": "not_replayed"}
    before = sample("routers_decisions_total", **labels)
    statements_before = sample("routers_statements_total", alias="default")

    client.get(f"/create/{tag_name}")
    client.get(f"/tag/{tag_name}")

    assert sample("routers_decisions_total", **labels) == before + 1
    assert sample("routers_statements_total", alias="default") >= statements_before + 2
    body = client.get("/metrics").content.decode()
    assert re.search(
        r'^routers_decisions_total\{alias="default",primary="default",'
        r'reason="not_replayed"\} [1-9]',
        body,
        re.M,
    )
    # Measured when scraped: the write is still held back on both replicas.
    for replica in ("replica", "replica_2"):
        assert re.search(rf'^routers_replica_lag_bytes\{{alias="{replica}"\}} [1-9]', body, re.M)
        assert re.search(
            rf'^routers_node_up\{{alias="{replica}",role="replica"\}} 1.0$', body, re.M
        )
    assert re.search(
        r"^routers_probe_seconds_count\{alias=\"default\",outcome=\"up\"\} [1-9]", body, re.M
    )
    assert 'routers_causal_wait_seconds_count{outcome="not_replayed",primary="default"}' in body


def test_the_toolbar_panel_names_the_rule_of_every_statement(tmp_path, stack, tag_name):
    browser = HttpBrowser()
    settings = served_with(ROOT_URLCONF="tests.routers.toolbar_urls")
    with (
        stack.lagging("3s"),
        gunicorn(tmp_path, DJANGO_DEBUG="true", FORUM_ROUTING="causal", **settings) as url,
    ):
        browser.get(f"{url}/create/{tag_name}")
        status, _, page = browser.get(f"{url}/page/{tag_name}")
        assert status == 200
        assert "<p>True</p>" in page
        request_id = re.search(r'data-request-id="([0-9a-f]+)"', page)[1]
        rendered = f"{url}/__debug__/render_panel/?request_id={request_id}&panel_id=RoutingPanel"
        panel = json.loads(browser.get(rendered)[2])["content"]

    decisions_table, statements_table = table_rows(panel)
    # The decision, with what causal measured, and the one statement with its rule.
    ((alias, server, rule, why, waited, short_by),) = decisions_table
    assert (alias, rule) == ("default", "not_replayed")
    assert re.fullmatch(r"127\.0\.0\.1:\d+", server)
    assert why == "no replica had replayed the client's last write in time"
    assert re.fullmatch(r"[\d.]+ ms", waited)
    assert re.fullmatch(r"[1-9]\d* bytes of WAL", short_by)
    ((alias, rule, _, sql),) = statements_table
    assert (alias, rule) == ("default", "not_replayed")
    assert sql.startswith("SELECT")


def table_rows(page):
    """Each table's body rows, as lists of cell texts."""
    tables = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", page, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
        tables.append(
            [
                [
                    html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                    for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
                ]
                for row in rows
            ]
        )
    return tables


def test_a_replica_down_is_out_of_rotation_in_the_metrics(client, stack):
    stack.stop("replica_2")
    try:
        body = client.get("/metrics").content.decode()
    finally:
        stack.start("replica_2")

    assert 'routers_node_up{alias="replica_2",role="replica"} 0.0' in body
    assert 'routers_replica_in_rotation{alias="replica_2"} 0.0' in body
    assert 'routers_replica_lag_bytes{alias="replica_2"}' not in body  # unknown
    assert 'routers_replica_in_rotation{alias="replica"} 1.0' in body
