"""make drills, on an HA cluster: the leader fails under load, and what visitors saw is counted.

The same load as bench/drills.py (logged-in writers replying and reading their reply back
through its redirect, anonymous readers browsing), on gunicorn serving the forum with the
multi-host URLs `postgres/ha.sh env` prints. Each drill breaks the leader one way:

- its node dies (`ha.sh kill`: its Patroni and its PostgreSQL SIGKILLed), then the node
  is started again and rejoins as a standby;
- a planned switchover (Patroni's POST /switchover);
- it is cut off from etcd (its etcd member stopped): it must demote itself (watched: the
  drill measures when its PostgreSQL stops taking writes), then the member is started.

All three run in synchronous mode (the cluster's default), then in asynchronous mode
(`ha.sh sync off`), where one more variant forces a loss: the leader's WAL senders are
stopped (SIGSTOP) for HELD_BACK seconds of load, so the standbys receive none of those
writes, and then the node is killed. After each drill every acknowledged reply is looked
for on the new leader; each one missing is checked against the lost-write notices its
author saw (forum/lost_writes.py's flash message), which the writers look for on every
page.

Runs against the cluster of bench/drills-ha.env (the Makefile makes it and resets it,
whatever fails); gunicorn on DRILLS_WEB_PORT. Prints one table and writes
bench/results/drills-ha.json.
"""

import contextlib
import json
import os
import random
import signal
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from load import RESULTS, Visitor, fetch, gunicorn, ha, prepare, primary_dsn, use_ha_cluster

# bench/ is this script's directory, first on sys.path.
from forum.lost_writes import LOST_WRITE_WORDS

WRITERS = 4
READERS = 4
STEADY, FAILED_OVER, RECOVERY = (
    4.0,
    8.0,
    8.0,
)  # seconds of load: before, after the new leader, after the restore
HELD_BACK = 2.0  # seconds of writes the standbys do not receive before the forced loss
FAILOVER_TIMEOUT = 60  # bound on waiting for a new leader (and for the cut-off one to demote)
SETTLE_TIMEOUT = 120  # bound on waiting for three nodes, two streaming (pg_rewind included)
NODES = ("node1", "node2", "node3")
# The words of forum/lost_writes.py's notice() that do not depend on the time.


def api(node: str) -> str:
    return f"http://127.0.0.1:{int(os.environ['HA_API_PORT']) + NODES.index(node)}"


def patroni(node: str, path: str, body: object = None, timeout: float = 2) -> Any:
    """A call to a node's REST API (POST when there is a body): its JSON, or its text.
    Raises OSError when the node does not answer or answers an error."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api(node) + path, data=data)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        text = response.read().decode()
    try:
        return json.loads(text)
    except ValueError:
        return text


def leader() -> str | None:
    """The node holding the leader lock whose PostgreSQL is promoted (GET /primary answers
    200 as soon as the lock is taken: the role it reports says the promotion is done)."""
    for node in NODES:
        try:
            if patroni(node, "/primary").get("role") in ("master", "primary"):
                return node
        except OSError:
            continue
    return None


def writable(node: str) -> bool:
    """Does the node's PostgreSQL take a read-write session of the app's role now?"""
    port = int(os.environ["HA_PG_PORT"]) + NODES.index(node)
    try:
        with psycopg.connect(
            primary_dsn(),
            host="127.0.0.1",
            port=port,
            target_session_attrs="any",
            connect_timeout=1,
        ) as connection:
            return connection.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)
    except psycopg.Error:
        return False


def superuser(node: str, sql: str) -> list[str]:
    return ha("psql", node, "-At", "-c", sql, timeout=20).split()


def settled(sync: bool) -> bool:
    """A leader, two standbys streaming from it, and the mode asked for in force: in
    synchronous mode one standby synchronous in PostgreSQL and in Patroni's view."""
    node = leader()
    if node is None:
        return False
    try:
        if patroni(node, "/config").get("synchronous_mode", False) != sync:
            return False
        roles = [member["role"] for member in patroni(node, "/cluster")["members"]]
        states = superuser(
            node, "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'"
        )
    except (OSError, SystemExit):  # the leader went away while asked
        return False
    if len(states) != 2:
        return False
    if sync:
        return "sync" in states and "sync_standby" in roles
    return set(states) == {"async"}


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until `condition` held; SystemExit after `timeout` (the Makefile resets
    the cluster)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)
    return round(time.monotonic() - started, 1)


