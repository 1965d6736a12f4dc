"""make bench, concurrent mode: the same HTTP load under each routing configuration.

Logged-in writers reply to threads, follow each reply's redirect, and read a few pages
before the next reply. Anonymous readers browse: at a person's pace in the write-heavy
mix, so that the writers make most of its traffic, and without pause in the read-heavy
mix, so that it measures what the machine can serve. One replica holds every
commit back 1 s. Each configuration runs in turn, the rounds interleaved so that a slow
moment of the machine does not fall on one of them: our primary, naive, sticky (5 s pin)
and causal, and django-multidb-router's PinningReplicaRouter with a 5 s pin, configured
as its README says (bench/mdr_settings.py).

Where the reads ran is taken from PostgreSQL's own statistics (pg_stat_statements on
each node, enabled for the bench only), not from the app: the replica's share of read
statements and of their execution time, the routers' own probes left out.
"""

import json
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

# bench/ is this script's directory, first on sys.path.
from load import RESULTS, Visitor, caught_up, gunicorn, prepare, stack
from oracle import oracle

ROUNDS = 3
ROUND_SECONDS = 10.0
APPLY_DELAY_SECONDS = 1.0  # the replica's, set below
# A writer reads a few pages between replies, a quick reader's half second apart: a
# reply every 2-3 s each.
PAGES_BETWEEN_REPLIES = 4
PAGE_PAUSE = 0.5


@dataclass(frozen=True)
class Mix:
    writers: int
    readers: int  # anonymous
    reader_pause: float  # seconds between a reader's pages


MIXES = {
    "write-heavy": Mix(writers=8, readers=2, reader_pause=PAGE_PAUSE),
    "read-heavy": Mix(writers=1, readers=9, reader_pause=0.0),
}
CONFIGS: dict[str, dict[str, str]] = {
    "primary": {"FORUM_ROUTING": "primary"},
    "naive": {"FORUM_ROUTING": "naive"},
    "sticky (5 s)": {"FORUM_ROUTING": "sticky", "ROUTERS_STICKY_SECONDS": "5"},
    "causal": {"FORUM_ROUTING": "causal"},
    "MDR (5 s pin)": {"DJANGO_SETTINGS_MODULE": "bench.mdr_settings"},
}
NODES = ("primary", "replica1")
# The routers' probes and the statistics' own queries: not the app's reads.
NOT_APP_READS = (
    "pg_is_in_recovery",
    "pg_last_wal_replay_lsn",
    "pg_current_wal",
    "pg_get_wal_records_info",
    "recovery_min_apply_delay",
    "pg_last_xact_replay_timestamp",
    "pg_stat_statements",
    "pg_wal_replay",
    "has_function_privilege",
)


@dataclass
class Run:
    """One configuration under one mix, summed over the rounds."""

    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    server_errors: int = 0
    stale_redirects: int = 0  # the reply's redirect answered 404
    misses: int = 0  # the page it led to did not show the reply
    reads: dict[str, tuple[float, float]] = field(default_factory=dict)  # node: (calls, ms)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(
        self, visitor: Visitor, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        started = time.perf_counter()
        answer = visitor.request(path, form)
        with self.lock:
            self.latencies.append((time.perf_counter() - started) * 1000)
            self.requests += 1
            self.server_errors += answer[0] >= 500 or answer[0] == 0
        return answer


def write(run: Run, visitor: Visitor, threads: list[int]) -> None:
    """Reply, read it back through the redirect, then read on as people do between posts."""
    reply(run, visitor, threads)
    for _ in range(PAGES_BETWEEN_REPLIES):
        time.sleep(PAGE_PAUSE)
        read(run, visitor, threads)


def reply(run: Run, visitor: Visitor, threads: list[int]) -> None:
    body = f"bench reply {uuid.uuid4().hex}"
    status, _, location = run.timed(visitor, f"/t/{random.choice(threads)}/reply", {"body": body})
    if status != 302:
        return
    status, _, location = run.timed(visitor, location)
    if status == 404:
        with run.lock:
            run.stale_redirects += 1
        return
    status, page, _ = run.timed(visitor, location)
    if body not in page:
        with run.lock:
            run.misses += 1


def read(run: Run, visitor: Visitor, threads: list[int]) -> None:
    status, _, location = run.timed(visitor, random.choice(["/", f"/t/{random.choice(threads)}/"]))
    if status in (301, 302):
        run.timed(visitor, location)


def is_app_read(query: str) -> bool:
    # "SELECT $1" is Django's connection health check (CONN_HEALTH_CHECKS), not a read.
    return query.strip() != "SELECT $1" and not any(n in query for n in NOT_APP_READS)


