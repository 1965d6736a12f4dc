"""Lesson 13: a long replica read cancelled by the primary's cleanup (40001), and the fixes.

Each test makes the conflict happen for real, with the lab's own pieces: a table of its
own, a short max_standby_streaming_delay on the replicas (reset afterwards, also when the
test fails), a long read, and the primary's update and vacuum once that read runs.
"""

import html
import logging
import re
from collections.abc import Iterator

import pytest
from django.db import connections

from analytics.models import Event
from lab.cluster import ControlError
from lab.harness import cleaned_up_under_read, lab_table, servers_answer, standby_setting
from lab.lessons.hot_standby_conflicts import (
    FEEDBACK,
    GRACE,
    NOT_RUN,
    READ_ALONE,
    ROWS,
    SERVED_AGAIN,
    WROTE_FIRST,
    Setup,
    long_read,
    recovery_conflict,
    with_feedback,
)
from lab.trace import traced
from routers import conf, health, usable_replicas
from tests.helpers import fetch

pytestmark = [pytest.mark.stack, pytest.mark.usefixtures("live_db")]

LESSON_URLS = "lab.lessons.hot_standby_conflicts"
SETTINGS_SQL = (
    "SELECT string_agg(name || '=' || source, ',' ORDER BY name) FROM pg_settings"
    " WHERE name IN ('hot_standby_feedback', 'max_standby_streaming_delay')"
)
AS_SHIPPED = "hot_standby_feedback=default,max_standby_streaming_delay=default"


def standby_settings() -> set[str]:
    """Where each replica's two settings come from: 'default' unless a test left them set."""
    return set(servers_answer(conf.replicas(), SETTINGS_SQL))


@pytest.fixture
def setup(stack) -> Iterator[Setup]:
    """The naive setup, as a lesson run makes it: both replicas in rotation with a 2 s grace
    (their 1 s apply delay plus 1 s), a table of the test's own, a read of 3.5 s."""
    stack.wait_for_replay()
    replicas = usable_replicas()
    assert replicas == conf.replicas()
    assert {health(alias).apply_delay for alias in replicas} == {1.0}
    with lab_table(replicas, ROWS) as table, standby_setting(replicas, GRACE, "2s"):
        yield Setup(table, replicas, grace=2, read_ms=3500)
    assert standby_settings() == {AS_SHIPPED}


@pytest.mark.urls(LESSON_URLS)
def test_it_cancels_a_long_read_and_serves_a_get_again_but_never_one_that_wrote(
    setup, client, caplog
):
    read = long_read(setup)

    # Naive: the read is cancelled, with PostgreSQL's own words.
    assert read.failure is not None
    conflict = recovery_conflict(read.failure)
    assert conflict is not None
    assert conflict.sqlstate == "40001"
    assert conflict.diag.message_primary == "canceling statement due to conflict with recovery"
    assert conflict.diag.message_detail == (
        "User query might have needed to see row versions that must be removed."
    )
    assert re.match(rf"tuples: {ROWS} removed, ", read.cleanup.tuples)

    # The same read in a GET, through the project's middleware: served again elsewhere.
    caplog.set_level(logging.WARNING, logger="routers.middleware")
    with cleaned_up_under_read(setup.table, setup.replicas), traced() as statements:
        response = client.get(f"/report/{setup.table}/{setup.read_ms}")
    cancelled = [s.alias for s in statements if s.verb == "SELECT" and s.failed]
    assert len(cancelled) == 1
    assert cancelled[0] in setup.replicas
    assert response.status_code == 200
    served_by = response.content.decode().removeprefix(f"{ROWS} rows, read on ")
    assert served_by in {"default", *setup.replicas} - {cancelled[0]}
    assert (
        f"serving /report/{setup.table}/{setup.read_ms} again after a database error: "
        "canceling statement due to conflict with recovery"
    ) in caplog.text
    caplog.clear()

    # A GET that wrote first (an activity event): cancelled the same way, not run again.
    client.raise_request_exception = False
    with cleaned_up_under_read(setup.table, setup.replicas), traced() as statements:
        response = client.get(f"/logged-report/{setup.table}/{setup.read_ms}")
    assert response.status_code == 500
    reads = [s for s in statements if s.verb == "SELECT"]
    assert len(reads) == 1
    assert reads[0].failed
    assert reads[0].alias in setup.replicas
    assert "serving /logged-report/" not in caplog.text
    assert Event.objects.using("analytics").filter(title=setup.table).count() == 1


