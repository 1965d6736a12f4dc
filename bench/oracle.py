"""make bench's oracle: the share of read statements a replica could have served without
a stale read, to measure each strategy against what is possible, not against each other.

A request may read a replica when its client has no write the replica lacks: each of the
client's earlier writing requests ended (so had committed) at least the replica's apply
delay before this one began. A POST (PUT, PATCH, DELETE) reads the primary: its reads
guard its write (a uniqueness check read from a lagging replica passes, then the insert
fails). Of a GET that writes, the reads before its first write may read a replica.
Anonymous readers' pages always may. A write is taken as committed when its request
ended, after its commit (the oracle errs low, by the commit's after-effects: the reply's
relay to the analytics database runs then), and the replica as having it the apply delay
later, as if replay took no time (it errs high): approximate both ways. It errs low
too where a POST wrote nothing (its reads still guard a write it might have made) and
where a write rolled back (still a write).

The facts come from the ledger bench/oracle_ledger.py keeps in the oracle's run.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

WRITING_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def oracle(ledger: Path, apply_delay: float) -> dict[str, Any]:
    """The oracle's share; the share the run's strategy reached within it (the replica
    reads of each possible request, before its first write) and beside it (every other
    replica read); and the possible reads it sent to a primary, by the rule that sent each
    there. Each client's requests come one at a time."""
    requests = [json.loads(line) for line in ledger.read_text().splitlines()]
    writes_ended: dict[str, list[float]] = {}
    for request in requests:
        if request["wrote"] and request["visitor"]:
            writes_ended.setdefault(request["visitor"], []).append(request["ended"])
    total = possible = within = beside = 0
    anonymous = sum(1 for request in requests if not request["visitor"])
    missed: Counter[str] = Counter()
    for request in requests:
        reads = sum(request["reads"].values())
        on_replica = request["replica_reads"]
        total += reads
        lacking = any(
            ended + apply_delay > request["started"]
            for ended in writes_ended.get(request["visitor"], [])
            if ended <= request["started"]
        )
        if lacking or request["method"] in WRITING_METHODS:
            beside += on_replica
            continue
        # Of a GET, the reads before its first write (all, if it wrote nothing).
        possible += request["reads_before_write"]
        within += request["replica_reads_before_write"]
        beside += on_replica - request["replica_reads_before_write"]
        missed.update(request["primary_reads_before_write_by_rule"])
    return {
        "requests": len(requests),
        "requests_without_a_visitor": anonymous,
        "read_statements": total,
        "oracle_share": round(possible / total, 3) if total else None,
        "reached_of_oracle": round(within / possible, 3) if possible else None,
        "replica_reads_beside_the_oracle": round(beside / total, 3) if total else None,
        "possible_reads_missed_by_reason": dict(missed.most_common()),
    }
