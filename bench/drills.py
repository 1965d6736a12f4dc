"""make drills: writers and readers over gunicorn while the cluster fails, on purpose.

Each drill runs the same load (logged-in writers replying and reading their reply back
through the redirect, anonymous readers browsing) for a few seconds, breaks something
(a replica stopped, the primary restarted, a replica 30 s behind, a replica's replay
paused), restores it, and counts what the visitors saw. At the end every acknowledged
reply must be on the primary exactly once, and every replica must converge to it.

Runs against the stack in bench/drills.env (its own ports). Prints one table per drill
and writes bench/results/drills.json.
"""

import http.cookiejar
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "drills.json"
WRITERS = 4
READERS = 4
PASSWORD = "drill-password"
STEADY, BROKEN, RECOVERY = 4.0, 8.0, 8.0  # seconds of each drill's phases
SETTLE_SECONDS = 60  # how long the replicas get to converge at the end


def stack(*args: str) -> None:
    done = subprocess.run(
        [str(REPO / "postgres/stack.sh"), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"drills: stack.sh {' '.join(args)} failed:\n{done.stderr}")


def on_standby(node: str, sql: str) -> None:
    # Resuming replay can cancel the very session that asked, for a recovery conflict
    # (its snapshot meets a cleanup record held back since the pause): ask again.
    for _ in range(5):
        done = subprocess.run(
            [str(REPO / "postgres/stack.sh"), "psql", node, "-q", "-c", sql],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return
        if "conflict with recovery" not in done.stderr:
            break
    raise SystemExit(f"drills: {sql} on {node} failed:\n{done.stderr}")


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


class Visitor:
    """A browser without JavaScript: cookies, no automatic redirects."""

    class _NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), self._NoRedirects()
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, str]:
        """(status, body, Location) of one request; a POST when `form` is given."""
        data = None
        if form is not None:
            token = next((c.value for c in self.cookies if c.name == "csrftoken"), "")
            data = urllib.parse.urlencode({**form, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(self.base + path, data=data)
        if form is not None:
            request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), ""
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers.get("Location", "")
        except OSError as error:  # refused, reset, timed out: the server failed us
            return 0, str(error), ""

    def log_in(self, username: str) -> None:
        self.request("/login/")
        status, _, _ = self.request("/login/", {"username": username, "password": PASSWORD})
        if status != 302:
            raise SystemExit(f"drills: could not log {username} in ({status})")


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


def primary_dsn() -> str:
    return os.environ["DATABASE_URL"]


def replica_dsns() -> list[str]:
    return os.environ["REPLICA_URLS"].split(",")


def fetch(dsn: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
        return connection.execute(sql, params).fetchall()


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
    target = fetch(primary_dsn(), "SELECT pg_current_wal_lsn()")[0][0]
    deadline = time.monotonic() + SETTLE_SECONDS
    started = time.monotonic()
    for dsn in replica_dsns():
        while (
            fetch(dsn, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))[0][0] is not True
        ):
            if time.monotonic() > deadline:
                return {"converged": False}
            time.sleep(0.1)
    count_sql = "SELECT count(*) FROM forum_post WHERE body LIKE 'drill reply %%'"
    counts = [fetch(dsn, count_sql)[0][0] for dsn in [primary_dsn(), *replica_dsns()]]
    return {
        "converged": len(set(counts)) == 1,
        "seconds": round(time.monotonic() - started, 1),
        "drill replies per node": counts,
    }


GUNICORN_LOG = REPO / "bench" / "results" / "drills-gunicorn.log"


def serve() -> tuple[subprocess.Popen[bytes], str]:
    port = 38917
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    GUNICORN_LOG.parent.mkdir(exist_ok=True)
    with GUNICORN_LOG.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("drills: gunicorn did not start")


def prepare() -> list[int]:
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO, check=True)
    subprocess.run([*manage, "seed_forum"], cwd=REPO, check=True, capture_output=True)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=REPO, check=True)
    script = (
        "from django.contrib.auth.models import User\n"
        f"for n in range({WRITERS}):\n"
        f"    user, _ = User.objects.get_or_create(username=f'drill{{n}}')\n"
        f"    user.set_password('{PASSWORD}'); user.save()\n"
    )
    subprocess.run([*manage, "shell", "-c", script], cwd=REPO, check=True)
    rows = fetch(primary_dsn(), "SELECT id FROM forum_thread ORDER BY id LIMIT 20")
    return [row[0] for row in rows]


def report(name: str, tally: Tally) -> dict[str, object]:
    print(f"\n## {name}")
    for key in sorted(tally.counts):
        print(f"  {key:<32} {tally.counts[key]:>6}")
    back = f"{tally.back_at:.1f} s" if tally.back_at is not None else "-"
    print(f"  {'back to full service after':<32} {back:>6}")
    return {"counts": dict(tally.counts), "back_to_full_service_seconds": tally.back_at}


def main() -> None:
    threads = prepare()
    # Time for the replicas to have the drill users, so a login reads them back.
    converge()
    server, base = serve()
    try:
        writers = [Visitor(base) for _ in range(WRITERS)]
        for n, visitor in enumerate(writers):
            visitor.log_in(f"drill{n}")
        tallies = {d.name: run_drill(d, base, threads, writers) for d in DRILLS}
    finally:
        server.terminate()
        server.wait(timeout=15)
    results: dict[str, object] = {name: report(name, t) for name, t in tallies.items()}
    results["posts"] = check_posts(tallies)
    results["replicas"] = converge()
    print("\n## afterwards")
    for key, value in {**results["posts"], **results["replicas"]}.items():  # type: ignore[dict-item]
        print(f"  {key:<36} {value}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