def node_reads() -> dict[str, tuple[float, float]]:
    """Per node: calls and total milliseconds of the app's read statements."""
    # One line per statement: psql prints a query's own newlines.
    sql = (
        "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, total_exec_time"
        " FROM pg_stat_statements WHERE query ~* '^\\s*select'"
    )
    found = {}
    for node in NODES:
        rows = psql_rows(node, sql)
        app = [(calls, ms) for query, calls, ms in rows if is_app_read(query)]
        found[node] = (sum(c for c, _ in app), sum(m for _, m in app))
    return found


def psql_rows(node: str, sql: str) -> list[tuple[str, float, float]]:
    rows = []
    for line in stack("psql", node, "-At", "-F", "\t", "-c", sql).splitlines():
        query, calls, ms = line.rsplit("\t", 2)
        rows.append((query, float(calls), float(ms)))
    return rows


def reset_statistics() -> None:
    for node in NODES:
        stack("psql", node, "-q", "-c", "SELECT pg_stat_statements_reset()")


def enable_statistics() -> None:
    """pg_stat_statements on every node: a preloaded library, so each node restarts."""
    for node in NODES:
        stack(
            "psql",
            node,
            "-q",
            "-c",
            "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
        )
    for node in NODES:
        stack("stop", node)
        stack("start", node)
    stack("psql", "primary", "-q", "-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    caught_up()


def run_once(run: Run, env: dict[str, str], mix: Mix, threads: list[int]) -> None:
    with gunicorn("concurrent-gunicorn.log", **env) as base:
        visitors = [Visitor(base) for _ in range(mix.writers)]
        for n, visitor in enumerate(visitors):
            visitor.log_in(f"writer{n}")
        caught_up()
        reset_statistics()
        stop = threading.Event()

        def loop(
            action: Callable[[Run, Visitor, list[int]], None], visitor: Visitor, pause: float
        ) -> None:
            while not stop.wait(pause):
                action(run, visitor, threads)

        workers = [threading.Thread(target=loop, args=(write, v, 0.0)) for v in visitors]
        workers += [
            threading.Thread(target=loop, args=(read, Visitor(base), mix.reader_pause))
            for _ in range(mix.readers)
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        time.sleep(ROUND_SECONDS)
        stop.set()
        for worker in workers:
            worker.join()
        run.seconds += time.monotonic() - started
        for node, (calls, ms) in node_reads().items():
            before = run.reads.get(node, (0.0, 0.0))
            run.reads[node] = (before[0] + calls, before[1] + ms)


def summary(run: Run) -> dict[str, object]:
    replica_calls, replica_ms = run.reads.get("replica1", (0.0, 0.0))
    total_calls = replica_calls + run.reads.get("primary", (0.0, 0.0))[0]
    total_ms = replica_ms + run.reads.get("primary", (0.0, 0.0))[1]
    latencies = sorted(run.latencies)
    return {
        "requests_per_second": round(run.requests / run.seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 1),
        "server_errors": run.server_errors,
        "stale_redirects": run.stale_redirects,
        "read_your_writes_misses": run.misses,
        "replica_share_of_read_statements": round(replica_calls / total_calls, 3),
        "replica_share_of_read_time": round(replica_ms / total_ms, 3),
    }


def oracle_run(mix: Mix, threads: list[int], mix_name: str) -> dict[str, object]:
    """One more round under causal, each request's reads noted (bench/oracle.py): what a
    replica could have served of that load, what causal did, and where it fell short."""
    ledger = RESULTS / f"ledger-{mix_name}.jsonl"
    ledger.unlink(missing_ok=True)
    env = {
        "FORUM_ROUTING": "causal",
        "DJANGO_SETTINGS_MODULE": "bench.oracle_settings",
        "BENCH_LEDGER": str(ledger),
    }
    run_once(Run(), env, mix, threads)
    return oracle(ledger, APPLY_DELAY_SECONDS)


def main() -> None:
    threads = prepare(max(mix.writers for mix in MIXES.values()))
    enable_statistics()
    stack("lag", f"{APPLY_DELAY_SECONDS:g}s")
    results: dict[str, dict[str, object]] = {}
    for mix_name, mix in MIXES.items():
        runs = {name: Run() for name in CONFIGS}
        for _ in range(ROUNDS):
            for name, env in CONFIGS.items():
                run_once(runs[name], env, mix, threads)
        results[mix_name] = {name: summary(run) for name, run in runs.items()}
        limit = oracle_run(mix, threads, mix_name)
        results[mix_name]["oracle (causal, one more round)"] = limit
        for result in results[mix_name].values():
            share = result.get("replica_share_of_read_statements")
            if share is not None and limit["oracle_share"]:
                result["share_of_the_oracle"] = round(share / limit["oracle_share"], 3)
        print(f"\n## {mix_name}: {mix}")
        print(json.dumps(results[mix_name], indent=2))
    (RESULTS / "concurrent.json").write_text(json.dumps(results, indent=2))
    print("\nwritten to bench/results/concurrent.json")


if __name__ == "__main__":
    main()
