"""The HA test stack (tests/ha.env), driven through postgres/ha.sh and Patroni's REST API,
and Django connections configured from its URLs as the settings make them."""

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from config.settings import database
from tests.helpers import REPO, wait_until

NODES = ("node1", "node2", "node3")


def process_state(pid: int) -> str | None:
    """The process's state letter (R, S, T for stopped, Z for a zombie...), None once
    it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return None


def read_env(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as `set -a; . FILE` reads them (comments and blank lines skipped)."""
    lines = path.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    return {key.strip(): value.strip() for key, value in pairs}


@dataclass
class HaCluster:
    """Three nodes under Patroni, each with its etcd member, as postgres/ha.sh runs them."""

    env: dict[str, str]

    def run(self, *args: str, timeout: float = 180) -> str:
        """Run postgres/ha.sh; its output (raises on failure, with what it said)."""
        done = subprocess.run(
            [str(REPO / "postgres/ha.sh"), *args],
            cwd=REPO,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ha.sh {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    @property
    def ttl(self) -> float:
        """Patroni's leader key TTL (postgres/patroni/config.sh), in seconds."""
        return float(self.config()["ttl"])

    def pg_port(self, node: str) -> int:
        return int(self.env["HA_PG_PORT"]) + NODES.index(node)

    def api(self, node: str) -> str:
        return f"http://127.0.0.1:{int(self.env['HA_API_PORT']) + NODES.index(node)}"

    def request(self, node: str, path: str, body: Any = None, timeout: float = 5) -> Any:
        """A REST API call (POST when there is a body); its JSON, or its text."""
        data = None if body is None else json.dumps(body).encode()
        with urllib.request.urlopen(
            urllib.request.Request(self.api(node) + path, data=data), timeout=timeout
        ) as response:
            text = response.read().decode()
        try:
            return json.loads(text)
        except ValueError:
            return text

    def members(self) -> list[dict[str, Any]]:
        """Patroni's /cluster members, as the first node that answers sees them."""
        for node in NODES:
            try:
                found: list[dict[str, Any]] = self.request(node, "/cluster")["members"]
                return found
            except OSError:
                continue
        return []

    def config(self) -> dict[str, Any]:
        """The cluster's dynamic configuration (in etcd), as a node that answers has it."""
        for node in NODES:
            try:
                found: dict[str, Any] = self.request(node, "/config")
                return found
            except OSError:
                continue
        raise RuntimeError("no Patroni answers")

    def leader(self) -> str | None:
        """The node that holds the leader lock and runs a primary: GET /primary answers
        200 as soon as the lock is taken, while PostgreSQL is still being promoted, so
        the role it reports (from pg_is_in_recovery) is checked too."""
        for node in NODES:
            try:
                status = self.request(node, "/primary", timeout=2)
            except OSError:  # 503 (urllib's HTTPError is one), or no answer
                continue
            if status.get("role") in ("master", "primary"):
                return node
        return None

    def wait_for_leader(self, other_than: str | None = None, timeout: float = 30) -> str:
        def found() -> str | None:
            node = self.leader()
            return node if node and node != other_than else None

        leader: str = wait_until(found, timeout=timeout, interval=0.1, what="a leader")
        return leader

    def patroni_pid(self, node: str) -> int:
        """The PID of `node`'s Patroni, from postgres/ha.sh's pidfile."""
        return int((REPO / self.env["STACK_DIR"] / "run" / f"{node}.pid").read_text())

    def postmaster_pid(self, node: str) -> int:
        """The PID of the PostgreSQL server `node`'s Patroni runs (its postmaster.pid)."""
        pidfile = REPO / self.env["STACK_DIR"] / node / "postmaster.pid"
        return int(pidfile.read_text().splitlines()[0])

    def wal_senders(self, node: str) -> list[int]:
        """The PIDs of the WAL senders on `node`, one per standby streaming from it."""
        rows = self.superuser_query(node, "SELECT pid FROM pg_stat_replication")
        return [int(pid) for (pid,) in rows]

    def streaming(self, leader: str) -> dict[str, str]:
        """The standbys streaming from `leader`: application_name -> sync_state."""
        rows = self.superuser_query(
            leader,
            "SELECT application_name, sync_state FROM pg_stat_replication"
            " WHERE state = 'streaming'",
        )
        return dict(rows)

    def superuser_query(self, node: str, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql` run by psql as the postgres superuser on `node`, over its socket."""
        output = self.run("psql", node, "-At", "-F", "\t", "-c", sql, timeout=20)
        return [tuple(line.split("\t")) for line in output.splitlines()]

    def whole(self, timeout: float = 60) -> None:
        """Every node running (a stopped or killed one started again), one leader, two
        standbys streaming from it, one of them synchronous in synchronous mode."""
        for node in self.down():
            self.run("start", node)
        wait_until(self.settled, timeout=timeout, interval=0.2, what="the cluster to settle")

    def settled(self) -> bool:
        leader = self.leader()
        if leader is None or len(self.streaming(leader)) != 2:
            return False
        roles = [member["role"] for member in self.members()]
        return "sync_standby" in roles or not self.config()["synchronous_mode"]

    def down(self) -> list[str]:
        """What `ha.sh status` says is down: nodes, etcd members, Redis."""
        lines = self.run("status").splitlines()
        return [line.split()[1] for line in lines if line.endswith(" down")]

    def urls(self) -> dict[str, str]:
        """The app's settings for this cluster, as `ha.sh env` prints them."""
        return dict(line.split("=", 1) for line in self.run("env").splitlines())

    def django(self, url: str) -> BaseDatabaseWrapper:
        """A Django connection configured from `url` as config/settings.py configures
        DATABASES (a handler of its own: the project's DATABASES are left alone)."""
        handler = ConnectionHandler({"default": database(url)})
        return handler["default"]
