"""make bench, on an HA cluster: what Patroni's synchronous_mode costs a commit.

Milliseconds per single-row commit through the forum's app role (DATABASE_URL as
`ha.sh env` prints it: every node, target_session_attrs=read-write), median and p95 of
COMMITS commits each: synchronous_mode on, on with the standbys applying 1 s late, and
off. synchronous_commit = on waits for the synchronous standby to flush the commit, not
to apply it, so the apply delay should not show; remote_apply, which waits for the
apply, is measured with the same delay to show that the delay is in effect.

Runs against the cluster of bench/ha.env (the Makefile makes it and resets it, whatever
fails). Prints a JSON report and writes bench/results/ha_commit.json.
"""

import json
import statistics
import time

import psycopg

# bench/ is this script's directory, first on sys.path.
from load import RESULTS, ha, primary_dsn, use_ha_cluster

COMMITS = 300
APPLY_DELAY = "1s"
SETTLE_TIMEOUT = 60  # seconds a mode change gets to take effect


def milliseconds(connection: psycopg.Connection, commits: int) -> dict[str, float]:
    timings = []
    for _ in range(commits):
        started = time.perf_counter()
        connection.execute("INSERT INTO bench_ha_commit (at) VALUES (now())")
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "commits": commits,
        "median": round(statistics.median(timings), 3),
        "p95": round(timings[int(0.95 * (len(timings) - 1))], 3),
    }


def standby_states() -> list[str]:
    """The sync_state of each standby streaming from the leader (as its superuser sees it)."""
    leader = ha("leader").strip()
    sql = "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'"
    return sorted(ha("psql", leader, "-At", "-c", sql).split())


def set_mode(sync: bool) -> list[str]:
    """Patroni's synchronous_mode on or off, waited for (bounded) until the leader's
    standbys are in that state; their states."""
    ha("sync", "on" if sync else "off")
    wanted = ["async", "sync"] if sync else ["async", "async"]
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while (states := standby_states()) != wanted:
        if time.monotonic() > deadline:
            raise SystemExit(f"synchronous_mode {sync}: the standbys are {states}, not {wanted}")
        time.sleep(0.2)
    return states


def main() -> None:
    use_ha_cluster()
    results: dict[str, object] = {}
    with psycopg.connect(primary_dsn(), autocommit=True, connect_timeout=5) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS bench_ha_commit (at timestamptz)")
        for name, sync, delay, commit_mode, commits in [
            ("synchronous_mode on, apply delay 0", True, "0", "on", COMMITS),
            (f"synchronous_mode on, apply delay {APPLY_DELAY}", True, APPLY_DELAY, "on", COMMITS),
            (
                f"synchronous_mode on, remote_apply, apply delay {APPLY_DELAY}",
                True,
                APPLY_DELAY,
                "remote_apply",
                5,
            ),
            ("synchronous_mode off, apply delay 0", False, "0", "on", COMMITS),
        ]:
            states = set_mode(sync)
            ha("lag", delay)
            connection.execute(f"SET synchronous_commit = {commit_mode}")
            results[name] = {**milliseconds(connection, commits), "standbys": states}
        connection.execute("DROP TABLE bench_ha_commit")
    report = {"ha_commit_latency_ms": results}
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ha_commit.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
