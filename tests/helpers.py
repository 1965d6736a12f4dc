"""What the tests share besides fixtures: waiting on a condition, the test stack's nodes,
reading a node past the routers, servers the tests start, and clients that let cookies
expire.

`make test` starts a throwaway stack (a primary and two replicas with a 1 s apply
delay, database `forum_test`) and exports its settings; the tests run against it.
"""

import http.cookiejar
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, connections, transaction
from django.test import Client

from routers import conf, forget, parse_lsn
from tests.factories import PostFactory, ThreadFactory

REPO = Path(__file__).resolve().parent.parent
# Alias in DATABASES -> node name in postgres/stack.sh.
NODES = {"default": "primary", "replica": "replica1", "replica_2": "replica2"}


def wait_until(
    condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


class Stack:
    """The test stack's nodes, driven through postgres/stack.sh."""

    def run(self, *args: str) -> str:
        """Run postgres/stack.sh; its output."""
        done = subprocess.run(
            [str(REPO / "postgres/stack.sh"), *args], check=True, capture_output=True, text=True
        )
        return done.stdout

    def stop(self, alias: str) -> None:
        # Every alias: others reach the same node (the analytics database, a test's
        # balanced alias).
        connections.close_all()
        self.run("stop", NODES[alias])
        forget()

    def start(self, alias: str) -> None:
        self.run("start", NODES[alias])
        connections.close_all()
        # A standby serves only once it streams the primary's timeline again (about a
        # second after it, or the primary, accepts connections; until then no replica is
        # in rotation): back as it was before the stop.
        if alias in replica_aliases() and self.is_up("default"):
            self.wait_until_streaming(alias)
        if alias == "default":
            self.wait_until_streaming(*[a for a in replica_aliases() if self.is_up(a)])
        forget()

    @staticmethod
    def wait_until_streaming(*aliases: str) -> None:
        for alias in aliases:
            wait_until(
                lambda alias=alias: (
                    fetch(alias, "SELECT status FROM pg_stat_wal_receiver") == "streaming"
                ),
                what=f"{alias} to stream from the primary again",
            )

    @staticmethod
    def is_up(alias: str) -> bool:
        try:
            fetch(alias, "SELECT 1")
        except OperationalError:
            return False
        return True

    def set_lag(self, delay: str, alias: str | None = None) -> None:
        """Set the apply delay live on one replica alias, or on all of them."""
        self.run("lag", delay, *([NODES[alias]] if alias else []))
        for replica in [alias] if alias else replica_aliases():
            wait_until(
                lambda replica=replica: (
                    fetch(replica, "SHOW recovery_min_apply_delay") == normalise_delay(delay)
                ),
                what=f"{replica} to reload recovery_min_apply_delay={delay}",
            )

    @contextmanager
    def lagging(self, delay: str = "3s") -> Iterator["Stack"]:
        """Every replica holding writes back for `delay` in the block; the stack's 1 s
        after. A test replicates its own rows first, then lags: a wait for replay under
        a 3 s delay takes 3 s."""
        self.set_lag(delay)
        try:
            yield self
        finally:
            self.set_lag("1s")

    def wait_for_replay(self, *aliases: str) -> None:
        wait_for_replay(*aliases)

    @contextmanager
    def redis_stopped(self) -> Iterator[None]:
        """The stack's Redis stopped for the block (connections refused); started after."""
        self.run("stop", "redis")
        forget()
        try:
            yield
        finally:
            self.run("start", "redis")
            forget()

    @contextmanager
    def redis_hung(self) -> Iterator[None]:
        """The stack's Redis stopped with SIGSTOP for the block, as a hung server: the
        kernel still accepts connections, nothing answers them. Resumed after."""
        # stack.sh resolves STACK_DIR from the directory it is run in, as here.
        pid = int((Path(os.environ.get("STACK_DIR", ".stack")) / "redis/redis.pid").read_text())
        os.kill(pid, signal.SIGSTOP)
        forget()
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)
            forget()


# A position past every commit so far and every position a write was given, which the
# replicas reach soon, read as routers.positions reads a write's: the insert position
# may be past WAL nobody flushes for seconds (another session's open transaction), so
# sent to no replica, or past a page header where no record ends; the flush position may
# be before an asynchronous commit. So the flush position once all WAL is flushed, else
# the end of a logical message written now, which the walwriter flushes within three
# wal_writer_delay.
REACHABLE_POSITION_SQL = """
SELECT CASE WHEN flushed >= inserted THEN flushed
            ELSE pg_logical_emit_message(false, 'tests', '') END::text
FROM (SELECT pg_current_wal_flush_lsn() AS flushed, pg_current_wal_insert_lsn() AS inserted) AS wal
"""


