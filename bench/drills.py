"""make drills: writers and readers over gunicorn while the cluster fails, on purpose.

Each drill runs the same load (logged-in writers replying and reading their reply back
through the redirect, anonymous readers browsing) for a few seconds, breaks something
(a replica stopped, the primary restarted, a replica 30 s behind, a replica's replay
paused), restores it, and counts what the visitors saw. At the end every acknowledged
reply must be on the primary exactly once, and every replica must converge to it.

Runs against the stack in bench/drills.env (its own ports). Prints one table per drill
and writes bench/results/drills.json.
"""

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# bench/ is this script's directory, first on sys.path.
from load import (
    RESULTS,
    Visitor,
    caught_up,
    fetch,
    gunicorn,
    prepare,
    primary_dsn,
    replica_dsns,
    stack,
)

WRITERS = 4
READERS = 4
STEADY, BROKEN, RECOVERY = 4.0, 8.0, 8.0  # seconds of each drill's phases
SETTLE_SECONDS = 60  # how long the replicas get to converge at the end


def on_standby(node: str, sql: str) -> None:
    # Resuming replay can cancel the very session that asked, for a recovery conflict
    # (its snapshot meets a cleanup record held back since the pause): ask again.
    for attempt in range(5):
        try:
            stack("psql", node, "-q", "-c", sql)
            return
        except SystemExit as failure:
            if "conflict with recovery" not in str(failure) or attempt == 4:
                raise


@dataclass(frozen=True)
class Drill:
    name: str
    breaks: Callable[[], None]
    restores: Callable[[], None]


DRILLS = [
    Drill("steady (nothing breaks)", lambda: None, lambda: None),
    Drill("a replica stops", lambda: stack("stop", "replica1"), lambda: stack("start", "replica1")),
    Drill(
        "the primary restarts", lambda: stack("stop", "primary"), lambda: stack("start", "primary")
    ),
    Drill(
        "a replica falls 30 s behind",
        lambda: stack("lag", "30s", "replica1"),
        lambda: stack("lag", "1s", "replica1"),
    ),
    Drill(
        "a replica's replay is paused",
        lambda: on_standby("replica2", "SELECT pg_wal_replay_pause()"),
        lambda: on_standby("replica2", "SELECT pg_wal_replay_resume()"),
    ),
]


@dataclass
class Tally:
    """What the visitors saw during one drill."""

    counts: Counter[str] = field(default_factory=Counter)
    acknowledged: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    # When, after the restore, a reply was first acknowledged and read back.
    back_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1


def write_and_read_back(visitor: Visitor, thread: int, tally: Tally, restored: list[float]) -> None:
    body = f"drill reply {uuid.uuid4().hex}"
    status, page, location = visitor.request(f"/t/{thread}/reply", {"body": body})
    if status == 302:
        with tally.lock:
            tally.acknowledged.append(body)
        tally.add("POST acknowledged")
    elif status == 503 and 'id="read-only"' in page:
        with tally.lock:
            tally.refused.append(body)
        tally.add("POST read-only page")
        return
    else:
        tally.add(f"POST other {status}")
        return
    # The redirect: /p/<id>/ finds the post (302 to its page) or 404s.
    status, page, location = visitor.request(location)
    if status == 302:
        status, page, _ = visitor.request(location)
        if status == 200 and body in page:
            tally.add("read back")
            if restored and tally.back_at is None:
                tally.back_at = time.monotonic() - restored[0]
            return
    if status == 503 and 'id="not-visible-yet"' in page:
        tally.add("saved, on its way (503)")
        return
    tally.add(f"read-your-writes miss ({status})")


def browse(visitor: Visitor, threads: list[int], tally: Tally) -> None:
    path = random.choice(["/", f"/t/{random.choice(threads)}/"])
    status, _, location = visitor.request(path)
    if status == 301 or status == 302:
        status, _, _ = visitor.request(location)
    tally.add("GET 5xx or no answer" if status >= 500 or status == 0 else "GET ok")


def run_drill(drill: Drill, base: str, threads: list[int], writers: list[Visitor]) -> Tally:
    tally = Tally()
    restored: list[float] = []
    stop = threading.Event()

    def writer(visitor: Visitor) -> None:
        while not stop.is_set():
            write_and_read_back(visitor, random.choice(threads), tally, restored)

    def reader() -> None:
        visitor = Visitor(base)
        while not stop.is_set():
            browse(visitor, threads, tally)

    workers = [threading.Thread(target=writer, args=(v,), daemon=True) for v in writers]
    workers += [threading.Thread(target=reader, daemon=True) for _ in range(READERS)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(STEADY)
        drill.breaks()
        time.sleep(BROKEN)
        drill.restores()
        restored.append(time.monotonic())
        time.sleep(RECOVERY)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    return tally


def check_posts(tallies: dict[str, Tally]) -> dict[str, int]:
    """Every acknowledged reply on the primary exactly once; what else got saved."""
    rows = fetch(
        primary_dsn(),
        "SELECT body, count(*) FROM forum_post WHERE body LIKE 'drill reply %%' GROUP BY body",
    )
    saved = dict(rows)
    acknowledged = [body for t in tallies.values() for body in t.acknowledged]
    refused = [body for t in tallies.values() for body in t.refused]
    return {
        "acknowledged": len(acknowledged),
        "acknowledged but missing": sum(1 for body in acknowledged if body not in saved),
        "saved more than once": sum(1 for count in saved.values() if count != 1),
        "refused (read-only page) yet saved": sum(1 for body in refused if body in saved),
    }


def converge() -> dict[str, object]:
    """Wait for every replica to replay everything; compare the drill replies on each."""
    seconds = caught_up(SETTLE_SECONDS)
    if seconds is None:
        return {"converged": False}
    count_sql = "SELECT count(*) FROM forum_post WHERE body LIKE 'drill reply %%'"
    counts = [fetch(dsn, count_sql)[0][0] for dsn in [primary_dsn(), *replica_dsns()]]
    converged = len(set(counts)) == 1
    return {"converged": converged, "seconds": seconds, "drill replies per node": counts}


def report(name: str, tally: Tally) -> dict[str, object]:
    print(f"\n## {name}")
    for key in sorted(tally.counts):
        print(f"  {key:<32} {tally.counts[key]:>6}")
    back = f"{tally.back_at:.1f} s" if tally.back_at is not None else "-"
    print(f"  {'back to full service after':<32} {back:>6}")
    return {"counts": dict(tally.counts), "back_to_full_service_seconds": tally.back_at}


def main() -> None:
    threads = prepare(WRITERS)
    caught_up()  # the replicas have the writers, so a login reads them back
    with gunicorn("drills-gunicorn.log") as base:
        writers = [Visitor(base) for _ in range(WRITERS)]
        for n, visitor in enumerate(writers):
            visitor.log_in(f"writer{n}")
        tallies = {d.name: run_drill(d, base, threads, writers) for d in DRILLS}
    results: dict[str, object] = {name: report(name, t) for name, t in tallies.items()}
    posts, replicas = check_posts(tallies), converge()
    results |= {"posts": posts, "replicas": replicas}
    print("\n## afterwards")
    for key, value in {**posts, **replicas}.items():
        print(f"  {key:<36} {value}")
    (RESULTS / "drills.json").write_text(json.dumps(results, indent=2))
    print("\nwritten to bench/results/drills.json")


if __name__ == "__main__":
    main()
