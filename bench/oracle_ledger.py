"""The oracle's ledger (bench/oracle.py): a middleware the oracle's run puts above the
routers (bench/oracle_settings.py) that appends one JSON line per request to the file
BENCH_LEDGER names: its client (the bench's X-Bench-Visitor header), its start and end,
its method, its read statements per alias, whether it wrote, and of the reads before its
first write (all its reads, if it wrote nothing) how many a replica served and the rules
that sent the others to a primary."""

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.http import HttpRequest, HttpResponseBase

from routers import conf
from routers.decisions import TRANSACTION_CONTROL, Reason, statements_recorded

_lock = threading.Lock()


class ReadsLedger:
    """One line per request, appended to the ledger."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.path = Path(os.environ["BENCH_LEDGER"])

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.time()
        with statements_recorded() as recorded:
            response = self.get_response(request)
        primaries = conf.primaries()
        reads: Counter[str] = Counter()
        before_write = replica_before_write = 0
        primary_reasons: Counter[str] = Counter()  # of the reads before the first write
        wrote = False
        for statement in recorded:
            if statement.reason is Reason.WRITE:  # classified as it was recorded
                wrote = True
            elif not TRANSACTION_CONTROL.match(statement.sql):  # SAVEPOINT, ROLLBACK TO ...
                reads[statement.alias] += 1
                if not wrote:
                    before_write += 1
                    if statement.alias in primaries:
                        primary_reasons[str(statement.reason)] += 1
                    else:
                        replica_before_write += 1
        line = {
            "visitor": request.headers.get("X-Bench-Visitor", ""),
            "method": request.method,
            "started": started,
            "ended": time.time(),
            "wrote": wrote,
            "reads": dict(reads),
            "replica_reads": sum(n for alias, n in reads.items() if alias not in primaries),
            "reads_before_write": before_write,
            "replica_reads_before_write": replica_before_write,
            "primary_reads_before_write_by_rule": dict(primary_reasons),
        }
        with _lock, self.path.open("a") as ledger:
            ledger.write(json.dumps(line) + "\n")
        return response
