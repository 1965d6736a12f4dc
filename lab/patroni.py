"""The HA stack's Patroni cluster as its REST API tells it, and the panel's demo controls
on it: a switchover, the leader's node killed, the standbys' apply delay.

Patroni, not the routers, knows who leads: GET /cluster, answered by any member from
etcd, lists each member with its role, state and timeline, and each standby's lag (the
bytes of WAL between the leader's last reported position and its own). The routers know
nothing of Patroni; the lab does (settings.PATRONI_URLS).

A Patroni that is dead, or hung with its port still open (a SIGSTOPped process: the
kernel accepts the connection, nobody answers), costs each URL at most PATRONI_TIMEOUT
seconds for the connection and as much for each read, then the next URL is tried: the
panel and /healthz say what is unknown, and never fail for it.
"""

import http.client
import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings

from .programs import run_program

# POST /switchover answers once the new leader holds the lock, or after 20 s of trying
# (patroni/api.py, poll_failover_result: 2 x max(10, loop_wait) polls, one a second).
SWITCHOVER_TIMEOUT = 25
# The node names postgres/ha.sh knows (Patroni's member names there).
HA_NODE = re.compile(r"node[1-3]")
MAX_ANSWER_BYTES = 1_000_000

# The loopback API is never reached through an HTTP proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class PatroniError(Exception):
    """A control Patroni or the stack refused, in words for the page."""


def _call(url: str, *, method: str = "GET", body: Any = None, timeout: float) -> str:
    """The answer's body. `timeout` bounds the connection and each read of the status
    line and headers, and the whole body too: one dripped a byte at a time would
    otherwise hold the page for as long as it drips (TimeoutError)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    with _opener.open(request, timeout=timeout) as response:
        deadline = time.monotonic() + timeout
        chunks: list[bytes] = []
        size = 0
        while size < MAX_ANSWER_BYTES:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no whole answer within {timeout} s")
            chunk = response.read1(min(65536, MAX_ANSWER_BYTES - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks).decode()


def _reason(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def _member(found: Any) -> dict[str, Any]:
    """One member of GET /cluster's answer, checked: a garbled one is a ValueError."""
    if not isinstance(found, dict) or not isinstance(found.get("name"), str):
        raise ValueError("a member without a name")
    lag, timeline = found.get("lag"), found.get("timeline")
    return {
        "name": found["name"],
        "role": str(found.get("role", "")),
        "state": str(found.get("state", "")),
        "timeline": timeline if isinstance(timeline, int) else None,
        # Absent for the leader; "unknown" for a member that has not reported a position.
        "lag": lag if isinstance(lag, int) else None,
    }


def describe(api: str, found: Any) -> dict[str, Any]:
    """GET /cluster's answer from `api`, as the panel shows it: the leader, its timeline
    (the cluster's), every member."""
    if not isinstance(found, dict) or not isinstance(found.get("members"), list):
        raise ValueError("not a cluster: no list of members")
    members = [_member(member) for member in found["members"]]
    leader = next((m for m in members if m["role"] in ("leader", "standby_leader")), None)
    return {
        "api": api,
        "leader": leader["name"] if leader else None,
        "timeline": leader["timeline"] if leader else None,
        "members": members,
        "paused": found.get("pause") is True,
    }


def cluster() -> dict[str, Any]:
    """The cluster as the first of PATRONI_URLS that answers sees it (describe()), or,
    when none does, {"error": why} with each URL's reason."""
    failures = []
    for api in settings.PATRONI_URLS:
        try:
            answer = _call(f"{api}/cluster", timeout=settings.PATRONI_TIMEOUT)
            return describe(api, json.loads(answer))
        # socket.timeout and URLError are OSErrors; HTTPException: a broken status line,
        # header or chunk; RecursionError: JSON nested too deep for the parser.
        except (OSError, ValueError, http.client.HTTPException, RecursionError) as error:
            failures.append(f"{api}: {_reason(error)}")
    return {"error": "no Patroni REST API answered (" + "; ".join(failures) + ")"}


def _answering_cluster() -> dict[str, Any]:
    found = cluster()
    if "error" in found:
        raise PatroniError(f"Nothing was changed: {found['error']}.")
    if found["leader"] is None:
        raise PatroniError("Nothing was changed: the cluster has no leader right now.")
    return found


def switchover_candidate(members: list[dict[str, Any]]) -> str | None:
    """The standby to hand the lead to: the synchronous one when there is one (Patroni
    accepts no other in synchronous mode), else the running replica least behind."""
    running = [m for m in members if m["state"] in ("running", "streaming")]
    synchronous = [m["name"] for m in running if m["role"] == "sync_standby"]
    if synchronous:
        return synchronous[0]
    replicas = [m for m in running if m["role"] == "replica"]
    replicas.sort(key=lambda m: float("inf") if m["lag"] is None else m["lag"])
    return replicas[0]["name"] if replicas else None


def switchover() -> str:
    """A planned switchover (POST /switchover) from the leader to switchover_candidate();
    Patroni's answer once it is done."""
    found = _answering_cluster()
    candidate = switchover_candidate(found["members"])
    if candidate is None:
        raise PatroniError("Nothing was changed: no running standby to hand the lead to.")
    body = {"leader": found["leader"], "candidate": candidate}
    try:
        return _call(
            f"{found['api']}/switchover", method="POST", body=body, timeout=SWITCHOVER_TIMEOUT
        )
    except urllib.error.HTTPError as error:
        raise PatroniError(f"Patroni refused: {error.read(1000).decode().strip()}") from error
    except (OSError, http.client.HTTPException) as error:
        raise PatroniError(f"Patroni did not answer the switchover: {_reason(error)}.") from error


def can_kill() -> bool:
    """Whether this server can kill a node: it runs beside the HA stack's ha.sh state."""
    return bool(settings.HA_STACK_DIR) and Path(settings.HA_STACK_DIR, "run").is_dir()


def kill_leader() -> str:
    """The leader's node dying: `postgres/ha.sh kill` SIGKILLs its Patroni and its
    PostgreSQL. The leader's name, as Patroni gave it."""
    if not can_kill():
        raise PatroniError(
            "Nothing was changed: this server does not run beside the HA stack (HA_STACK_DIR)."
        )
    leader: str = _answering_cluster()["leader"]
    if not HA_NODE.fullmatch(leader):
        raise PatroniError(f"Nothing was changed: {leader!r} is not a node of postgres/ha.sh.")
    run_program(
        [str(settings.BASE_DIR / "postgres/ha.sh"), "kill", leader],
        name=f"postgres/ha.sh kill {leader}",
        error=PatroniError,
        timeout=30,
        cwd=settings.BASE_DIR,
        env={"STACK_DIR": settings.HA_STACK_DIR},
    )
    return leader


def set_apply_delay(delay: str) -> None:
    """recovery_min_apply_delay for every standby, in the cluster's configuration (PATCH
    /config): Patroni owns the recovery settings, and takes an ALTER SYSTEM of them out
    of postgresql.auto.conf. Each node applies it on its next loop."""
    body = {"postgresql": {"parameters": {"recovery_min_apply_delay": delay}}}
    failures = []
    for api in settings.PATRONI_URLS:
        try:
            _call(f"{api}/config", method="PATCH", body=body, timeout=settings.PATRONI_TIMEOUT * 4)
            return
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{api}: {_reason(error)}")
    raise PatroniError("Nothing was changed: no Patroni took it (" + "; ".join(failures) + ").")
