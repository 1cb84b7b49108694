"""The API key never leaves ksync but in the Authorization header, to the API URL only.

Every command runs with distinctive keys; then every output and every file ksync wrote
(plans, journal, lock, imported files, all of ``.ksync/``) is searched for them. Also:
plain http:// only to loopback, redirects never followed, TLS always verified.
"""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import API_KEY, Org, Result
from harness import assert_converged, serve

from ksync.cli import main
from ksync.client import ApiError, KustomerClient, RateLimiter, RetryPolicy
from ksync.emulator import EmulatorResponse, EmulatorSettings
from ksync.emulator.roles import ALL_ROLES, READ

SECRET = "ksync-secret-9f8e7d"
READONLY = "ksync-readonly-4c3b2a"
WRONG = "ksync-wrong-1a2b3c"
SECRETS = (SECRET, READONLY, WRONG)
A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
C = "c0000000000000000000000c"
REPO = Path(__file__).resolve().parents[1]


class Recorder:
    """Runs the CLI and keeps everything it printed."""

    def __init__(self, org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
        self.org = org
        self.monkeypatch = monkeypatch
        self.results: list[tuple[list[str], Result]] = []

    def run(self, *args: str, key: str = SECRET, code: int | None = None) -> Result:
        self.monkeypatch.setenv("KUSTOMER_API_KEY", key)
        result = self.org.ksync(*args)
        self.results.append((list(args), result))
        if code is not None:
            assert result.code == code, (args, result)
        return result

    def help(self, *args: str) -> None:
        capsys = self.org._capsys
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        assert exited.value.code == 0
        captured = capsys.readouterr()
        assert captured.out
        self.results.append((list(args), Result(0, captured.out, captured.err)))


@pytest.fixture
def secret_org(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Org]:
    """An org whose main key is SECRET; READONLY may only read; API_KEY (for
    ``org.direct``, the changes of others) has every role."""
    settings = EmulatorSettings(
        api_key=SECRET, keys={API_KEY: ALL_ROLES, READONLY: frozenset({READ})}
    )
    with serve(tmp_path, monkeypatch, capsys, settings, api_key=SECRET) as org:
        org.seed(
            {"id": A, "externalId": "u1", "emails": [{"email": "a@example.com"}]},
            {"id": B, "externalId": "u2", "phones": [{"phone": "+15555550100"}]},
            {"id": C, "externalId": "outsider", "emails": [{"email": "held@example.com"}]},
        )
        yield org


FILES = """customers:
  - externalId: u1
    emails: [a@example.com, a2@example.com]
  - externalId: u2
    phones: ['+15555550101']
  - externalId: u3
    name: New
    emails: [n@example.com]
"""


def test_no_command_ever_shows_or_writes_the_key(
    secret_org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = secret_org
    cli = Recorder(org, monkeypatch)
    files = org.files(FILES)
    (org.tmp / "out").mkdir()

    cli.run("validate", files, code=0)
    cli.run("schema", code=0)
    cli.help("emulator", "--help")
    cli.help("apply", "--help")
    cli.help("--help")
    cli.run("plan", files, code=0)
    cli.run("plan", "-v", files, code=0)
    cli.run("plan", "--redact", "--format", "json", files, code=0)
    cli.run("plan", "--format", "json", "--out", "out/plan.json", files, code=0)
    cli.run("plan", "--format", "markdown", "--out", "out/plan.md", files, code=0)
    cli.run("plan", "--out", "out/stale.json", files, code=0)

    # Failing commands: a wrong key (401), a key without the write roles (403),
    # a conflict, a stale saved plan, an unusable key, a key in the URL.
    assert "401" in cli.run("plan", files, key=WRONG, code=1).err
    assert "401" in cli.run("apply", "--auto-approve", files, key=WRONG, code=1).err
    assert "401" in cli.run("import", "--all", key=WRONG, code=1).err
    cli.run("plan", "-v", files, key=READONLY, code=0)
    denied = cli.run("apply", "--auto-approve", "-v", files, key=READONLY, code=1)
    assert "org.permission.customer.update" in denied.err
    conflict = org.files(FILES + "  - externalId: u4\n    emails: [held@example.com]\n", "c.yaml")
    assert C in cli.run("plan", conflict, code=1).err
    assert C in cli.run("apply", "--auto-approve", conflict, code=1).err
    org.direct(
        "PUT", f"/v1/customers/{A}", {"emails": [{"email": "a@example.com", "type": "work"}]}
    )
    assert "stale" in cli.run("apply", "--plan", "out/stale.json", "-v", code=3).err
    spaced = SECRET.replace("-", " ")
    assert "KUSTOMER_API_KEY" in cli.run("plan", files, key=spaced, code=1).err
    in_url = f"https://user:{SECRET}@api.kustomerapp.com"
    assert "credentials" in cli.run("plan", "--api-url", in_url, files, code=1).err

    # Writes: a saved plan, then a fresh apply; each leaves journal lines.
    cli.run("apply", "--plan", "out/plan.json", "-v", code=3)  # stale too: A changed
    cli.run("plan", "--out", "out/fresh.json", files, code=0)
    cli.run("apply", "--plan", "out/fresh.json", "-v", code=0)
    org.direct("PUT", f"/v1/customers/{B}", {"phones": []})
    cli.run("apply", "--auto-approve", "-v", "--no-bulk", files, code=0)
    assert Path(".ksync/journal.jsonl").read_text(encoding="utf-8").count("\n") >= 4

    # Imports: to stdout, to a file, to a directory.
    cli.run("import", "--external-id", "u1", code=0)
    cli.run("import", "--all", "--out", "out/imported.yaml", code=0)
    cli.run("import", "--all", "--out-dir", "out/imported", code=0)

    # A server that echoes the key back in an error is redacted.
    org.direct("PUT", f"/v1/customers/{B}", {"phones": []})
    echoed, restore = echo_key_on_writes(org)
    result = cli.run("apply", "--auto-approve", "-v", files, code=1)
    assert echoed == [f"Bearer {SECRET}"]
    assert "bad request from Bearer [redacted] ([redacted])" in result.err
    restore()
    cli.run("apply", "--auto-approve", files, code=0)

    written = [p for p in org.tmp.rglob("*") if p.is_file()]
    names = {p.relative_to(org.tmp).as_posix() for p in written}
    assert {
        ".ksync/journal.jsonl",
        ".ksync/apply.lock",
        "out/plan.json",
        "out/plan.md",
        "out/fresh.json",
        "out/imported.yaml",
    } <= names
    assert any(n.startswith("out/imported/") for n in names)
    for secret in (*SECRETS, spaced):
        for args, result in cli.results:
            assert secret not in result.out, (secret, args)
            assert secret not in result.err, (secret, args)
        for path in written:
            assert secret.encode() not in path.read_bytes(), (secret, path)
    assert_converged(org, files)


def echo_key_on_writes(org: Org) -> tuple[list[str], Callable[[], None]]:
    """Make every write fail with a 400 whose message quotes the Authorization header;
    returns the headers seen and how to undo it."""
    handle = org.emulator.handle
    echoed: list[str] = []

    def echo(method: str, target: str, headers: Any, body: bytes) -> EmulatorResponse:
        if method == "GET":
            return handle(method, target, headers, body)
        auth = next(v for k, v in headers.items() if k.lower() == "authorization")
        echoed.append(auth)
        detail = {"errors": [{"detail": f"bad request from {auth} ({auth.split()[1]})"}]}
        payload = json.dumps(detail).encode()
        return EmulatorResponse(400, {"Content-Type": "application/json"}, payload)

    def restore() -> None:
        org.emulator.handle = handle  # type: ignore[method-assign]

    org.emulator.handle = echo  # type: ignore[method-assign]
    return echoed, restore


# -- plain http ------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every request httpx sends; refuse those that would leave this machine."""
    sent: list[str] = []
    handle_request = httpx.HTTPTransport.handle_request

    def guarded(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        if request.url.host != "127.0.0.1":
            raise httpx.ConnectError("no network in this test", request=request)
        return handle_request(self, request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", guarded)
    return sent


@pytest.mark.parametrize(
    "url",
    [
        "http://api.kustomerapp.com",
        "http://example.com:8080",
        "http://10.0.0.5",
        "http://192.168.1.10:8931",
        "HTTP://api.kustomerapp.com",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
        "http://0.0.0.0:8080",
    ],
)
@pytest.mark.parametrize("where", ["flag", "env"])
def test_plain_http_is_refused_for_hosts_that_are_not_loopback(
    org: Org, monkeypatch: pytest.MonkeyPatch, no_network: list[str], url: str, where: str
) -> None:
    files = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    if where == "flag":
        result = org.ksync("plan", "--api-url", url, files)
    else:
        monkeypatch.setenv("KUSTOMER_API_URL", url)
        result = org.ksync("plan", files)
    assert result.code == 1
    assert "plain http:// is only allowed for a loopback host" in result.err
    assert no_network == [] and org.requests() == []
    monkeypatch.setenv("KUSTOMER_API_URL", org.url)
    assert_converged_or_planned(org, files)


def assert_converged_or_planned(org: Org, files: str) -> None:
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)


def test_plain_http_to_loopback_is_allowed(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    files = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    port = org.url.rsplit(":", 1)[1]
    monkeypatch.setenv("KUSTOMER_API_URL", f"http://localhost:{port}")
    assert org.ksync("apply", "--auto-approve", files).code == 0
    assert_converged(org, files)


# -- redirects ---------------------------------------------------------------------------

BASE = "https://acme.api.kustomerapp.com"
EVIL = "https://collector.example.net"


class Redirecting:
    """The API host answers every request with a redirect to EVIL; EVIL answers 200."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests: list[tuple[str, str, str | None]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            (request.method, str(request.url), request.headers.get("authorization"))
        )
        if request.url.host != "acme.api.kustomerapp.com":
            return httpx.Response(200, json={"data": {"id": A, "attributes": {}}})
        location = f"https://user:pw@collector.example.net{request.url.path}?token=t0k3n"
        return httpx.Response(self.status, headers={"Location": location})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("retrying", [False, True])
def test_redirects_are_never_followed(status: int, retrying: bool) -> None:
    server = Redirecting(status)
    how: dict[str, Any] = {}
    if retrying:  # as the CLI builds it
        how = {"retry": RetryPolicy(sleep=lambda _: None), "limiter": RateLimiter()}
    with KustomerClient(BASE, SECRET, transport=httpx.MockTransport(server), **how) as client:
        with pytest.raises(ApiError) as read:
            client.get_customer(A)
        with pytest.raises(ApiError) as write:
            client.send("PUT", f"/v1/customers/{A}", {"emails": []})
        with pytest.raises(ApiError) as create:
            client.send("POST", "/v1/customers", {"externalId": "u9"})
    assert [urlhost(u) for _, u, _ in server.requests] == ["acme.api.kustomerapp.com"] * 3
    assert [m for m, _, _ in server.requests] == ["GET", "PUT", "POST"]
    for raised in (read, write, create):
        error = raised.value
        assert error.status == status
        assert f"redirected to {EVIL}/v1/customers" in str(error)
        assert "does not follow redirects" in str(error)
        assert "pw" not in str(error) and "t0k3n" not in str(error) and SECRET not in str(error)


def urlhost(url: str) -> str:
    return httpx.URL(url).host


# -- TLS -------------------------------------------------------------------------------


@pytest.mark.parametrize("proxy", [False, True])
def test_tls_certificates_and_host_names_are_always_verified(
    monkeypatch: pytest.MonkeyPatch, proxy: bool
) -> None:
    if proxy:  # proxies from the environment get their own transports: verified too
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    with KustomerClient("https://example.com", SECRET) as client:
        http = client._requester._http
        transports = [http._transport, *(t for t in http._mounts.values() if t is not None)]
        for transport in transports:
            context = transport._pool._ssl_context  # type: ignore[attr-defined]
            assert context.verify_mode == ssl.CERT_REQUIRED
            assert context.check_hostname is True
        assert http.follow_redirects is False


def test_no_code_path_turns_tls_verification_off() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "ksync").rglob("*.py"))
    assert not re.search(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False", sources)
    assert not re.search(r"follow_redirects\s*=\s*True", sources)


def test_the_key_is_not_in_reprs() -> None:
    with KustomerClient(BASE, SECRET, transport=httpx.MockTransport(Redirecting(302))) as c:
        assert SECRET not in repr(c) and SECRET not in repr(c.__dict__)
    assert SECRET not in repr(EmulatorSettings(api_key=SECRET, keys={READONLY: frozenset()}))
    assert READONLY not in repr(EmulatorSettings(api_key=SECRET, keys={READONLY: frozenset()}))
