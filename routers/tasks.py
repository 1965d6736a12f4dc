"""Background tasks that read what their enqueuer wrote (Django's tasks framework).

A task runs later, in a worker process, outside the request that enqueued it: carrying
nothing, its reads go to a replica that may not have replayed the very rows it was
enqueued for. So a task enqueued after a write carries its enqueuer's writes (per
primary: the position, its cluster and when it was made, signed as by `routers.tokens`)
in a keyword argument of its own, and runs in a routing scope of its own that holds them:

    from django.tasks import task
    from routers import enqueue_on_commit, task_scope

    @task()
    @task_scope
    def notify_author(*, post_id: int) -> None: ...

    enqueue_on_commit(notify_author, post_id=post.pk)  # after (or inside) the write's atomic()

A keyword argument, not the backend's metadata: django.tasks keeps none per result, and
every backend stores a task's arguments, so this works with any backend (the worker only
has to call the task's function) and the token can be seen where the task is stored.

In its scope the task is routed as its enqueuer's next request would be: under causal,
its reads of a primary go to a replica that has replayed the carried position (after the
router's bounded wait), else to the primary; under sticky, to the primary while the
carried write is younger than ROUTERS_STICKY_SECONDS. What it does when no replica has
the position yet is its mode (ROUTERS_TASK_MODE, or `task_scope(mode=...)`): `sticky`
runs at once, so reads the primary; `delayed` runs the task again once,
ROUTERS_STICKY_SECONDS later, and leaves the worker free meanwhile. Tasks a task
enqueues carry its carried writes and its own.
"""

import functools
import inspect
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import connections, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import conf
from .context import RequestState, current_state
from .decision_log import log_task
from .positions import from_another_cluster
from .replay import replica_with
from .rotation import usable_replicas
from .scopes import request_scope
from .tokens import absorb, dumps, loads, writes_known
from .unscoped import remembered_writes

if TYPE_CHECKING:
    from django.tasks import Task, TaskResult

F = TypeVar("F", bound=Callable[..., Any])

_scoped: "weakref.WeakSet[Callable[..., Any]]" = weakref.WeakSet()


def task_scope(function: F | None = None, *, mode: str | None = None) -> Any:
    """Run each call of a task's function in a routing scope of its own, holding the
    writes its enqueuer carried (`enqueue_on_commit`, `enqueue_with_writes`). Put it
    under `@task()`; `@task_scope(mode="delayed")` overrides ROUTERS_TASK_MODE.

    A delayed task whose carried position no usable replica has replayed yet is
    enqueued again, ROUTERS_STICKY_SECONDS later, and this run returns
    `{"routers_retried_as": <the new result's id>}` without calling the function. The
    retry goes to the task's backend, queue and priority as declared (for a task that
    takes its context, as it ran: `using()` included); its reads go to the primary if
    still no replica has the position.
    """
    if mode is not None and mode not in conf.TASK_MODES:
        raise ValueError(f"task_scope(mode={mode!r}): use one of {', '.join(conf.TASK_MODES)}")

    def decorate(function: F) -> F:
        if not inspect.isfunction(function) or inspect.iscoroutinefunction(function):
            raise TypeError(
                f"@task_scope wraps a task's (sync) function: put it under @task(), "
                f"not over it ({function!r})"
            )

        # As Django finds a task from its function (Task.module_path): the module's attribute.
        path = f"{function.__module__}.{function.__qualname__}"

        # The keywords are conf.TASK_WRITES_KEYWORD and conf.TASK_RETRIED_KEYWORD.
        @functools.wraps(function)
        def run(
            *args: Any, routers_writes: str = "", routers_retried: bool = False, **kwargs: Any
        ) -> Any:
            state = RequestState()
            # A stored argument can be anything: only a token of ours carries writes.
            absorb(state, loads(routers_writes) if isinstance(routers_writes, str) else [])
            if (mode or conf.task_mode()) == "delayed" and not routers_retried and _behind(state):
                retried_as = _retry(path, args, kwargs, routers_writes)
                log_task(path, state, "enqueued again")
                return {conf.TASK_RETRIED_AS: retried_as}
            with request_scope(state):
                try:
                    result = function(*args, **kwargs)
                except BaseException:
                    log_task(path, state, "failed")
                    raise
            log_task(path, state, "done")
            return result

        _scoped.add(run)
        return run  # type: ignore[return-value]

    return decorate(function) if function is not None else decorate


def _behind(state: RequestState) -> bool:
    """Has no usable replica of some primary replayed the position `state` carries?"""
    for primary, cluster in list(state.clusters.items()):
        if cluster.min_lsn is None or from_another_cluster(primary, cluster):
            continue
        if usable_replicas(primary) and replica_with(primary, cluster.min_lsn, 0) is None:
            return True
    return False


def _retry(path: str, args: tuple[Any, ...], kwargs: dict[str, Any], writes: str) -> str:
    """Enqueue the task at `path` again, ROUTERS_STICKY_SECONDS from now; its id."""
    task = import_string(path)
    if task.takes_context:
        context, *rest = args
        args = tuple(rest)
        task = context.task_result.task  # with the backend, queue and priority it ran with
    later = task.using(run_after=timezone.now() + timedelta(seconds=conf.sticky_seconds()))
    retry = later.enqueue(
        *args, **{conf.TASK_WRITES_KEYWORD: writes, conf.TASK_RETRIED_KEYWORD: True}, **kwargs
    )
    return str(retry.id)


def _require_scoped(task: "Task[..., Any]") -> None:
    if task.func not in _scoped:
        raise TypeError(
            f"{task.module_path} does not take the writes it would be given: "
            "decorate its function with @task_scope, under @task()"
        )


def enqueue_with_writes(
    task: "Task[..., Any]", /, *args: Any, **kwargs: Any
) -> "TaskResult[..., Any]":
    """`task.enqueue(*args, **kwargs)`, carrying every write the current routing scope
    knows (outside one, the running code's own: `routers.unscoped`). Call it once those
    writes have committed: inside an open `atomic()` on a primary it raises, since the
    position then is the block's before its commit; use `enqueue_on_commit` there."""
    _require_scoped(task)
    open_blocks = [primary for primary in conf.primaries() if connections[primary].in_atomic_block]
    if open_blocks:
        raise transaction.TransactionManagementError(
            f"enqueue_with_writes() inside atomic() on {', '.join(open_blocks)}: the block's "
            "writes have not committed yet; use enqueue_on_commit()"
        )
    state = current_state()
    writes = writes_known(state) if state is not None else remembered_writes()
    carried = {conf.TASK_WRITES_KEYWORD: dumps(writes)} if writes else {}
    return task.enqueue(*args, **carried, **kwargs)


def enqueue_on_commit(task: "Task[..., Any]", /, *args: Any, **kwargs: Any) -> None:
    """`enqueue_with_writes`, once every primary's open transaction has committed (at
    once outside any): the task is never enqueued for a write that rolled back, and its
    position is after the commit. Raises at once for a task that cannot take the writes."""
    _require_scoped(task)
    _after_commits(functools.partial(enqueue_with_writes, task, *args, **kwargs))


def _after_commits(callback: Callable[[], object]) -> None:
    """Run `callback` once no primary has an open atomic block, each block's commit in turn."""
    for primary in conf.primaries():
        if connections[primary].in_atomic_block:
            transaction.on_commit(lambda: _after_commits(callback), using=primary)
            return
    callback()
