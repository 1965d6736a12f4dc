"""The cluster panel's controls: change a replica's apply delay, pause or resume its replay.

A demo feature (settings.LAB_CLUSTER_CONTROLS): it changes a real cluster. It connects
to a standby as the app's own role, since the replica aliases use the reader role, which
may change nothing. postgres/primary/init.sh grants that role exactly what it needs here:
ALTER SYSTEM on recovery_min_apply_delay (and, for lesson 13's run,
max_standby_streaming_delay and hot_standby_feedback), pg_reload_conf(),
pg_wal_replay_pause() and pg_wal_replay_resume(); never superuser. On the HA stack the
apply delay goes through Patroni instead (lab/patroni.py), which owns it.
"""

import time
from decimal import Decimal

import psycopg
from django import forms
from django.conf import settings
from psycopg import sql

from routers import Server, conf, connect_to_server, servers_of

from . import patroni

MAX_DELAY_SECONDS = 30
ALL_REPLICAS = "all"
# Patroni's nodes apply a new configuration on their next loop (loop_wait: 1 s here).
DELAY_APPLIED_TIMEOUT = 15


class ControlError(Exception):
    """A control that the cluster refused, in words for the page."""


def _run_on(aliases: list[str], *statements: sql.Composable) -> None:
    """Run the statements on every server behind every alias (a scaled compose service
    is one alias over several containers). Every server is tried, even after one fails,
    and then the failures are reported with what was changed."""
    app = settings.DATABASES[conf.primary()]
    changed: list[str] = []
    failed: list[str] = []
    for alias in aliases:
        servers = servers_of(alias)
        if not servers:
            failed.append(f"{alias}: its host does not resolve")
        for server in servers:
            name = alias if len(servers) == 1 else f"{alias} ({server})"
            try:
                _run_on_server(alias, server, app, statements)
            except ControlError as error:
                failed.append(f"{name}: {error}")
            else:
                changed.append(name)
    if failed:
        done = f"Changed: {', '.join(changed)}." if changed else "Nothing was changed."
        raise ControlError(f"Could not change {'; '.join(failed)}. {done}")


def _run_on_server(
    alias: str, server: Server, app: dict[str, str], statements: tuple[sql.Composable, ...]
) -> None:
    try:
        with connect_to_server(
            alias, server, user=app["USER"], password=app["PASSWORD"], autocommit=True
        ) as connection:
            for statement in statements:
                connection.execute(statement)
    except psycopg.errors.InsufficientPrivilege as error:
        raise ControlError(
            f"refused ({error.diag.message_primary}); this cluster was set up before the "
            "lab's grants: recreate it (make stack-reset, then make demo)"
        ) from error
    except psycopg.Error as error:
        # The server's own words, not the connection details.
        raise ControlError(error.diag.message_primary or type(error).__name__) from error


def set_apply_delay(aliases: list[str], seconds: Decimal) -> None:
    """Set recovery_min_apply_delay live (ALTER SYSTEM and a reload, no restart); under
    Patroni, in the cluster's configuration, for every standby, and wait until each
    standby alias that answers applies it."""
    milliseconds = int(seconds * 1000)
    delay = f"{milliseconds}ms"
    if settings.PATRONI_URLS:
        patroni.set_apply_delay(delay)
        _wait_for_delay(conf.replicas(), milliseconds)
        return
    _run_on(
        aliases,
        sql.SQL("ALTER SYSTEM SET recovery_min_apply_delay = {}").format(sql.Literal(delay)),
        sql.SQL("SELECT pg_reload_conf()"),
    )


def _delay_applied(alias: str, milliseconds: int) -> bool:
    """Whether every server behind `alias` that answers applies the delay (a replica
    alias of the leader's node, or of a dead one, does not answer)."""
    for server in servers_of(alias):
        try:
            with connect_to_server(alias, server, autocommit=True) as connection:
                row = connection.execute(
                    "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'"
                ).fetchone()
        except psycopg.Error:
            continue
        if row is None or row[0] != str(milliseconds):
            return False
    return True


