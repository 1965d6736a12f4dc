"""WritesOnPrimaryQuerySet: a queryset whose writes go to the primary, whatever alias it was
bound to for reading.

Django's GenericRelation manager binds its queryset to `db_for_read` (ticket #36389),
so `post.reactions.update(...)`, `post.reactions.filter(...).delete()` or a `create()`
on such a queryset would run on a replica. Make this the model's default manager (a
GenericRelation's manager is built from it) and those writes go to the primary, while
the model's reads may use the replicas like any other model's:

    class Reaction(models.Model):
        objects = WritesOnPrimaryQuerySet.as_manager()

A model that a GenericRelation targets, whose default manager is not one of these, is
read from the primary instead (see `generic_models()`).
"""

from collections.abc import Iterable, Mapping
from typing import Any, Self, TypeVar

from django.db import router
from django.db.models import Model, QuerySet

from . import conf

_M = TypeVar("_M", bound=Model)


class WritesOnPrimaryQuerySet(QuerySet[_M]):
    """Every method that writes re-binds a queryset bound to a replica to the write alias."""

    def _for_writing(self) -> Self:
        # _db: the alias the queryset is bound to; _hints: the routing hints it carries
        # (the related instance). Both private to Django, and missing from its stubs.
        bound: str | None = self._db  # type: ignore[attr-defined]
        if bound is None or bound not in conf.all_replicas():
            return self
        hints: dict[str, Any] = self._hints  # type: ignore[attr-defined]
        return self.using(router.db_for_write(self.model, **hints))

    def update(self, **kwargs: Any) -> int:
        updated = super(WritesOnPrimaryQuerySet, self._for_writing()).update(**kwargs)
        self._result_cache = None  # stale now, as Django's own update() leaves it
        return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        deleted = super(WritesOnPrimaryQuerySet, self._for_writing()).delete()
        self._result_cache = None
        return deleted

    def create(self, **kwargs: Any) -> _M:
        return super(WritesOnPrimaryQuerySet, self._for_writing()).create(**kwargs)

    def bulk_create(self, objs: Iterable[_M], *args: Any, **kwargs: Any) -> list[_M]:
        return super(WritesOnPrimaryQuerySet, self._for_writing()).bulk_create(
            objs, *args, **kwargs
        )

    def bulk_update(
        self, objs: Iterable[_M], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        return super(WritesOnPrimaryQuerySet, self._for_writing()).bulk_update(
            objs, fields, batch_size
        )

    def get_or_create(
        self, defaults: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> tuple[_M, bool]:
        return super(WritesOnPrimaryQuerySet, self._for_writing()).get_or_create(defaults, **kwargs)

    def update_or_create(
        self,
        defaults: Mapping[str, Any] | None = None,
        create_defaults: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> tuple[_M, bool]:
        return super(WritesOnPrimaryQuerySet, self._for_writing()).update_or_create(
            defaults, create_defaults, **kwargs
        )

    def select_for_update(self, *args: Any, **kwargs: Any) -> Self:
        # A row lock is a write: a standby refuses it.
        return super(WritesOnPrimaryQuerySet, self._for_writing()).select_for_update(
            *args, **kwargs
        )
