"""Check a loaded file against ksync's JSON Schema and word each error for people.

The schema lives in ``ksync/ksync.schema.json`` (editors use the same file through
``schemas/ksync.schema.json``). One validator is compiled per process.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from ksync.configproblem import ConfigProblem, YamlPath, located
from ksync.schemaquick import Check, compile_check
from ksync.yamlload import REJECTED, Document

_KINDS = {
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "an empty value",
}


def schema() -> dict[str, Any]:
    """ksync's JSON Schema (draft 2020-12) for desired-state files; a fresh copy."""
    loaded: dict[str, Any] = json.loads(_schema_text())
    return loaded


@functools.cache
def _schema_text() -> str:
    return resources.files("ksync").joinpath("ksync.schema.json").read_text(encoding="utf-8")


@functools.cache
def _compiled() -> tuple[Validator, Validator, Check, Check]:
    """The validator for a file, the same rooted at one customer, and their quick checks."""
    root = schema()
    customer = root["properties"]["customers"]["items"]
    validator = Draft202012Validator(root)
    return (
        validator,
        validator.evolve(schema=customer),
        compile_check(root, root),
        compile_check(customer, root),
    )


def schema_problems(document: Document) -> list[ConfigProblem]:
    """Every schema error in one file, each at the line of the value it is about.

    jsonschema, which words the errors, only sees what the quick check refuses: the top
    level, and each customer that is not valid.
    """
    data = document.data
    validator, customer_validator, valid_file, valid_customer = _compiled()
    if valid_file(data):
        return []
    items = data.get("customers") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return _problems(document, (), validator.iter_errors(data))
    problems = _problems(document, (), validator.iter_errors({**data, "customers": []}))
    for index, item in enumerate(items):
        if not valid_customer(item):
            errors = customer_validator.iter_errors(item)
            problems.extend(_problems(document, ("customers", index), errors))
    return problems


def _problems(
    document: Document, base: YamlPath, errors: Iterable[ValidationError]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for error in errors:
        if error.instance is not REJECTED:  # refused values were reported already
            problems.extend(_explain(document, (*base, *error.absolute_path), error))
    return problems


def _explain(document: Document, path: YamlPath, error: ValidationError) -> list[ConfigProblem]:
    """One problem per thing wrong: an error about several keys gives several problems."""
    keyword = str(error.validator)
    instance: Any = error.instance
    expected: Any = error.validator_value
    subschema: Any = error.schema
    if keyword == "additionalProperties":
        known = list(subschema.get("properties", {}))
        unknown = [key for key in instance if key not in known]
        return [
            located(document.key_at((*path, key)), path, _unknown_key(key, known))
            for key in unknown
        ]
    if keyword == "required":
        missing = [key for key in expected if key not in instance]
        return [
            located(document.at(path), path, f"missing required key {key!r}") for key in missing
        ]
    word = _MESSAGES.get(keyword)
    shown = document.show(path, instance)
    message = word(shown, instance, expected, subschema) if word else error.message
    return [located(document.at(path), path, message)]


def _unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _type(shown: str, instance: Any, expected: Any, subschema: Any) -> str:
    kinds = [expected] if isinstance(expected, str) else list(expected)
    if "string" in kinds and isinstance(instance, bool):
        return f"{shown} is read as true or false; quote it as a string"
    if "string" in kinds and isinstance(instance, (int, float)):
        return f"{shown} is a number; quote it as a string"
    wanted = " or ".join(_KINDS.get(kind, kind) for kind in kinds)
    return f"expected {wanted}, found {_describe(shown, instance)}"


def _describe(shown: str, instance: Any) -> str:
    if instance is None:
        return "an empty value"
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    return shown


def _const(shown: str, instance: Any, expected: Any, subschema: Any) -> str:
    wanted = json.dumps(expected)
    if isinstance(instance, str) and instance.strip() == wanted:
        return f"{shown} is text, not a number; write {wanted} without quotes"
    return f"{shown} is not supported; use {wanted}"


def _enum(shown: str, instance: Any, expected: Any, subschema: Any) -> str:
    return f"{shown} is not one of {', '.join(map(str, expected))}"


def _min_length(shown: str, instance: Any, expected: Any, subschema: Any) -> str:
    return "must not be empty" if expected == 1 else f"is shorter than {expected} characters"


def _pattern(shown: str, instance: Any, expected: Any, subschema: Any) -> str:
    hint = subschema.get("patternErrorMessage")
    return f"{shown} is {hint}" if hint else f"{shown} does not match {expected}"


def _any_of(shown: str, instance: Any, expected: Any, subschema: Any) -> str:
    """The schema's only ``anyOf``: branches that each require one key."""
    keys = [key for branch in expected for key in branch.get("required", ())]
    return "needs " + " or ".join(f"{'an' if key[0] in 'aeiou' else 'a'} {key}" for key in keys)


_MESSAGES: dict[str, Callable[[str, Any, Any, Any], str]] = {
    "type": _type,
    "const": _const,
    "enum": _enum,
    "minLength": _min_length,
    "pattern": _pattern,
    "anyOf": _any_of,
}
