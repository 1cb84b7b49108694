"""The git workflow end to end: what CI runs, what reviewers see, and what is never touched.

Every scenario runs the real CLI against the emulator, asserts the requests sent and ends
with "plan again: no changes". The ``org`` fixture runs in ``tmp_path``, so file names in
the output are relative (``contacts.yaml:4``) and golden files stay stable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from builders import spellings
from conftest import API_KEY, HOME, Org, assert_converged, customer
from test_render import check_golden

import ksync
from ksync import __version__
from ksync.cli import build_parser, main

A = "a0000000000000000000000a"
B = "b0000000000000000000000b"
C = "c0000000000000000000000c"
D = "d0000000000000000000000d"
TOKEN = ("GET", "/v1/auth/tokens/current")
PAGE_1 = ("GET", "/v1/customers?page=1&pageSize=100")
NEW_ID = "5e0000000000000000000001"  # the emulator's id for the first customer created


# Stop managing never erases


def test_deleting_a_customers_entry_leaves_it_alone(org: Org) -> None:
    org.seed(
        customer(A, "u1", ["a@example.com"]),
        customer(B, "u2", ["b@example.com", "b2@example.com"], ["+15555550102"]),
        customer(C, "u3", ["c@example.com"]),
    )
    files = org.files(
        "customers:\n"
        "  - externalId: u1\n    emails: [a@example.com]\n"
        "  - externalId: u2\n    emails: [b@example.com, b2@example.com]\n    phones: ['+15555550102']\n"
        "  - externalId: u3\n    emails: [c@example.com]\n"
    )
    assert_converged(org, files)
    before = org.attributes(B)
    # u2's entry is deleted and u1 gains an email: only u1 is read for changes or written.
    files = org.files(
        "customers:\n"
        "  - externalId: u1\n    emails: [a@example.com, a2@example.com]\n"
        "  - externalId: u3\n    emails: [c@example.com]\n"
    )
    result = org.ksync("apply", "--auto-approve", files)
    assert result.code == 0, result
    assert "u2" not in result.out
    assert "Plan: 0 to create, 1 to update, 1 unchanged." in result.out
    assert org.requests() == [
        PAGE_1,
        TOKEN,
        ("PUT", f"/v1/customers/{A}"),
        ("GET", f"/v1/customers/{A}"),
    ]
    assert org.writes() == [
        (
            "PUT",
            f"/v1/customers/{A}",
            {
                "emails": [
                    {"email": "a@example.com", **HOME},
                    {"email": "a2@example.com", "type": "other"},
                ]
            },
        )
    ]
    assert org.attributes(B) == before
    assert_converged(org, files)
    assert all(B not in path for _, path in org.requests())


def test_an_undeclared_customer_keeps_its_values_even_when_asked_for_them(org: Org) -> None:
    org.seed(customer(A, "u1", ["a@example.com"]), customer(B, "u2", ["b@example.com"]))
    files = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com, B@example.com]\n"
    )
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = org.ksync(*command, files)
        assert result.code == 1
        assert f"email b@example.com is held by customer {B}" in result.err
        assert org.requests() == [
            ("GET", "/v1/customers/externalId=u1"),
            ("GET", "/v1/customers/email=b%40example.com"),
        ]
    assert org.values(B, "emails") == ["b@example.com"]
    files = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    assert_converged(org, files)


def test_deleting_a_whole_file_leaves_its_customers_alone(org: Org) -> None:
    org.seed(
        customer(A, "u1", ["a@example.com"]),
        customer(B, "u2", ["b@example.com"], ["+15555550102"]),
        customer(C, "u3", ["c@example.com"], ["+15555550103"]),
    )
    (org.tmp / "contacts").mkdir()
    org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n", "contacts/team.yaml")
    gone = org.files(
        "customers:\n"
        "  - externalId: u2\n    emails: [b@example.com]\n    phones: ['+15555550102']\n"
        "  - externalId: u3\n    emails: [c@example.com]\n    phones: ['+15555550103']\n",
        "contacts/old.yaml",
    )
    assert_converged(org, "contacts")
    before = {cid: org.attributes(cid) for cid in (B, C)}
    Path(gone).unlink()
    result = org.ksync("apply", "--auto-approve", "contacts")
    assert (result.code, result.out) == (
        0,
        "No changes. Kustomer matches the files (1 customers checked).\n",
    )
    assert org.requests() == [("GET", "/v1/customers/externalId=u1")]
    assert {cid: org.attributes(cid) for cid in (B, C)} == before
    assert_converged(org, "contacts")


def test_deleting_every_file_is_an_error_not_an_empty_desired_state(org: Org) -> None:
    org.seed(customer(A, "u1", ["a@example.com"]))
    (org.tmp / "contacts").mkdir()
    path = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com]\n", "contacts/a.yaml"
    )
    assert_converged(org, "contacts")
    Path(path).unlink()
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = org.ksync(*command, "contacts")
        assert result.code == 1 and "contacts" in result.err
        assert org.requests() == []
    assert org.values(A, "emails") == ["a@example.com"]
    path = org.files("customers: []\n", "contacts/a.yaml")
    result = org.ksync("apply", "--auto-approve", "contacts")
    assert (result.code, result.out) == (
        0,
        "No changes. Kustomer matches the files (0 customers checked).\n",
    )
    assert org.requests() == [] and org.values(A, "emails") == ["a@example.com"]
    assert_converged(org, "contacts")


# What reviewers see: markdown and redaction through the CLI

REVIEW_FILES = """\
defaults:
  phone_region: US