def wait_for_replay(*aliases: str) -> None:
    """Wait until these replicas (default: all) have replayed every commit so far, and
    every position a write was given."""
    target = parse_lsn(fetch("default", REACHABLE_POSITION_SQL))
    for alias in aliases or replica_aliases():
        wait_until(
            lambda alias=alias: (
                parse_lsn(fetch(alias, "SELECT pg_last_wal_replay_lsn()::text")) >= target
            ),
            what=f"{alias} to replay the primary's WAL",
        )


def normalise_delay(delay: str) -> str:
    """What SHOW prints for a delay given to stack.sh ("1s" -> "1s", "0" -> "0")."""
    return {"0": "0", "0s": "0", "1000ms": "1s"}.get(delay, delay)


def served_by(response: Any) -> set[str]:
    """The aliases the page's footer says ran its queries."""
    return set(re.findall(r'data-alias="([^"]+)"', response.content.decode()))


def replica_aliases() -> list[str]:
    """The default primary's replicas (the analytics ones reach the same servers)."""
    return conf.replicas()


def fetch(alias: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the first row of `sql` on `alias`, bypassing the routers."""
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def connect(alias: str, **options: Any) -> psycopg.Connection[Any]:
    """A new connection to `alias`'s server, outside Django, with its settings."""
    return psycopg.connect(**{**connections[alias].get_connection_params(), **options})


# Rows the migrations create, not the tests.
KEPT_TABLES = {"django_migrations", "django_content_type", "auth_permission"}
# The task queue (django-tasks-db): a task the worker is running keeps its row, which the
# worker updates when the task ends (a row gone by then stops the worker).
TASK_QUEUE = "django_tasks_database_dbtaskresult"


def delete_rows() -> None:
    """Empty every table with DELETE, not TRUNCATE (which `flush` uses).

    TRUNCATE takes an ACCESS EXCLUSIVE lock, and a standby replays that lock as
    soon as it receives it but releases it only when it applies the commit: with
    recovery_min_apply_delay, every read of the table on that replica would block
    for the whole delay.
    """
    for primary in conf.primaries():
        connection = connections[primary]
        tables = set(connection.introspection.django_table_names(only_existing=True))
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: order does not matter
        # inside one transaction.
        with transaction.atomic(using=primary), connection.cursor() as cursor:
            for table in sorted(tables - KEPT_TABLES):
                running = " WHERE status <> 'RUNNING'" if table == TASK_QUEUE else ""
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}{running}")


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the system just handed it out)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def point_at(port: str, *aliases: str) -> None:
    """Connect these aliases to `port` from now on (their open connections closed), with
    the health this process knew forgotten."""
    for alias in aliases:
        connections[alias].close()
        connections[alias].settings_dict["PORT"] = port
    forget()


def refuse_connections(*aliases: str) -> None:
    """Point these aliases at a port nothing listens on, as at a node that is down."""
    point_at(str(free_port()), *aliases)


@contextmanager
def own_ports_restored(*aliases: str) -> Iterator[None]:
    """Whatever points these aliases elsewhere meanwhile (a view that loses its primary),
    they are back on their own port afterwards."""
    ports = {alias: connections[alias].settings_dict["PORT"] for alias in aliases}
    try:
        yield
    finally:
        for alias, port in ports.items():
            point_at(port, alias)


@contextmanager
def unreachable(*aliases: str) -> Iterator[None]:
    """These aliases pointed at a port nothing listens on, so every connection is
    refused as by a node that is down; back to their own port afterwards."""
    with own_ports_restored(*aliases):
        refuse_connections(*aliases)
        yield


class Certificate(NamedTuple):
    cert: Path
    key: Path


def self_signed_certificate(directory: Path, *hosts: str) -> Certificate:
    """A certificate and its key, for `hosts` and 127.0.0.1, made with openssl."""
    made = Certificate(directory / "cert.pem", directory / "key.pem")
    names = ",".join([*(f"DNS:{host}" for host in hosts), "IP:127.0.0.1"])
    request = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test".split()
    files = ["-keyout", str(made.key), "-out", str(made.cert)]
    subprocess.run(
        [*request, *files, "-addext", f"subjectAltName={names}"], check=True, capture_output=True
    )
    return made