def test_it_lets_the_read_finish_with_hot_standby_feedback_and_keeps_the_dead_rows(setup):
    outcome = with_feedback(setup)

    assert outcome.correct, outcome.summary
    assert f"{ROWS} are dead but not yet removable" in outcome.summary
    # Put back: the replica sends no feedback, the primary holds nothing back for it.
    assert all(found.startswith("hot_standby_feedback=default,") for found in standby_settings())
    assert fetch("default", "SELECT count(backend_xmin) FROM pg_stat_replication") == 0


class Failed(Exception):
    pass


def shown(sql: str) -> list[str]:
    """`sql` on every server behind "replica", each in a new session (one already open
    applies a reload only after its next statement)."""
    return servers_answer(["replica"], sql)


def test_it_resets_a_standby_setting_when_the_block_fails():
    seen = []

    def fail_with_a_longer_grace() -> None:
        with standby_setting(["replica"], GRACE, "5s"):
            seen.extend(shown(f"SHOW {GRACE}"))
            raise Failed

    with pytest.raises(Failed):
        fail_with_a_longer_grace()

    assert seen == ["5s"]
    assert standby_settings() == {AS_SHIPPED}
    assert shown(f"SHOW {GRACE}") == ["30s"]


def outcomes(response) -> dict[str, tuple[str, str]]:
    """Each row of the lesson's run: (correct "yes"/"no", what happened)."""
    rows = re.findall(
        r'<tr data-strategy="([^"]+)" data-correct="(yes|no)">.*?<td>([^<]*)</td>\s*</tr>',
        response.content.decode(),
        re.DOTALL,
    )
    return {html.unescape(row): (correct, html.unescape(text)) for row, correct, text in rows}


def test_its_lab_page_makes_the_conflict_happen_and_puts_everything_back(client, settings, stack):
    settings.LAB_CLUSTER_CONTROLS = True
    stack.wait_for_replay()
    # The GET that wrote answers 500 inside the run, which the client would raise.
    client.raise_request_exception = False

    response = client.post("/lab/hot-standby-conflicts/")

    assert response.status_code == 200

    found = outcomes(response)
    assert {row: correct for row, (correct, _) in found.items()} == {
        READ_ALONE: "no",
        SERVED_AGAIN: "yes",
        WROTE_FIRST: "no",
        FEEDBACK: "yes",
    }, found
    assert "SQLSTATE 40001" in found[READ_ALONE][1]
    assert "served the GET again" in found[SERVED_AGAIN][1]
    assert "not served again" in found[WROTE_FIRST][1]
    assert "dead but not yet removable" in found[FEEDBACK][1]
    assert standby_settings() == {AS_SHIPPED}
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'lab_conflict_%%'")
        assert cursor.fetchone()[0] == 0
    assert not Event.objects.using("analytics").filter(title__startswith="lab_conflict_").exists()


def test_its_lab_page_changes_no_replica_without_the_cluster_controls(client, settings):
    settings.LAB_CLUSTER_CONTROLS = False

    found = outcomes(client.post("/lab/hot-standby-conflicts/"))

    assert list(found) == [NOT_RUN]
    assert "LAB_CLUSTER_CONTROLS" in found[NOT_RUN][1]
    assert standby_settings() == {AS_SHIPPED}


def test_it_refuses_a_replica_whose_settings_it_would_reset(client, settings, stack):
    settings.LAB_CLUSTER_CONTROLS = True
    with standby_setting(["replica_2"], "hot_standby_feedback", "on"):
        found = outcomes(client.post("/lab/hot-standby-conflicts/"))

    assert list(found) == [NOT_RUN]
    assert "hot_standby_feedback = on (configuration file)" in found[NOT_RUN][1]
    assert standby_settings() == {AS_SHIPPED}


def test_it_says_so_when_the_cluster_refuses(monkeypatch, client, settings):
    settings.LAB_CLUSTER_CONTROLS = True

    def refused(*args):
        raise ControlError("Could not change replica: refused")

    monkeypatch.setattr("lab.harness.set_standby_setting", refused)
    found = outcomes(client.post("/lab/hot-standby-conflicts/"))

    assert found == {NOT_RUN: ("no", "Could not change replica: refused")}
