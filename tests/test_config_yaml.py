"""YAML-level problems: syntax, encoding, tabs, anchors, tags, duplicate keys."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from ksync.config import ConfigError, load_desired

DATA = Path(__file__).parent / "data" / "config"


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def problems(content: str | bytes, name: str = "x.yaml") -> list[str]:
    data = content.encode() if isinstance(content, str) else content
    Path(name).write_bytes(data)
    with pytest.raises(ConfigError) as caught:
        load_desired([name])
    return [str(problem) for problem in caught.value.problems]


def test_syntax_error_points_at_the_parser_mark() -> None:
    assert problems("customers:\n  - externalId: a\n   name: b\n") == [
        "x.yaml:3:4: YAML syntax error: did not find expected '-' indicator"
        " (while parsing a block collection started at line 2)"
    ]


def test_unclosed_flow_sequence() -> None:
    assert problems("customers: [\n") == [
        "x.yaml:2:1: YAML syntax error: did not find expected node content"
        " (while parsing a flow node started at line 2)"
    ]


def test_tab_in_indentation() -> None:
    assert problems("customers:\n  - externalId: a\n\t  name: b\n\tx: 1\n") == [
        "x.yaml:3:1: tab character in indentation; YAML indents with spaces only (and 1 more lines)"
    ]


def test_tab_inside_a_value_is_fine() -> None:
    Path("x.yaml").write_text("customers:\n  - externalId: 'a\tb'\n", encoding="utf-8")
    assert load_desired(["x.yaml"]).customers[0].external_id == "a\tb"


def test_non_utf8_bytes_point_at_the_first_bad_byte() -> None:
    assert problems(b"customers:\n  - externalId: caf\xe9\n") == [
        "x.yaml:2:20: not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    ]


def test_columns_count_characters_not_bytes() -> None:
    assert problems("customers:\n  - name: é\n    name: x\n") == [
        "x.yaml:2:5: customers[0]: needs an externalId or an id",
        "x.yaml:3:5: customers[0]: duplicate key 'name' (first at line 2)",
    ]


def test_control_character() -> None:
    assert problems("customers: []\n# \x07\n") == [
        "x.yaml:2:3: character U+0007 is not allowed in YAML"
    ]


def test_byte_order_mark_is_accepted() -> None:
    Path("x.yaml").write_bytes(b"\xef\xbb\xbfcustomers: []\n")
    assert load_desired(["x.yaml"]).customers == ()


@pytest.mark.parametrize("content", ["", "   \n\n", "# only a comment\n", "---\n"])
def test_empty_file(content: str) -> None:
    assert problems(content) == [
        "x.yaml:1:1: file is empty; a ksync file needs at least 'customers: []'"
    ]


def test_only_one_document() -> None:
    assert problems("customers: []\n---\ncustomers: []\n") == [
        "x.yaml:2:1: only one YAML document per file is allowed"
    ]


def test_anchor_and_alias_are_refused() -> None:
    text = "customers:\n  - &joe\n    externalId: a\n  - *joe\n"
    assert problems(text) == [
        "x.yaml:2:5: customers[0]: anchors (&joe) are not allowed; write the value out",
        "x.yaml:4:5: customers[1]: aliases (*joe) are not allowed; write the value out",
    ]


def test_alias_bomb_is_refused_fast() -> None:
    start = time.perf_counter()
    lines = problems((DATA / "bad" / "alias-bomb.yaml").read_bytes())
    assert time.perf_counter() - start < 1
    expected: list[str] = []
    for line, key in enumerate("abcdefghi", start=1):
        expected.append(f"x.yaml:{line}:1: unknown key {key!r}")
        expected.append(
            f"x.yaml:{line}:4: {key}: anchors (&{key}) are not allowed; write the value out"
        )
    expected.append("x.yaml:10:12: customers: aliases (*i) are not allowed; write the value out")
    assert lines == expected


def test_python_tag_is_refused_without_running_anything() -> None:
    text = "customers:\n  - externalId: a\n    name: !!python/object/apply:os.system ['exit 3']\n"
    assert problems(text) == [
        "x.yaml:3:11: customers[0].name: tag !!python/object/apply:os.system is not allowed;"
        " ksync files are plain YAML"
    ]


def test_custom_tag_and_non_specific_tag_are_refused() -> None:
    text = "customers:\n  - externalId: !env USER\n    name: ! Joe\n"
    assert problems(text) == [
        "x.yaml:2:17: customers[0].externalId: tag !env is not allowed; ksync files are plain YAML",
        "x.yaml:3:11: customers[0].name: tag ! is not allowed; ksync files are plain YAML",
    ]


def test_standard_tags_are_read() -> None:
    text = "!!map\ncustomers: !!seq\n  - externalId: !!str 42\n    name: !!str\n"
    (customer,) = load_desired([_write(text)]).customers
    assert (customer.external_id, customer.name) == ("42", "")


def test_standard_tag_that_does_not_fit() -> None:
    text = "customers:\n  - externalId: !!map x\n    name: !!int joe\n"
    assert problems(text) == [
        "x.yaml:2:17: customers[0].externalId: tag !!map does not fit this value",
        "x.yaml:3:11: customers[0].name: cannot read 'joe' as !!int",
    ]


def test_tagged_key_is_refused() -> None:
    assert problems("customers: []\n!foo x: 1\n") == [
        "x.yaml:2:1: tag !foo is not allowed; ksync files are plain YAML"
    ]


def test_complex_key_is_refused() -> None:
    assert problems("customers: []\n? [a, b]\n: 1\n") == [
        "x.yaml:2:3: a mapping key must be plain text"
    ]


def test_duplicate_keys_name_both_lines() -> None:
    text = "customers:\n  - externalId: a\n    emails: []\n    name: x\n    emails: [b@c.d]\n"
    assert problems(text) == ["x.yaml:5:5: customers[0]: duplicate key 'emails' (first at line 3)"]


def test_duplicate_top_level_key() -> None:
    assert problems("customers: []\nversion: 1\ncustomers: []\n") == [
        "x.yaml:3:1: duplicate key 'customers' (first at line 1)"
    ]


def test_deep_nesting_is_refused() -> None:
    assert problems("customers: [" + "[" * 40 + "]" * 40 + "]\n") == [
        "x.yaml:1:13: customers[0]: expected a mapping, found a list",
        "x.yaml:1:44: customers" + "[0]" * 32 + ": nested more than 32 levels deep",
    ]


def test_dates_stay_text_and_numbers_are_numbers() -> None:
    (customer,) = load_desired([_write("customers:\n  - externalId: 2024-01-02\n")]).customers
    assert customer.external_id == "2024-01-02"
    assert problems("customers:\n  - externalId: 0x1F\n") == [
        "x.yaml:2:17: customers[0].externalId: 0x1F is a number; quote it as a string"
    ]


def _write(text: str) -> str:
    Path("x.yaml").write_text(text, encoding="utf-8")
    return "x.yaml"


def test_pure_python_parser_gives_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(DATA)
    with_libyaml = load_desired(["full.yaml"])
    several = problems_in("bad/several.yaml")
    monkeypatch.setattr("ksync.yamlload._Loader", yaml.SafeLoader)
    assert load_desired(["full.yaml"]) == with_libyaml
    assert problems_in("bad/several.yaml") == several


def problems_in(name: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_desired([name])
    return [str(problem) for problem in caught.value.problems]