def standbys_replayed() -> bool:
    """Both standbys have replayed the leader's current position (the leader's own
    replica alias refuses a standby session, so it is skipped)."""
    target = fetch(primary_dsn(), "SELECT pg_current_wal_lsn()")[0][0]
    replayed = 0
    for dsn in os.environ["REPLICA_URLS"].split(","):
        try:
            rows = fetch(dsn, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))
        except psycopg.OperationalError:
            continue
        replayed += rows[0][0] is True
    return replayed == 2


def set_mode(sync: bool) -> None:
    ha("sync", "on" if sync else "off")
    wait_until(lambda: settled(sync), SETTLE_TIMEOUT, f"synchronous_mode {sync} to take effect")


class HeldBackWal:
    """The forced loss: the leader's WAL senders stopped (SIGSTOP), so the standbys receive
    nothing more while the leader goes on acknowledging (asynchronous mode), then the node
    killed, the stopped senders with it (SIGKILL; they would hold its shared memory)."""

    def __init__(self) -> None:
        self.senders: list[int] = []

    def hold(self, node: str) -> None:
        self.senders = [int(pid) for pid in superuser(node, "SELECT pid FROM pg_stat_replication")]
        for pid in self.senders:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(HELD_BACK)  # load goes on; what it writes now reaches no standby

    def kill(self, node: str) -> None:
        ha("kill", node)
        for pid in self.senders:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def switch_over(node: str) -> None:
    """A planned switchover to the synchronous standby (Patroni allows no other in
    synchronous mode), or to a standby in asynchronous mode."""
    members = patroni(node, "/cluster")["members"]
    standbys = [m for m in members if m["name"] != node]
    standbys.sort(key=lambda m: m["role"] != "sync_standby")
    reply = patroni(node, "/switchover", {"leader": node, "candidate": standbys[0]["name"]}, 30)
    if "Successfully switched over" not in str(reply):
        raise SystemExit(f"switchover refused: {reply}")


def etcd_of(node: str) -> str:
    return node.replace("node", "etcd")


@dataclass(frozen=True)
class Drill:
    name: str
    breaks: Callable[[str], object]  # given the leader, in a thread of its own
    restores: Callable[[str], object]
    cut_off: bool = False  # the leader must demote itself: watch for it
    before: Callable[[str], object] | None = None  # run under load before the break
    asynchronous_only: bool = False


held_back = HeldBackWal()
DRILLS = [
    Drill("the leader's node dies", lambda n: ha("kill", n), lambda n: ha("start", n)),
    Drill("a planned switchover", switch_over, lambda n: None),
    Drill(
        "the leader cut off from etcd",
        lambda n: ha("stop", etcd_of(n)),
        lambda n: ha("start", etcd_of(n)),
        cut_off=True,
    ),
    Drill(
        f"forced loss: WAL senders stopped {HELD_BACK:.0f} s, then the node dies",
        held_back.kill,
        lambda n: ha("start", n),
        before=held_back.hold,
        asynchronous_only=True,
    ),
]


@dataclass
class Post:
    writer: int
    body: str
    started: float
    ended: float
    outcome: str  # acknowledged, read-only (not saved, or may be saved), failed STATUS


@dataclass
class Record:
    """What the visitors saw during one drill, stamped with time.monotonic()."""

    posts: list[Post] = field(default_factory=list)
    read_backs: Counter[str] = field(default_factory=Counter)
    gets: list[tuple[float, int]] = field(default_factory=list)  # (started, status)
    notices: list[tuple[float, int]] = field(default_factory=list)  # (seen, writer)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(self, writer: int, body: str) -> None:
        if LOST_WRITE_WORDS in body:
            with self.lock:
                self.notices.append((time.monotonic(), writer))


def write_and_read_back(visitor: Visitor, writer: int, thread: int, record: Record) -> None:
    body = f"ha drill reply {uuid.uuid4().hex}"
    started = time.monotonic()
    status, page, location = visitor.request(f"/t/{thread}/reply", {"body": body})
    record.page(writer, page)
    if status == 302:
        outcome = "acknowledged"
    elif status == 503 and 'id="maybe-saved"' in page:
        outcome = "read-only, may be saved"
    elif status == 503 and 'id="not-saved"' in page:
        outcome = "read-only, not saved"
    else:
        outcome = f"failed {status}"
    with record.lock:
        record.posts.append(Post(writer, body, started, time.monotonic(), outcome))
    if outcome != "acknowledged":
        return
    # The redirect: /p/<id>/ finds the post (302 to its page) or 404s.
    status, page, location = visitor.request(location)
    record.page(writer, page)
    if status == 302:
        status, page, _ = visitor.request(location)
        record.page(writer, page)
        if status == 200 and body in page:
            outcome = "read back"
        elif status == 503 and 'id="not-visible-yet"' in page:
            outcome = "on its way"
        else:
            outcome = f"miss ({status})"
    elif status == 503 and 'id="not-visible-yet"' in page:
        outcome = "on its way"
    else:
        outcome = f"miss ({status})"
    with record.lock:
        record.read_backs[outcome] += 1


