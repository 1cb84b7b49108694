"""The fast paths give exactly what the slow paths give, for every input they accept.

Each test compares a fast path with the slow path it stands in for: the quick YAML walk
with the careful one (``_Composer``), the E.164 and ASCII-email shortcuts with
phonenumbers and the full email normalization, the planner's "unchanged" check with the
full diff, and the look-ups answered from a listing with the original loop.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ksync import yamlload
from ksync.live import Listing, _owners_from_listing
from ksync.model import (
    FIELDS,
    Contact,
    ContactRef,
    Desired,
    DesiredCustomer,
    LiveCustomer,
    SourceRef,
)
from ksync.normalize import (
    InvalidContact,
    _e164_key,
    email_key,
    live_contact_key,
    parsed_phone_key,
    phone_key,
)
from ksync.planner import _field_diffs, _unchanged, additions, lookups_needed

# -- phones ----------------------------------------------------------------------------


def outcome(function: Any, *args: Any) -> tuple[str, str]:
    try:
        return "key", function(*args)
    except InvalidContact as err:
        return "error", str(err)


COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
NOT_COUNTRY_CODES = [0, 28, 42, 80, 83, 89, 210, 259, 388, 801, 969, 999]
# National numbers that phonenumbers treats specially: trunk 0 (GB, DE, FR), Italian
# leading zeros, national prefixes (NANPA 1, Russia 8, ...), all zeros.
SPECIAL_NATIONALS = ["0", "00", "01", "0612345678", "0000000000", "1", "11", "8", "80", "180020"]
REGIONS = [None, "US", "GB", "IT", "DE", "RU", "AR", "MX", "BR", "CN", "IN", "JP", "NZ"]


@st.composite
def e164_like(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(COUNTRY_CODES + NOT_COUNTRY_CODES))
    start = draw(st.sampled_from(["", "", "", *SPECIAL_NATIONALS]))
    rest = draw(st.text("0123456789", max_size=19))
    national = (start + rest)[: draw(st.integers(0, 20))]
    return f"+{code}{national}"


@settings(max_examples=1500, deadline=None)
@given(e164_like(), st.sampled_from(REGIONS), st.sampled_from(["", " ", "\t", "\n "]))
@example("+390612345678", None, "")  # Italy keeps its leading zero
@example("+4402071234567", None, "")  # a trunk 0 after the country code
@example("+112125551234", "US", "")  # NANPA national prefix 1 after +1
@example("+789161234567", None, "")  # Russia's national prefix 8
@example("+80012345678", None, "")  # a non-geographic country code
@example("+12125551234", None, "")
@example("+1212555123", None, "")  # too short
@example("+121255512345", None, "")  # too long
@example("+99912345678", None, "")  # no such country code
def test_phone_key_agrees_with_phonenumbers(text: str, region: str | None, pad: str) -> None:
    value = pad + text + pad
    assert outcome(phone_key, value, region) == outcome(parsed_phone_key, value, region)
    quick = _e164_key(text)
    if quick is not None:
        assert quick == parsed_phone_key(text)
    expected: str | None
    try:
        expected = parsed_phone_key(value, region)
    except InvalidContact:
        expected = text.strip().lower()
    assert live_contact_key("phones", value, region) == expected


def test_phone_fast_path_for_every_country_code_and_length() -> None:
    rng = random.Random(7)
    accepted = 0
    for code in COUNTRY_CODES + NOT_COUNTRY_CODES:
        for length in range(19):
            for first in "0123456789":
                national = (first + "".join(rng.choice("0123456789") for _ in range(20)))[:length]
                text = f"+{code}{national}"
                quick = _e164_key(text)
                assert outcome(phone_key, text, None) == outcome(parsed_phone_key, text, None)
                if quick is not None:
                    accepted += 1
                    assert quick == parsed_phone_key(text) == text
    assert accepted > 5000  # the fast path is used for most possible numbers


@given(st.text(st.sampled_from("+0123456789 ()-.x#٣１²"), max_size=20), st.sampled_from(REGIONS))
def test_phone_key_on_any_text(value: str, region: str | None) -> None:
    assert outcome(phone_key, value, region) == outcome(parsed_phone_key, value, region)


# -- emails ----------------------------------------------------------------------------


def reference_email_key(value: str) -> str:
    """email_key as it was: shape, lower-cased local part, IDNA domain."""
    import idna

    from ksync.normalize import _EMAIL_SHAPE

    text = value.strip()
    if not _EMAIL_SHAPE.match(text):
        raise InvalidContact(f"{value!r} is not a valid email address")
    local, _, domain = text.rpartition("@")
    domain = domain.lower()
    try:
        if not (domain.isascii() and "xn--" not in domain):
            domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as err:
        raise InvalidContact(f"{value!r} is not a valid email address: {err}") from None
    return f"{local.lower()}@{domain}"


def reference_live_email_key(value: str) -> str:
    try:
        return reference_email_key(value)
    except InvalidContact:
        return value.strip().lower()


ASCII_PARTS = ["a", "B", "z9", "@", "@", ".", ".", "xn--", "XN--", "-", "_", "+", " ", "\t", "\n"]
OTHER_PARTS = ["\x00", "é", "É", "ß", "İ", "Σ", "ς", "ﬃ", "例え", "bücher", "\u0131", "K"]
EMAIL_PARTS = st.sampled_from([*ASCII_PARTS, *OTHER_PARTS, "xn--bcher-kva", "xn--zz"])


@settings(max_examples=1000, deadline=None)
@given(st.lists(EMAIL_PARTS, max_size=12).map("".join))
@example("Joe@Example.COM")
@example(" joe@xn--bcher-kva.example ")
@example("joe@XN--BCHER-KVA.example")
@example("joe@bücher.example")
@example("joe@xn--zz.example")
@example("a@b@c.d")
def test_email_keys_agree_with_the_full_normalization(value: str) -> None:
    assert outcome(email_key, value) == outcome(reference_email_key, value)
    assert live_contact_key("emails", value) == reference_live_email_key(value)
    assert live_contact_key("emails", value, "GB") == reference_live_email_key(value)


# -- YAML ------------------------------------------------------------------------------

KEYS = ["customers", "externalId", "id", "emails", "email", "phones", "type", "version", "x"]
SCALAR_TEXT = [
    "other", "work", "fax", "yes", "No", "on", "~", "null", "", "1", "-2", "0x1F", "1_000",
    "1.5", ".inf", "1e3", "2001-12-14", "=", "<<", "true", "a: b", "#x", "+15555550100",
    "joe@example.com", "é",
]  # fmt: skip

scalars = st.one_of(
    st.sampled_from(SCALAR_TEXT),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, width=16),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=4) | st.builds(
    lambda customers, extra: {"customers": customers, **extra},
    st.lists(values, max_size=4),
    st.dictionaries(st.sampled_from(["version", "defaults"]), values, max_size=2),
)
# Text edits that make files the quick walk leaves to the careful one.
EDITS = [
    "", "", "", "&a ", "*a ", "!!str ", "!!int ", "!x ", "? ", "- ", "{", "[", "]", "'",
    '"', "\t", "---\n", "...\n", ": ", "#", "\n", "  ", "x: 1\n", "customers:\n",
]  # fmt: skip


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    data = draw(documents)
    text: str = yaml.safe_dump(
        data,
        default_flow_style=draw(st.sampled_from([False, None, True])),
        default_style=draw(st.sampled_from([None, None, "'", '"'])),
        allow_unicode=True,
    )
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(EDITS)) + text[at:]
    return text


def strict(value: Any) -> Any:
    """A value with types made visible, so that 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strict(item) for item in value]
    return (type(value).__name__, repr(value))


