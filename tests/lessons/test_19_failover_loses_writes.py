"""Lesson 19: a failover on a primary and standby of the run's own, built by the project's
scripts. Asynchronous commits after the standby was cut off are lost; a bare LSN hides
that, a position with its timeline reports it once; a synchronous standby loses nothing
acknowledged, and a commit whose standby is gone never returns.

The lab's run is used as the lab's page runs it: `manage.py lab_failover` in a process
of its own, its servers removed by the caller.
"""

import html
import re
from pathlib import Path

import pytest

from lab.failover_pair import new_root, remove_servers
from lab.harness import manage_py_json
from lab.lessons import failover_loses_writes
from lab.lessons.failover_loses_writes import (
    BARE,
    CANCELLED,
    KEPT,
    RUN_TIMEOUT,
    SYNCHRONOUS,
    TIMED_COMMITS,
    WITH_TIMELINE,
    outcomes,
)
from lab.verdicts import FRESH, LOSS_HIDDEN, LOSS_REPORTED, NONE_LOST

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def seen():
    root = new_root()
    try:
        yield manage_py_json("lab_failover", str(root), timeout=RUN_TIMEOUT)
    finally:
        remove_servers(root)
    assert not root.exists()


def test_under_a_bare_lsn_the_lost_write_is_told_to_nobody_and_its_row_is_gone(seen):
    present, read = seen["present"], seen["reads"]["bare"]

    assert [present[f"a{i}"] for i in range(1, 7)] == [True] * 4 + [False] * 2
    assert (read["found"], read["lost"]) == (False, [])
    assert read["alias"] == "replica"  # C, on the new timeline: it looked replayed
    assert outcomes(seen)[0].verdict == LOSS_HIDDEN


def test_with_its_timeline_the_lost_write_is_reported_exactly_once(seen):
    first, again = seen["reads"]["lost"], seen["reads"]["lost_again"]

    assert [(lost["lsn"], lost["timeline"]) for lost in first["lost"]] == [(seen["lost_lsn"], 1)]
    assert again["lost"] == []
    assert seen["lost_cookie_deleted"]
    assert first["found"] is again["found"] is False


def test_a_position_at_or_before_the_switch_point_is_kept_and_routed_as_usual(seen):
    kept = seen["reads"]["kept"]

    assert seen["kept_lsn"] == seen["switch_point"]  # the last write B received
    assert (kept["found"], kept["alias"], kept["lost"]) == (True, "replica", [])


def test_a_synchronous_standby_loses_no_acknowledged_write(seen):
    present, waiting = seen["present"], seen["left_waiting"]

    assert [present[f"s{i}"] for i in range(1, 5)] == [True] * 4
    assert (waiting["returned_in_time"], waiting["acknowledged"]) == (False, False)
    assert "server closed the connection" in waiting["error"]
    assert not present["s-waiting"]
    assert seen["commit_ms"]["sync"] > 0
    assert seen["commit_ms"]["async"] > 0


def test_a_cancelled_wait_acknowledges_a_write_the_failover_loses(seen):
    cancelled = seen["cancelled"]

    assert (cancelled["returned_in_time"], cancelled["acknowledged"]) == (False, True)
    assert cancelled["warnings"] == [
        "canceling wait for synchronous replication due to user request"
    ]
    assert not seen["present"]["s-cancelled"]


def test_the_rows_say_which_setup_kept_what(seen):
    verdicts = {outcome.strategy: outcome.verdict for outcome in outcomes(seen)}

    assert verdicts == {
        BARE: LOSS_HIDDEN,
        WITH_TIMELINE: LOSS_REPORTED,
        KEPT: FRESH,
        SYNCHRONOUS: NONE_LOST,
        CANCELLED: LOSS_HIDDEN,
    }


def rows(page: str) -> dict[str, tuple[str, str]]:
    found = re.findall(
        r'<tr data-strategy="([^"]+)" data-correct="(yes|no)">\s*<td>[^<]*</td>\s*'
        r"<td[^>]*>.*?</td>\s*<td>([^<]*)</td>",
        page,
        re.S,
    )
    return {html.unescape(row): (correct, html.unescape(said)) for row, correct, said in found}


@pytest.mark.usefixtures("live_db")
def test_the_lab_runs_it_and_leaves_no_server_behind(client, monkeypatch):
    # The run's own directories, not a glob of /tmp: another pytest worker's run may be
    # building its servers there at the same time.
    roots: list[Path] = []
    monkeypatch.setattr(
        failover_loses_writes, "new_root", lambda: roots.append(new_root()) or roots[-1]
    )

    response = client.post("/lab/failover-loses-writes/")

    assert response.status_code == 200
    found = rows(response.content.decode())
    assert {row: correct for row, (correct, _) in found.items()} == {
        BARE: "no",
        WITH_TIMELINE: "yes",
        KEPT: "yes",
        SYNCHRONOUS: "yes",
        CANCELLED: "no",
    }
    assert "the member was told nothing" in found[BARE][1]
    assert f"ms (median of {TIMED_COMMITS}) against" in found[SYNCHRONOUS][1]
    assert len(roots) == 1
    assert not roots[0].exists()


@pytest.mark.usefixtures("live_db")
def test_the_lab_says_so_where_it_cannot_start_postgresql(client, monkeypatch):
    monkeypatch.setenv("PG_BIN", "/nonexistent")  # as in compose's web container: no initdb

    found = rows(client.post("/lab/failover-loses-writes/").content.decode())

    assert len(found) == 5
    assert all(
        said.startswith("not run: no PostgreSQL server programs") for _, said in found.values()
    )
