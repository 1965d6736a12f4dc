"""lab.patroni without a cluster: Patroni's answer read, checked and bounded, against
small local servers that answer well, garble, fail or hang (no database)."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lab import patroni

CLUSTER = {
    "members": [
        {"name": "node1", "role": "leader", "state": "running", "timeline": 3},
        {"name": "node2", "role": "sync_standby", "state": "running", "timeline": 3, "lag": 0},
        {"name": "node3", "role": "replica", "state": "running", "timeline": 3, "lag": "unknown"},
    ]
}


def serve(body: bytes, status: int = 200) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def answering() -> Iterator[str]:
    yield from serve(json.dumps(CLUSTER).encode())


@pytest.fixture
def garbled() -> Iterator[str]:
    yield from serve(b'{"members": [{"role": "leader"}')


@pytest.fixture
def failing() -> Iterator[str]:
    yield from serve(b"", status=503)


@pytest.fixture
def hung() -> Iterator[str]:
    """A port that accepts connections and never answers, as a SIGSTOPped Patroni."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_it_reads_the_leader_its_timeline_and_each_members_lag(settings, answering):
    settings.PATRONI_URLS = [answering]

    found = patroni.cluster()

    assert (found["leader"], found["timeline"], found["api"]) == ("node1", 3, answering)
    assert [(m["name"], m["lag"]) for m in found["members"]] == [
        ("node1", None),
        ("node2", 0),
        ("node3", None),
    ]


def test_it_asks_the_next_url_when_one_hangs_garbles_or_fails(
    settings, hung, garbled, failing, answering
):
    settings.PATRONI_URLS = [hung, garbled, failing, answering]
    settings.PATRONI_TIMEOUT = 0.3
    started = time.monotonic()

    found = patroni.cluster()

    assert found["leader"] == "node1"
    assert 0.3 <= time.monotonic() - started < 1.5


def test_it_says_why_when_none_answers(settings, hung, garbled, failing):
    settings.PATRONI_URLS = [hung, garbled, failing, "http://127.0.0.1:1"]
    settings.PATRONI_TIMEOUT = 0.3

    error = patroni.cluster()["error"]

    assert f"{hung}: timed out" in error
    assert f"{garbled}: " in error
    assert f"{failing}: HTTP 503" in error
    assert "127.0.0.1:1: [Errno 111] Connection refused" in error


def test_it_refuses_an_answer_that_is_not_a_cluster():
    for found in ([], {"members": "node1"}, {"members": [{"name": 1}]}, {"members": [None]}):
        with pytest.raises(ValueError, match="member"):
            patroni.describe("http://x", found)


def test_it_hands_the_lead_to_the_synchronous_standby_else_the_least_behind():
    members = patroni.describe("http://x", CLUSTER)["members"]
    asynchronous = [dict(m, role="replica") if m["role"] != "leader" else m for m in members]
    asynchronous[1]["lag"], asynchronous[2]["lag"] = 500, 20
    stopped = [dict(m, state="stopped") for m in members]

    assert patroni.switchover_candidate(members) == "node2"
    assert patroni.switchover_candidate(asynchronous) == "node3"
    assert patroni.switchover_candidate(stopped) is None


def test_it_kills_nothing_away_from_the_ha_stack(settings, tmp_path):
    settings.HA_STACK_DIR = ""
    assert not patroni.can_kill()
    settings.HA_STACK_DIR = str(tmp_path)  # no run/ directory: not ha.sh's
    assert not patroni.can_kill()

    with pytest.raises(patroni.PatroniError, match="HA_STACK_DIR"):
        patroni.kill_leader()


def test_it_kills_only_a_node_of_ha_sh(settings, tmp_path):
    (tmp_path / "run").mkdir()
    settings.HA_STACK_DIR = str(tmp_path)
    tampered = {"members": [{"name": "node1; rm -rf /", "role": "leader", "state": "running"}]}
    body = json.dumps(tampered).encode()
    for url in serve(body):
        settings.PATRONI_URLS = [url]
        with pytest.raises(patroni.PatroniError, match=r"is not a node of postgres/ha\.sh"):
            patroni.kill_leader()


def raw_server(answer: bytes, drip: float = 0.0) -> Iterator[str]:
    """A server that sends `answer` as it is to each connection, byte by byte `drip`
    seconds apart when given: what a broken or hostile API may send."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def answer_each() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    if drip:
                        for byte in answer:
                            if stop.wait(drip):
                                return
                            conn.sendall(bytes([byte]))
                    else:
                        conn.sendall(answer)
                except OSError:
                    continue

    threading.Thread(target=answer_each, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
BROKEN_ANSWERS = {
    "not-a-status-line": b"garbage\r\n\r\n",
    "too-many-headers": OK_HEAD + b"".join(b"X-%d: 1\r\n" % n for n in range(150)) + b"\r\n",
    "a-broken-chunk": OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
    "a-header-line-too-long": OK_HEAD + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    "json-nested-too-deep": OK_HEAD + b"\r\n" + b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("answer", BROKEN_ANSWERS.values(), ids=BROKEN_ANSWERS.keys())
def test_a_broken_answer_is_skipped_for_the_next_url(settings, answer, answering):
    broken = raw_server(answer)
    settings.PATRONI_URLS = [next(broken), answering]
    settings.PATRONI_TIMEOUT = 0.5
    try:
        found = patroni.cluster()
    finally:
        broken.close()

    assert found["leader"] == "node1"


def test_an_answer_dripped_slowly_is_given_up_within_the_timeout(settings, answering):
    body = json.dumps(CLUSTER).encode()
    head = OK_HEAD + b"Content-Length: %d\r\n\r\n" % len(body)
    dripping = raw_server(head + body, drip=0.02)
    settings.PATRONI_URLS = [next(dripping), answering]
    settings.PATRONI_TIMEOUT = 0.5
    started = time.monotonic()
    try:
        found = patroni.cluster()
    finally:
        dripping.close()

    assert found["leader"] == "node1"
    # The head dripped at 0.02 s a byte takes about 1.5 s, and the body is cut at 0.5 s;
    # read to its end, the body alone would take over 5 s.
    assert time.monotonic() - started < 5
