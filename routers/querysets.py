"""WritesOnPrimaryQuerySet: a queryset whose writes go to the primary, whatever alias it was
bound to for reading.

Django's GenericRelation manager binds its queryset to `db_for_read` (ticket #36389),
so `post.reactions.update(...)`, `post.reactions.filter(...).delete()` or a `create()`
on such a queryset would run on a replica (the manager's own `create()`, `add()`,
`set()` and `clear()` ask `db_for_write`). Make this the model's default manager (a
GenericRelation's manager is built from it) and those writes go to the primary, while
the model's reads may use the replicas like any other model's:

    class Reaction(models.Model):
        objects = WritesOnPrimaryQuerySet.as_manager()

A model that a GenericRelation targets, whose default manager is not one of these, is
read from the primary instead (see `generic_models()`).
"""

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any, Self, TypeVar

from django.apps import apps
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


@cache
def generic_models() -> frozenset[type[Model]]:
    """Models that must be read from the primary: those a GenericRelation targets whose
    default manager does not keep writes on the primary.

    A GenericRelation's related manager binds its queryset with db_for_read (Django
    ticket #36389): its own create(), get_or_create(), add(), set() and clear() ask
    db_for_write, but `obj.relation.update(...)`, `obj.relation.all().delete()` and
    `obj.relation.filter(...).create()` run on the alias chosen for reading. A model whose default
    manager is a `WritesOnPrimaryQuerySet` sends those writes to the primary itself,
    and is read like any other model. Computed once, after the app registry is ready.
    """
    # Imported here: contenttypes' models need the app registry, which is not
    # ready yet when this package is imported as an installed app.
    from django.contrib.contenttypes.fields import GenericRelation

    found: set[type[Model]] = set()
    for model in apps.get_models():
        for model_field in model._meta.private_fields:
            if isinstance(model_field, GenericRelation):
                target: type[Model] = model_field.related_model
                if not keeps_writes_on_primary(target):
                    found.add(target)
    return frozenset(found)


def keeps_writes_on_primary(model: type[Model]) -> bool:
    """Does the model's default manager send writes on a replica-bound queryset to the primary?"""
    queryset_class: type = model._default_manager._queryset_class  # type: ignore[attr-defined]
    return issubclass(queryset_class, WritesOnPrimaryQuerySet)
