"""The replicas' lag over the last minutes, as this server process measured it.

Every measurement of the nodes the lab makes (the cluster panel, /healthz, which the
panel polls each second and monitoring polls too) is kept for WINDOW_SECONDS: when, and
for each replica whether it answered, its lag in seconds and whether the routers had it
in rotation (`routers.usable_replicas`, what sticky and causal read from). Each process
keeps its own: under several gunicorn workers, each draws what it measured.
"""

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

WINDOW_SECONDS = 180.0
# Two measurements closer than this are one (two tabs, a page and its poll), unless a
# replica went in or out of rotation between them: a change is always kept, up to
# MAX_SAMPLES in all (a flapping replica polled in a loop).
MIN_SPACING_SECONDS = 0.5
MAX_SAMPLES = 2 * int(WINDOW_SECONDS / MIN_SPACING_SECONDS)


@dataclass(frozen=True)
class ReplicaSample:
    alias: str
    up: bool
    lag_seconds: float | None
    in_rotation: bool


@dataclass(frozen=True)
class Sample:
    at: float  # time.time()
    replicas: tuple[ReplicaSample, ...]


def sample_of(nodes: dict[str, Any], at: float) -> Sample:
    """What `routers.describe_nodes()` (or /healthz's body) says of the default primary's
    replicas."""
    return Sample(
        at,
        tuple(
            ReplicaSample(
                replica["alias"],
                bool(replica.get("up")),
                replica.get("lag_seconds") if replica.get("up") else None,
                bool(replica.get("in_rotation")),
            )
            for replica in nodes.get("replicas", [])
        ),
    )


def same_rotation(one: Sample, other: Sample) -> bool:
    """Every replica up and in rotation alike in both."""

    def rotation(sample: Sample) -> tuple[tuple[str, bool, bool], ...]:
        return tuple((r.alias, r.up, r.in_rotation) for r in sample.replicas)

    return rotation(one) == rotation(other)


class LagHistory:
    """The samples of the last WINDOW_SECONDS, shared by the process's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: deque[Sample] = deque(maxlen=MAX_SAMPLES)

    def add(self, nodes: dict[str, Any], at: float | None = None) -> None:
        with self._lock:
            # Timed under the lock: samples of two threads go in in the order of their times.
            sample = sample_of(nodes, time.time() if at is None else at)
            last = self._samples[-1] if self._samples else None
            if last is not None and (
                sample.at < last.at
                or (sample.at - last.at < MIN_SPACING_SECONDS and same_rotation(sample, last))
            ):
                return
            self._samples.append(sample)
            while self._samples and sample.at - self._samples[0].at > WINDOW_SECONDS:
                self._samples.popleft()

    def samples(self) -> list[Sample]:
        with self._lock:
            return list(self._samples)

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()


history = LagHistory()