def browse(visitor: Visitor, threads: list[int], record: Record) -> None:
    started = time.monotonic()
    status, _, location = visitor.request(random.choice(["/", f"/t/{random.choice(threads)}/"]))
    if status in (301, 302):
        status, _, _ = visitor.request(location)
    with record.lock:
        record.gets.append((started, status))


def run_drill(
    drill: Drill, sync: bool, base: str, threads: list[int], writers: list[Visitor]
) -> dict[str, Any]:
    record = Record()
    stop = threading.Event()

    def writer(n: int) -> None:
        while not stop.is_set():
            write_and_read_back(writers[n], n, random.choice(threads), record)

    def reader() -> None:
        visitor = Visitor(base)
        while not stop.is_set():
            browse(visitor, threads, record)

    old = leader()
    if old is None:
        raise SystemExit("no leader before the drill")
    workers = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(len(writers))]
    workers += [threading.Thread(target=reader, daemon=True) for _ in range(READERS)]
    for worker in workers:
        worker.start()
    times: dict[str, float | None] = {}
    new_leader = None
    old_writable_then = None
    try:
        time.sleep(STEADY)
        if drill.before:
            drill.before(old)
        times["break"] = broke = time.monotonic()
        breaker = threading.Thread(target=drill.breaks, args=(old,), daemon=True)
        breaker.start()
        new_at = demoted_at = None
        while time.monotonic() - broke < FAILOVER_TIMEOUT:
            if new_at is None:
                node = leader()
                if node is not None and node != old:
                    new_leader, new_at = node, time.monotonic()
                    old_writable_then = writable(old)
            if drill.cut_off and demoted_at is None and not writable(old):
                demoted_at = time.monotonic()
            if new_at is not None and (demoted_at is not None or not drill.cut_off):
                break
            time.sleep(0.1)
        times["new leader"], times["demoted"] = new_at, demoted_at
        breaker.join(timeout=FAILOVER_TIMEOUT)
        time.sleep(FAILED_OVER)
        drill.restores(old)
        times["restored"] = time.monotonic()
        wait_until(lambda: settled(sync), SETTLE_TIMEOUT, "the cluster to settle after the restore")
        times["settled"] = time.monotonic()
        time.sleep(RECOVERY)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
    return tally(drill, sync, old, new_leader, old_writable_then, times, record)


