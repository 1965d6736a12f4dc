"""One log record per request, and per run of a task under `routers.task_scope`: where
its reads went, why, and how many statements each alias ran.

The records go to the logger "routers.decisions" at INFO. Django's default logging
leaves that logger at WARNING, so nothing is built or written until a project turns it
on (a handler and "level": "INFO" in LOGGING); the check costs one comparison. Each
record carries the same facts as a dict, under `record.routing`, for a JSON formatter:

    {"method": "GET", "path": "/t/7/", "status": 200, "strategy": "causal",
     "retried": false,
     "primaries": {"default": {
         "decisions": [{"alias": "default", "server": "127.0.0.1:5432",
                        "reason": "not_replayed", "waited_ms": 0.0, "behind_bytes": 3120}],
         "statements": {"default": 4}}}}

A streamed response's record is written once its body is closed, with what the body ran.
A task's record names the task and how its run ended instead of the method, path and
status:

    {"task": "forum.tasks.notify_thread_author", "outcome": "done", "strategy": "causal", ...}
"""

import logging
from typing import Any

from django.db import connections
from django.http import HttpRequest, HttpResponseBase

from . import conf
from .context import RequestState
from .decisions import Decision
from .strategies import strategy_serving

logger = logging.getLogger("routers.decisions")


def server_of(alias: str) -> str:
    """The host and port `alias` is configured with (a pooler's, behind one)."""
    settings = connections[alias].settings_dict
    return f"{settings.get('HOST') or 'local socket'}:{settings.get('PORT') or 5432}"


def decision_fields(decision: Decision) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "alias": decision.alias,
        "server": server_of(decision.alias),
        "reason": str(decision.reason),
    }
    if decision.waited_ms is not None:
        fields["waited_ms"] = decision.waited_ms
    if decision.behind_bytes is not None:
        fields["behind_bytes"] = decision.behind_bytes
    return fields


def primaries_record(state: RequestState) -> dict[str, Any]:
    """Per primary, the decisions of `state` and the statements per alias."""
    # Copies first: a worker thread of the request may still add to them.
    clusters = dict(state.clusters)
    queries = dict(state.queries)
    primaries: dict[str, Any] = {}
    # Statements on an alias of a primary no router call chose for (a raw cursor) too,
    # and on an alias the routers do not manage, under its own name.
    for primary in [*clusters, *(conf.primary_of(alias) or alias for alias in queries)]:
        if primary in primaries:
            continue
        statements = {
            alias: count
            for alias, count in queries.items()
            if (conf.primary_of(alias) or alias) == primary
        }
        decisions = clusters[primary].decisions if primary in clusters else []
        if decisions or statements:
            primaries[primary] = {
                "decisions": [decision_fields(each) for each in decisions],
                "statements": statements,
            }
    return primaries


def request_record(request: HttpRequest, state: RequestState, status: int) -> dict[str, Any]:
    """The routing of one request, as plain data (see the module's docstring)."""
    return {
        "method": request.method,
        "path": request.path,
        "status": status,
        "strategy": strategy_serving(state),
        "retried": state.retried,
        "primaries": primaries_record(state),
    }


def task_record(task: str, state: RequestState, outcome: str) -> dict[str, Any]:
    """The routing of one run of a task, as plain data: `outcome` is "done", "failed"
    or "enqueued again" (delayed mode: no usable replica had its enqueuer's writes)."""
    return {
        "task": task,
        "outcome": outcome,
        "strategy": strategy_serving(state),
        "primaries": primaries_record(state),
    }


def describe(record: dict[str, Any]) -> str:
    """The record as one line: 'GET /t/7/ 200 causal: default -> default (not_replayed,
    3120 bytes behind); statements default=4'."""
    parts = []
    for primary, routed in record["primaries"].items():
        steps = []
        for decision in routed["decisions"]:
            measured = [decision["reason"]]
            if "waited_ms" in decision:
                measured.append(f"waited {decision['waited_ms']} ms")
            if "behind_bytes" in decision:
                measured.append(f"{decision['behind_bytes']} bytes behind")
            steps.append(f"{decision['alias']} ({', '.join(measured)})")
        counts = " ".join(f"{alias}={n}" for alias, n in routed["statements"].items())
        parts.append(f"{primary} -> {', '.join(steps) or 'no read'}; statements {counts or 0}")
    if "task" in record:
        head = f"task {record['task']} {record['outcome']} {record['strategy']}"
    else:
        head = f"{record['method']} {record['path']} {record['status']} {record['strategy']}"
    retried = " (served again)" if record.get("retried") else ""
    return f"{head}{retried}: {' | '.join(parts) or 'no database'}"


def log_request(request: HttpRequest, state: RequestState, response: HttpResponseBase) -> None:
    """Write the request's record, if the "routers.decisions" logger takes INFO."""
    if not logger.isEnabledFor(logging.INFO):
        return
    record = request_record(request, state, response.status_code)
    logger.info("%s", describe(record), extra={"routing": record})


def log_task(task: str, state: RequestState, outcome: str) -> None:
    """Write the task run's record, if the "routers.decisions" logger takes INFO."""
    if not logger.isEnabledFor(logging.INFO):
        return
    record = task_record(task, state, outcome)
    logger.info("%s", describe(record), extra={"routing": record})
