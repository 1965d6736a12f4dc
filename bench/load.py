"""What make drills and make bench's HTTP mode share: the stack, gunicorn, and visitors
that browse and write like a browser without JavaScript."""

import contextlib
import http.cookiejar
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
PASSWORD = "bench-password"


def stack(*args: str) -> str:
    """Run postgres/stack.sh with the stack's environment; its output."""
    return _script("stack.sh", args)


def ha(*args: str, timeout: float = 180) -> str:
    """Run postgres/ha.sh with the HA cluster's environment (bounded); its output."""
    return _script("ha.sh", args, timeout)


def _script(name: str, args: tuple[str, ...], timeout: float | None = None) -> str:
    done = subprocess.run(
        [str(REPO / "postgres" / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{name} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def use_ha_cluster() -> None:
    """Point this process and what it starts at the HA cluster: the URLs `ha.sh env`
    prints (every node for the primary, target_session_attrs picking the leader)."""
    for line in ha("env").splitlines():
        key, value = line.split("=", 1)
        os.environ[key] = value


class Visitor:
    """A browser without JavaScript: cookies, no automatic redirects."""

    class _NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    def __init__(self, base: str) -> None:
        self.base = base
        #: Sent as X-Bench-Visitor: make bench's oracle tells its clients apart by it.
        self.id = uuid.uuid4().hex
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
        request = urllib.request.Request(
            self.base + path, data=data, headers={"X-Bench-Visitor": self.id}
        )
        if form is not None:
            request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(), ""
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers.get("Location", "")
        except OSError as error:  # refused, reset, timed out: the server failed us
            return 0, str(error), ""

    def log_in(self, username: str, password: str = PASSWORD) -> None:
        self.request("/login/")
        status, _, _ = self.request("/login/", {"username": username, "password": password})
        if status != 302:
            raise SystemExit(f"could not log {username} in ({status})")


def primary_dsn() -> str:
    return os.environ["DATABASE_URL"]


def replica_dsns() -> list[str]:
    return os.environ["REPLICA_URLS"].split(",")


def fetch(dsn: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
        return connection.execute(sql, params).fetchall()


@contextlib.contextmanager
def gunicorn(log_name: str, port: int = 38917, **env: str) -> Iterator[str]:
    """The forum served by gunicorn as the demo runs it on `port`, `env` added; its
    base URL."""
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / log_name).open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
            cwd=REPO,
            env={**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"gunicorn did not start: see {RESULTS / log_name}") from None
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def prepare(writers: int) -> list[int]:
    """Migrate, seed, make `writers` members (writer0...) and return some thread ids."""
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate_primaries", "--noinput", "-v0"], cwd=REPO, check=True)
    subprocess.run([*manage, "seed_forum"], cwd=REPO, check=True, capture_output=True)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=REPO, check=True)
    script = (
        "from django.contrib.auth.models import User\n"
        f"for n in range({writers}):\n"
        "    user, _ = User.objects.get_or_create(username=f'writer{n}')\n"
        f"    user.set_password('{PASSWORD}'); user.save()\n"
    )
    subprocess.run([*manage, "shell", "-v0", "-c", script], cwd=REPO, check=True)
    rows = fetch(primary_dsn(), "SELECT id FROM forum_thread ORDER BY id LIMIT 20")
    return [int(str(row[0])) for row in rows]


def caught_up(timeout: float = 60) -> float | None:
    """Wait until every replica has replayed the primary's current position; seconds
    it took, or None if they had not within `timeout`."""
    target = fetch(primary_dsn(), "SELECT pg_current_wal_lsn()")[0][0]
    started = time.monotonic()
    query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
    for dsn in replica_dsns():
        while fetch(dsn, query, (target,))[0][0] is not True:
            if time.monotonic() - started > timeout:
                return None
            time.sleep(0.1)
    return round(time.monotonic() - started, 1)
