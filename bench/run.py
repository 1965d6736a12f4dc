"""make bench: what routing costs and what it saves, measured on a real stack.

Runs against the stack in bench/stack.env (its own ports). Prints a report and writes
it to bench/results/latest.json. Numbers depend on the machine: compare runs on the
same one.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from forum.models import Thread  # noqa: E402
from routers import RequestState, conf, forget, primary_lsn, probe, request_scope, strategy_router  # noqa: E402
from routers.statements import is_write  # noqa: E402

BROWSE_LAG = "2s"  # the demo's apply delay
BROWSE_ROUNDS = 6
BROWSE_PAUSE = 0.5  # seconds between page views: a quick reader
BROWSE_PAGES_PER_REPLY = 8


def stack(*args: str) -> None:
    subprocess.run([str(REPO / "postgres/stack.sh"), *args], check=True, capture_output=True)


def median_ms(action: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 3)


def routing_decisions() -> dict[str, dict[str, float]]:
    """Microseconds the router spends deciding, per strategy, with warm health caches."""
    results = {}
    for name in conf.STRATEGIES:
        router = strategy_router(name)
        forget()
        with request_scope(RequestState(strategy=name)):
            router.db_for_read(Group)  # warm: connections and health probes

        def one_request(router=router, name=name) -> None:
            with request_scope(RequestState(strategy=name)):
                for _ in range(20):
                    router.db_for_read(Group)

        per_request = median_ms(one_request, runs=300)
        results[name] = {"us_per_request_of_20_reads": round(per_request * 1000, 1)}
    return results


def commit_latency() -> dict[str, float]:
    """Median milliseconds per single-row commit, by durability mode.

    remote_apply waits until a standby has applied the commit: no stale read after
    a redirect for anyone, paid on every write, and it includes any apply delay.
    """
    stack("psql", "primary", "-q", "-c", "ALTER SYSTEM SET synchronous_standby_names = '*'")
    stack("psql", "primary", "-q", "-c", "SELECT pg_reload_conf()")
    results = {}
    try:
        params = connections["default"].get_connection_params()
        with psycopg.connect(**params, autocommit=True) as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS bench_commit (at timestamptz)")
            for mode, delay in [
                ("local", "0"),
                ("on", "0"),
                ("remote_apply", "0"),
                ("remote_apply", "200ms"),
            ]:
                stack("lag", delay)
                connection.execute(f"SET synchronous_commit = {mode}")
                results[f"{mode} (apply delay {delay})"] = median_ms(
                    lambda: connection.execute("INSERT INTO bench_commit (at) VALUES (now())"),
                    runs=30 if delay == "0" else 5,
                )
            connection.execute("DROP TABLE bench_commit")
    finally:
        stack("psql", "primary", "-q", "-c", "ALTER SYSTEM RESET synchronous_standby_names")
        stack("psql", "primary", "-q", "-c", "SELECT pg_reload_conf()")
        stack("lag", "0")
    return results


def wait_for_replay() -> None:
    target = primary_lsn()
    deadline = time.monotonic() + 30
    while any((probe(alias).lsn or 0) < target for alias in conf.replicas()):
        if time.monotonic() > deadline:
            raise TimeoutError("the replicas did not catch up within 30 s")
        time.sleep(0.05)


def get_page(client: Client, url: str, totals: dict[str, int]) -> int:
    """GET `url`, following redirects; add its statements per alias to `totals`."""
    while True:
        response = client.get(url)
        queries = response.context["routing"].state.queries if response.context else {}
        for alias, count in queries.items():
            group = "primary" if alias == "default" else "replicas"
            totals[group] = totals.get(group, 0) + count
        if queries:
            totals["pages"] = totals.get("pages", 0) + 1
            on_replica = any(alias != "default" for alias in queries)
            totals["replica_pages"] = totals.get("replica_pages", 0) + on_replica
        if response.status_code not in (301, 302):
            return response.status_code
        url = response["Location"]


def post_and_browse() -> dict[str, dict[str, float]]:
    """Reply, then read eight pages at a quick reader's pace; six rounds per strategy.

    Counts the statements of the GET requests only (the reads): where they ran, how
    many pages read a replica at all (thread pages always read reactions from the
    primary: generic relations), and how many redirects after a reply met a 404.
    """
    setup_test_environment()
    call_command("seed_forum", verbosity=0)
    stack("lag", BROWSE_LAG)
    threads = list(Thread.objects.select_related("board")[:2])
    results = {}
    try:
        for strategy in ("primary", "naive", "sticky", "causal"):
            client = Client()
            client.cookies["lab_strategy"] = strategy
            client.force_login(threads[0].author)
            wait_for_replay()  # naive reads the new session from the replica
            totals: dict[str, int] = {}
            lost = 0
            for round_number in range(BROWSE_ROUNDS):
                response = client.post(
                    f"/t/{threads[0].pk}/reply", {"body": f"bench {strategy} {round_number}"}
                )
                lost += get_page(client, response["Location"], totals) == 404
                pages = [
                    "/",
                    threads[0].board.get_absolute_url(),
                    threads[1].get_absolute_url(),
                    threads[0].get_absolute_url(),
                ]
                for url in (pages * BROWSE_PAGES_PER_REPLY)[:BROWSE_PAGES_PER_REPLY]:
                    time.sleep(BROWSE_PAUSE)
                    get_page(client, url, totals)
            statements = totals.get("primary", 0) + totals.get("replicas", 0)
            results[strategy] = {
                "replica_share_of_read_statements": round(
                    totals.get("replicas", 0) / statements, 3
                ),
                "pages_read_from_a_replica": round(
                    totals.get("replica_pages", 0) / totals["pages"], 3
                ),
                "redirects_that_404": f"{lost}/{BROWSE_ROUNDS}",
            }
    finally:
        stack("lag", "0")
    return results


def write_detection() -> dict[str, float]:
    """Microseconds the write detector spends on one statement run on the primary.

    Over the statements the forum's pages hand to psycopg (the ORM's SELECTs: quoted
    names and placeholders), and over a raw statement with literals and comments.
    """
    statements: list[str] = []

    def collect(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return execute(sql, params, many, context)

    client = Client()
    client.cookies["lab_strategy"] = "primary"
    thread = Thread.objects.select_related("board").first()
    assert thread is not None
    with connections["default"].execute_wrapper(collect):
        for url in ("/", thread.board.get_absolute_url(), thread.get_absolute_url()):
            get_page(client, url, {})
    raw = "/* nightly */ SELECT count(*) FROM forum_post WHERE body LIKE 'it''s %' -- report"

    def per_statement(classify: Callable[[str], bool], batch: list[str]) -> float:
        milliseconds = median_ms(lambda: [classify(sql) for sql in batch], runs=200)
        return round(milliseconds * 1000 / len(batch), 1)

    # is_write keeps the verdicts of recent texts; __wrapped__ is the classifier itself.
    return {
        f"orm_statement_us ({len(statements)} statements, first sight)": per_statement(
            is_write.__wrapped__, statements
        ),
        "orm_statement_us (seen before)": per_statement(is_write, statements),
        "raw_statement_with_literals_us (first sight)": per_statement(is_write.__wrapped__, [raw]),
    }


def main() -> None:
    report = {
        "routing_decisions": routing_decisions(),
        "commit_latency_ms": commit_latency(),
        f"post_and_browse (apply delay {BROWSE_LAG})": post_and_browse(),
        "write_detection": write_detection(),
    }
    print(json.dumps(report, indent=2))
    out = REPO / "bench/results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
