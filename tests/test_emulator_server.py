"""The emulator over real HTTP on loopback, and the blocking ``run`` entry point."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ksync.emulator import Emulator, EmulatorServer, EmulatorSettings, LoggedRequest, run

KEY = "server-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPO = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"ksync emulator listening on (http://127\.0\.0\.1:\d+)\n")


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(EmulatorSettings(api_key=KEY))


@pytest.fixture
def server(emulator: Emulator) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator) as server:
        yield server


def test_create_then_read_over_http(server: EmulatorServer, emulator: Emulator) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        created = client.post(
            "/v1/customers",
            json={"externalId": "a+b@c", "emails": [{"email": "x+y@example.com"}]},
        )
        assert created.status_code == 201
        customer_id = created.json()["data"]["id"]
        by_email = client.get("/v1/customers/email=x%2By%40example.com")
        assert by_email.json()["data"]["id"] == customer_id
        by_external_id = client.get("/v1/customers/externalId=a+b@c")
        assert by_external_id.json()["data"]["id"] == customer_id
        conflict = client.post("/v1/customers", json={"externalId": "a+b@c"})
        assert conflict.status_code == 409
        assert conflict.headers["content-type"] == "application/json"
        assert client.get("/v1/customers", headers={"Authorization": "Bearer x"}).status_code == 401
    assert [entry.status for entry in emulator.request_log] == [201, 200, 200, 409, 401]
    assert emulator.request_log[1].path == "/v1/customers/email=x%2By%40example.com"


def test_chunked_request_body(server: EmulatorServer, emulator: Emulator) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": '
        yield b'"Chunky"}'

    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        response = client.post("/v1/customers", content=chunks())
    assert response.status_code == 201
    assert emulator.request_log == [
        LoggedRequest("POST", "/v1/customers", "", {"name": "Chunky"}, 201)
    ]


def test_raw_http_client_and_unknown_method(server: EmulatorServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("DELETE", "/v1/customers", headers=AUTH)
        response = connection.getresponse()
        assert response.status == 405
        assert response.getheader("Allow") == "GET, POST"
        assert b'"status": "405"' in response.read()
    finally:
        connection.close()


def test_stop_closes_the_port(emulator: Emulator) -> None:
    server = EmulatorServer(emulator).start()
    url = server.url
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.url
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.get(f"{url}/v1/customers", headers=AUTH)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.com", "::"])
def test_non_loopback_hosts_are_refused(emulator: Emulator, host: str) -> None:
    with pytest.raises(ValueError, match=f"refusing to listen on {re.escape(host)}"):
        EmulatorServer(emulator, host=host)


def test_localhost_is_allowed(emulator: Emulator) -> None:
    with EmulatorServer(emulator, host="localhost") as server:
        assert server.url.startswith("http://localhost:")
        with httpx.Client() as client:
            assert client.get(f"{server.url}/v1/customers", headers=AUTH).status_code == 200


def test_run_in_a_thread_stops_on_the_event(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"customers": [{"externalId": "seeded"}]}')
    stop = threading.Event()
    results: list[int] = []
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8") as reader, open(write_fd, "w", encoding="utf-8") as writer:
        settings = EmulatorSettings(api_key=KEY)

        def serve() -> None:
            results.append(run(settings, "127.0.0.1", 0, seed, stop=stop, out=writer))

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            line = reader.readline()
            match = LISTENING.fullmatch(line)
            assert match, line
            with httpx.Client(base_url=match.group(1), headers=AUTH) as client:
                response = client.get("/v1/customers/externalId=seeded")
                assert response.status_code == 200
        finally:
            stop.set()
            thread.join(timeout=30)
    assert not thread.is_alive()
    assert results == [0]


def test_run_refuses_a_bad_seed_before_listening(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"customers": [{"externalId": "e"}, {"externalId": "e"}]}')
    with pytest.raises(ValueError, match="externalId e already belongs"):
        run(EmulatorSettings(), "127.0.0.1", 0, seed, stop=threading.Event())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_as_a_process_stops_on_signals(stop_signal: signal.Signals) -> None:
    script = (
        "import sys\n"
        "from ksync.emulator import EmulatorSettings, run\n"
        f"sys.exit(run(EmulatorSettings(api_key={KEY!r}), '127.0.0.1', 0, None))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = LISTENING.fullmatch(line)
            assert match, (line, process.stderr.read() if process.stderr else "")
            with httpx.Client(base_url=match.group(1), headers=AUTH) as client:
                assert client.get("/v1/customers").status_code == 200
            process.send_signal(stop_signal)
            rest, errors = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 0
    assert (rest, errors) == ("", "")
    assert KEY not in line


def test_concurrent_writes_keep_values_unique(server: EmulatorServer, emulator: Emulator) -> None:
    racers = 8
    barrier = threading.Barrier(racers)
    statuses: list[int] = []

    def create() -> None:
        with httpx.Client(base_url=server.url, headers=AUTH) as client:
            barrier.wait(timeout=30)
            response = client.post("/v1/customers", json={"externalId": "contested"})
            statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201] + [409] * (racers - 1)
    assert len(emulator.snapshot()) == 1


def test_dropped_connection_over_http(emulator: Emulator) -> None:
    emulator.settings = EmulatorSettings(api_key=KEY, drop_rate=1.0, seed=0)
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/v1/customers", json={"externalId": "dropped"}, headers=AUTH)
        emulator.settings = EmulatorSettings(api_key=KEY)
        assert client.get("/v1/customers", headers=AUTH).status_code == 200  # still serving
    assert emulator.snapshot() == {}
    assert [(entry.status, entry.applied) for entry in emulator.request_log] == [
        (0, False),
        (200, True),
    ]


def test_latency_is_slept_by_the_handler_thread() -> None:
    sleeps: list[tuple[float, str]] = []

    def sleep(seconds: float) -> None:
        sleeps.append((seconds, threading.current_thread().name))

    emulator = Emulator(EmulatorSettings(api_key=KEY, latency_ms=250), sleep=sleep)
    with EmulatorServer(emulator) as server, httpx.Client(base_url=server.url) as client:
        assert client.get("/v1/customers", headers=AUTH).status_code == 200
    assert len(sleeps) == 1
    assert sleeps[0][0] == 0.25
    assert sleeps[0][1] != threading.main_thread().name
