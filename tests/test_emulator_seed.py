"""Seeding the emulator from Python values and from seed files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ksync.emulator import Emulator


def test_seed_keeps_given_ids_attributes_and_stamps(tmp_path: Path) -> None:
    seed = {
        "customers": [
            {
                "id": "0123456789abcdef01234567",
                "externalId": "e1",
                "rev": 7,
                "createdAt": "2020-01-01T00:00:00.000Z",
                "companyId": "c1",
            },
            {"name": "no id"},
        ]
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    emulator = Emulator()
    ids = emulator.load_seed(path)
    assert ids[0] == "0123456789abcdef01234567"
    assert ids == emulator.customer_ids()
    first = emulator.customer(ids[0])
    assert (first["rev"], first["createdAt"], first["companyId"]) == (
        7,
        "2020-01-01T00:00:00.000Z",
        "c1",
    )
    assert emulator.customer(ids[1])["rev"] == 1


@pytest.mark.parametrize(
    ("customers", "message"),
    [
        (
            [{"emails": [{"email": "a@x.io"}]}, {"emails": [{"email": "A@x.io"}]}],
            r"seed customer #1: email A@x.io already belongs to customer 5e0+2$",
        ),
        (
            [{"externalId": "e"}, {"externalId": "e"}],
            r"seed customer #1: externalId e already belongs to customer 5e0+2$",
        ),
        ([{"id": "ABC"}], r"seed customer #0: id must be 24 lowercase hex characters, not 'ABC'"),
        (
            [{"id": "a" * 24}, {"id": "a" * 24}],
            rf"seed customer #1: id {'a' * 24} is used twice",
        ),
        ([{"phones": [{"phone": "1", "type": "cell"}]}], r"seed customer #0: phones\[0\]\.type"),
        (["joe"], r"seed customer #0: must be an object"),
    ],
)
def test_bad_seeds_raise_and_seed_nothing(customers: list[Any], message: str) -> None:
    emulator = Emulator()
    emulator.seed([{"externalId": "kept"}])
    with pytest.raises(ValueError, match=message):
        emulator.seed(customers)
    assert len(emulator.snapshot()) == 1


@pytest.mark.parametrize("content", ['{"customers": {}}', "[]", "{oops"])
def test_malformed_seed_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "seed.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=f"seed file {path}"):
        Emulator().load_seed(path)
