"""Timeline histories: where each earlier timeline of a primary's WAL ended.

A promotion starts a new timeline. Its history file (pg_wal/<8 hex digits>.history on
the primary) lists every ancestor timeline with its switch point, the WAL position where
that timeline ended and its child began: "1<TAB>0/305AFB0<TAB>no recovery target
specified", one line per ancestor. A position on an ancestor at or before its switch
point is part of the current timeline's WAL; one after it is not.

Only a superuser may read the file (pg_read_binary_file); the routers ask the function
`routers_timeline_history(integer)` that postgres/primary/init.sh creates, owned by the
superuser and granted to the app role (its SQL is in routers/README.md). A history never
changes once its timeline exists, so each is read once per cluster and timeline.
"""

import logging
import threading
import time

from django.db import connections

from .caches import registered
from .connection import fetch_row
from .lsn import parse_lsn

logger = logging.getLogger("routers")

HISTORY_FUNCTION = "routers_timeline_history(integer)"
# After the function was found missing, how long before it is looked for again.
HISTORY_RETRY_SECONDS = 60.0
HAS_HISTORY_FUNCTION_SQL = (
    "SELECT p IS NOT NULL AND has_function_privilege(p, 'EXECUTE')"
    f" FROM to_regprocedure('{HISTORY_FUNCTION}') AS p"
)
_HISTORY_SQL = "SELECT routers_timeline_history(%s)"

#: Ancestor timeline -> its switch point (an LSN).
History = dict[int, int]


def parse_history(text: str) -> History:
    """The switch points in a history file's `text`, read as PostgreSQL reads it
    (readTimeLineHistory): blank lines and lines starting with '#' are skipped, every
    other one is a timeline, a tab, a switch point, then a reason. Raises ValueError on
    any other line, and on timelines that do not increase."""
    switches: History = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split("\t")
        try:
            timeline, switch_point = int(fields[0]), parse_lsn(fields[1])
        except (IndexError, ValueError) as error:
            raise ValueError(f"not a timeline history line: {line!r}") from error
        if timeline < 1 or (switches and timeline <= max(switches)):
            raise ValueError(f"timelines must increase: {line!r}")
        switches[timeline] = switch_point
    return switches


class HistoryCache:
    """Histories read, per (system identifier, timeline): they never change. And when
    each primary alias was last found without the function."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._histories: dict[tuple[int, int], History] = {}
        self._missing_since: dict[str, float] = {}

    def known(self, system_identifier: int, timeline: int) -> History | None:
        with self._lock:
            return self._histories.get((system_identifier, timeline))

    def remember(self, system_identifier: int, timeline: int, history: History) -> None:
        with self._lock:
            self._histories[(system_identifier, timeline)] = history

    def missing_recently(self, primary: str) -> bool:
        with self._lock:
            since = self._missing_since.get(primary)
        return since is not None and time.monotonic() - since < HISTORY_RETRY_SECONDS

    def set_missing(self, primary: str) -> None:
        with self._lock:
            self._missing_since[primary] = time.monotonic()

    def clear(self) -> None:
        with self._lock:
            self._histories.clear()
            self._missing_since.clear()


history_cache = registered(HistoryCache())


def timeline_history(primary: str, system_identifier: int, timeline: int) -> History | None:
    """The history of `timeline` of the cluster `system_identifier`, read on `primary`
    (cached); None when it cannot be read: the function is missing or not granted, the
    primary is down, or the request has a block open on it (a failing query would doom
    its transaction)."""
    known = history_cache.known(system_identifier, timeline)
    if known is not None:
        return known
    if connections[primary].in_atomic_block or history_cache.missing_recently(primary):
        return None
    granted = fetch_row(primary, HAS_HISTORY_FUNCTION_SQL)
    if granted is None:
        return None
    if not granted[0]:
        history_cache.set_missing(primary)
        logger.warning(
            "%s lacks %s (or the grant to run it): positions from before a failover are "
            "compared by their WAL position alone (see routers/README.md)",
            primary,
            HISTORY_FUNCTION,
        )
        return None
    row = fetch_row(primary, _HISTORY_SQL, [timeline])
    # Timeline 1 has no history file (no ancestors); any other has one, so none read
    # is unknown, not "no ancestors" (which would make every older position lost).
    if row is None or (row[0] is None and timeline != 1):
        return None
    try:
        history = parse_history(row[0] or "")
        if any(ancestor >= timeline for ancestor in history):
            raise ValueError(f"an ancestor not older than timeline {timeline}")
    except ValueError as error:
        logger.warning("%s: timeline %d's history is unreadable: %s", primary, timeline, error)
        return None
    history_cache.remember(system_identifier, timeline, history)
    return history
