"""Saved plans: ``plan --out FILE`` writes one, ``apply --plan FILE`` reads it back.

The file is the JSON plan document plus the API URL it was made against and a checksum
of its contents, so an edited or truncated file is refused before anything is sent.
It never holds the API key.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jsonschema

from ksync.model import FIELDS, Field, SourceRef
from ksync.plan import (
    FORMAT_VERSION,
    Change,
    Plan,
    Request,
    ValueChange,
    plan_to_document,
)


class PlanFileError(Exception):
    """A saved plan that cannot be used; the message says why."""


_VALUES = {"type": "array", "items": {"type": "string"}}
# /v1/customers or /v1/customers/ONE-SEGMENT, never "." or ".." (the HTTP client would
# resolve those dot segments and send the request to another path).
_REQUEST_PATH = r"^/v1/customers(/(?!\.\.?$)[^/?#]+)?$"
_REQUEST = {
    "type": "object",
    "required": ["method", "path", "body"],
    "properties": {
        "method": {"enum": ["POST", "PUT"]},
        "path": {"type": "string", "pattern": _REQUEST_PATH},
        "body": {"type": "object"},
        "change": {"type": "integer", "minimum": 0},
        "purpose": {"enum": ["create", "update", "release"]},
        "after": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    },
}
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["format_version", "target", "checksum", "summary", "changes", "requests"],
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "target": {"type": "string"},
        "checksum": {"type": "string"},
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["action", "id", "externalId", "source", "fingerprint", "changes"],
                "properties": {
                    "action": {"enum": ["create", "update"]},
                    "id": {"type": ["string", "null"]},
                    "externalId": {"type": ["string", "null"]},
                    "source": {"type": "string", "pattern": r"^.+:\d+$"},
                    "fingerprint": {"type": "string"},
                    "before": {
                        "type": "object",
                        "additionalProperties": False,
                        "patternProperties": {
                            "^(emails|phones)$": {"type": "array", "items": {"type": "object"}}
                        },
                    },
                    "changes": {
                        "type": "object",
                        "additionalProperties": False,
                        "patternProperties": {
                            "^(emails|phones)$": {
                                "type": "object",
                                "required": ["add", "remove", "retype"],
                                "properties": {"add": _VALUES, "remove": _VALUES},
                            }
                        },
                    },
                },
            },
        },
        "requests": {
            "type": "array",
            "items": {**_REQUEST, "required": ["method", "path", "body", "change", "purpose"]},
        },
    },
}


def save_plan(path: Path, plan: Plan, target: str) -> None:
    """Write the plan atomically: a reader never sees half a file."""
    document = {**plan_to_document(plan), "target": target}
    document["checksum"] = _checksum(document)
    write_text_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_plan(path: Path) -> tuple[Plan, str]:
    """The plan and the API URL it was made against; raises PlanFileError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PlanFileError(f"{path}: cannot read the plan: {err.strerror}") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: not a plan file: not UTF-8 text") from None
    if not text.strip():
        raise PlanFileError(f"{path}: the plan file is empty; make a new plan")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        where = f"{path}:{err.lineno}:{err.colno}"
        hint = _truncated_hint(text)
        raise PlanFileError(f"{where}: not valid JSON: {err.msg}{hint}") from None
    _check_shape(path, document)
    if document["checksum"] != _checksum(document):
        raise PlanFileError(f"{path}: the plan was edited after it was saved; make a new plan")
    plan = _plan_from_document(path, document)
    return plan, str(document["target"])


def _check_shape(path: Path, document: Any) -> None:
    if isinstance(document, dict) and document.get("format_version") not in (None, FORMAT_VERSION):
        raise PlanFileError(
            f"{path}: plan format_version {document['format_version']!r} is not supported "
            f"(this ksync reads {FORMAT_VERSION})"
        )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_SCHEMA).iter_errors(document)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        message = error.message
        if error.validator == "type":  # never show the value: it may be the whole file
            wanted = error.validator_value
            kinds = [wanted] if isinstance(wanted, str) else list(wanted)
            message = f"expected {' or '.join(kinds)}, found {_json_kind(error.instance)}"
        elif error.validator == "pattern" and error.validator_value == _REQUEST_PATH:
            message = (
                f"{error.instance!r} is not a customers path on the plan's API URL"
                " (/v1/customers or /v1/customers/ID)"
            )
        raise PlanFileError(f"{path}: not a valid plan file: at {where}: {message}")


def _truncated_hint(text: str) -> str:
    """A hint when a JSON object was cut short, as a partly written or copied file is."""
    stripped = text.strip()
    if stripped.startswith("{") and not stripped.endswith("}"):
        return " (the file looks truncated; make a new plan)"
    return ""


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


def _checksum(document: dict[str, Any]) -> str:
    content = {k: v for k, v in document.items() if k != "checksum"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _plan_from_document(path: Path, document: dict[str, Any]) -> Plan:
    changes = tuple(_change_from_document(c) for c in document["changes"])
    requests = tuple(_request_from_document(r) for r in document["requests"])
    for index, request in enumerate(requests):
        if request.change >= len(changes) or any(a >= index for a in request.after):
            raise PlanFileError(f"{path}: not a valid plan file: request {index} is out of order")
    summary = document["summary"]
    unchanged = summary.get("unchanged", 0) if isinstance(summary, dict) else 0
    return Plan(changes=changes, requests=requests, unchanged=int(unchanged))


def _change_from_document(doc: dict[str, Any]) -> Change:
    file, _, line = str(doc["source"]).rpartition(":")
    diffs: list[ValueChange] = []
    for name in FIELDS:
        arrays = doc["changes"].get(name)
        if arrays:
            diffs += _diffs_from_document(name, arrays)
    return Change(
        action=doc["action"],
        source=SourceRef(file, int(line)),
        external_id=doc["externalId"],
        id=doc["id"],
        diffs=tuple(diffs),
        fingerprint=doc["fingerprint"],
        before=doc.get("before") or {},
    )


def _diffs_from_document(name: Field, arrays: dict[str, Any]) -> list[ValueChange]:
    diffs = [ValueChange(name, "-", v) for v in arrays["remove"]]
    diffs += [
        ValueChange(name, "~", str(r.get("value")), r.get("to"), r.get("from"))
        for r in arrays["retype"]
        if isinstance(r, dict)
    ]
    diffs += [ValueChange(name, "+", v) for v in arrays["add"]]
    return diffs


def _request_from_document(doc: dict[str, Any]) -> Request:
    return Request(
        method=doc["method"],
        path=doc["path"],
        body=doc["body"],
        change=doc["change"],
        purpose=doc["purpose"],
        after=tuple(doc.get("after", ())),
    )
