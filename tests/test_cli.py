"""The CLI's own behaviour: prompts, refusals, formats, settings and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import API_KEY, Org

A = "a0000000000000000000000a"
FILES = "customers:\n  - externalId: u1\n    emails: [a@example.com]\n"


def seed_two_emails(org: Org) -> None:
    org.seed(
        {
            "id": A,
            "externalId": "u1",
            "emails": [{"email": "a@example.com"}, {"email": "b@example.com", "type": "work"}],
        }
    )


class Terminal:
    """A stdin that is a terminal and answers the prompt."""

    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer + "\n"


def test_apply_without_terminal_or_auto_approve_refuses(org: Org) -> None:
    seed_two_emails(org)
    result = org.ksync("apply", org.files(FILES))
    assert result.code == 1
    assert "stdin is not a terminal; nothing was written" in result.err
    assert org.writes() == []


@pytest.mark.parametrize(("answer", "code", "writes"), [("yes", 0, 1), ("y", 1, 0), ("no", 1, 0)])
def test_apply_asks_for_yes(
    org: Org, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, writes: int
) -> None:
    seed_two_emails(org)
    monkeypatch.setattr("sys.stdin", Terminal(answer))
    result = org.ksync("apply", org.files(FILES))
    assert result.code == code
    assert "Only 'yes' will be accepted" in result.out
    assert len(org.writes()) == writes


def test_detailed_exitcode(org: Org) -> None:
    seed_two_emails(org)
    path = org.files(FILES)
    assert org.ksync("plan", path).code == 0
    assert org.ksync("plan", "--detailed-exitcode", path).code == 2


def test_json_format_holds_the_exact_requests(org: Org) -> None:
    seed_two_emails(org)
    result = org.ksync("plan", "--format", "json", org.files(FILES))
    document: dict[str, Any] = json.loads(result.out)
    assert document["format_version"] == 1
    assert document["target"] == org.url
    assert document["summary"] == {"create": 0, "update": 1, "unchanged": 0}
    assert document["requests"] == [
        {
            "method": "PUT",
            "path": f"/v1/customers/{A}",
            "body": {"emails": [{"email": "a@example.com", "verified": False}]},
            "change": 0,
            "purpose": "update",
            "after": [],
        }
    ]
    assert document["changes"][0]["source"].endswith("contacts.yaml:2")
    assert document["changes"][0]["changes"] == {
        "emails": {"add": [], "remove": ["b@example.com"], "retype": []}
    }


def test_colour_only_on_a_terminal_and_never_when_asked(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_two_emails(org)
    path = org.files(FILES)
    assert "\033[" not in org.ksync("plan", path).out  # not a terminal
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    assert "\033[31m- email b@example.com (work)\033[0m" in org.ksync("plan", path).out
    assert "\033[" not in org.ksync("plan", "--no-color", path).out
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\033[" not in org.ksync("plan", path).out


def test_plain_http_to_a_remote_host_is_refused(org: Org) -> None:
    result = org.ksync("plan", "--api-url", "http://example.com", org.files(FILES))
    assert result.code == 1
    assert "http://" in result.err and org.requests() == []


def test_missing_api_key(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUSTOMER_API_KEY")
    result = org.ksync("plan", org.files(FILES))
    assert result.code == 1
    assert "KUSTOMER_API_KEY" in result.err and org.requests() == []


def test_wrong_api_key_reports_the_api_message(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUSTOMER_API_KEY", "wrong-key")
    result = org.ksync("plan", org.files(FILES))
    assert result.code == 1
    assert "GET /v1/customers/externalId=u1 -> 401: the API key was rejected" in result.err
    assert "wrong-key" not in result.err + result.out


def test_validate_reports_every_problem(org: Org) -> None:
    path = org.files("customers:\n  - externalId: u1\n    emails: ['bob@']\n    phones: ['12']\n")
    result = org.ksync("validate", path)
    assert result.code == 1
    assert result.err.splitlines() == [
        f"{path}:3:14: customers[0].emails[0]: 'bob@' is not a valid email address",
        f"{path}:4:14: customers[0].phones[0]: '12' is not a valid phone number "
        "(no +country code and no phone_region)",
    ]
    assert org.requests() == []


def test_validate_ok(org: Org) -> None:
    result = org.ksync("validate", org.files(FILES))
    assert (result.code, result.out) == (0, "1 customers declared; the files are valid.\n")


def test_apply_needs_paths_or_plan(org: Org) -> None:
    result = org.ksync("apply")
    assert result.code == 1 and "give either PATH... or --plan FILE" in result.err


def test_key_never_appears_in_outputs_or_plan_files(org: Org) -> None:
    seed_two_emails(org)
    path = org.files(FILES)
    outputs = [
        org.ksync("plan", "--out", "plan.json", path),
        org.ksync("apply", "--plan", "plan.json"),
    ]
    assert all(API_KEY not in r.out + r.err for r in outputs)
    assert API_KEY not in Path("plan.json").read_text()


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ksync", "--version"], capture_output=True, text=True, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "ksync 0.1.0")


def test_verbose_log_masks_looked_up_values_with_redact(org: Org) -> None:
    seed_two_emails(org)
    path = org.files("customers:\n  - externalId: u1\n    emails: [newcomer@example.com]\n")
    plain_log = org.ksync("plan", "-v", path).err
    assert "GET /v1/customers/email=newcomer%40example.com -> 404 (" in plain_log
    redacted = org.ksync("plan", "-v", "--redact", path)
    assert "newcomer" not in redacted.err + redacted.out
    assert "GET /v1/customers/email=n%2A%2A%2A%40example.com -> 404 (" in redacted.err


def test_removal_ratio_must_be_a_share(org: Org) -> None:
    with pytest.raises(SystemExit) as exit_info:
        org.ksync("apply", "--max-removal-ratio", "nan", "x.yaml")
    assert exit_info.value.code == 1  # a usage error is an error, never "changes present"
    assert "must be from 0 to 1, not nan" in org._capsys.readouterr().err
