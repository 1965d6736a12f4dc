"""A real failover without an HA manager: throwaway PostgreSQL servers on free ports,
made by the project's own scripts (postgres/primary/init.sh, postgres/replica/bootstrap.sh),
and a standby promoted by hand. Lesson 19 builds one per run; the routers' timeline tests
(tests/routers/test_timeline_switch.py) build theirs with it too.

recovery_min_apply_delay cannot make a failover lose a write: a promotion applies every
record the standby received, delayed or not (measured: "redo done at" the received end,
`pg_promote()` with a 3 s delay pending). Only WAL never received is lost, so a standby
is cut off from its primary by emptying its primary_conninfo (`cut_off()`): what a
primary that dies with WAL unsent leaves behind.

Every server is stopped by its PID and its files deleted by `remove()`, or by
`remove_servers(root)` from another process than the one that built them.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections

from routers import forget

from .programs import run_program

DATABASE = "forum_pair"
# Bounds: one server program (initdb, a base backup, a start), and a condition waited on.
PROGRAM_TIMEOUT = 60.0
WAIT_TIMEOUT = 30.0
POLL = 0.02


class PairError(Exception):
    """The pair could not be built or driven here, in words for the page."""


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the system just handed it out)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise PairError(f"{what}: not seen after {timeout:.0f} s")
        time.sleep(POLL)


def _as_owner() -> list[str]:
    """PostgreSQL refuses to run as root: as stack.sh does, run it as postgres then."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PairError("running as root with no postgres user to run PostgreSQL as") from None
    return ["runuser", "-u", "postgres", "--"]


