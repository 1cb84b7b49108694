"""Find and load the desired-state YAML files, checking everything before anything runs.

``load_desired`` reads every file, checks it against the JSON Schema and then checks
what a schema cannot: valid emails and phones, and that no customer, email or phone is
declared twice. Every problem in every file is collected into one ``ConfigError``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import phonenumbers

from ksync.configproblem import ConfigError, ConfigProblem, YamlPath, located
from ksync.model import (
    ENTRY_KEY,
    Contact,
    Desired,
    DesiredCustomer,
    Field,
    SourceRef,
)
from ksync.normalize import InvalidContact, email_key, phone_key
from ksync.schemacheck import schema, schema_problems
from ksync.yamlload import Document, load_yaml

__all__ = ["ConfigError", "ConfigProblem", "find_files", "load_desired", "schema"]

YAML_SUFFIXES = (".yaml", ".yml")
_KUSTOMER_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def find_files(paths: Sequence[str]) -> list[Path]:
    """The YAML files named by ``paths``: files as given, directories searched recursively.

    Files found in a directory are sorted and named as the directory joined with their
    relative path. A file reached twice is kept once. Raises ConfigError for a path that
    does not exist or a directory without YAML files.
    """
    files, problems = _search(paths)
    if problems:
        raise ConfigError(problems)
    return files


def load_desired(paths: Sequence[str]) -> Desired:
    """Every customer declared in the files, in order; raises ConfigError with all problems."""
    files, problems = _search(paths)
    checker = _Checker()
    with _collector_paused():
        for file in files:
            document, file_problems = load_yaml(file, str(file))
            problems.extend(file_problems)
            if document is not None:
                problems.extend(schema_problems(document))
                checker.check(document)
    problems.extend(checker.problems)
    if problems:
        raise ConfigError(problems)
    return Desired(tuple(checker.customers))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of acyclic objects.

    Loading creates no reference cycles, but the collector would otherwise scan the
    growing tree again and again; with 100,000 customers that doubles the time. What was
    built lives as long as the run, so it then goes straight to the collector's oldest
    generation (``gc.freeze`` then ``gc.unfreeze``, which moves every tracked object
    there) instead of being walked by two young collections first (most of a second with
    100,000 customers). Everything stays collectable as before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def _search(paths: Sequence[str]) -> tuple[list[Path], list[ConfigProblem]]:
    """The files found and the problems with paths that lead to none."""
    files: list[Path] = []
    problems: list[ConfigProblem] = []
    seen: set[str] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            problems.append(ConfigProblem(SourceRef(given, 1, 1), "no such file or directory"))
            continue
        found = _directory_files(path) if path.is_dir() else [path]
        if not found:
            message = "no YAML files (*.yaml, *.yml) in this directory"
            problems.append(ConfigProblem(SourceRef(given, 1, 1), message))
        for file in found:
            real = os.path.realpath(file)
            if real not in seen:
                seen.add(real)
                files.append(file)
    return files, problems


def _directory_files(directory: Path) -> list[Path]:
    """YAML files under ``directory``, sorted, skipping hidden files and directories."""
    found: list[tuple[str, ...]] = []
    for root, dirnames, filenames in os.walk(directory):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        relative = Path(root).relative_to(directory).parts
        found.extend(
            (*relative, name)
            for name in filenames
            if name.endswith(YAML_SUFFIXES) and not name.startswith(".")
        )
    return [directory.joinpath(*parts) for parts in sorted(found)]


class _BadRegion:
    """The phone region of a file whose ``defaults.phone_region`` is wrong (reported)."""


_BAD_REGION = _BadRegion()
Region = str | None | _BadRegion


class _Declared(NamedTuple):
    """Where a contact value was first declared, to name both places of a duplicate."""

    customer: int  # index in _Checker.customers
    document: Document
    path: YamlPath
    value: str


class _Checker:
    """The checks a schema cannot make, across all files; builds the customers on the way."""

    def __init__(self) -> None:
        self.customers: list[DesiredCustomer] = []
        self.problems: list[ConfigProblem] = []
        self._external_ids: dict[str, SourceRef] = {}
        self._ids: dict[str, SourceRef] = {}  # lower-cased
        # Each customer's file and path, and for each key of each array, the customer
        # and entry index that declared it first (the rest is looked up on a duplicate).
        self._places: list[tuple[Document, YamlPath]] = []
        self._owners: dict[Field, dict[str, tuple[int, int]]] = {"emails": {}, "phones": {}}

    def check(self, document: Document) -> None:
        """Check one file's customers and add them."""
        data = document.data
        region = self._region(document)
        items = data.get("customers") if isinstance(data, dict) else None
        for index, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, dict):
                self._customer(document, ("customers", index), item, region)

    def _region(self, document: Document) -> Region:
        """The file's ``defaults.phone_region``: a phonenumbers region, None, or bad."""
        defaults = document.data.get("defaults") if isinstance(document.data, dict) else None
        region = defaults.get("phone_region") if isinstance(defaults, dict) else None
        if region is None or (isinstance(region, str) and region in phonenumbers.SUPPORTED_REGIONS):
            return _text(region)
        if isinstance(region, str):  # anything else (a number, a list, ...) is a schema error
            path: YamlPath = ("defaults", "phone_region")
            message = f"{region!r} is not a phone region{_region_hint(region)}"
            self.problems.append(located(document.at(path), path, message))
        return _BAD_REGION

    def _customer(
        self, document: Document, path: YamlPath, item: dict[str, Any], region: Region
    ) -> None:
        source = document.at(path)
        external_id = item.get("externalId")
        if not isinstance(external_id, str):
            external_id = None
        customer_id = item.get("id")
        if not isinstance(customer_id, str):
            customer_id = None
        name = item.get("name")
        if external_id:
            first = self._external_ids.setdefault(external_id, source)
            if first is not source:
                self._identity_problem(first, source, path, "externalId", external_id)
        if customer_id and _KUSTOMER_ID.match(customer_id):
            first = self._ids.setdefault(customer_id.lower(), source)
            if first is not source:
                self._identity_problem(first, source, path, "id", customer_id)
        self._places.append((document, path))
        customer = DesiredCustomer(
            source,
            external_id,
            customer_id,
            name if isinstance(name, str) else None,
            self._contacts(document, path, item, "emails", region),
            self._contacts(document, path, item, "phones", region),
            None if isinstance(region, _BadRegion) else region,
        )
        self.customers.append(customer)

    def _identity_problem(
        self, first: SourceRef, source: SourceRef, path: YamlPath, key: str, value: str
    ) -> None:
        """Report a customer declared twice by the same id or externalId."""
        message = f"customer {key}={value} is already declared at {first}"
        self.problems.append(located(source, path, message))

    def _contacts(
        self, document: Document, path: YamlPath, item: dict[str, Any], field: Field, region: Region
    ) -> tuple[Contact, ...] | None:
        """The customer's emails or phones; None when the array is absent."""
        entries = item.get(field)
        if not isinstance(entries, list):
            return None if field not in item else ()
        phones = field == "phones"
        entry_key = ENTRY_KEY[field]
        owners = self._owners[field]
        customer = len(self.customers)
        contacts: list[Contact] = []
        firsts: dict[str, int] = {}  # key -> entry index, for more than one entry
        several = len(entries) > 1
        for index, entry in enumerate(entries):
            mapping = isinstance(entry, dict)
            if mapping:
                value = entry.get(entry_key)
                kind = entry.get("type")
                if not isinstance(kind, str):
                    kind = None
            else:
                value, kind = entry, None
            if not isinstance(value, str):
                continue  # the schema reported it
            try:
                if not phones:
                    key = email_key(value)
                elif not isinstance(region, _BadRegion):
                    key = phone_key(value, region)
                elif value.strip().startswith("+"):
                    key = phone_key(value, None)
                else:
                    continue  # cannot be read without the region; the region was reported
            except InvalidContact as err:
                value_path = (*path, field, index, entry_key) if mapping else (*path, field, index)
                self.problems.append(located(document.at(value_path), value_path, str(err)))
                continue
            contact = Contact(key, value if phones else value.strip(), kind)
            if several:
                if key in firsts:
                    first = self._declared_here(document, path, field, firsts[key], contacts, key)
                    here = _Declared(customer, document, (*path, field, index), contact.value)
                    line = document.at(first.path).line
                    message = f"is listed twice (first at line {line}{_spelled(first, here)})"
                    self._report(here, message)
                    continue
                firsts[key] = index
            if key in owners:
                first = self._declared_before(field, key)
                here = _Declared(customer, document, (*path, field, index), contact.value)
                owner = self.customers[first.customer].label
                where = first.document.at(first.path)
                message = f"is already declared for customer {owner} at {where}"
                self._report(here, message + _spelled(first, here))
            else:
                owners[key] = (customer, index)
            contacts.append(contact)
        return tuple(contacts)

    def _declared_here(
        self,
        document: Document,
        path: YamlPath,
        field: Field,
        index: int,
        contacts: list[Contact],
        key: str,
    ) -> _Declared:
        """The first declaration of ``key`` by the customer being read."""
        value = next(c.value for c in contacts if c.key == key)
        return _Declared(len(self.customers), document, (*path, field, index), value)

    def _declared_before(self, field: Field, key: str) -> _Declared:
        """The first declaration of ``key`` in ``field``, by a customer read before."""
        customer, index = self._owners[field][key]
        document, path = self._places[customer]
        contacts = self.customers[customer].managed(field) or ()
        value = next(c.value for c in contacts if c.key == key)
        return _Declared(customer, document, (*path, field, index), value)

    def _report(self, here: _Declared, message: str) -> None:
        """A problem about a declared value: ``'value' message``."""
        text = f"{here.value!r} {message}"
        self.problems.append(located(here.document.at(here.path), here.path, text))


def _region_hint(region: str) -> str:
    if region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return f"; did you mean {region.upper()!r}?"
    return " (use a two-letter country code such as US or GB)"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _spelled(first: _Declared, here: _Declared) -> str:
    """Names the first spelling of a duplicate value when it differs from this one."""
    return "" if first.value == here.value else f" as {first.value!r}"
