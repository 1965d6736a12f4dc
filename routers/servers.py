"""The servers behind one alias.

An alias usually names one server. It may name several: a host name with several
addresses (compose's `--scale replica=N` gives the service name one address per
container), or libpq's list of hosts ("HOST": "a,b"). Each new connection may then reach
a different server, so the routers remember replay positions per server
(`ReplayedPositions`), and `/healthz` describes each server on its own.
"""

import ipaddress
import socket
import threading
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from django.db import connections

from .caches import registered


@dataclass(frozen=True)
class Server:
    """One server an alias can reach: its host as configured, an address, a port."""

    host: str
    #: The resolved IP address; None for a Unix socket directory.
    address: str | None
    port: str

    def __str__(self) -> str:
        return f"{self.address or self.host}:{self.port}"


def servers_of(alias: str) -> list[Server]:
    """Every server a new connection to `alias` may reach, in the order libpq tries them.

    A host that does not resolve is left out; none at all is an empty list.
    """
    settings = connections[alias].settings_dict
    hosts = str(settings.get("HOST") or "").split(",")
    ports = str(settings.get("PORT") or "5432").split(",")
    if len(ports) == 1:  # libpq: one port for every host
        ports *= len(hosts)
    found: list[Server] = []
    for host, port in zip(hosts, ports, strict=False):
        if not host or host.startswith("/"):  # a Unix socket (libpq's default directory)
            found.append(Server(host, None, port))
            continue
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError:
            continue
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        # "localhost" names ::1 and 127.0.0.1: one machine, so one server.
        if all(ipaddress.ip_address(address).is_loopback for address in addresses):
            addresses = addresses[:1]
        found += [Server(host, address, port) for address in addresses]
    return found


def connect_to_server(alias: str, server: Server, **options: Any) -> psycopg.Connection[Any]:
    """A new connection, outside Django, to this one server, with `alias`'s settings."""
    params = connections[alias].get_connection_params()
    params.update(host=server.host, port=server.port, **options)
    if server.address is not None:
        params["hostaddr"] = server.address
    params.setdefault("connect_timeout", 3)
    return psycopg.connect(**params)


class ReplayedPositions:
    """Which server each connection reached, and the furthest replay position a probe
    has seen on each server.

    A server is named by its alias, its address and port, and when it started: the
    start time tells a server that took over another's address (a container
    restarted) from the one that had it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Per psycopg connection: the server it reached, once a probe has asked.
        self._servers: WeakKeyDictionary[Any, str] = WeakKeyDictionary()
        self._replayed: dict[str, int] = {}

    def record(self, alias: str, started_at: str, position: int) -> None:
        """A probe on this thread's connection to `alias` read `position` on a server
        that started at `started_at`."""
        raw = connections[alias].connection
        if raw is None:
            return
        server = f"{alias}@{raw.info.hostaddr or raw.info.host}:{raw.info.port}#{started_at}"
        with self._lock:
            self._servers[raw] = server
            self._replayed[server] = max(position, self._replayed.get(server, 0))

    def server_of(self, alias: str) -> str | None:
        """The server this thread's connection to `alias` reached; None until a probe
        has run on this connection."""
        raw = connections[alias].connection
        if raw is None or raw.closed:
            return None
        with self._lock:
            return self._servers.get(raw)

    def replayed_here(self, alias: str) -> int | None:
        """The furthest position seen replayed on the server this thread's connection to
        `alias` reached; None when no probe has run on this connection."""
        server = self.server_of(alias)
        with self._lock:
            return self._replayed.get(server) if server is not None else None

    def clear(self) -> None:
        with self._lock:
            self._servers.clear()
            self._replayed.clear()


replayed_positions = registered(ReplayedPositions())
