"""make bench's oracle: the share of read statements a replica could have served without
a stale read, to measure each strategy against what is possible, not against each other.

A request may read a replica when its client has no write the replica lacks: each of the
client's earlier writing requests ended (so had committed) at least the replica's apply
delay before this one began. A POST (PUT, PATCH, DELETE) reads the primary: its reads
guard its write (a uniqueness check read from a lagging replica passes, then the insert
fails). Of a GET that writes, the reads before its first write may read a replica.
Anonymous readers' pages always may. A write is taken as committed when its request
ended, an upper bound: the oracle errs low by the milliseconds between a commit and its
response.

The facts come from the ledger bench/oracle_ledger.py keeps in the oracle's run.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

WRITING_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def is_replica(alias: str) -> bool:
    """The forum's replica aliases (config/settings.py): replica, replica_2, ...,
    analytics_replica, and replicas (the pooled one)."""
    return "replica" in alias


def oracle(ledger: Path, apply_delay: float) -> dict[str, Any]:
    """The oracle's share, the share the run's strategy reached, and where it fell short:
    the replica-able reads it sent elsewhere, by the reasons of their requests' decisions."""
    requests = [json.loads(line) for line in ledger.read_text().splitlines()]
    writes_ended: dict[str, list[float]] = {}
    for request in requests:
        if request["wrote"] and request["visitor"]:
            writes_ended.setdefault(request["visitor"], []).append(request["ended"])
    total = possible = reached = 0
    missed: Counter[str] = Counter()
    for request in requests:
        reads = sum(request["reads"].values())
        on_replica = sum(n for alias, n in request["reads"].items() if is_replica(alias))
        total += reads
        reached += on_replica
        lacking = any(
            ended + apply_delay > request["started"]
            for ended in writes_ended.get(request["visitor"], [])
            if ended <= request["started"]
        )
        if lacking:
            continue
        if request["method"] in WRITING_METHODS:
            continue
        could = request["reads_before_write"] if request["wrote"] else reads
        possible += could
        if on_replica < could:
            missed[" + ".join(sorted(set(request["reasons"]))) or "none"] += could - on_replica
    return {
        "requests": len(requests),
        "read_statements": total,
        "oracle_share": round(possible / total, 3) if total else None,
        "reached_share": round(reached / total, 3) if total else None,
        "reached_of_oracle": round(reached / possible, 3) if possible else None,
        "possible_reads_missed_by_reason": dict(missed.most_common()),
    }