def careful(text: str, name: str) -> tuple[Any, yamlload._Composer]:
    composer = yamlload._Composer(text, name)
    return composer.document(), composer


def raised(function: Any, *args: Any) -> type[BaseException] | None:
    try:
        function(*args)
    except Exception as err:
        return type(err)
    return None


@settings(max_examples=800, deadline=None)
@given(yaml_texts())
@example("customers:\n  - externalId: a\n    emails: [a@example.com]\n")
@example("customers:\n  - &x externalId: a\n")
@example("customers: []\ncustomers: []\n")
@example("version: 1\n")
@example("")
@example("~\n")
@example("a: 1\n---\nb: 2\n")
@example("a: !!int ''\n")  # the careful walk fails on this (IndexError); so does the quick one
def test_quick_walk_reads_what_the_careful_walk_reads(text: str) -> None:
    failure = raised(careful, text, "f.yaml")
    if failure is not None:
        assert raised(yamlload._quick, text, "f.yaml") in (None, failure)
        return
    data, composer = careful(text, "f.yaml")
    document = yamlload._quick(text, "f.yaml")
    if document is None:
        return
    assert not composer.problems and data is not None
    assert strict(document.data) == strict(data)
    marks, key_marks, raw = composer.marks, composer.key_marks, composer.raw
    slow = yamlload.Document("f.yaml", data, marks=marks, key_marks=key_marks, raw=raw)
    paths = {*marks, *key_marks, *raw}
    paths |= {(*path, "nothing") for path in paths} | {("customers", -1), ("customers", 99)}
    for path in paths:
        assert document.at(path) == slow.at(path)
        assert document.key_at(path) == slow.key_at(path)
        assert document.show(path, "v") == slow.show(path, "v")


