"""Fixtures for end-to-end tests: a real emulator on loopback and the real CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ksync.emulator import Emulator, EmulatorServer, EmulatorSettings

API_KEY = "test-key-3f9c1e"  # distinctive, so a leak would be easy to find


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Org:
    """An emulated Kustomer org behind a loopback HTTP server, and the CLI pointed at it."""

    def __init__(self, emulator: Emulator, url: str, tmp: Path, capsys: Any) -> None:
        self.emulator = emulator
        self.url = url
        self.tmp = tmp
        self._capsys = capsys

    def seed(self, *customers: dict[str, Any]) -> list[str]:
        return self.emulator.seed(list(customers))

    def files(self, text: str, name: str = "contacts.yaml") -> str:
        path = self.tmp / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def ksync(self, *args: str, parallel: bool = False) -> Result:
        """Run the real CLI in-process; the emulator's log starts empty for each run.

        plan and apply run with ``--parallelism 1`` unless ``parallel``, so that the
        request log has one order to assert; parallel runs assert request multisets.
        """
        from ksync.cli import main

        argv = list(args)
        if not parallel and argv and argv[0] in ("plan", "apply"):
            argv[1:1] = ["--parallelism", "1"]
        self.emulator.clear_log()
        self._capsys.readouterr()
        code = main(argv)
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def requests(self) -> list[tuple[str, str]]:
        """Every request of the last run, in order: (method, path?query)."""
        return [
            (r.method, r.path + (f"?{r.query}" if r.query else ""))
            for r in self.emulator.request_log
        ]

    def writes(self) -> list[tuple[str, str, Any]]:
        """The writes of the last run, in order, with their bodies."""
        return [(r.method, r.path, r.body) for r in self.emulator.request_log if r.method != "GET"]

    def attributes(self, customer_id: str) -> dict[str, Any]:
        return self.emulator.customer(customer_id)

    def values(self, customer_id: str, field: str) -> list[str]:
        key = field[:-1]
        return [e[key] for e in self.attributes(customer_id).get(field, [])]

    def direct(self, method: str, path: str, body: dict[str, Any]) -> int:
        """A change made by someone else, straight to the emulator (not logged by ksync)."""
        response = self.emulator.handle(
            method,
            path,
            {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        return response.status


@contextmanager
def serve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: EmulatorSettings,
    *,
    clock: Callable[[], datetime] | None = None,
    api_key: str = API_KEY,
) -> Iterator[Org]:
    """An Org whose emulator is built with ``settings`` and ``clock``, the CLI pointed at
    it through the environment, in ``tmp_path``, with a stdin that is not a terminal."""
    emulator = Emulator(settings, clock=clock)
    with EmulatorServer(emulator) as server:
        monkeypatch.setenv("KUSTOMER_API_URL", server.url)
        monkeypatch.setenv("KUSTOMER_API_KEY", api_key)
        monkeypatch.delenv("KUSTOMER_ORG", raising=False)
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setattr("sys.stdin", io.StringIO(""))
        monkeypatch.chdir(tmp_path)
        yield Org(emulator, server.url, tmp_path, capsys)


@pytest.fixture
def org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Org]:
    with serve(tmp_path, monkeypatch, capsys, EmulatorSettings(api_key=API_KEY)) as running:
        yield running


HOME = {"type": "home", "verified": True}


def customer(
    cid: str, ext: str, emails: Sequence[str] = (), phones: Sequence[str] = ()
) -> dict[str, Any]:
    """A seed customer: its emails of type home (verified), phones of type mobile."""
    return {
        "id": cid,
        "externalId": ext,
        "emails": [{"email": e, **HOME} for e in emails],
        "phones": [{"phone": p, "type": "mobile", "verified": False} for p in phones],
    }


def assert_converged(
    org: Org, *paths: str, parallel: bool = False, clean_stderr: bool = True
) -> None:
    """Plan again: no changes, and no write sent."""
    again = org.ksync("plan", "--detailed-exitcode", *paths, parallel=parallel)
    assert again.code == 0, again
    assert again.out.startswith("No changes. Kustomer matches the files"), again
    assert not clean_stderr or again.err == "", again
    assert org.writes() == []
