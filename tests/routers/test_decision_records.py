"""Every request's routing decisions, on the real stack: the log record that names
them, the counters /metrics serves, and the debug toolbar's panel."""

import json
import logging
import re

import pytest
from prometheus_client import REGISTRY

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

    # The decision, with what causal measured, and the one statement with its rule.
    assert re.search(r"<td>default</td><td>127\.0\.0\.1:\d+</td><td>not_replayed</td>", panel)
    assert re.search(r"<td>\d+ bytes</td>", panel), panel
    statements = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>[\d.]+</td><td><code>", panel)
    assert statements == [("default", "not_replayed")], panel