@settings(max_examples=200, deadline=None)
@given(yaml_texts())
def test_load_yaml_reports_as_the_careful_walk(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("y") / "f.yaml"
    path.write_text(text, encoding="utf-8")
    checked = yamlload._check_characters(text, "f.yaml")
    failure = raised(careful, text, "f.yaml")
    if checked is None and failure is not None:
        assert raised(yamlload.load_yaml, path, "f.yaml") is failure
        return
    document, problems = yamlload.load_yaml(path, "f.yaml")
    if checked is not None:
        assert (document, problems) == (None, [checked])
        return
    data, composer = careful(text, "f.yaml")
    if data is yamlload.REJECTED or data is None:
        assert document is None
        return
    assert problems == composer.problems
    assert document is not None and strict(document.data) == strict(data)


@pytest.mark.parametrize(
    "text",
    ["a\x07b", "a\tb: 1\n", "x:\n\t- 1\n", "é\x85\u2028ok", "\x7f", "a: 1\n\tb: 2\n\tc: 3\n"],
)
def test_character_checks_agree_with_the_search(text: str) -> None:
    bad = yamlload._UNPRINTABLE.search(text)
    problem = yamlload._check_characters(text, "f.yaml")
    tabs = list(yamlload._TAB_INDENT.finditer(text))
    assert (problem is None) == (bad is None and not tabs)


def test_a_quick_document_finds_positions_for_messages(tmp_path: Path) -> None:
    text = "version: 1\ncustomers:\n  - externalId: a\n    emails:\n      - {email: x, type: w}\n"
    path = tmp_path / "f.yaml"
    path.write_text(text, encoding="utf-8")
    document, problems = yamlload.load_yaml(path, "f.yaml")
    assert document is not None and not problems
    assert document.at(("customers", 0)) == SourceRef("f.yaml", 3, 5)
    assert document.at(("customers", 0, "emails", 0, "type")) == SourceRef("f.yaml", 5, 26)
    assert document.at(("customers", 0, "name")) == SourceRef("f.yaml", 3, 5)
    assert document.key_at(("customers", 0, "emails")) == SourceRef("f.yaml", 4, 5)
    assert document.show(("version",), 1) == "1"


# -- planner and look-ups --------------------------------------------------------------

KEYS_POOL = ["a@x.example", "b@x.example", "c@x.example", "+15555550100", "+15555550101"]
TYPES = st.sampled_from([None, "home", "work"])


def contacts(verified: bool = False) -> st.SearchStrategy[tuple[Contact, ...]]:
    contact = st.builds(
        Contact,
        st.sampled_from(KEYS_POOL),
        st.sampled_from(["v1", "V1 ", "v2"]),
        TYPES,
        st.sampled_from([None, True, False]) if verified else st.none(),
    )
    return st.lists(contact, max_size=3).map(tuple)


@settings(max_examples=800, deadline=None)
@given(st.none() | contacts(), st.none() | contacts(), contacts(True), contacts(True))
def test_unchanged_agrees_with_the_full_diff(
    emails: Any, phones: Any, have_emails: Any, have_phones: Any
) -> None:
    want = DesiredCustomer(SourceRef("f", 1), "u1", None, None, emails, phones)
    have = LiveCustomer("c1", "u1", None, have_emails, have_phones)
    assert _unchanged(want, have) == (not any(fd.diffs for fd in _field_diffs(want, have)))


def reference_lookups(desired: Desired, customers: Any) -> list[ContactRef]:
    held = {
        ContactRef(name, c.key)
        for have in customers
        if have is not None
        for name in FIELDS
        for c in have.contacts(name)
    }
    seen: set[ContactRef] = set()
    needed = []
    for ref in additions(desired, customers):
        if ref not in held and ref not in seen:
            seen.add(ref)
            needed.append(ref)
    return needed


@st.composite
def desired_and_live(draw: st.DrawFn) -> tuple[Desired, tuple[LiveCustomer | None, ...]]:
    count = draw(st.integers(0, 4))
    wanted = tuple(
        DesiredCustomer(SourceRef("f", i + 1), f"u{i}", None, None, *draw(st.tuples(
            st.none() | contacts(), st.none() | contacts()
        )))
        for i in range(count)
    )  # fmt: skip
    live = tuple(
        draw(st.none() | st.builds(LiveCustomer, st.just(f"c{i}"), st.just(f"u{i}"), st.none(),
                                   contacts(True), contacts(True)))
        for i in range(count)
    )  # fmt: skip
    return Desired(wanted), live


@settings(max_examples=250, deadline=None)
@given(desired_and_live())
def test_lookups_needed_agrees_with_the_additions(case: Any) -> None:
    desired, live = case
    assert lookups_needed(desired, live) == reference_lookups(desired, live)


def reference_owners(desired: Desired, customers: Any, listing: Listing) -> dict[Any, Any]:
    """_owners_from_listing as it was: every stored value, in every region."""
    needed = set(reference_lookups(desired, customers))
    if not needed:
        return {}
    regions = {w.phone_region for w in desired.customers}
    owners: dict[ContactRef, str | None] = dict.fromkeys(needed)
    for customer in listing.by_id.values():
        for name in FIELDS:
            for contact in customer.contacts(name):
                for region in regions:
                    ref = ContactRef(name, live_contact_key(name, contact.value, region))
                    if ref in needed and owners[ref] is None:
                        owners[ref] = customer.id
    return owners


STORED = {
    "emails": ["a@x.example", "A@X.example ", "ü@bücher.example", "x@xn--bcher-kva.example", "no"],
    "phones": ["+15555550100", "(555) 555-0100", "020 7946 0018", "+442079460018", "x", "0"],
}
WANTED = {
    "emails": ["a@x.example", "ü@xn--bcher-kva.example", "x@xn--bcher-kva.example", "no"],
    "phones": ["+15555550100", "+442079460018", "+15555550199", "0", "x"],
}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_owners_from_listing_agree_with_reading_every_value(data: st.DataObject) -> None:
    def stored(name: str) -> tuple[Contact, ...]:
        values = data.draw(st.lists(st.sampled_from(STORED[name]), max_size=3))
        return tuple(Contact(live_contact_key(name, v), v) for v in values)  # type: ignore[arg-type]

    org = [
        LiveCustomer(f"c{i}", f"u{i}", None, stored("emails"), stored("phones")) for i in range(5)
    ]
    listing = Listing({}, {}, {1}, 1)
    listing.add(org)
    wanted = []
    for i in range(data.draw(st.integers(1, 3))):
        arrays = {
            name: tuple(
                Contact(key, key) for key in data.draw(st.lists(st.sampled_from(WANTED[name])))
            )
            for name in FIELDS
        }
        region = data.draw(st.sampled_from([None, "GB", "US"]))
        wanted.append(
            DesiredCustomer(SourceRef("f", i + 1), f"u{i}", None, None, *arrays.values(), region)
        )
    desired = Desired(tuple(wanted))
    customers = tuple(listing.find(w) for w in desired.customers)
    assert _owners_from_listing(desired, customers, listing) == reference_owners(
        desired, customers, listing
    )
