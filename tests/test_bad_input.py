"""The bad-input corpus: every broken file is refused clearly, offline, and quickly.

Each entry of ``tests/data/bad`` is one failure mode. ``validate`` and ``plan`` must both
exit 1, print only ``PATH:LINE:COL: message`` lines (the first one pinned below), print no
plan and send no request at all. Saved plans given to ``apply --plan`` are checked the
same way: the committed ``tests/data/badplans`` files and edits of a real saved plan.
"""

from __future__ import annotations

import hashlib
import json
import re
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Org, Result

import ksync.cli  # noqa: F401  (imported once here, so no timed run pays for the import)

DATA = Path(__file__).parent / "data"
BAD = DATA / "bad"
BAD_PLANS = DATA / "badplans"
CORPUS = sorted(entry.name for entry in BAD.iterdir())
PLANS = sorted(entry.name for entry in BAD_PLANS.iterdir())

SECONDS = 5.0
PEAK_BYTES = 200 * 1024 * 1024

# The first error line of each entry, after "PATH:" (for a directory: after "PATH/");
# "{path}" stands for the path given on the command line.
FIRST_ERROR: dict[str, str] = {
    # YAML syntax
    "syntax-unclosed-bracket.yaml": "4:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence started at line 1)",
    "syntax-bad-indentation.yaml": "5:6: YAML syntax error: did not find expected key (while parsing a block mapping started at line 2)",
    "syntax-unclosed-quote.yaml": "4:1: YAML syntax error: found unexpected end of stream (while scanning a quoted scalar started at line 2)",
    "syntax-stray-colon.yaml": "3:14: YAML syntax error: mapping values are not allowed in this context",
    "tab-indentation.yaml": "3:1: tab character in indentation; YAML indents with spaces only",
    "tab-after-dash.yaml": "2:4: YAML syntax error: tab character here; YAML needs spaces, not tabs",
    "complex-key.yaml": "2:3: a mapping key must be plain text",
    "deep-nesting.yaml": "3:11: customers[0].name: expected a string, found a list",
    # Duplicate keys
    "duplicate-key-top-level.yaml": "3:1: duplicate key 'customers' (first at line 1)",
    "duplicate-key-in-customer.yaml": "4:5: customers[0]: duplicate key 'externalId' (first at line 2)",
    "duplicate-key-in-email-mapping.yaml": "6:9: customers[0].emails[0]: duplicate key 'email' (first at line 4)",
    # Wrong types
    "customers-is-mapping.yaml": "2:3: customers: expected a list, found a mapping",
    "emails-is-string.yaml": "3:13: customers[0].emails: expected a list, found 'joe@example.com'",
    "email-entry-is-number.yaml": "4:9: customers[0].emails[0]: 42 is a number; quote it as a string",
    "phone-unquoted-int.yaml": "4:9: customers[0].phones[0]: 15555550100 is a number; quote it as a string",
    "version-as-string.yaml": "1:10: version: '1' is text, not a number; write 1 without quotes",
    "name-is-list.yaml": "3:11: customers[0].name: expected a string, found a list",
    "type-is-number.yaml": "5:15: customers[0].emails[0].type: 1 is not one of home, work, other",
    "phone-region-is-list.yaml": "2:17: defaults.phone_region: expected a string, found a list",
    # Unknown keys
    "unknown-key-top-level.yaml": "2:1: unknown key 'customer' (did you mean 'customers'?)",
    "unknown-key-customer.yaml": "3:5: customers[0]: unknown key 'emial' (did you mean 'emails'?)",
    "unknown-key-entry.yaml": "5:9: customers[0].phones[0]: unknown key 'kind'",
    "unknown-key-defaults.yaml": "2:3: defaults: unknown key 'region' (did you mean 'phone_region'?)",
    # Nothing in the file
    "empty.yaml": "1:1: file is empty; a ksync file needs at least 'customers: []'",
    "whitespace-only.yaml": "1:1: file is empty; a ksync file needs at least 'customers: []'",
    "comment-only.yaml": "1:1: file is empty; a ksync file needs at least 'customers: []'",
    # Encodings and characters
    "non-utf8-latin1.yaml": "3:14: not valid UTF-8 (byte 0xe9); save the file as UTF-8",
    "utf16-bom.yaml": "1:1: file is UTF-16 (it starts with a byte order mark); save it as UTF-8",
    "control-character.yaml": "2:11: character U+0007 is not allowed in YAML",
    # Anchors, aliases, tags, documents
    "alias-bomb.yaml": "1:1: unknown key 'a'",
    "anchor.yaml": "3:13: customers[0].emails: anchors (&mine) are not allowed; write the value out",
    "python-object-apply.yaml": "3:11: customers[0].name: tag !!python/object/apply:os.system is not allowed; ksync files are plain YAML",
    "python-name.yaml": "3:11: customers[0].name: tag !!python/name:os.system is not allowed; ksync files are plain YAML",
    "custom-tag-ref.yaml": "3:11: customers[0].name: tag !Ref is not allowed; ksync files are plain YAML",
    "binary-tag.yaml": "3:11: customers[0].name: tag !!binary is not allowed; ksync files are plain YAML",
    "multiple-documents.yaml": "2:1: only one YAML document per file is allowed",
    # Emails and phones
    "email-no-at.yaml": "4:9: customers[0].emails[0]: 'joe.example.com' is not a valid email address",
    "email-two-at.yaml": "4:9: customers[0].emails[0]: 'joe@bob@example.com' is not a valid email address",
    "email-spaces.yaml": "4:9: customers[0].emails[0]: 'joe schmoe@example.com' is not a valid email address",
    "email-no-domain-dot.yaml": "4:9: customers[0].emails[0]: 'joe@localhost' is not a valid email address",
    "phone-letters.yaml": "4:9: customers[0].phones[0]: '+1 call-me-maybe' is not a valid phone number",
    "phone-too-short.yaml": "4:9: customers[0].phones[0]: '+1 555' is not a valid phone number",
    "phone-no-region.yaml": "4:9: customers[0].phones[0]: '555-555-0100' is not a valid phone number (no +country code and no phone_region)",
    "bad-phone-region.yaml": "2:17: defaults.phone_region: 'USA' is not a phone region (use a two-letter country code such as US or GB)",
    # The file format
    "version-2.yaml": "1:10: version: 2 is not supported; use 1",
    "customer-without-identity.yaml": "2:5: customers[0]: needs an externalId or an id",
    "id-not-24-hex.yaml": "2:9: customers[0].id: '58863fe94aa1701100efcb1z' is not a Kustomer id (24 hexadecimal characters)",
    "empty-externalid.yaml": "2:17: customers[0].externalId: must not be empty",
    "null-customers.yaml": "1:11: customers: expected a list, found an empty value",
    "customers-list-of-null.yaml": "1:13: customers[0]: expected a mapping, found an empty value",
    "top-level-list.yaml": "1:1: expected a mapping, found a list",
    "scalar-document.yaml": "1:1: expected a mapping, found 'customers'",
    # Declared twice
    "duplicate-customer-externalid.yaml": "4:5: customers[1]: customer externalId=user-1 is already declared at {path}:2",
    "duplicate-customer-id.yaml": "3:5: customers[1]: customer id=58863FE94AA1701100EFCB1D is already declared at {path}:2",
    "duplicate-customer-across-files": "b.yaml:3:5: customers[1]: customer externalId=user-1 is already declared at {path}/a.yaml:2",
    "email-on-two-customers.yaml": "5:14: customers[1].emails[0]: 'Joe@Example.COM' is already declared for customer externalId=user-1 at {path}:3 as 'joe@example.com'",
    "phone-on-two-customers.yaml": "5:14: customers[1].phones[0]: '+1 (555) 555-0100' is already declared for customer externalId=user-1 at {path}:3 as '+15555550100'",
    "email-twice-in-customer.yaml": "5:9: customers[0].emails[1]: 'joe@example.com' is listed twice (first at line 4)",
}