def _wait_for_delay(aliases: list[str], milliseconds: int) -> None:
    deadline = time.monotonic() + DELAY_APPLIED_TIMEOUT
    waiting = list(aliases)
    while waiting and time.monotonic() < deadline:
        waiting = [alias for alias in waiting if not _delay_applied(alias, milliseconds)]
        if waiting:
            time.sleep(0.2)
    if waiting:
        raise ControlError(
            f"Patroni took the delay, but {', '.join(waiting)} did not apply it within"
            f" {DELAY_APPLIED_TIMEOUT} s."
        )


def set_standby_setting(aliases: list[str], name: str, value: str | None) -> None:
    """Set a setting that a reload applies, live (ALTER SYSTEM and a reload); None
    resets it to what the configuration files say."""
    setting = sql.Identifier(name)
    change = (
        sql.SQL("ALTER SYSTEM RESET {}").format(setting)
        if value is None
        else sql.SQL("ALTER SYSTEM SET {} = {}").format(setting, sql.Literal(value))
    )
    _run_on(aliases, change, sql.SQL("SELECT pg_reload_conf()"))


# Pause where replay holds no table lock. A standby takes the ACCESS EXCLUSIVE locks it
# replays (a VACUUM truncating a table, a TRUNCATE) until it replays their commit, which
# an apply delay holds back: paused in between, it would block every read of that
# table until replay resumes. So: pause, wait to be paused, and if such a lock is held,
# resume, let replay move on, and try again (for 10 s at most).
_PAUSE_CLEAR_OF_LOCKS = sql.SQL("""
DO $$
BEGIN
    FOR attempt IN 1..200 LOOP
        PERFORM pg_wal_replay_pause();
        FOR wait IN 1..100 LOOP
            EXIT WHEN pg_get_wal_replay_pause_state() = 'paused';
            PERFORM pg_sleep(0.01);
        END LOOP;
        IF NOT EXISTS (
            SELECT 1 FROM pg_locks
            WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock' AND granted
        ) THEN
            RETURN;
        END IF;
        PERFORM pg_wal_replay_resume();
        PERFORM pg_sleep(0.05);
    END LOOP;
    RAISE EXCEPTION 'replay kept holding a table lock: not paused';
END
$$
""")


def set_replay_paused(alias: str, paused: bool) -> None:
    """Pause or resume WAL replay: a paused standby keeps receiving, and falls behind.
    It pauses where replay holds no table lock (see _PAUSE_CLEAR_OF_LOCKS)."""
    _run_on([alias], _PAUSE_CLEAR_OF_LOCKS if paused else sql.SQL("SELECT pg_wal_replay_resume()"))


class DelayForm(forms.Form):
    target = forms.ChoiceField(label="Replica")
    seconds = forms.DecimalField(
        label="Apply delay (seconds)",
        min_value=0,
        max_value=MAX_DELAY_SECONDS,
        decimal_places=1,
        error_messages={
            "max_value": f"At most {MAX_DELAY_SECONDS} seconds: a demo, not a disaster drill.",
            "min_value": "A delay cannot be negative.",
            "invalid": "A number of seconds, like 2 or 0.5.",
        },
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        every = [(ALL_REPLICAS, "every replica")]
        # Patroni holds one apply delay for the whole cluster.
        one = [] if settings.PATRONI_URLS else [(alias, alias) for alias in conf.replicas()]
        self.fields["target"].choices = every + one

    def aliases(self) -> list[str]:
        target: str = self.cleaned_data["target"]
        return conf.replicas() if target == ALL_REPLICAS else [target]


class ReplayForm(forms.Form):
    replica = forms.ChoiceField()
    action = forms.ChoiceField(choices=[("pause", "pause"), ("resume", "resume")])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["replica"].choices = [(alias, alias) for alias in conf.replicas()]
