"""Finding files and loading a valid desired state (ksync.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ksync.config import ConfigError, ConfigProblem, find_files, load_desired
from ksync.model import Contact, DesiredCustomer, SourceRef

DATA = Path(__file__).parent / "data" / "config"


@pytest.fixture(autouse=True)
def in_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths, as people type them, so error lines are short and stable."""
    monkeypatch.chdir(DATA)


def problems(*paths: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_desired(paths)
    return [str(problem) for problem in caught.value.problems]


def test_full_example_gives_normalized_customers() -> None:
    desired = load_desired(["full.yaml"])
    assert desired.customers == (
        DesiredCustomer(
            source=SourceRef("full.yaml", 6, 5),
            external_id="user-3",
            id="58863fe94aa1701100efcb1d",
            name="Joe Schmoe",
            emails=(
                Contact("joe@example.com", "Joe@Example.COM"),
                Contact("joe@work.example", "joe@work.example", "work"),
            ),
            phones=(
                Contact("+15555550100", "+15555550100"),
                Contact("+15555550101", "(555) 555-0101", "mobile"),
            ),
            phone_region="US",
        ),
        DesiredCustomer(
            source=SourceRef("full.yaml", 18, 5),
            id="58863fe94aa1701100efcb1e",
            emails=(),
            phone_region="US",
        ),
        DesiredCustomer(
            source=SourceRef("full.yaml", 21, 5),
            external_id="0042",
            phones=(Contact("+442079460958", "+44 20 7946 0958"),),
            phone_region="US",
        ),
    )


def test_absent_arrays_are_none_and_empty_arrays_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("customers:\n  - externalId: a\n    phones: []\n", encoding="utf-8")
    (customer,) = load_desired([str(path)]).customers
    assert customer.emails is None
    assert customer.phones == ()
    assert customer.phone_region is None


def test_empty_customers_list_is_valid() -> None:
    assert load_desired(["tree/b.yaml"]).customers == ()


def test_directories_are_searched_recursively_in_sorted_order() -> None:
    assert [str(path) for path in find_files(["tree"])] == [
        "tree/a/c.yaml",
        "tree/a/z.yml",
        "tree/a-b.yaml",
        "tree/b.yaml",
    ]


def test_explicit_files_keep_their_order_and_duplicates_are_dropped() -> None:
    found = find_files(["tree/b.yaml", "full.yaml", "tree", "./full.yaml", "tree/notes.txt"])
    assert [str(path) for path in found] == [
        "tree/b.yaml",
        "full.yaml",
        "tree/a/c.yaml",
        "tree/a/z.yml",
        "tree/a-b.yaml",
        "tree/notes.txt",
    ]


def test_file_names_join_the_given_directory_and_the_relative_path() -> None:
    found = find_files(["../config/tree/a/"])
    assert [str(path) for path in found] == ["../config/tree/a/c.yaml", "../config/tree/a/z.yml"]


def test_customers_from_all_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("customers:\n  - externalId: b\n", encoding="utf-8")
    (tmp_path / "a.yaml").write_text("customers:\n  - externalId: a\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("customers:\n  - externalId: c\n", encoding="utf-8")
    desired = load_desired([str(tmp_path / "c.yaml"), str(tmp_path)])
    assert [customer.external_id for customer in desired.customers] == ["c", "a", "b"]


def test_missing_paths_and_directories_without_yaml_are_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        find_files(["nope.yaml", "empty-dir", "tree", "gone/"])
    assert [str(problem) for problem in caught.value.problems] == [
        "empty-dir:1:1: no YAML files (*.yaml, *.yml) in this directory",
        "gone/:1:1: no such file or directory",
        "nope.yaml:1:1: no such file or directory",
    ]


def test_missing_path_is_reported_with_the_problems_of_other_files() -> None:
    assert problems("nope.yaml", "bad/python-tag.yaml") == [
        "bad/python-tag.yaml:3:11: customers[0].name: tag !!python/object/apply:os.system"
        " is not allowed; ksync files are plain YAML",
        "nope.yaml:1:1: no such file or directory",
    ]


def test_several_problems_are_reported_at_once_in_file_order() -> None:
    assert problems("bad/several.yaml") == [
        "bad/several.yaml:1:10: version: 2 is not supported; use 1",
        "bad/several.yaml:4:5: customers[0]: unknown key 'emial' (did you mean 'emails'?)",
        "bad/several.yaml:5:5: customers[1]: needs an externalId or an id",
        "bad/several.yaml:8:9: customers[2].emails[0]: 'bob@' is not a valid email address",
        "bad/several.yaml:10:9: customers[2].phones[0]: 15555550100 is a number;"
        " quote it as a string",
    ]


def test_problem_text_and_order() -> None:
    late = ConfigProblem(SourceRef("b.yaml", 2, 1), "late")
    early = ConfigProblem(SourceRef("a.yaml", 9, 3), "customers[0]: early")
    assert str(early) == "a.yaml:9:3: customers[0]: early"
    error = ConfigError([late, early, late])
    assert error.problems == (early, late)
    assert str(error) == "a.yaml:9:3: customers[0]: early\nb.yaml:2:1: late"