def tally(
    drill: Drill,
    sync: bool,
    old: str,
    new_leader: str | None,
    old_writable_then: bool | None,
    times: dict[str, float | None],
    record: Record,
) -> dict[str, Any]:
    broke = times["break"]
    assert broke is not None
    new_at = times["new leader"] or float("inf")
    restored = times["restored"] or float("inf")

    def after_break(at: float | None) -> float | None:
        return None if at is None else round(at - broke, 1)

    # Writes back: the first acknowledged after the last one refused between the break
    # and the restore (none refused: writes never stopped).
    failed = [
        p for p in record.posts if broke <= p.started < restored and p.outcome != "acknowledged"
    ]
    back = None
    if failed:
        last = max(p.started for p in failed)
        acks = [p.ended for p in record.posts if p.started >= last and p.outcome == "acknowledged"]
        back = after_break(min(acks)) if acks else None
    outcomes = Counter(p.outcome for p in record.posts)
    gets = Counter(
        (
            "ok"
            if 0 < status < 500
            else "5xx before the break"
            if at < broke
            else "5xx during"
            if at < new_at
            else "5xx after"
        )
        for at, status in record.gets
    )

    bodies = [p.body for p in record.posts]
    rows = fetch(
        primary_dsn(),
        "SELECT body, count(*) FROM forum_post WHERE body = ANY(%s) GROUP BY body",
        (bodies,),
    )
    saved = {str(body): int(str(count)) for body, count in rows}
    acknowledged = [p for p in record.posts if p.outcome == "acknowledged"]
    maybe = [p for p in record.posts if p.outcome == "read-only, may be saved"]
    lost = [p for p in acknowledged if p.body not in saved]
    told = [p for p in lost if any(w == p.writer and seen >= p.ended for seen, w in record.notices)]
    lost_writers = {p.writer for p in lost}
    return {
        "mode": "synchronous" if sync else "asynchronous",
        "drill": drill.name,
        "old leader": old,
        "new leader": new_leader,
        "new leader after s": after_break(times["new leader"]),
        "cut-off leader demoted after s": after_break(times["demoted"]),
        "old leader writable when the new one was up": old_writable_then,
        "writes back after s": back,
        "restored after s": after_break(times["restored"]),
        "settled after s": after_break(times["settled"]),
        "POST": dict(outcomes),
        "GET": dict(gets),
        "read back": dict(record.read_backs),
        "acknowledged": len(acknowledged),
        "acknowledged lost": len(lost),
        "lost and told": len(told),
        "lost write notices seen": len(record.notices),
        "notices to writers who lost nothing": sum(
            1 for _, w in record.notices if w not in lost_writers
        ),
        "lost writes (writer, acknowledged s after the break, told)": [
            (p.writer, after_break(p.ended), p in told) for p in lost
        ],
        "notices (writer, seen s after the break)": [
            (w, after_break(at)) for at, w in record.notices
        ],
        "first write acknowledged after the new leader, per writer who lost one (s)": {
            w: after_break(
                min(
                    (p.ended for p in acknowledged if p.writer == w and p.started >= new_at),
                    default=None,
                )
            )
            for w in sorted(lost_writers)
        },
        "saved more than once": sum(1 for count in saved.values() if count != 1),
        "refused yet saved": sum(
            1 for p in record.posts if p.outcome != "acknowledged" and p.body in saved
        ),
        "refused yet saved (writer, started s after the break, outcome)": [
            (p.writer, after_break(p.started), p.outcome)
            for p in record.posts
            if p.outcome != "acknowledged" and p.body in saved
        ],
        # The read-only page's promise: "not saved" is never said of a saved post.
        "said not saved, yet saved": sum(
            1 for p in record.posts if p.outcome == "read-only, not saved" and p.body in saved
        ),
        "said may be saved: saved / not": [
            sum(1 for p in maybe if p.body in saved),
            sum(1 for p in maybe if p.body not in saved),
        ],
        "refused after the break": len(failed),
    }


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| mode | drill | new leader after | cut-off leader demoted after | writes back after "
        "| POST acknowledged / not saved / may be saved / other failed "
        "| GET ok / 5xx during / 5xx after "
        "| read back / misses / on its way | acknowledged lost / told |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        post, get, read = r["POST"], r["GET"], r["read back"]
        misses = sum(count for key, count in read.items() if key.startswith("miss"))
        other = sum(count for key, count in post.items() if key.startswith("failed"))
        refused = r["refused after the break"]
        writes_back = seconds(r["writes back after s"]) if refused else "never refused"
        lines.append(
            f"| {r['mode']} | {r['drill']} | {seconds(r['new leader after s'])} "
            f"| {seconds(r['cut-off leader demoted after s'])} | {writes_back} "
            f"| {post.get('acknowledged', 0)} / {post.get('read-only, not saved', 0)} "
            f"/ {post.get('read-only, may be saved', 0)} / {other} "
            f"| {get.get('ok', 0)} / {get.get('5xx during', 0)} / {get.get('5xx after', 0)} "
            f"| {read.get('read back', 0)} / {misses} / {read.get('on its way', 0)} "
            f"| {r['acknowledged lost']} / {r['lost and told']} |"
        )
    return "\n".join(lines)


def main() -> None:
    use_ha_cluster()
    threads = prepare(WRITERS)
    wait_until(
        standbys_replayed, SETTLE_TIMEOUT, "the standbys to have the writers"
    )  # a login reads them
    results = []
    with gunicorn("drills-ha-gunicorn.log", port=int(os.environ["DRILLS_WEB_PORT"])) as base:
        writers = [Visitor(base) for _ in range(WRITERS)]
        for n, visitor in enumerate(writers):
            visitor.log_in(f"writer{n}")
        for sync in (True, False):
            set_mode(sync)
            for drill in DRILLS:
                if sync and drill.asynchronous_only:
                    continue
                print(f"{'synchronous' if sync else 'asynchronous'}: {drill.name}", flush=True)
                results.append(run_drill(drill, sync, base, threads, writers))
                print(json.dumps(results[-1], indent=2), flush=True)
    print("\n" + table(results))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "drills-ha.json").write_text(json.dumps(results, indent=2))
    print("\nwritten to bench/results/drills-ha.json")


if __name__ == "__main__":
    main()
