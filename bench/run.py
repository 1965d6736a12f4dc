"""make bench: what routing costs and what it saves, measured on a real stack.

Runs against the stack in bench/stack.env (its own ports). Prints a report and writes
it to bench/results/latest.json. Numbers depend on the machine: compare runs on the
same one.
"""

import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.test import Client, RequestFactory, override_settings  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from forum.models import Tag, Thread  # noqa: E402
from routers import (  # noqa: E402
    RequestState,
    RoutingMiddleware,
    conf,
    forget,
    forget_member,
    mark_write,
    member_authenticated,
    parse_lsn,
    primary_lsn,
    probe,
    request_scope,
    strategy_router,
    unit_of_work,
)
from routers.decision_log import log_request  # noqa: E402
from routers.decisions import Decision, Reason, decided  # noqa: E402
from routers.metrics import count_request  # noqa: E402
from routers.positions import Position  # noqa: E402
from routers.statements import is_write  # noqa: E402
from routers.tokens import Write, absorb, dumps, loads  # noqa: E402

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


def reads_outside_a_request() -> dict[str, float]:
    """Microseconds per read decision outside any request scope (a script's), under
    causal: with no write remembered, and for the first read after a write (which asks
    the primary for its position)."""
    router = strategy_router("causal")
    forget()
    router.db_for_read(Group)  # warm: connections and health probes

    def first_read_after_a_write() -> None:
        mark_write()  # as the write tracking does after a statement that writes
        router.db_for_read(Group)

    with unit_of_work():
        return {
            # What such a read did before the running code's writes were remembered.
            "read_us (a fresh state, no memory)": round(
                median_ms(
                    lambda: router.choose_read_alias(conf.primary(), RequestState()), runs=2000
                )
                * 1000,
                1,
            ),
            "read_us (no write remembered)": round(
                median_ms(lambda: router.db_for_read(Group), runs=2000) * 1000, 1
            ),
            "first_read_after_a_write_us": round(
                median_ms(first_read_after_a_write, runs=300) * 1000, 1
            ),
        }


def consistency_header() -> dict[str, float]:
    """Microseconds the Routers-Consistency header costs one request: signing the
    client's writes into it on a writing response (one primary written, and every one),
    and, on a request that sends it back, checking its signature and merging its
    writes into the routing state. A request that sends none pays nothing for it."""
    # A position as the middleware records one: an LSN, and the cluster it is in.
    position = Position(0x16_B374D848, 7714484792588521126)
    one = [Write(conf.primary(), time.time(), position)]
    every = [Write(primary, time.time(), position) for primary in conf.primaries()]
    token_one, token_every = dumps(one), dumps(every)
    calls = 100

    def per_call_us(action: Callable[[], object]) -> float:
        milliseconds = median_ms(lambda: [action() for _ in range(calls)], runs=50)
        return round(milliseconds * 1000 / calls, 1)

    return {
        "sign_us (one primary written)": per_call_us(lambda: dumps(one)),
        f"sign_us ({len(every)} primaries)": per_call_us(lambda: dumps(every)),
        "verify_and_absorb_us (one primary)": per_call_us(
            lambda: absorb(RequestState(), loads(token_one))
        ),
        f"verify_and_absorb_us ({len(every)} primaries)": per_call_us(
            lambda: absorb(RequestState(), loads(token_every))
        ),
        f"header_bytes ({len(every)} primaries)": len(token_every),
    }


TASK_RUNS = {"sticky": 5, "delayed": 3}


