"""The routers' process-wide caches, and `forget()`, which empties every one of them.

Each cache is an object that owns its state and its lock; it registers itself here
when its module creates it, so `forget()` needs no list of them.
"""

from typing import Protocol, TypeVar


class Cache(Protocol):
    def clear(self) -> None: ...


C = TypeVar("C", bound=Cache)

_registered: list[Cache] = []


def registered(cache: C) -> C:
    """Register `cache` with `forget()`; returns it."""
    _registered.append(cache)
    return cache


def forget() -> None:
    """Drop everything the probes have learnt (tests use it after stopping or starting
    a node): health, positions seen per server, lag measurements."""
    for cache in _registered:
        cache.clear()
