"""The task queue's reads go to the primary, whatever the routing strategy.

django-tasks-db's worker claims a task inside `atomic(using=<the queue's read alias>)`
with `select_for_update()`, which runs on the write alias. With the queue read from a
replica, the block is open on the replica and the locking read runs on the primary
outside any transaction: Django refuses it (TransactionManagementError) and the worker
stops. A queue is read to be changed: read it where it is written.
"""

from typing import Any

from django.db.models import Model

from routers import conf

# django-tasks-db's app label (its AppConfig.label).
QUEUE_APP = "django_tasks_database"


class TaskQueueRouter:
    """First in DATABASE_ROUTERS: the queue's reads on its primary; for every other
    model, no opinion (the next router decides)."""

    def db_for_read(self, model: type[Model] | None, **hints: Any) -> str | None:
        # None: a read of no model (routers.read_alias(), cursor_for_read()).
        if model is not None and model._meta.app_label == QUEUE_APP:
            return conf.primary_for(QUEUE_APP)
        return None