def task_position() -> dict[str, object]:
    """What carrying a write's position to a background task costs (routers.tasks).

    At the enqueue: milliseconds per `enqueue_with_writes` against a plain `enqueue` of
    the same task, after a write (the difference: one position query per primary
    written, and the token). On the real worker (`manage.py db_worker`, polling every
    0.1 s), with the demo's apply delay: seconds from the write's commit to the task's
    read, and where it read, in each mode (lab/tasks.py's tasks, routed under causal).
    """
    from django_tasks_db.models import DBTaskResult

    from lab.tasks import find_tag_delayed, find_tag_sticky
    from routers import enqueue_with_writes

    results: dict[str, object] = {}
    with request_scope(RequestState()):
        Thread.objects.filter(pk=0).update(title="")  # a write, so there is a position
        plain = median_ms(lambda: find_tag_sticky.enqueue(name="bench"), runs=50)
        carried = median_ms(lambda: enqueue_with_writes(find_tag_sticky, name="bench"), runs=50)
    DBTaskResult.objects.all().delete()
    results["enqueue_ms"] = {"plain": plain, "carrying_the_position": carried}

    stack("lag", BROWSE_LAG)
    command = ["manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"]
    worker = subprocess.Popen(
        [sys.executable, *command],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for mode, task in (("sticky", find_tag_sticky), ("delayed", find_tag_delayed)):
            waits, on_replica = [], 0
            for run in range(TASK_RUNS[mode]):
                name = f"bench-task-{mode}-{run}"
                with request_scope(RequestState()):
                    Tag.objects.create(name=name)
                    committed = time.time()
                    result_id = enqueue_with_writes(task, name=name).id
                read = finished_read(task, result_id)
                waits.append(read["at"] - committed)
                on_replica += read["alias"] != "default"
            results[f"{mode}_mode (apply delay {BROWSE_LAG})"] = {
                "median_s_from_commit_to_read": round(statistics.median(waits), 2),
                "reads_on_a_replica": f"{on_replica}/{TASK_RUNS[mode]}",
            }
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        stack("lag", "0")
        Tag.objects.filter(name__startswith="bench-task-").delete()
        DBTaskResult.objects.all().delete()
    return results


def write_position() -> dict[str, float]:
    """What a write's position costs (routers/positions.py): milliseconds per position
    query with all the primary's WAL flushed, and with another session's transaction
    left open after writing (WAL nobody flushes yet: the query writes a logical message),
    and then how long the primary takes to flush that position, so send it to the
    standbys (the insert position would wait for some other flush)."""
    params = connections[conf.primary()].get_connection_params()
    insert = f"INSERT INTO {Tag._meta.db_table} (name) VALUES ('bench-position')"

    def flushed(position: int) -> bool:
        return parse_lsn(fetch_one("SELECT pg_current_wal_flush_lsn()::text")) >= position

    def position_with_wal_behind() -> float:
        with psycopg.connect(**params) as other:  # a transaction, left open after a write
            other.execute(insert)
            started = time.perf_counter()
            position = primary_lsn()
            elapsed = (time.perf_counter() - started) * 1000
            deadline = time.monotonic() + 5
            while position is not None and not flushed(position):
                if time.monotonic() > deadline:
                    raise TimeoutError("the primary did not flush the position within 5 s")
                time.sleep(0.002)
            flush_waits.append((time.perf_counter() - started) * 1000 - elapsed)
            other.rollback()
        return elapsed

    flush_waits: list[float] = []
    all_flushed = median_ms(primary_lsn, runs=200)
    timings = [position_with_wal_behind() for _ in range(30)]
    return {
        "position_ms (all WAL flushed)": all_flushed,
        "position_ms (an open transaction's WAL behind: a message)": round(
            statistics.median(timings), 3
        ),
        "flushed_after_ms (median)": round(statistics.median(flush_waits), 1),
        "flushed_after_ms (max)": round(max(flush_waits), 1),
    }


def timeline_checks() -> dict[str, float]:
    """What following timelines costs (routers/positions.py, routers/probes.py): the
    write's position query with and without the timeline, and a replica's probe with and
    without its WAL receiver's status and timeline, milliseconds per query."""
    from routers.positions import _PRIMARY_POSITION_SQL
    from routers.probes import _POSITION_SQL

    without_timeline = _PRIMARY_POSITION_SQL.replace(
        ",\n       ('x' || substr(pg_walfile_name(flushed), 1, 8))::bit(32)::int", ""
    )
    probe_without = _POSITION_SQL.split(", CASE WHEN pg_is_in_recovery() THEN receiver")[0]
    assert without_timeline != _PRIMARY_POSITION_SQL
    assert probe_without != _POSITION_SQL
    replica = conf.replicas()[0]

    def timed(alias: str, sql: str) -> float:
        with connections[alias].cursor() as cursor:
            return median_ms(lambda: (cursor.execute(sql), cursor.fetchone()), runs=500)

    return {
        "position_ms (with the timeline)": timed(conf.primary(), _PRIMARY_POSITION_SQL),
        "position_ms (without)": timed(conf.primary(), without_timeline),
        "replica_probe_ms (with the WAL receiver's timeline)": timed(replica, _POSITION_SQL),
        "replica_probe_ms (without)": timed(replica, probe_without),
    }


def fetch_one(sql: str) -> Any:
    with connections[conf.primary()].cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def finished_read(task: Any, result_id: str) -> dict[str, Any]:
    """What a lab task read, once the worker finished it (following a delayed one's retry)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = task.get_result(result_id)
        if result.is_finished:
            value: dict[str, Any] = result.return_value
            if conf.TASK_RETRIED_AS not in value:
                return value
            result_id = value[conf.TASK_RETRIED_AS]
        time.sleep(0.05)
    raise TimeoutError("the worker did not finish the task within 60 s")


def atomic_requests_decisions() -> dict[str, float]:
    """Microseconds per read decision (causal, warm caches) in a view as Django runs it:
    process_view, then the view wrapped in ATOMIC_REQUESTS's block; beside the same view
    not wrapped, and wrapped in a block of its own (the primary at once, as before).
    The difference with the first is what telling the request's block apart costs."""
    primary = conf.primary()
    router = strategy_router("causal")
    reads = 20
    timings: list[float] = []

    def view(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        for _ in range(reads):
            router.db_for_read(Group)
        timings.append((time.perf_counter() - started) * 1e6 / reads)
        return HttpResponse()

    def per_read(wrapped: bool, atomic_requests: bool) -> float:
        def handler(request: HttpRequest) -> HttpResponse:  # what BaseHandler does
            middleware.process_view(request, view, (), {})
            return (transaction.atomic(using=primary)(view) if wrapped else view)(request)

        middleware = RoutingMiddleware(handler)
        timings.clear()
        with override_settings_dict(connections.settings[primary], ATOMIC_REQUESTS=atomic_requests):
            forget()
            for _ in range(300):
                middleware(RequestFactory().get("/"))
        return round(statistics.median(timings[1:]), 2)  # the first one warms the caches

    return {
        "us_per_read_outside_any_block": per_read(wrapped=False, atomic_requests=False),
        "us_per_read_in_atomic_requests_block": per_read(wrapped=True, atomic_requests=True),
        "us_per_read_in_a_block_of_the_views_own": per_read(wrapped=True, atomic_requests=False),
    }


@contextmanager
def override_settings_dict(config: dict[str, object], **changes: object) -> Iterator[None]:
    """`changes` in one alias's settings for the block (this process only: nothing else
    runs in it)."""
    before = {name: config[name] for name in changes}
    config.update(changes)
    try:
        yield
    finally:
        config.update(before)


def member_positions() -> dict[str, float | str]:
    """Microseconds positions per member (a Redis) add to a request of a member.

    The lookup, once the member is known: with a position kept for them, and with none.
    A writing request of theirs, whole, against the same one without the cache: its
    lookup and its store (lock, read, merged write, unlock). Then with Redis stopped: the
    first lookup (refused at once), and the next ones (the cache is left alone for a few
    seconds); and with Redis hung (SIGSTOP): the first lookup waits for its timeout.
    """
    if conf.member_positions_cache() is None:
        return {"skipped": "no REDIS_URL: positions per member off"}
    member, _ = User.objects.get_or_create(username="bench-member")
    other, _ = User.objects.get_or_create(username="bench-member-without-writes")

    def lookup(user: User) -> None:
        with request_scope(RequestState(strategy="causal")):
            member_authenticated(user)

    def write(request: HttpRequest) -> HttpResponse:
        member_authenticated(member)
        mark_write()  # the store follows a write; the write itself is the same either way
        return HttpResponse()

    def writing_request() -> None:
        RoutingMiddleware(write)(RequestFactory().post("/"))

    forget()
    writing_request()  # something kept for `member`, nothing for `other`
    forget_member(other)
    results = {
        "lookup_us (a position kept)": median_ms(lambda: lookup(member), runs=300) * 1000,
        "lookup_us (nothing kept)": median_ms(lambda: lookup(other), runs=300) * 1000,
    }
    with_store = median_ms(writing_request, runs=200)
    with override_settings(ROUTERS_MEMBER_POSITIONS_CACHE=None):
        without = median_ms(writing_request, runs=200)
    results["writing_request_extra_us (its lookup and its store)"] = (with_store - without) * 1000

    stack("stop", "redis")
    try:
        forget()
        results["lookup_us (Redis stopped: the first, refused)"] = (
            median_ms(lambda: lookup(member), runs=1) * 1000
        )
        results["lookup_us (Redis stopped: the next ones, cache left alone)"] = (
            median_ms(lambda: lookup(member), runs=300) * 1000
        )
    finally:
        stack("start", "redis")
    pid = int((Path(os.environ.get("STACK_DIR", ".stack")) / "redis/redis.pid").read_text())
    forget()
    os.kill(pid, signal.SIGSTOP)
    try:
        results["lookup_us (Redis hung: the first, its timeout)"] = (
            median_ms(lambda: lookup(member), runs=1) * 1000
        )
    finally:
        os.kill(pid, signal.SIGCONT)
        forget()
    forget_member(member)
    return {name: round(value, 1) for name, value in results.items()}


def decision_records() -> dict[str, float]:
    """Microseconds the decision records cost: noting one decision as a read is routed
    (every request pays it), and at the end of a request of one decision and 20
    statements, its log record (off: the logger below INFO, as by default; on: written
    to a file, as a handler would) and its metrics (ROUTERS_METRICS on)."""
    request = RequestFactory().get("/t/1/")
    response = HttpResponse()
    state = RequestState(strategy="causal")
    primary = conf.primary()
    replica = conf.replicas()[0]
    state.cluster(primary).decisions.append(Decision(replica, Reason.REPLAYED, waited_ms=1.5))
    state.queries[replica] = 20
    calls = 200

    def per_call_us(action: Callable[[], object]) -> float:
        milliseconds = median_ms(lambda: [action() for _ in range(calls)], runs=30)
        return round(milliseconds * 1000 / calls, 2)

    decision = Decision(replica, Reason.REPLICA)
    with request_scope(RequestState(strategy="causal")):
        noting = per_call_us(lambda: decided(primary, decision))
    logger = logging.getLogger("routers.decisions")
    level, propagate = logger.level, logger.propagate
    try:
        logger.setLevel(logging.WARNING)
        log_off = per_call_us(lambda: log_request(request, state, response))
        with open(os.devnull, "w") as sink:
            handler = logging.StreamHandler(sink)
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
            log_on = per_call_us(lambda: log_request(request, state, response))
            logger.removeHandler(handler)
    finally:
        logger.setLevel(level)
        logger.propagate = propagate
    with override_settings(ROUTERS_METRICS=False):
        metrics_off = per_call_us(lambda: count_request(state, response))
    with override_settings(ROUTERS_METRICS=True):
        metrics_on = per_call_us(lambda: count_request(state, response))
    return {
        "note_decision_us (per routed read)": noting,
        "log_record_us (logger off)": log_off,
        "log_record_us (logger on)": log_on,
        "metrics_us (off)": metrics_off,
        "metrics_us (on)": metrics_on,
    }


def lag_chart() -> dict[str, float]:
    """What the cluster panel's lag chart costs: a measurement kept (each /healthz and
    each redraw keeps one) and a full window drawn, on Redis and in a process's memory."""
    from django.conf import settings
    from django.template.loader import render_to_string

    from lab import lag_history
    from lab.lag_chart import GEOMETRY, draw

    lag_history.REDIS_KEY = "lab:lag-history:bench"
    nodes = {
        "replicas": [
            {"alias": alias, "up": True, "lag_seconds": 0.4, "in_rotation": True}
            for alias in ("replica", "replica_2")
        ]
    }
    results = {}
    for where, url in (("redis", settings.REDIS_URL), ("memory", "")):
        kept = lag_history.LagHistory(url)
        kept.clear()
        now = time.time()
        for n in range(lag_history.MAX_SAMPLES):  # a full list: six a second
            kept.add(nodes, at=now - lag_history.WINDOW_SECONDS + n / 6)

        def drawn(kept: lag_history.LagHistory = kept) -> str:
            samples, shared = kept.samples()
            chart = draw(samples, shared=shared)
            return render_to_string("lab/_lag_chart.html", {"chart": chart, **GEOMETRY})

        results[f"keep_one_ms ({where})"] = median_ms(lambda kept=kept: kept.add(nodes), 200)
        results[f"draw_full_window_ms ({where})"] = median_ms(drawn, 30)
        kept.clear()
    return results


def main() -> None:
    report = {
        "routing_decisions": routing_decisions(),
        "commit_latency_ms": commit_latency(),
        f"post_and_browse (apply delay {BROWSE_LAG})": post_and_browse(),
        "write_detection": write_detection(),
        "reads_outside_a_request": reads_outside_a_request(),
        "consistency_header": consistency_header(),
        "task_position": task_position(),
        "write_position": write_position(),
        "atomic_requests_decisions": atomic_requests_decisions(),
        "member_positions": member_positions(),
        "timeline_checks": timeline_checks(),
        "decision_records": decision_records(),
        "lag_chart": lag_chart(),
    }
    print(json.dumps(report, indent=2))
    out = REPO / "bench/results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
