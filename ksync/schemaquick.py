"""A fast yes/no JSON Schema check, compiled from the schema, for files that are valid.

jsonschema words errors well but costs tens of microseconds per value; with 100,000
customers that is most of a minute. ``compile_check`` turns the subset of draft 2020-12
that ksync's schema uses into nested closures that only answer "valid?". jsonschema
still runs on whatever they refuse, so every error keeps jsonschema's exact meaning.
A keyword outside the subset makes the check refuse everything: slower, never wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never make an instance invalid.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "patternErrorMessage",
    }
)
_SIMPLE_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
}


class Unsupported(Exception):
    """The schema uses a keyword or value the quick check does not implement."""


def compile_check(schema: Mapping[str, Any] | bool, root: Mapping[str, Any]) -> Check:
    """A function telling whether an instance is valid under ``schema``.

    ``root`` is the document ``$ref``s point into. Never raises: a schema it cannot
    compile gives a check that says "not valid" to everything.
    """
    try:
        return _Compiler(root).compile(schema)
    except Unsupported:
        return lambda instance: False


def same(a: Any, b: Any) -> bool:
    """JSON equality of scalars: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


class _Compiler:
    """Compiles one schema (and the ``$ref`` targets it reaches) into checks."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True or schema is False:
            return lambda instance: bool(schema)
        if not isinstance(schema, Mapping):
            raise Unsupported(repr(schema))
        checks = [
            self._keyword(keyword, value, schema)
            for keyword, value in schema.items()
            if keyword not in _ANNOTATIONS
        ]
        if len(checks) == 1:
            return checks[0]
        return lambda instance: all(check(instance) for check in checks)

    def _keyword(self, keyword: str, value: Any, schema: Mapping[str, Any]) -> Check:
        if keyword == "type":
            return _type(value)
        if keyword == "properties":
            return self._properties(value)
        if keyword == "additionalProperties":
            return _no_additional(value, schema)
        if keyword == "required":
            required = tuple(value)
            return lambda x: not isinstance(x, dict) or all(key in x for key in required)
        if keyword == "items":
            item = self.compile(value)
            return lambda x: not isinstance(x, list) or all(map(item, x))
        if keyword == "anyOf":
            branches = [self.compile(branch) for branch in value]
            return lambda x: any(branch(x) for branch in branches)
        if keyword == "$ref":
            return self._ref(value)
        return _scalar_keyword(keyword, value)

    def _properties(self, value: Mapping[str, Any]) -> Check:
        checks = {key: self.compile(subschema) for key, subschema in value.items()}

        def check(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return True
            for key, item in instance.items():
                item_check = checks.get(key)
                if item_check is not None and not item_check(item):
                    return False
            return True

        return check

    def _ref(self, ref: str) -> Check:
        """A local ``#/...`` reference; compiled once, recursion allowed."""
        if ref not in self.refs:
            target: list[Check] = []
            self.refs[ref] = lambda instance: target[0](instance)
            target.append(self.compile(self._resolve(ref)))
        return self.refs[ref]

    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise Unsupported(ref)
        node: Any = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, Mapping) or part not in node:
                raise Unsupported(ref)
            node = node[part]
        return node


def _type(value: str | list[str]) -> Check:
    names = [value] if isinstance(value, str) else list(value)
    if all(name in _SIMPLE_TYPES for name in names):
        types = tuple(_SIMPLE_TYPES[name] for name in names)
        if bool in types:
            return lambda x: isinstance(x, types)
        return lambda x: isinstance(x, types) and not isinstance(x, bool)
    tests = [_type_test(name) for name in names]
    return lambda x: any(test(x) for test in tests)


def _type_test(name: str) -> Check:
    if name in _SIMPLE_TYPES:
        return _type(name)
    if name == "number":
        return lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)
    if name == "integer":
        return lambda x: (
            not isinstance(x, bool)
            and (isinstance(x, int) or (isinstance(x, float) and x.is_integer()))
        )
    raise Unsupported(name)


def _no_additional(value: Any, schema: Mapping[str, Any]) -> Check:
    if value is not False or "patternProperties" in schema:
        raise Unsupported("additionalProperties")
    allowed = frozenset(schema.get("properties", ()))
    return lambda x: not isinstance(x, dict) or x.keys() <= allowed


def _scalar_keyword(keyword: str, value: Any) -> Check:
    """Keywords about one scalar value: enum, const, minLength, pattern."""
    if keyword == "enum" and all(isinstance(item, str) for item in value):
        strings = frozenset(value)
        return lambda x: isinstance(x, str) and x in strings
    if keyword == "enum" and not any(isinstance(item, (dict, list)) for item in value):
        return lambda x: any(same(x, item) for item in value)
    if keyword == "const" and not isinstance(value, (dict, list)):
        return lambda x: same(x, value)
    if keyword == "minLength":
        return lambda x: not isinstance(x, str) or len(x) >= value
    if keyword == "pattern":
        pattern = re.compile(value)
        return lambda x: not isinstance(x, str) or pattern.search(x) is not None
    raise Unsupported(keyword)
