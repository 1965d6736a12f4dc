"""postgres/stack.sh: idempotent up, down and back, clear errors. On its own ports."""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.helpers import REPO

pytestmark = pytest.mark.stack

# Below Linux's ephemeral range (32768-60999): a port in it can be taken, at any moment,
# by the local end of one of the tests' own client connections.
PORT = 31432


@pytest.fixture
def mini_stack() -> Iterator[dict[str, str]]:
    """A one-replica stack of its own, so the test stack keeps running."""
    stack_dir = Path("/tmp") / f"forum-mini-stack-{os.getpid()}"
    env = {
        **os.environ,
        "STACK_DIR": str(stack_dir),
        "STACK_PORT": str(PORT),
        "REPLICAS": "1",
        "REPLICA_LAG": "0",
        "APP_DB": "mini_test",
    }
    yield env
    subprocess.run([str(REPO / "postgres/stack.sh"), "reset"], env=env, capture_output=True)


def stack_sh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "postgres/stack.sh"), *args], env=env, capture_output=True, text=True
    )


def query(port: int, sql: str, user: str = "forum") -> object:
    with psycopg.connect(
        host="127.0.0.1", port=port, dbname="mini_test", user=user, password=user, autocommit=True
    ) as connection:
        cursor = connection.execute(sql)
        return cursor.fetchone()[0] if cursor.description else None


def test_it_starts_twice_stops_and_comes_back_with_its_data(mini_stack):
    first = stack_sh(mini_stack, "up")
    assert first.returncode == 0, first.stderr
    query(PORT, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")

    again = stack_sh(mini_stack, "up")
    assert again.returncode == 0, again.stderr
    assert "primary already running" in again.stdout

    assert stack_sh(mini_stack, "down").returncode == 0
    assert "primary down" in stack_sh(mini_stack, "status").stdout
    with pytest.raises(psycopg.OperationalError):
        query(PORT, "SELECT 1")

    back = stack_sh(mini_stack, "up")
    assert back.returncode == 0, back.stderr
    assert query(PORT, "SELECT note FROM kept") == "still here"
    assert query(PORT + 1, "SELECT pg_is_in_recovery()", user="forum_reader") is True


def test_it_explains_a_busy_port(mini_stack):
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", PORT))
        squatter.listen()
        result = stack_sh(mini_stack, "up")

    assert result.returncode != 0
    assert f"port {PORT} on 127.0.0.1 is already in use" in result.stderr


def test_it_clears_a_stale_pid_file(mini_stack):
    assert stack_sh(mini_stack, "up").returncode == 0
    assert stack_sh(mini_stack, "down").returncode == 0
    data = Path(mini_stack["STACK_DIR"]).resolve() / "primary"
    dead_pid = next(pid for pid in range(999_999, 0, -1) if not Path(f"/proc/{pid}").exists())
    (data / "postmaster.pid").write_text(f"{dead_pid}\n")

    result = stack_sh(mini_stack, "up")

    assert result.returncode == 0, result.stderr
    assert f"removing stale postmaster.pid (PID {dead_pid} is not running)" in result.stdout
    assert query(PORT, "SELECT 1") == 1


@pytest.mark.parametrize("delay", ["soon", "5", "5 s"])
def test_it_rejects_a_malformed_delay(mini_stack, delay):
    # A bare number would be milliseconds to PostgreSQL: a unit is required.
    result = stack_sh(mini_stack, "lag", delay)

    assert result.returncode != 0
    assert "DELAY must be 0 or a number with a unit" in result.stderr


def test_it_installs_nothing_and_names_the_script_that_does(mini_stack):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the installed PostgreSQL takes root and unshare (a mount namespace)")
    # Hidden in a mount namespace of the command's own: nobody else loses PostgreSQL.
    hide = []
    if Path("/usr/lib/postgresql").is_dir():
        hide.append("mount -t tmpfs none /usr/lib/postgresql")
    pg_config = shutil.which("pg_config")
    if pg_config:
        hide.append(f"mount --bind /dev/null {pg_config}")
    script = " && ".join([*hide, 'exec "$0" up'])
    env = {name: value for name, value in mini_stack.items() if name != "PG_BIN"}

    result = subprocess.run(
        ["unshare", "--mount", "bash", "-c", script, str(REPO / "postgres/stack.sh")],
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "PostgreSQL's server programs not found: run scripts/ensure-stack.sh" in result.stderr
    assert not Path(mini_stack["STACK_DIR"]).exists()


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16) == b"+PONG\r\n"
    except OSError:
        return False


def test_it_runs_a_redis_beside_the_nodes_on_loopback(mini_stack):
    if shutil.which("redis-server") is None:
        pytest.skip("Debian's redis-server is not installed (scripts/ensure-stack.sh, as root)")
    port = PORT + 8
    up = stack_sh(mini_stack, "up")
    assert up.returncode == 0, up.stderr
    assert f"REDIS_URL=redis://127.0.0.1:{port}/0" in up.stdout
    assert redis_answers(port)
    assert f"redis up on 127.0.0.1:{port}" in stack_sh(mini_stack, "status").stdout
    data = Path(mini_stack["STACK_DIR"]).resolve() / "redis"
    assert (data / "redis.pid").exists()

    assert stack_sh(mini_stack, "stop", "redis").returncode == 0
    assert not redis_answers(port)
    assert "redis down" in stack_sh(mini_stack, "status").stdout
    assert stack_sh(mini_stack, "start", "redis").returncode == 0
    assert redis_answers(port)

    assert stack_sh(mini_stack, "reset").returncode == 0
    assert not redis_answers(port)
    assert not data.exists()