def _problem_line(path: str, directory: bool) -> re.Pattern[str]:
    """``PATH:LINE:COL: message``; a directory's problems name a file under it."""
    inside = r"/[^:]+" if directory else ""
    return re.compile(rf"^{re.escape(path)}{inside}:\d+:\d+: .+$")


def _refused(result: Result, path: str, directory: bool) -> list[str]:
    """Assert the run refused the files the way a config error must; its stderr lines."""
    assert result.code == 1, result
    assert result.out == "", result  # no plan, no "files are valid"
    lines = result.err.splitlines()
    assert lines, result
    pattern = _problem_line(path, directory)
    for line in lines:
        assert pattern.match(line), line
    return lines


def _timed(org: Org, *args: str) -> tuple[Result, float, int]:
    """The run, its wall time and the peak of memory Python allocated during it."""
    tracemalloc.start()
    start = time.monotonic()
    try:
        result = org.ksync(*args)
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, elapsed, peak


def test_the_corpus_has_at_least_40_failure_modes() -> None:
    files = [path for path in BAD.rglob("*") if path.is_file()]
    assert len(files) >= 40
    assert len(CORPUS) >= 40


def test_every_entry_has_a_pinned_first_error() -> None:
    assert sorted(FIRST_ERROR) == CORPUS