def _pg_bin() -> str:
    found = subprocess.run(
        ["bash", "-c", '. scripts/lib.sh && find_pg_bin && echo "$PG_BIN"'],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise PairError(
            "no PostgreSQL server programs (initdb, pg_ctl) in this process's machine: "
            "the web container of docker compose has none; make demo's web process has them"
        )
    return found.stdout.strip()


def new_root() -> Path:
    """A directory for a pair's servers, under /tmp: the postgres user must reach it
    (pytest's own tmp is root's, mode 700)."""
    root = Path(tempfile.mkdtemp(prefix="lab-failover-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    return root


def remove_servers(root: Path) -> None:
    """Stop every server under `root` by the PID in its postmaster.pid (an immediate
    shutdown), wait until each is gone, then delete `root`."""
    for pid_file in root.glob("*/postmaster.pid"):
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
            os.kill(pid, signal.SIGQUIT)
        except (OSError, ValueError):
            continue  # gone already, or a file half written by a server never started
        wait_until(lambda pid=pid: not _alive(pid), f"server {pid} to stop", timeout=10)
    shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Node:
    name: str
    port: int
    data: Path


class Pair:
    """The throwaway servers `names` (one letter each), driven as their owner."""

    def __init__(self, names: str = "ABCD", root: Path | None = None) -> None:
        self.pg_bin = _pg_bin()
        self.owner_prefix = _as_owner()
        self.root = root or new_root()
        self.run_dir = self.root / "run"
        self.run_dir.mkdir()
        shutil.copytree(settings.BASE_DIR / "postgres/primary", self.root / "primary")
        shutil.copytree(settings.BASE_DIR / "postgres/replica", self.root / "replica")
        if self.owner_prefix:
            subprocess.run(["chown", "-R", "postgres", str(self.root)], check=True)
        self.nodes = {name: Node(name, free_port(), self.root / name) for name in names}

    def owner(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = PROGRAM_TIMEOUT
    ) -> str:
        return run_program(
            [*self.owner_prefix, *args],
            name=Path(args[0]).name,
            error=PairError,
            timeout=timeout,
            cwd="/",
            env={"PATH": f"{self.pg_bin}:{os.environ['PATH']}", **(env or {})},
        )

    def start(self, name: str) -> None:
        node = self.nodes[name]
        options = f"-c port={node.port} -c listen_addresses=127.0.0.1"
        options += f" -c unix_socket_directories={self.run_dir}"
        self.owner(
            "pg_ctl", "start", "--wait", "-D", str(node.data), "-l", f"{node.data}.log",
            "-o", options,
        )  # fmt: skip

    def stop(self, name: str) -> None:
        self.owner("pg_ctl", "stop", "--wait", "-m", "fast", "-D", str(self.nodes[name].data))

    def sql(self, name: str, query: str, database: str = "postgres") -> str:
        """`query` as the superuser on node `name`; its output, unaligned."""
        port = str(self.nodes[name].port)
        return self.owner(
            "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.run_dir), "-p", port,
            "-U", "postgres", "-d", database, "-c", query,
        ).strip()  # fmt: skip

    def init_primary(self, name: str) -> None:
        node = self.nodes[name]
        self.owner(
            "initdb", "--pgdata", str(node.data), "--username", "postgres",
            "--auth-local", "trust", "--auth-host", "scram-sha-256", "--encoding", "UTF8",
            "--locale", "C.UTF-8",
        )  # fmt: skip
        self.start(name)
        self.owner(
            str(self.root / "primary/init.sh"),
            env={
                "PGDATA": str(node.data),
                "PGHOST": str(self.run_dir),
                "PGPORT": str(node.port),
                "PGUSER": "postgres",
                "APP_DB": DATABASE,
            },
        )
        self.stop(name)  # primary.conf and pg_hba.conf take effect on the restart
        self.start(name)

    def clone(self, name: str, upstream: str) -> None:
        """A standby of `upstream`, by the project's bootstrap.sh (pg_basebackup -R)."""
        self.owner(
            str(self.root / "replica/bootstrap.sh"),
            env={
                "PGDATA": str(self.nodes[name].data),
                "PRIMARY_HOST": "127.0.0.1",
                "PRIMARY_PORT": str(self.nodes[upstream].port),
                "REPLICA_NAME": name,
                "REPLICA_LAG": "0",
            },
        )
        self.start(name)

    def follow(self, name: str, upstream: str) -> None:
        """Stopped node `name` made a standby of `upstream`, as it is (no pg_rewind)."""
        node = self.nodes[name]
        conninfo = (
            f"host=127.0.0.1 port={self.nodes[upstream].port} user=replicator "
            f"password=replicator application_name={name}"
        )
        self.owner("touch", str(node.data / "standby.signal"))
        self.owner(
            "bash", "-c",
            f"echo \"primary_conninfo = '{conninfo}'\" >> {node.data}/postgresql.auto.conf",
        )  # fmt: skip
        self.start(name)

    def cut_off(self, name: str) -> None:
        """Standby `name` hears no more of its primary: it keeps what it received."""
        self.sql(name, "ALTER SYSTEM SET primary_conninfo = ''")
        self.sql(name, "SELECT pg_reload_conf()")
        wait_for(self, name, "none")

    def promote(self, name: str) -> None:
        if self.sql(name, "SELECT pg_promote()") != "t":
            raise PairError(f"node {name} was not promoted within 60 s")

    def receiver(self, name: str) -> str:
        """'status timeline' of node `name`'s WAL receiver; 'none' without one."""
        return self.sql(
            name,
            "SELECT coalesce((SELECT status || ' ' || received_tli FROM pg_stat_wal_receiver),"
            " 'none')",
        )

    def replayed(self, name: str, lsn: str) -> bool:
        return self.sql(name, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == "t"

    def remove(self) -> None:
        remove_servers(self.root)


@contextmanager
def aliases_at(pair: Pair, **nodes: str) -> Iterator[None]:
    """Each alias given (default=..., replica=...) pointed at a node of `pair`, as a
    failover repoints the addresses an app reaches; back afterwards. The caches are
    dropped both ways: they describe the servers an alias reached.

    It changes the settings every thread's connections are made from: only for a
    process of its own (a test, lesson 19's `manage.py lab_failover`), never for one
    that serves visitors."""
    settings_of = {alias: connections[alias].settings_dict for alias in nodes}
    before = {alias: (entry["PORT"], entry["NAME"]) for alias, entry in settings_of.items()}

    def point(ports: dict[str, tuple[str, str]]) -> None:
        for alias, (port, name) in ports.items():
            connections[alias].close()
            settings_of[alias]["PORT"], settings_of[alias]["NAME"] = port, name
        forget()

    point({alias: (str(pair.nodes[node].port), DATABASE) for alias, node in nodes.items()})
    try:
        yield
    finally:
        point(before)


def wait_for(pair: Pair, name: str, receiver: str) -> None:
    wait_until(
        lambda: pair.receiver(name) == receiver,
        f"node {name}'s WAL receiver to be '{receiver}' (it is '{pair.receiver(name)}')",
    )