@contextmanager
def gunicorn(
    log_dir: Path, *, asgi: bool = False, tls: Certificate | None = None, **env: str
) -> Iterator[str]:
    """The project served by gunicorn (threads, as in the demo; with `asgi`, its ASGI
    worker, one event loop) against the test stack, with `env` added to its
    environment, over HTTPS with `tls`; its URL."""
    port = free_port()
    log = log_dir / "gunicorn.log"
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1", **env}
    app = ["-k", "asgi", "config.asgi:application"] if asgi else ["config.wsgi"]
    if asgi:
        env["GUNICORN_THREADS"] = "1"  # the ASGI worker has none, and warns otherwise
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", *app]
    if tls:
        command += ["--certfile", str(tls.cert), "--keyfile", str(tls.key)]
    with log.open("w") as output:
        server = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    cafile = str(tls.cert) if tls else None
    try:
        wait_until(
            lambda: answers(f"{url}/healthz", cafile) or server.poll() is not None,
            # Importing Django and the project takes seconds on a loaded 2-core machine.
            timeout=30,
            what="gunicorn",
        )
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited:\n{log.read_text()}")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


# What the demo and compose start the worker with, besides its polling interval.
WORKER_OPTIONS = ("--no-reload", "--no-startup-delay")


class TaskWorker:
    """The project's task worker (`manage.py db_worker`, as `make demo` and compose run it,
    polling every 0.1 s) against the test stack, with `env` added to its environment.

    It routes under causal unless `env` says otherwise: the test stack's FORUM_ROUTING is
    primary, where no task could read a stale replica. A worker stops when its primary
    is unreachable (django-tasks-db's loop raises), as in a test that stops the primary:
    `running()` starts it again.
    """

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.log = log_dir / "worker.log"
        self.env = {**os.environ, "FORUM_ROUTING": "causal", **env}
        self.process: subprocess.Popen[bytes] | None = None

    def running(self) -> Path:
        """Start the worker unless it runs; its log."""
        if self.process is not None and self.process.poll() is None:
            return self.log
        command = [sys.executable, "manage.py", "db_worker", *WORKER_OPTIONS, "--interval", "0.1"]
        starts = self.log.read_text().count("Starting worker") if self.log.exists() else 0
        with self.log.open("a") as output:
            process = subprocess.Popen(
                command, cwd=REPO, env=self.env, stdout=output, stderr=subprocess.STDOUT
            )
        self.process = process
        wait_until(
            lambda: (
                self.log.read_text().count("Starting worker") > starts or process.poll() is not None
            ),
            what="the task worker",
        )
        if process.poll() is not None:
            pytest.fail(f"the task worker exited:\n{self.log.read_text()}")
        return self.log

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def finished_task(task: Any, result_id: str, timeout: float = 20.0) -> Any:
    """The result of `task`'s run `result_id`, once a worker has finished it."""

    def done() -> Any:
        result = task.get_result(result_id)
        return result if result.is_finished else None

    return wait_until(done, timeout=timeout, what=f"a worker to finish {task.name}")


def answers(url: str, cafile: str | None = None) -> bool:
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def served_with(**changes: Any) -> dict[str, str]:
    """The environment that makes gunicorn serve the project with these settings
    changed (tests/server_settings.py applies them): `gunicorn(path, **served_with(...))`."""
    return {"DJANGO_SETTINGS_MODULE": "tests.server_settings", "TEST_SETTINGS": json.dumps(changes)}


def replicated_thread(title: str, **fields: Any) -> Any:
    """A thread with its opening post, committed and replayed by every replica, so a
    test's own lag starts from there."""
    thread = ThreadFactory(title=title, **fields)
    PostFactory(thread=thread, body="Opening post")
    wait_for_replay()
    return thread


class BrowserClient(Client):
    """Django's test client, dropping each cookie once its Max-Age has run out, counted
    from when its response came, as a browser does. Django's own client keeps every
    cookie for ever, so only the server's bound would end a pin."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expiry: dict[str, float] = {}  # cookie name -> time.monotonic() it expires

    def request(self, **request: Any) -> Any:
        now = time.monotonic()
        for name, expires in list(self.expiry.items()):
            if expires <= now:
                del self.expiry[name]
                self.cookies.pop(name, None)
        response = super().request(**request)
        received = time.monotonic()
        for name, morsel in response.cookies.items():
            if morsel["max-age"] == "":
                self.expiry.pop(name, None)  # a session cookie: kept
            else:
                self.expiry[name] = received + int(morsel["max-age"])
        return response


class HttpBrowser:
    """A client of a real server over HTTP that keeps cookies as a browser does
    (http.cookiejar honours Max-Age) and sends forms with their CSRF token. Each request
    answers (status, final URL after redirects, body)."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)

    def get(self, url: str) -> tuple[int, str, str]:
        return self._open(url)

    def post(self, url: str, fields: dict[str, str]) -> tuple[int, str, str]:
        token = self.cookie(settings.CSRF_COOKIE_NAME) or ""
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        return self._open(urllib.request.Request(url, data=data, headers={"Referer": url}))

    def _open(self, request: str | urllib.request.Request) -> tuple[int, str, str]:
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.geturl(), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.geturl(), error.read().decode()