@pytest.mark.parametrize("name", CORPUS)
def test_bad_input_is_refused_offline(org: Org, name: str) -> None:
    entry = BAD / name
    path = str(entry)
    directory = entry.is_dir()
    validate, elapsed, peak = _timed(org, "validate", path)
    assert elapsed < SECONDS
    assert peak < PEAK_BYTES
    lines = _refused(validate, path, directory)
    separator = "/" if directory else ":"
    assert lines[0] == path + separator + FIRST_ERROR[name].format(path=path)
    assert org.requests() == []

    start = time.monotonic()
    plan = org.ksync("plan", path)
    assert time.monotonic() - start < SECONDS
    assert _refused(plan, path, directory) == lines  # the same problems, checked first
    assert org.requests() == []


def test_the_harness_accepts_a_valid_file(org: Org) -> None:
    path = org.files("customers:\n  - externalId: user-1\n    emails: [joe@example.com]\n")
    result = org.ksync("validate", path)
    assert (result.code, result.out, result.err) == (
        0,
        "1 customers declared; the files are valid.\n",
        "",
    )


def test_alias_bomb_is_refused_without_expanding_it(org: Org) -> None:
    path = str(BAD / "alias-bomb.yaml")
    result, elapsed, peak = _timed(org, "validate", path)
    assert elapsed < SECONDS
    assert peak < PEAK_BYTES
    lines = _refused(result, path, False)
    assert (
        lines[-1] == f"{path}:10:12: customers: aliases (*i) are not allowed; write the value out"
    )
    assert len(lines) == 19  # 9 unknown keys, 9 anchors, 1 alias: nothing was expanded


