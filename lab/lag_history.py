"""The replicas' lag over the last minutes, as the lab measured it.

Every measurement of the nodes the lab makes (the cluster panel, /healthz, which the
panel polls each second and monitoring polls too) is kept: when, and for each replica
whether it answered, its lag in seconds and whether the routers had it in rotation
(`routers.usable_replicas`, what sticky and causal read from). With REDIS_URL every
server process appends to one Redis list and draws from it, so the chart is the same
whichever gunicorn worker draws it; without Redis, or while Redis does not answer, each
process draws the measurements it made itself, and says so.
"""

import json
import math
import threading
import time
from collections import deque
from contextlib import suppress
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import redis
from django.conf import settings

WINDOW_SECONDS = 180.0
# Two measurements closer than this are drawn as one (two tabs, a page and its poll),
# unless a replica went in or out of rotation between them.
MIN_SPACING_SECONDS = 0.5
# Enough for six measurements a second over the window (an open panel makes two: its
# /healthz and its redraw); more pollers fill it sooner, and the chart then starts later.
MAX_SAMPLES = 6 * int(WINDOW_SECONDS)
REDIS_KEY = "lab:lag-history"
# After Redis failed, how long this process draws its own without asking it again: a
# hung Redis would otherwise add its timeout to each /healthz and each redraw.
REDIS_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class ReplicaSample:
    alias: str
    up: bool
    lag_seconds: float | None
    in_rotation: bool


@dataclass(frozen=True)
class Sample:
    at: float  # time.time(): one clock for every process on the host
    replicas: tuple[ReplicaSample, ...]


def lag_of(replica: dict[str, Any]) -> float | None:
    """The replica's lag, or None where it is not known (down, or no number). Never
    below 0: the replica's own estimate (`routers.lag`, where the primary cannot read
    its WAL) is its clock less the primary's commit time, below 0 on a clock behind."""
    lag = replica.get("lag_seconds")
    if not replica.get("up") or not isinstance(lag, int | float) or not math.isfinite(lag):
        return None
    return max(0.0, float(lag))


def sample_of(nodes: dict[str, Any], at: float) -> Sample:
    """What `routers.describe_nodes()` (or /healthz's body) says of the default primary's
    replicas."""
    return Sample(
        at,
        tuple(
            ReplicaSample(
                replica["alias"],
                bool(replica.get("up")),
                lag_of(replica),
                bool(replica.get("in_rotation")),
            )
            for replica in nodes.get("replicas", [])
        ),
    )


def encoded(sample: Sample) -> str:
    return json.dumps({"at": sample.at, "replicas": [asdict(r) for r in sample.replicas]})


def decoded(text: bytes | str) -> Sample | None:
    """The sample `encoded` wrote, or None for anything else in the list (another
    version's format, a hand-pushed entry): one bad entry must not take the chart down."""
    try:
        entry = json.loads(text)
        at, replicas = entry["at"], entry["replicas"]
        if not isinstance(at, int | float) or not math.isfinite(at):
            return None
        named = [r for r in replicas if isinstance(r, dict) and isinstance(r.get("alias"), str)]
        return sample_of({"replicas": named}, float(at))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def same_rotation(one: Sample, other: Sample) -> bool:
    """Every replica up and in rotation alike in both."""

    def rotation(sample: Sample) -> tuple[tuple[str, bool, bool], ...]:
        return tuple((r.alias, r.up, r.in_rotation) for r in sample.replicas)

    return rotation(one) == rotation(other)


def thinned(samples: list[Sample]) -> list[Sample]:
    """In time order, each MIN_SPACING_SECONDS after the last kept or a change of rotation."""
    kept: list[Sample] = []
    for sample in sorted(samples, key=lambda s: s.at):
        last = kept[-1] if kept else None
        if (
            last is None
            or sample.at - last.at >= MIN_SPACING_SECONDS
            or not same_rotation(sample, last)
        ):
            kept.append(sample)
    return kept


class LagHistory:
    """The measurements: in Redis when it is given and answers, and always in this
    process's memory (shared by its threads) for when it does not."""

    def __init__(self, redis_url: str = "", timeout: float = 0.25) -> None:
        self._lock = threading.Lock()
        self._own: deque[Sample] = deque(maxlen=MAX_SAMPLES)
        self._redis = (
            redis.Redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
            if redis_url
            else None
        )
        self._redis_retry_at = 0.0  # time.monotonic()

    def _shared(self) -> redis.Redis | None:
        """Redis, unless it is not given or failed less than REDIS_RETRY_SECONDS ago."""
        return self._redis if time.monotonic() >= self._redis_retry_at else None

    def _failed(self) -> None:
        self._redis_retry_at = time.monotonic() + REDIS_RETRY_SECONDS

    def add(self, nodes: dict[str, Any], at: float | None = None) -> None:
        sample = sample_of(nodes, time.time() if at is None else at)
        with self._lock:
            self._own.append(sample)
        if (shared := self._shared()) is not None:
            try:
                shared.pipeline().rpush(REDIS_KEY, encoded(sample)).ltrim(
                    REDIS_KEY, -MAX_SAMPLES, -1
                ).execute()
            except redis.RedisError:
                self._failed()

    def samples(self) -> tuple[list[Sample], bool]:
        """The measurements, thinned, in time order; and whether every process's (True)
        or only this one's. This process's own are always among them: those it made
        while Redis was away are in no list but its own."""
        with self._lock:
            own = list(self._own)
        if (shared := self._shared()) is not None:
            try:
                entries = shared.lrange(REDIS_KEY, 0, -1)
            except redis.RedisError:
                self._failed()
            else:
                everyone = [s for s in map(decoded, entries) if s is not None]
                return thinned(everyone + own), True  # its own twice: thinned drops one
        return thinned(own), False

    def clear(self) -> None:
        with self._lock:
            self._own.clear()
        if self._redis is not None:
            with suppress(redis.RedisError):
                self._redis.delete(REDIS_KEY)


@cache
def history() -> LagHistory:
    """The server's history, on the settings' Redis if it has one."""
    return LagHistory(settings.REDIS_URL, settings.REDIS_TIMEOUT)
