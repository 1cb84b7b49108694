"""The ``ksync emulator`` flags (``add_arguments``/``run_from_args``) and the synthetic org."""

from __future__ import annotations

import argparse
import io
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from ksync.emulator import (
    Emulator,
    EmulatorSettings,
    add_arguments,
    run_from_args,
    settings_from_args,
)
from ksync.emulator.synthetic import synthetic_customers

LISTENING = re.compile(r"ksync emulator listening on (http://127\.0\.0\.1:\d+)\n")


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ksync emulator")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_keep_todays_behaviour() -> None:
    args = parse()
    assert (args.host, args.port, args.seed) == ("127.0.0.1", 8080, None)
    settings = settings_from_args(args)
    assert settings == EmulatorSettings()
    assert settings.api_key == "emulator-key"


def test_every_flag_reaches_the_settings(tmp_path: Path) -> None:
    args = parse(
        "--host", "::1",
        "--port", "0",
        "--seed", str(tmp_path / "seed.json"),
        "--api-key", "k1",
        "--conflict-status", "400",
        "--rate-limit", "300",
        "--reset-format", "seconds",
        "--retry-after",
        "--latency-ms", "20",
        "--jitter-ms", "5.5",
        "--spike-rate", "0.01",
        "--spike-ms", "900",
        "--fault-rate", "0.1",
        "--drop-rate", "0.02",
        "--throttle-rate", "0.03",
        "--fault-after-apply-rate", "0.04",
        "--random-seed", "42",
        "--customers", "1000",
        "--bulk-polls", "0",
    )  # fmt: skip
    assert (args.host, args.port, args.seed) == ("::1", 0, tmp_path / "seed.json")
    assert settings_from_args(args) == EmulatorSettings(
        api_key="k1",
        conflict_status=400,
        rate_limit=300,
        reset_format="seconds",
        retry_after=True,
        latency_ms=20,
        jitter_ms=5.5,
        spike_rate=0.01,
        spike_ms=900,
        fault_rate=0.1,
        drop_rate=0.02,
        throttle_rate=0.03,
        fault_after_apply_rate=0.04,
        seed=42,
        customers=1000,
        bulk_polls_to_complete=0,
    )


def test_reset_format_is_a_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("--reset-format", "minutes")
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fault-rate", "2"], "fault_rate must be between 0 and 1"),
        (["--rate-limit", "0"], "rate_limit must be a positive integer"),
        (["--conflict-status", "200"], "conflict_status"),
        (["--api-key", ""], "api_key"),
        (["--seed", "/nonexistent/seed.json"], "No such file"),
        (["--host", "192.0.2.10"], "refusing to listen on 192.0.2.10"),
    ],
)
def test_bad_settings_print_an_error_and_return_1(argv: list[str], message: str) -> None:
    err = io.StringIO()
    assert run_from_args(parse("--port", "0", *argv), stop=threading.Event(), err=err) == 1
    assert err.getvalue().startswith("ksync emulator: error: ")
    assert message in err.getvalue()


def test_bad_seed_file_returns_1(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"customers": [{"externalId": "e"}, {"externalId": "e"}]}')
    err = io.StringIO()
    assert run_from_args(parse("--port", "0", "--seed", str(seed)), err=err) == 1
    assert "externalId e already belongs" in err.getvalue()


def test_run_from_args_serves_until_stopped(tmp_path: Path) -> None:
    stop = threading.Event()
    results: list[int] = []
    args = parse("--port", "0", "--api-key", "cli-key", "--customers", "3", "--rate-limit", "9")
    read_fd, write_fd = os.pipe()
    with open(read_fd, encoding="utf-8") as reader, open(write_fd, "w", encoding="utf-8") as writer:
        thread = threading.Thread(
            target=lambda: results.append(run_from_args(args, stop=stop, out=writer))
        )
        thread.start()
        try:
            match = LISTENING.fullmatch(reader.readline())
            assert match
            headers = {"Authorization": "Bearer cli-key"}
            with httpx.Client(base_url=match.group(1), headers=headers) as client:
                response = client.get("/v1/customers/externalId=synthetic-3")
                assert response.status_code == 200
                assert response.headers["x-ratelimit-limit"] == "9"
        finally:
            stop.set()
            thread.join(timeout=30)
    assert results == [0]


# -- synthetic org -------------------------------------------------------------------


def test_synthetic_customers_are_deterministic() -> None:
    def clock() -> datetime:
        return datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)

    first = Emulator(EmulatorSettings(customers=5), clock=clock)
    assert first.snapshot() == Emulator(EmulatorSettings(customers=5), clock=clock).snapshot()
    attributes = first.customer(first.customer_ids()[0])
    assert attributes == {
        "name": "Synthetic Customer 1",
        "externalId": "synthetic-1",
        "emails": [
            {"email": "synthetic-1@example.com", "type": "work", "verified": False, "id": None}
        ],
        "phones": [{"phone": "+15550000001", "type": "home", "verified": False, "id": None}],
        "createdAt": "2026-12-04T15:00:00.000Z",
        "updatedAt": "2026-12-04T15:00:00.000Z",
        "modifiedAt": "2026-12-04T15:00:00.000Z",
        "rev": 1,
    }


def test_synthetic_types_and_verified_vary() -> None:
    documents = list(synthetic_customers(6, "2026-01-01T00:00:00.000Z"))
    assert {d["emails"][0]["type"] for d in documents} == {"home", "work", "other"}
    assert {d["phones"][0]["verified"] for d in documents} == {True, False}
    assert {d["emails"][0]["verified"] for d in documents} == {True, False}


def test_a_synthetic_org_of_100000() -> None:
    emulator = Emulator(EmulatorSettings(customers=100_000))
    assert emulator.customer_count() == 100_000
    auth = {"Authorization": "Bearer emulator-key"}
    last = emulator.handle("GET", "/v1/customers/phone=%2B15550100000", auth, b"").json()
    assert last["data"]["attributes"]["externalId"] == "synthetic-100000"
    page = emulator.handle("GET", "/v1/customers?page=1000&pageSize=100", auth, b"").json()
    assert page["meta"]["total"] == 100_000
    assert page["data"][-1]["id"] == last["data"]["id"]
