"""Helpers for the places a router cannot see on its own."""

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ObjectDoesNotExist
from django.db import connections, router
from django.db.backends.utils import CursorWrapper
from django.db.models import Manager, Model, QuerySet

from .context import mark_write

ViewT = TypeVar("ViewT", bound=Callable[..., Any])
ModelT = TypeVar("ModelT", bound=Model)


def db_write(view: ViewT) -> ViewT:
    """Mark a view as writing, for writes the middleware cannot see.

    The middleware notices statements run on the primary. A view whose write goes
    through something else (a call to another service that writes to the same
    primary before the view returns) should carry this decorator, so the client is
    pinned (sticky) or given the primary's position (causal). Writes that happen
    after the response, such as a queue's consumer, are not covered: the position
    recorded is the primary's when the response leaves. Sync and async views.
    """

    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            mark_write()
            return await view(*args, **kwargs)

        return markcoroutinefunction(async_wrapper)  # type: ignore[return-value]

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        mark_write()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def replica_aware_get_or_create(
    queryset: Manager[ModelT] | QuerySet[ModelT],
    defaults: dict[str, Any] | None = None,
    **lookup: Any,
) -> tuple[ModelT, bool]:
    """`get_or_create` that looks on the replica first.

    Django's `get_or_create` always runs on the primary (it may write), even when
    the row exists, which is the common case for tags, counters and lookups. This
    tries a plain read first and only goes to the primary when the row is missing.

    Caveat: a row found on a lagging replica may already be changed or deleted on
    the primary. Use it for rows that are created once and rarely change.
    """
    try:
        return queryset.get(**lookup), False
    except ObjectDoesNotExist:
        return queryset.get_or_create(defaults=defaults, **lookup)


def read_alias(model: type[Model] | None = None) -> str:
    """The alias the routers send this request's reads of `model` to."""
    return router.db_for_read(model)  # type: ignore[arg-type]


def cursor_for_read(model: type[Model] | None = None) -> CursorWrapper:
    """A cursor for raw SQL reads, on the alias the routers would pick.

    `django.db.connection.cursor()` is always the default alias: raw SQL bypasses
    the routers. Use this for raw reads, and `connections[alias].cursor()` with the
    primary's alias for raw writes.

        with cursor_for_read(Post) as cursor:
            cursor.execute("SELECT count(*) FROM forum_post")
    """
    return connections[read_alias(model)].cursor()