customers:
  - externalId: user-1
    emails:
      - email: joe@example.com
        type: work
      - Joe.New@New.Example
    phones: ["+15555550100"]
  - externalId: user-7
    name: Sam Sample
    emails: [sam@example.com]
    phones: ["(555) 555-0177"]
  - externalId: user-9
    phones:
      - phone: "+15555550190"
        type: home
      - "555.555.0191"
  - externalId: user-0
    emails: [zero@example.com]
"""
ORIGINALS = [
    "joe@example.com",
    "Joe.New@New.Example",
    "old@example.com",
    "sam@example.com",
    "Sam Sample",
    "(555) 555-0177",
    "+15555550100",
    "+15555550190",
    "555.555.0191",
    "+44 20 7946 0018",
    "zero@example.com",
]


def seed_review(org: Org) -> None:
    org.seed(
        {
            "id": A,
            "externalId": "user-1",
            "emails": [
                {"email": "joe@example.com", **HOME},
                {"email": "old@example.com", "type": "home"},
            ],
            "phones": [{"phone": "+15555550100", "type": "mobile"}],
        },
        {
            "id": B,
            "externalId": "user-9",
            "phones": [
                {"phone": "+15555550190", "type": "mobile"},
                {"phone": "+44 20 7946 0018", "type": "other"},
            ],
        },
        {"id": D, "externalId": "user-0", "emails": [{"email": "zero@example.com"}]},
    )


def test_plan_markdown_for_a_pull_request_comment(org: Org) -> None:
    seed_review(org)
    org.files(REVIEW_FILES)
    result = org.ksync("plan", "--format", "markdown", "--detailed-exitcode", "contacts.yaml")
    assert (result.code, result.err) == (2, "")
    check_golden("cli.plan.md", result.out)
    assert result.out.splitlines()[0] == "**ksync plan:** 1 to create, 2 to update, 1 unchanged"
    assert org.requests() == [PAGE_1]
    apply_and_converge(org)


def apply_and_converge(org: Org) -> None:
    result = org.ksync("apply", "--auto-approve", "contacts.yaml")
    assert result.code == 0, result
    # One wave: the updates, then the create (no value moves between them).
    assert org.writes() == [
        (
            "PUT",
            f"/v1/customers/{A}",
            {
                "emails": [
                    {"email": "joe@example.com", "type": "work", "verified": True},
                    {"email": "Joe.New@New.Example", "type": "other"},
                ]
            },
        ),
        (
            "PUT",
            f"/v1/customers/{B}",
            {
                "phones": [
                    {"phone": "+15555550190", "type": "home", "verified": False},
                    {"phone": "+15555550191", "type": "other"},
                ]
            },
        ),
        (
            "POST",
            "/v1/customers",
            {
                "externalId": "user-7",
                "name": "Sam Sample",
                "emails": [{"email": "sam@example.com", "type": "other"}],
                "phones": [{"phone": "+15555550177", "type": "other"}],
            },
        ),
    ]
    assert org.values(D, "emails") == ["zero@example.com"]
    assert_converged(org, "contacts.yaml")
    markdown = org.ksync("plan", "--format", "markdown", "--redact", "contacts.yaml")
    assert markdown.out == "**ksync plan:** no changes (4 customers checked)\n"


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_redact_hides_every_email_and_phone(org: Org, fmt: str) -> None:
    seed_review(org)
    org.files(REVIEW_FILES)
    result = org.ksync("plan", "--redact", "--format", fmt, "--detailed-exitcode", "contacts.yaml")
    assert (result.code, result.err) == (2, "")
    for value in ORIGINALS:
        for spelling in spellings(value):
            assert spelling not in result.out.lower(), (value, spelling)
    for kept in (A, B, "user-1", "user-7", "user-9", "contacts.yaml:4"):
        assert kept in result.out
    if fmt == "markdown":
        check_golden("cli.plan.redacted.md", result.out)
    if fmt == "json":
        document = json.loads(result.out)
        assert document["redacted"] is True
        assert {c["fingerprint"] for c in document["changes"]} == {"redacted", "absent"}
    assert org.requests() == [PAGE_1]
    apply_and_converge(org)


def test_a_redacted_plan_output_still_saves_and_applies_the_real_values(org: Org) -> None:
    """apply.yml: plan --out with --redact, then apply --plan with --redact."""
    seed_review(org)
    org.files(REVIEW_FILES)
    planned = org.ksync("plan", "contacts.yaml", "--out", "plan.json", "--redact")
    assert planned.code == 0, planned
    assert "sam@example.com" not in planned.out and "s***@example.com" in planned.out
    saved = Path("plan.json").read_text(encoding="utf-8")
    assert "sam@example.com" in saved and "redacted" not in saved
    result = org.ksync("apply", "--plan", "plan.json", "--redact")
    assert result.code == 0, result
    assert "Apply complete: 3 writes sent, 0 failed, 0 not sent." in result.out
    for value in ORIGINALS:
        for spelling in spellings(value):
            assert spelling not in (result.out + result.err).lower(), (value, spelling)
    assert org.values(B, "phones") == ["+15555550190", "+15555550191"]
    assert_converged(org, "contacts.yaml")


def test_the_ci_flow_from_pull_request_to_drift(org: Org) -> None:
    """The commands of examples/github-actions, in the order a change goes through them."""
    org.seed(customer(A, "u1", ["a@example.com", "old@example.com"]))
    (org.tmp / "contacts").mkdir()
    org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n", "contacts/team.yaml")
    # pre-commit and plan.yml
    validated = org.ksync("validate", "contacts/team.yaml")
    assert (validated.code, validated.out) == (0, "1 customers declared; the files are valid.\n")
    assert org.requests() == []
    review = org.ksync(
        "plan", "contacts/", "--format", "markdown", "--redact", "--detailed-exitcode"
    )
    assert (review.code, review.err) == (2, "")
    assert "- email o***@example.com (home)" in review.out and "old@" not in review.out
    # apply.yml, after the merge
    planned = org.ksync("plan", "contacts/", "--out", "plan.json")
    assert planned.code == 0
    applied = org.ksync("apply", "--plan", "plan.json")
    assert applied.code == 0, applied
    assert org.requests() == [
        ("GET", f"/v1/customers/{A}"),  # is the saved plan still fresh?
        TOKEN,
        ("PUT", f"/v1/customers/{A}"),
        ("GET", f"/v1/customers/{A}"),
    ]
    assert org.writes() == [
        ("PUT", f"/v1/customers/{A}", {"emails": [{"email": "a@example.com", **HOME}]})
    ]
    # drift.yml: nothing to report, then someone edits Kustomer by hand
    quiet = org.ksync("plan", "contacts/", "--detailed-exitcode", "--redact")
    assert (quiet.code, quiet.err) == (0, "")
    org.direct("PUT", f"/v1/customers/{A}", {"emails": [{"email": "hand@example.com"}]})
    drift = org.ksync("plan", "contacts/", "--detailed-exitcode", "--redact")
    assert drift.code == 2
    assert "- email h***@example.com" in drift.out and "hand@" not in drift.out
    assert org.requests() == [
        ("GET", "/v1/customers/externalId=u1"),
        ("GET", "/v1/customers/email=a%40example.com"),  # who holds the value u1 would regain
    ]
    assert org.ksync("apply", "--auto-approve", "contacts/").code == 0
    assert org.values(A, "emails") == ["a@example.com"]
    assert_converged(org, "contacts/")


# The commands themselves


def test_schema_prints_the_packaged_schema(org: Org) -> None:
    result = org.ksync("schema")
    assert result.code == 0 and result.err == ""
    packaged = Path(ksync.__file__).parent / "ksync.schema.json"
    printed = json.loads(result.out)
    assert printed == json.loads(packaged.read_text(encoding="utf-8"))
    # The copy the YAML files point editors at is the same schema.
    repository = Path(__file__).parent.parent / "schemas" / "ksync.schema.json"
    assert printed == json.loads(repository.read_text(encoding="utf-8"))
    assert org.requests() == []


def commands() -> list[str]:
    (subparsers,) = (
        a for a in build_parser()._actions if a.choices and isinstance(a.choices, dict)
    )
    assert isinstance(subparsers.choices, dict)
    return list(subparsers.choices)


def test_every_command_is_listed() -> None:
    assert commands() == ["validate", "plan", "apply", "import", "schema", "emulator"]


@pytest.mark.parametrize("command", commands())
def test_help_of_every_command_has_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert re.search(rf"\nexample:\n  ksync {command}\b", text), text
    assert "exit codes:" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"ksync {__version__}\n"


LOG_LINE = re.compile(r"^(GET|PUT|POST) (/v1/\S+) -> (\d{3}) \((\d+) ms\)$")


def test_verbose_logs_every_request_and_never_the_key(org: Org) -> None:
    org.seed(customer(A, "u1", ["a@example.com", "old@example.com"]))
    path = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = org.ksync(*command, "-v", path)
        assert result.code == 0, result
        logged = [LOG_LINE.match(line) for line in result.err.splitlines()]
        assert all(logged), result.err
        assert [(m[1], m[2]) for m in logged if m] == org.requests()
        assert {m[3] for m in logged if m} == {"200"}
        assert API_KEY not in result.err + result.out and "Bearer" not in result.err
    assert_converged(org, path)


def test_verbose_logs_a_failed_request_with_its_status(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUSTOMER_API_KEY", "wrong-key")
    path = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    result = org.ksync("plan", "-v", path)
    assert result.code == 1
    assert re.match(r"GET /v1/customers/externalId=u1 -> 401 \(\d+ ms\)\n", result.err)
    assert "wrong-key" not in result.err + result.out


def test_quiet_prints_no_progress(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    org.seed(customer(A, "u1", ["a@example.com", "old@example.com"]))
    path = org.files("customers:\n  - externalId: u1\n    emails: [a@example.com]\n")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)  # a progress bar
    shown = org.ksync("plan", path)
    assert shown.code == 0 and "reading customers" in shown.err
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = org.ksync(*command, "-q", path)
        assert (result.code, result.err) == (0, ""), result
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert org.writes() == [
        ("PUT", f"/v1/customers/{A}", {"emails": [{"email": "a@example.com", **HOME}]})
    ]
    assert_converged(org, path)


def test_redact_also_hides_the_values_of_problems(org: Org) -> None:
    org.seed(customer(A, "u1", ["a@example.com"]), customer(B, "u2", ["secret@example.com"]))
    path = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com, secret@example.com]\n"
    )
    result = org.ksync("plan", "--redact", "--format", "markdown", path)
    assert result.code == 1 and org.writes() == []
    assert "secret@" not in result.out + result.err
    assert "### Problems (1)" in result.out and "s***@example.com" in result.out