def test_dangerous_tags_construct_nothing(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[Any] = []
    monkeypatch.setattr("os.system", lambda *args: called.append(args) or 0)
    for name in ("python-object-apply.yaml", "python-name.yaml"):
        assert org.ksync("validate", str(BAD / name)).code == 1
    assert called == []


def test_a_large_file_names_the_one_bad_line_quickly(org: Org, tmp_path: Path) -> None:
    count = 20_000
    lines = ["customers:\n"]
    lines += [
        f"  - externalId: user-{i}\n    emails: [user{i}@example.com]\n" for i in range(count)
    ]
    lines.append("  - externalId: last\n    emails: [nobody-at-example.com]\n")
    path = tmp_path / "large.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    bad_line = 1 + 2 * count + 2

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    result = org.ksync("validate", str(path))
    elapsed = time.monotonic() - start
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert elapsed < SECONDS
    # ru_maxrss is in KiB on Linux, bytes on macOS; either way the peak grew < 200 MiB.
    assert rss_growth * (1 if sys.platform == "darwin" else 1024) < PEAK_BYTES

    assert _refused(result, str(path), False) == [
        f"{path}:{bad_line}:14: customers[{count}].emails[0]: 'nobody-at-example.com'"
        " is not a valid email address"
    ]
    assert org.requests() == []


# Saved plans

# The message after "PATH" for each committed bad plan.
PLAN_ERROR: dict[str, str] = {
    "edited-checksum-mismatch.json": ": the plan was edited after it was saved; make a new plan",
    "empty.json": ": the plan file is empty; make a new plan",
    "json-list.json": ": not a valid plan file: at (top): expected object, found an array",
    "method-delete.json": ": not a valid plan file: at requests/0/method: 'DELETE' is not one of ['POST', 'PUT']",
    "no-checksum.json": ": not a valid plan file: at (top): 'checksum' is a required property",
    "not-json.json": ":1:1: not valid JSON: Expecting value",
    "not-utf8.json": ": not a plan file: not UTF-8 text",
    "path-absolute-url.json": ": not a valid plan file: at requests/0/path: 'https://evil.example/v1/customers' is not a customers path on the plan's API URL (/v1/customers or /v1/customers/ID)",
    "path-dot-segment.json": ": not a valid plan file: at requests/0/path: '/v1/customers/..' is not a customers path on the plan's API URL (/v1/customers or /v1/customers/ID)",
    "path-other-host.json": ": not a valid plan file: at requests/0/path: '//evil.example/x' is not a customers path on the plan's API URL (/v1/customers or /v1/customers/ID)",
    "truncated.json": ":28:21: not valid JSON: Unterminated string starting at (the file looks truncated; make a new plan)",
    "wrong-format-version.json": ": plan format_version 2 is not supported (this ksync reads 1)",
    "yaml-not-json.json": ":1:1: not valid JSON: Expecting value",
}


def _plan_refused(result: Result, path: str) -> str:
    """Assert apply refused the plan file before sending anything; the message after PATH."""
    assert result.code == 1, result
    assert result.out == "", result
    prefix = f"ksync: error: {path}"
    assert result.err.startswith(prefix) and result.err.count("\n") == 1, result
    return result.err[len(prefix) :].rstrip("\n")


def test_every_bad_plan_has_a_pinned_message() -> None:
    assert sorted(PLAN_ERROR) == PLANS


@pytest.mark.parametrize("name", PLANS)
def test_bad_plan_files_are_refused_before_any_request(org: Org, name: str) -> None:
    path = str(BAD_PLANS / name)
    assert _plan_refused(org.ksync("apply", "--plan", path), path) == PLAN_ERROR[name]
    assert org.requests() == []


A_ID = "5f0000000000000000000001"


@pytest.fixture
def saved_plan(org: Org) -> dict[str, Any]:
    """A real plan saved by ``plan --out``: one update and one create."""
    org.seed(
        {
            "id": A_ID,
            "externalId": "u1",
            "emails": [{"email": "a@example.com"}, {"email": "b@example.com"}],
        }
    )
    files = org.files(
        "customers:\n  - externalId: u1\n    emails: [a@example.com]\n"
        "  - externalId: u2\n    emails: [n@example.com]\n"
    )
    result = org.ksync("plan", "--out", "plan.json", files)
    assert result.code == 0, result
    document: dict[str, Any] = json.loads(Path("plan.json").read_text(encoding="utf-8"))
    assert document["checksum"] == _checksum(document)
    assert [r["path"] for r in document["requests"]] == [f"/v1/customers/{A_ID}", "/v1/customers"]
    return document


def _checksum(document: dict[str, Any]) -> str:
    """The checksum as ``plan --out`` computes it, so edits can be made to look intact."""
    content = {k: v for k, v in document.items() if k != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _resealed(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], str]:
    """An edit whose checksum is recomputed: only the plan's own checks can catch it."""

    def edit(document: dict[str, Any]) -> str:
        change(document)
        document["checksum"] = _checksum(document)
        return json.dumps(document)

    return edit


def _set_path(path: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["requests"][0]["path"] = path

    return change


def _edit_body(document: dict[str, Any]) -> str:
    document["requests"][0]["body"]["emails"] = []
    return json.dumps(document)


def _version(document: dict[str, Any]) -> None:
    document["format_version"] = 2


PLAN_EDITS: dict[str, tuple[Callable[[dict[str, Any]], str], str]] = {
    "wrong-format-version": (
        _resealed(_version),
        ": plan format_version 2 is not supported (this ksync reads 1)",
    ),
    "edited-body": (_edit_body, ": the plan was edited after it was saved; make a new plan"),
    "truncated": (
        lambda d: json.dumps(d, indent=2).partition('"summary": {')[0] + '"summ',
        ":5:3: not valid JSON: Unterminated string starting at (the file looks truncated; make a new plan)",
    ),
    "not-json": (lambda d: "ksync plan output\n", ":1:1: not valid JSON: Expecting value"),
    "empty": (lambda d: "", ": the plan file is empty; make a new plan"),
    "json-list": (
        lambda d: json.dumps(d["requests"]),
        ": not a valid plan file: at (top): expected object, found an array",
    ),
    "other-host": (
        _resealed(_set_path("//evil.example/x")),
        ": not a valid plan file: at requests/0/path: '//evil.example/x' is not a customers path on the plan's API URL (/v1/customers or /v1/customers/ID)",
    ),
    "absolute-url": (
        _resealed(_set_path(f"https://evil.example/v1/customers/{A_ID}")),
        f": not a valid plan file: at requests/0/path: 'https://evil.example/v1/customers/{A_ID}' is not a customers path on the plan's API URL (/v1/customers or /v1/customers/ID)",
    ),
    "dot-segment": (
        _resealed(_set_path("/v1/customers/..")),
        ": not a valid plan file: at requests/0/path: '/v1/customers/..' is not a customers path on the plan's API URL (/v1/customers or /v1/customers/ID)",
    ),
}


@pytest.mark.parametrize("edit", sorted(PLAN_EDITS))
def test_edited_real_plans_are_refused_before_any_request(
    org: Org, saved_plan: dict[str, Any], edit: str
) -> None:
    make, expected = PLAN_EDITS[edit]
    Path("bad.json").write_text(make(saved_plan), encoding="utf-8")
    assert _plan_refused(org.ksync("apply", "--plan", "bad.json"), "bad.json") == expected
    assert org.requests() == []
    assert org.values(A_ID, "emails") == ["a@example.com", "b@example.com"]


def test_the_unedited_plan_applies(org: Org, saved_plan: dict[str, Any]) -> None:
    """The control for the edits above: the same plan as saved goes through."""
    result = org.ksync("apply", "--plan", "plan.json")
    assert result.code == 0, result
    assert [method for method, _ in org.requests() if method != "GET"] == ["PUT", "POST"]
    assert org.values(A_ID, "emails") == ["a@example.com"]
