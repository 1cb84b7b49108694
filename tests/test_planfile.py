"""Saved plans: a round trip, and every way a file can be unusable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_render import sample_plan

from ksync.planfile import PlanFileError, load_plan, save_plan

TARGET = "http://127.0.0.1:9"


def saved(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    save_plan(path, sample_plan(), TARGET)
    return path


def test_round_trip_keeps_requests_changes_and_target(tmp_path: Path) -> None:
    original = sample_plan()
    loaded, target = load_plan(saved(tmp_path))
    assert target == TARGET
    assert loaded.requests == original.requests
    assert [(c.action, c.id, c.external_id, c.source, c.fingerprint) for c in loaded.changes] == [
        (
            c.action,
            c.id,
            c.external_id,
            c.source.__class__(c.source.file, c.source.line),
            c.fingerprint,
        )
        for c in original.changes
    ]
    assert [sorted((d.op, d.value) for d in c.diffs) for c in loaded.changes] == [
        sorted((d.op, d.value) for d in c.diffs) for c in original.changes
    ]
    assert loaded.unchanged == original.unchanged


def test_plan_file_never_holds_more_than_the_document(tmp_path: Path) -> None:
    document = json.loads(saved(tmp_path).read_text())
    assert set(document) == {
        "format_version",
        "summary",
        "changes",
        "requests",
        "target",
        "checksum",
    }


def edit(path: Path, change: str) -> None:
    document = json.loads(path.read_text())
    if change == "body":
        document["requests"][0]["body"]["emails"] = []
    elif change == "version":
        document["format_version"] = 2
    elif change == "order":
        document["requests"][0]["after"] = [1]
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("body", "plan.json: the plan was edited after it was saved; make a new plan"),
        ("version", "plan.json: plan format_version 2 is not supported (this ksync reads 1)"),
        ("order", "plan.json: the plan was edited after it was saved; make a new plan"),
    ],
)
def test_edited_files_are_refused(tmp_path: Path, change: str, message: str) -> None:
    path = saved(tmp_path)
    edit(path, change)
    with pytest.raises(PlanFileError) as err:
        load_plan(path)
    assert str(err.value) == f"{tmp_path}/{message}"


def test_truncated_file_is_refused_with_its_position(tmp_path: Path) -> None:
    path = saved(tmp_path)
    path.write_text(path.read_text()[:50])
    with pytest.raises(PlanFileError) as err:
        load_plan(path)
    assert str(err.value).startswith(f"{path}:")
    assert "not valid JSON" in str(err.value)


def test_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format_version": 1, "changes": []}))
    with pytest.raises(PlanFileError) as err:
        load_plan(path)
    assert (
        str(err.value)
        == f"{path}: not a valid plan file: at (top): 'target' is a required property"
    )


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanFileError) as err:
        load_plan(tmp_path / "nope.json")
    assert (
        str(err.value) == f"{tmp_path}/nope.json: cannot read the plan: No such file or directory"
    )
