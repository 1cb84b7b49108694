"""The JSON Schema: the file itself, its error messages, and the quick check that skips it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from ksync.config import ConfigError, load_desired, schema
from ksync.schemaquick import compile_check, same

ROOT = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def problems(text: str) -> list[str]:
    Path("x.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_desired(["x.yaml"])
    return [str(problem) for problem in caught.value.problems]


def one_customer(body: str) -> list[str]:
    """Problems of a file with one customer whose keys are ``body`` (4-space indented)."""
    return problems("customers:\n  - " + body.strip().replace("\n", "\n    ") + "\n")


# The schema file


def test_schema_is_valid_draft_2020_12() -> None:
    document = schema()
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["title"]


def test_editor_copy_is_a_symlink_to_the_packaged_schema() -> None:
    link = ROOT / "schemas" / "ksync.schema.json"
    packaged = ROOT / "ksync" / "ksync.schema.json"
    assert link.is_symlink()
    assert link.resolve() == packaged.resolve()
    assert json.loads(link.read_text(encoding="utf-8")) == schema()


def test_schema_returns_a_fresh_copy() -> None:
    schema()["properties"].clear()
    assert "customers" in schema()["properties"]


def _object_schemas(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [found for item in node for found in _object_schemas(item)]
    if not isinstance(node, dict):
        return []
    own = [node] if "properties" in node else []
    return own + [found for value in node.values() for found in _object_schemas(value)]


def test_every_object_is_closed_and_every_property_described() -> None:
    objects = _object_schemas(schema())
    assert len(objects) == 5  # file, defaults, customer, email, phone
    for node in objects:
        assert node["additionalProperties"] is False
        for name, prop in node["properties"].items():
            assert prop.get("description") or "$ref" in prop, name


def test_examples_are_valid() -> None:
    assert len(load_desired([str(ROOT / "examples" / "contacts")]).customers) == 5


# Messages


def test_unknown_keys_point_at_the_key() -> None:
    text = "customers: []\ndefaults:\n  region: US\nfoo: 1\n"
    assert problems(text) == [
        "x.yaml:3:3: defaults: unknown key 'region' (did you mean 'phone_region'?)",
        "x.yaml:4:1: unknown key 'foo'",
    ]


def test_customer_needs_an_identity() -> None:
    assert one_customer("name: Joe\nemails: []") == [
        "x.yaml:2:5: customers[0]: needs an externalId or an id"
    ]


def test_numbers_and_booleans_must_be_quoted() -> None:
    assert one_customer("externalId: 12\nname: yes\nphones:\n  - 15555550100\n  - +1 555") == [
        "x.yaml:2:17: customers[0].externalId: 12 is a number; quote it as a string",
        "x.yaml:3:11: customers[0].name: yes is read as true or false; quote it as a string",
        "x.yaml:5:9: customers[0].phones[0]: 15555550100 is a number; quote it as a string",
        "x.yaml:6:9: customers[0].phones[1]: '+1 555' is not a valid phone number",
    ]


def test_phone_region_must_be_text() -> None:
    assert problems("defaults:\n  phone_region: 44\ncustomers: []\n") == [
        "x.yaml:2:17: defaults.phone_region: 44 is a number; quote it as a string"
    ]


def test_types_enum_and_id() -> None:
    body = (
        "id: 58863fe94aa1701100efcb1\n"
        "emails:\n  - email: a@b.example\n    type: mobile\n"
        "phones:\n  - phone: '+15555550100'\n    type: cell"
    )
    assert one_customer(body) == [
        "x.yaml:2:9: customers[0].id: '58863fe94aa1701100efcb1' is not a Kustomer id"
        " (24 hexadecimal characters)",
        "x.yaml:5:15: customers[0].emails[0].type: 'mobile' is not one of home, work, other",
        "x.yaml:8:15: customers[0].phones[0].type: 'cell' is not one of mobile, home, work,"
        " fax, other",
    ]


def test_entry_mapping_needs_its_value_and_no_other_keys() -> None:
    body = "externalId: a\nemails:\n  - type: work\n  - email: a@b.example\n    kind: work"
    assert one_customer(body) == [
        "x.yaml:4:9: customers[0].emails[0]: missing required key 'email'",
        "x.yaml:6:9: customers[0].emails[1]: unknown key 'kind'",
    ]


def test_wrong_shapes() -> None:
    body = "externalId: ''\nname:\nemails: joe@example.com\nphones:\n  - [1]"
    assert one_customer(body) == [
        "x.yaml:2:17: customers[0].externalId: must not be empty",
        "x.yaml:3:10: customers[0].name: expected a string, found an empty value",
        "x.yaml:4:13: customers[0].emails: expected a list, found 'joe@example.com'",
        "x.yaml:6:9: customers[0].phones[0]: expected a string or a mapping, found a list",
    ]


def test_version_must_be_1() -> None:
    assert problems("version: 2\ncustomers: []\n") == [
        "x.yaml:1:10: version: 2 is not supported; use 1"
    ]
    assert (
        load_desired(["x.yaml"]) if Path("x.yaml").write_text("version: 1\ncustomers: []\n") else 0
    )


def test_customers_is_required_and_a_list() -> None:
    assert problems("version: 1\n") == ["x.yaml:1:1: missing required key 'customers'"]
    assert problems("customers:\n") == [
        "x.yaml:1:11: customers: expected a list, found an empty value"
    ]
    assert problems("customers:\n  externalId: a\n") == [
        "x.yaml:2:3: customers: expected a list, found a mapping"
    ]


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- externalId: a\n") == ["x.yaml:1:1: expected a mapping, found a list"]
    assert problems("just text\n") == ["x.yaml:1:1: expected a mapping, found 'just text'"]


# The quick check agrees with jsonschema

_STRINGS = st.sampled_from(
    ["", "a", "work", "mobile", "US", "58863fe94aa1701100efcb1d", "58863FE94AA1701100EFCB1D", "x@y"]
)
_KEYS = st.sampled_from(
    [
        "version",
        "defaults",
        "phone_region",
        "customers",
        "externalId",
        "id",
        "name",
        "emails",
        "phones",
        "email",
        "phone",
        "type",
        "emial",
    ]
)
_SCALARS = st.one_of(
    _STRINGS, st.none(), st.booleans(), st.sampled_from([0, 1, 1.0, 2, 1.5, 15555550100])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=4)),
    max_leaves=12,
)
_CUSTOMERS = st.dictionaries(_KEYS, _VALUES, max_size=5)
_FILES = st.fixed_dictionaries(
    {"customers": st.lists(_CUSTOMERS, max_size=3)},
    optional={"version": _SCALARS, "defaults": _VALUES, "emial": _SCALARS},
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_FILES, _VALUES))
def test_quick_check_agrees_with_jsonschema_on_files(document: Any) -> None:
    root = schema()
    assert compile_check(root, root)(document) == Draft202012Validator(root).is_valid(document)


@settings(max_examples=300, deadline=None)
@given(_CUSTOMERS)
def test_quick_check_agrees_with_jsonschema_on_customers(customer: Any) -> None:
    root = schema()
    item = root["properties"]["customers"]["items"]
    expected = Draft202012Validator(root).evolve(schema=item).is_valid(customer)
    assert compile_check(item, root)(customer) == expected


def test_quick_check_refuses_everything_for_keywords_it_does_not_know() -> None:
    check = compile_check({"type": "string", "format": "email"}, {})
    assert not check("a@b.example")
    assert not compile_check({"$ref": "https://example.com/s.json"}, {})("x")


def test_quick_check_supports_the_rest_of_its_subset() -> None:
    root = {
        "$defs": {"n": {"type": ["integer", "null"]}, "t": {"items": {"$ref": "#/$defs/t"}}},
        "type": "object",
        "properties": {"n": {"$ref": "#/$defs/n"}, "t": {"$ref": "#/$defs/t"}, "b": True},
        "additionalProperties": False,
    }
    check = compile_check(root, root)
    assert check({"n": 2.0, "t": [[[]]], "b": {}})
    assert not check({"n": True})
    assert not check({"n": 1.5})
    assert not check({"t": [[3], [[{}]]], "x": 1})
    assert compile_check({"enum": [1, None]}, {})(1.0)
    assert not compile_check({"enum": [1, None]}, {})(True)
    assert not compile_check(False, {})(None)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [(1, 1.0, True), (True, 1, False), (True, True, True), ("1", 1, False), (None, None, True)],
)
def test_json_equality(a: Any, b: Any, equal: bool) -> None:
    assert same(a, b) is equal
