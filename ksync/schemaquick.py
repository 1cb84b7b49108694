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


class _Parts:
    """The compiled keywords of one schema, grouped by the kind of instance they apply to.

    Keywords about mappings, lists or strings hold for every other kind of value, so each
    group is only looked at for its kind; ``general`` holds for every value.
    """

    def __init__(self) -> None:
        self.types: tuple[type, ...] | None = None  # a "type" of simple types only
        self.general: list[Check] = []
        self.properties: dict[str, Check] | None = None
        self.allowed: frozenset[str] | None = None
        self.required: tuple[str, ...] = ()
        self.items: Check | None = None
        self.text: list[Check] = []

    def check(self) -> Check:
        types = self.types
        general = tuple(self.general)
        properties = self.properties
        allowed = self.allowed
        required = self.required
        items = self.items
        text = tuple(self.text)
        mapping = properties is not None or allowed is not None or bool(required)
        if not (mapping or items or text):
            if types is None and len(general) == 1:
                return general[0]
            if types is not None and not general:
                return lambda instance: isinstance(instance, types)

        def check(instance: Any) -> bool:
            # The simple types have no int, so a bool is of them only when bool is.
            if types is not None and not isinstance(instance, types):
                return False
            for one in general:
                if not one(instance):
                    return False
            if isinstance(instance, dict):
                if not mapping:
                    return True
                for key in required:
                    if key not in instance:
                        return False
                if allowed is not None and not instance.keys() <= allowed:
                    return False
                if properties is not None:
                    for key, value in instance.items():
                        value_check = properties.get(key)
                        if value_check is not None and not value_check(value):
                            return False
            elif isinstance(instance, list):
                if items is not None:
                    for item in instance:
                        if not items(item):
                            return False
            elif isinstance(instance, str):
                for one in text:
                    if not one(instance):
                        return False
            return True

        return check


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
        parts = _Parts()
        for keyword, value in schema.items():
            if keyword not in _ANNOTATIONS:
                self._keyword(parts, keyword, value, schema)
        return parts.check()

    def _keyword(self, parts: _Parts, keyword: str, value: Any, schema: Mapping[str, Any]) -> None:
        """Adds the check of one keyword to ``parts``."""
        if keyword == "type":
            names = [value] if isinstance(value, str) else list(value)
            if all(name in _SIMPLE_TYPES for name in names):
                parts.types = _simple_types(names)
            else:
                parts.general.append(_type(value))
        elif keyword == "properties":
            parts.properties = {key: self.compile(sub) for key, sub in value.items()}
        elif keyword == "additionalProperties":
            parts.allowed = _allowed_keys(value, schema)
        elif keyword == "required":
            parts.required = tuple(value)
        elif keyword == "items":
            parts.items = self.compile(value)
        elif keyword == "anyOf":
            parts.general.append(_any_of([self.compile(branch) for branch in value]))
        elif keyword == "$ref":
            parts.general.append(self._ref(value))
        elif keyword in ("minLength", "pattern"):
            parts.text.append(_text_keyword(keyword, value))
        else:
            parts.general.append(_scalar_keyword(keyword, value))

    def _ref(self, ref: str) -> Check:
        """A local ``#/...`` reference; compiled once, recursion allowed."""
        if ref not in self.refs:
            target: list[Check] = []
            self.refs[ref] = lambda instance: target[0](instance)  # while compiling it
            target.append(self.compile(self._resolve(ref)))
            self.refs[ref] = target[0]
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


def _simple_types(names: list[str]) -> tuple[type, ...]:
    found: list[type] = []
    for name in names:
        kinds = _SIMPLE_TYPES[name]
        found.extend(kinds if isinstance(kinds, tuple) else (kinds,))
    return tuple(found)


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


def _allowed_keys(value: Any, schema: Mapping[str, Any]) -> frozenset[str]:
    """The keys ``additionalProperties: false`` allows."""
    if value is not False or "patternProperties" in schema:
        raise Unsupported("additionalProperties")
    return frozenset(schema.get("properties", ()))


def _any_of(branches: list[Check]) -> Check:
    def check(instance: Any) -> bool:
        for branch in branches:  # noqa: SIM110 (a loop calls faster than any() of a generator)
            if branch(instance):
                return True
        return False

    return check


def _text_keyword(keyword: str, value: Any) -> Check:
    """minLength or pattern, for a string (other values are always valid)."""
    if keyword == "minLength":
        return lambda x: len(x) >= value
    pattern = re.compile(value)
    return lambda x: pattern.search(x) is not None


def _scalar_keyword(keyword: str, value: Any) -> Check:
    """Keywords about one scalar value: enum, const."""
    if keyword == "enum" and all(isinstance(item, str) for item in value):
        strings = frozenset(value)
        return lambda x: isinstance(x, str) and x in strings
    if keyword == "enum" and not any(isinstance(item, (dict, list)) for item in value):
        return lambda x: any(same(x, item) for item in value)
    if keyword == "const" and not isinstance(value, (dict, list)):
        return lambda x: same(x, value)
    raise Unsupported(keyword)
