"""Read one YAML file into plain Python values, remembering where each value was written.

Only plain YAML is accepted: no anchors or aliases (an alias bomb is refused at its first
alias, never expanded) and no tags beyond the standard str/int/float/bool/null/seq/map, so
no arbitrary object is ever constructed. Values are built straight from libyaml's event
stream; every problem found is collected as a ``ConfigProblem`` rather than raised.

Two walks of the stream build the same values. The quick one (``_QuickWalk``) records
only where each customer starts and gives up at the first thing that needs reporting or
care; the careful one (``_Composer``) then reads the file again, recording every position
and problem. For files the quick walk read, the careful walk runs only if a message later
needs a position (``Document.at``), so errors keep their exact FILE:LINE:COL.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Container
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from ksync.configproblem import ConfigProblem, YamlPath, located
from ksync.model import SourceRef

try:
    from yaml import CSafeLoader as _Loader
except ImportError:
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_STD = "tag:yaml.org,2002:"
_STR = _STD + "str"
_SCALAR_TAGS = frozenset(_STD + name for name in ("str", "int", "float", "bool", "null"))
_TAGS: dict[type[Event], frozenset[str]] = {
    ScalarEvent: _SCALAR_TAGS,
    SequenceStartEvent: frozenset({_STD + "seq"}),
    MappingStartEvent: frozenset({_STD + "map"}),
}
_STARTS = (MappingStartEvent, SequenceStartEvent)
_ENDS = (MappingEndEvent, SequenceEndEvent)
_MAX_DEPTH = 32
_EMPTY_HINT = "file is empty; a ksync file needs at least 'customers: []'"
# Characters YAML does not allow in a stream (YAML 1.1 "printable" set, inverted).
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PRINTABLE_ASCII = bytes([9, 10, 13, *range(0x20, 0x7F)])
_TAB_INDENT = re.compile(r"^ *\t", re.MULTILINE)
# Byte order marks of encodings other than UTF-8; UTF-32 first, as its LE mark starts
# with UTF-16's.
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class Rejected:
    """The placeholder for a value that was refused (alias, tag, ...) and already reported."""

    def __repr__(self) -> str:
        return "<rejected>"


REJECTED = Rejected()


class Document:
    """One file's content as plain values, with where each value and mapping key starts.

    Positions are kept per path such as ``("customers", 0, "emails")``: where each value
    and each mapping key starts, and the source text of scalars that were not read as
    strings. A file read by the quick walk (see ``_quick``) knows at first only where each
    customer starts; every other position is worked out from its text the first time a
    message needs one, by the careful walk that reads files with problems.
    """

    __slots__ = ("_customers", "_key_marks", "_marks", "_raw", "_text", "data", "name")

    def __init__(
        self,
        name: str,
        data: Any,
        *,
        text: str | None = None,
        customers: list[SourceRef] | None = None,
        marks: dict[YamlPath, Any] | None = None,
        key_marks: dict[YamlPath, Any] | None = None,
        raw: dict[YamlPath, str] | None = None,
    ) -> None:
        self.name = name
        self.data = data
        self._text = text
        self._customers = customers
        self._marks = marks
        self._key_marks = key_marks
        self._raw = raw

    def at(self, path: YamlPath) -> SourceRef:
        """Where the value at ``path`` starts (its nearest recorded ancestor if need be)."""
        customers = self._customers
        if customers is not None and len(path) == 2 and path[0] == "customers":
            index = path[1]
            if type(index) is int and 0 <= index < len(customers):
                return customers[index]
        marks = self._positions()[0]
        while path not in marks and path:
            path = path[:-1]
        return _ref(self.name, marks.get(path))

    def key_at(self, path: YamlPath) -> SourceRef:
        """Where the mapping key naming the value at ``path`` starts."""
        mark = self._positions()[1].get(path)
        return self.at(path) if mark is None else _ref(self.name, mark)

    def show(self, path: YamlPath, value: Any) -> str:
        """The value as people wrote it: source text for numbers and the like, repr for text."""
        return self._positions()[2].get(path) or repr(value)

    def _positions(
        self,
    ) -> tuple[dict[YamlPath, Any], dict[YamlPath, Any], dict[YamlPath, str]]:
        """Every recorded position; read again from the text by the careful walk if need be."""
        if self._marks is None or self._key_marks is None or self._raw is None:
            assert self._text is not None
            composer = _Composer(self._text, self.name)
            composer.document()
            self._marks, self._key_marks, self._raw = (
                composer.marks,
                composer.key_marks,
                composer.raw,
            )
        return self._marks, self._key_marks, self._raw


def load_yaml(path: Path, name: str) -> tuple[Document | None, list[ConfigProblem]]:
    """Read and parse one file; ``name`` is how problems name the file.

    The document is None when nothing usable was read (unreadable, syntax error, empty).
    Values that were refused but reported (aliases, tags, ...) are ``REJECTED`` in it.
    """
    text, problems = _read_text(path, name)
    if text is None:
        return None, problems
    quick = _quick(text, name)
    if quick is not None:
        return quick, []
    composer = _Composer(text, name)
    data = composer.document()
    if data is REJECTED:
        return None, composer.problems
    if data is None:
        return None, [*composer.problems, ConfigProblem(SourceRef(name, 1, 1), _EMPTY_HINT)]
    document = Document(
        name, data, marks=composer.marks, key_marks=composer.key_marks, raw=composer.raw
    )
    return document, composer.problems


def _read_text(path: Path, name: str) -> tuple[str | None, list[ConfigProblem]]:
    """The file's text, or the problems that keep it from being parsed as YAML."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [ConfigProblem(SourceRef(name, 1, 1), "no such file or directory")]
    except OSError as err:
        return None, [ConfigProblem(SourceRef(name, 1, 1), f"cannot read: {err.strerror}")]
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            message = f"file is {encoding} (it starts with a byte order mark); save it as UTF-8"
            return None, [ConfigProblem(SourceRef(name, 1, 1), message)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8")
        bad = f"0x{data[err.start]:02x}"
        message = f"not valid UTF-8 (byte {bad}); save the file as UTF-8"
        return None, [ConfigProblem(_position(name, before, len(before)), message)]
    text = text.removeprefix("\ufeff")
    problem = _check_characters(text, name)
    return (None, [problem]) if problem else (text, [])


def _check_characters(text: str, name: str) -> ConfigProblem | None:
    """A problem for the first tab in indentation or character YAML forbids, if any."""
    # ASCII text needs no search when every byte is one YAML allows (bytes.translate
    # deletes those, quickly).
    clean = text.isascii() and not text.encode("ascii").translate(None, _PRINTABLE_ASCII)
    bad = None if clean else _UNPRINTABLE.search(text)
    if bad:
        message = f"character U+{ord(bad.group()):04X} is not allowed in YAML"
        return ConfigProblem(_position(name, text, bad.start()), message)
    if "\t" not in text:
        return None
    tabs = [match.end() - 1 for match in _TAB_INDENT.finditer(text)]
    if not tabs:
        return None
    more = f" (and {len(tabs) - 1} more lines)" if len(tabs) > 1 else ""
    message = f"tab character in indentation; YAML indents with spaces only{more}"
    return ConfigProblem(_position(name, text, tabs[0]), message)


def _position(name: str, text: str, index: int) -> SourceRef:
    """The 1-based line and column of character ``index`` in ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return SourceRef(name, text.count("\n", 0, index) + 1, index - line_start + 1)


def _ref(name: str, mark: Any) -> SourceRef:
    return (
        SourceRef(name, 1, 1) if mark is None else SourceRef(name, mark.line + 1, mark.column + 1)
    )


def _char_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based line and column of ``text``; '' past its end."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    return text[start + column : start + column + 1]


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix(_STD) if tag.startswith(_STD) else tag


class _Anything:
    """Contains everything."""

    def __contains__(self, item: object) -> bool:
        return True


class _Composer:
    """Builds plain values from the event stream of one document, recording marks."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.text = text
        self.loader: Any = _Loader(text)
        self.marks: dict[YamlPath, Any] = {}
        self.key_marks: dict[YamlPath, Any] = {}
        self.raw: dict[YamlPath, str] = {}
        self.problems: list[ConfigProblem] = []
        # First characters of plain scalars that YAML may read as something other than text
        # (None keys a resolver for any first character; the safe resolvers have none).
        resolvers = self.loader.yaml_implicit_resolvers
        self.typed_starts: Container[str] = _Anything() if None in resolvers else set(resolvers)

    def document(self) -> Any:
        """The single document's root value; None when there is no document."""
        try:
            return self._stream()
        except yaml.MarkedYAMLError as err:
            self._syntax_error(err)
        except yaml.YAMLError as err:
            self.problems.append(ConfigProblem(SourceRef(self.name, 1, 1), f"YAML error: {err}"))
        finally:
            self.loader.dispose()
        return REJECTED

    def _stream(self) -> Any:
        self.loader.get_event()  # StreamStartEvent
        if type(self.loader.get_event()) is StreamEndEvent:
            return None
        root = self._node(self.loader.get_event(), (), True)
        self.loader.get_event()  # DocumentEndEvent
        extra = self.loader.get_event()
        if type(extra) is not StreamEndEvent:
            self._problem(extra.start_mark, (), "only one YAML document per file is allowed")
        return root

    def _node(self, event: Any, path: YamlPath, record: bool) -> Any:
        """The value starting with ``event``; only ``record``ed values keep their marks."""
        kind = type(event)
        if kind is ScalarEvent and event.anchor is None and event.tag is None:
            if record:
                self.marks[path] = event.start_mark
            value: str = event.value
            if not event.implicit[0] or value[:1] not in self.typed_starts:
                return value  # quoted, or plain text no YAML type could match
            return self._typed(event, path, record)
        refusal = self._refusal(event, kind, path)
        if refusal:
            self._problem(event.start_mark, path, refusal)
            self._skip(event)
            return REJECTED
        if record:
            self.marks[path] = event.start_mark
        if kind is ScalarEvent:
            return self._typed(event, path, record)
        if kind is MappingStartEvent:
            return self._mapping(path, record)
        return self._sequence(path, record)

    def _refusal(self, event: Any, kind: type[Event], path: YamlPath) -> str | None:
        """Why this node is not plain YAML, or None."""
        if kind is AliasEvent:
            return f"aliases (*{event.anchor}) are not allowed; write the value out"
        if event.anchor is not None:
            return f"anchors (&{event.anchor}) are not allowed; write the value out"
        tag = event.tag
        if tag is not None and tag not in _TAGS[kind]:
            if tag in _SCALAR_TAGS or tag in (_STD + "seq", _STD + "map"):
                return f"tag {_tag_name(tag)} does not fit this value"
            return f"tag {_tag_name(tag)} is not allowed; ksync files are plain YAML"
        if len(path) > _MAX_DEPTH:
            return f"nested more than {_MAX_DEPTH} levels deep"
        return None

    def _typed(self, event: Any, path: YamlPath, record: bool) -> Any:
        """A scalar that is explicitly tagged or may be a number, bool or null."""
        value: str = event.value
        tag = event.tag
        if tag is None:
            if not event.implicit[0]:  # quoted
                return value
            tag = self.loader.resolve(yaml.ScalarNode, value, (True, False))
        if tag == _STR or tag not in _SCALAR_TAGS:  # dates and the like stay text
            return value
        if record:
            self.raw[path] = value
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
        try:
            return self.loader.yaml_constructors[tag](self.loader, node)
        except (ValueError, KeyError, yaml.YAMLError):
            self._problem(event.start_mark, path, f"cannot read {value!r} as {_tag_name(tag)}")
            return REJECTED

    def _mapping(self, path: YamlPath, record: bool) -> dict[str, Any]:
        result: dict[str, Any] = {}
        key_marks: dict[str, Any] = {}
        get_event = self.loader.get_event
        while True:
            event = get_event()
            kind = type(event)
            if kind is MappingEndEvent:
                return result
            if kind is ScalarEvent and event.anchor is None and event.tag is None:
                key: str | None = event.value
            else:
                key = self._key(event, kind, path)
            value_event = get_event()
            if key is None:
                self._node(value_event, path, False)
                continue
            value_path = (*path, key)
            if key in key_marks:
                message = f"duplicate key {key!r} (first at line {key_marks[key].line + 1})"
                self._problem(event.start_mark, path, message)
                self._node(value_event, value_path, False)
                continue
            key_marks[key] = event.start_mark
            if record:
                self.key_marks[value_path] = event.start_mark
            result[key] = self._node(value_event, value_path, record)

    def _key(self, event: Any, kind: type[Event], path: YamlPath) -> str | None:
        """A tagged or complex mapping key's text; None (reported) when it is not plain."""
        refusal = self._refusal(event, kind, path)
        if refusal is None and kind is not ScalarEvent:
            refusal = "a mapping key must be plain text"
        if refusal:
            self._problem(event.start_mark, path, refusal)
            self._skip(event)
            return None
        key: str = event.value
        return key

    def _sequence(self, path: YamlPath, record: bool) -> list[Any]:
        result: list[Any] = []
        get_event = self.loader.get_event
        node = self._node
        while True:
            event = get_event()
            if type(event) is SequenceEndEvent:
                return result
            result.append(node(event, (*path, len(result)), record))

    def _skip(self, event: Any) -> None:
        """Consume the rest of a refused collection without building it."""
        depth = 1 if isinstance(event, _STARTS) else 0
        while depth:
            event = self.loader.get_event()
            if isinstance(event, _STARTS):
                depth += 1
            elif isinstance(event, _ENDS):
                depth -= 1

    def _problem(self, mark: Any, path: YamlPath, message: str) -> None:
        self.problems.append(located(_ref(self.name, mark), path, message))

    def _syntax_error(self, err: yaml.MarkedYAMLError) -> None:
        mark = err.problem_mark or err.context_mark
        message = f"YAML syntax error: {err.problem or err.context}"
        if mark is not None and _char_at(self.text, mark.line, mark.column) == "\t":
            message = "YAML syntax error: tab character here; YAML needs spaces, not tabs"
        elif err.context and err.problem and err.context_mark is not None:
            message += f" ({err.context} started at line {err.context_mark.line + 1})"
        self.problems.append(ConfigProblem(_ref(self.name, mark), message))


class _Irregular(Exception):
    """The quick walk met something it leaves to the careful walk (``_Composer``)."""


def _quick(text: str, name: str) -> Document | None:
    """The document of a plain, well-formed file, read with less bookkeeping; else None.

    The quick walk builds the same values as ``_Composer`` but records where only each
    customer starts. It gives up (None) at the first thing ``_Composer`` would report or
    treat specially: a syntax error, an empty stream or empty root, an anchor, alias or
    tag, a duplicate or non-text key, more than one document, nesting deeper than
    ``_MAX_DEPTH``, or a scalar that cannot be read as its type. Such files are read
    again by ``_Composer``, which reports them exactly as before.
    """
    walk = _QuickWalk(text, name)
    try:
        root = walk.root()
    except (_Irregular, yaml.YAMLError):
        return None
    finally:
        walk.loader.dispose()
    if root is None:
        return None
    return Document(name, root, text=text, customers=walk.customers)


class _QuickWalk:
    """Builds plain values from the event stream, as ``_Composer`` does for a clean file."""

    def __init__(self, text: str, name: str) -> None:
        self.name = name
        self.loader: Any = _Loader(text)
        self.get_event: Callable[[], Any] = self.loader.get_event
        resolvers = self.loader.yaml_implicit_resolvers
        self.typed_starts: Container[str] = _Anything() if None in resolvers else set(resolvers)
        self.customers: list[SourceRef] | None = None
        self.tags: dict[str, str] = {}  # the tag each plain text read so far resolved to

    def root(self) -> Any:
        get_event = self.get_event
        get_event()  # StreamStartEvent
        if type(get_event()) is StreamEndEvent:  # else DocumentStartEvent
            raise _Irregular
        event = get_event()
        if type(event) is MappingStartEvent and event.anchor is None and event.tag is None:
            root: Any = self._root_mapping()
        else:
            root = self._node(event, 0)
        get_event()  # DocumentEndEvent
        if type(get_event()) is not StreamEndEvent:
            raise _Irregular
        return root

    def _root_mapping(self) -> dict[str, Any]:
        """The top-level mapping; records where each item of its ``customers`` list starts."""
        result: dict[str, Any] = {}
        get_event = self.get_event
        while True:
            event = get_event()
            kind = type(event)
            if kind is MappingEndEvent:
                return result
            if kind is not ScalarEvent or event.anchor is not None or event.tag is not None:
                raise _Irregular
            key: str = event.value
            if key in result:
                raise _Irregular
            event = get_event()
            if (
                key == "customers"
                and type(event) is SequenceStartEvent
                and event.anchor is None
                and event.tag is None
            ):
                result[key] = self._customers()
            else:
                result[key] = self._node(event, 1)

    def _customers(self) -> list[Any]:
        items: list[Any] = []
        starts: list[SourceRef] = []
        name = self.name
        get_event = self.get_event
        node = self._node
        mapping = self._mapping
        while True:
            event = get_event()
            if type(event) is SequenceEndEvent:
                self.customers = starts
                return items
            mark = event.start_mark
            starts.append(SourceRef(name, mark.line + 1, mark.column + 1))
            if type(event) is MappingStartEvent and event.anchor is None and event.tag is None:
                items.append(mapping(2))
            else:
                items.append(node(event, 2))

    def _node(self, event: Any, depth: int) -> Any:
        """The value starting with ``event``, at ``depth`` (the length of its path)."""
        kind = type(event)
        if kind is AliasEvent or event.anchor is not None or event.tag is not None:
            raise _Irregular
        if kind is ScalarEvent:
            value: str = event.value
            if event.implicit[0] and value[:1] in self.typed_starts:
                return self._typed(event, value)
            return value
        if depth > _MAX_DEPTH:
            raise _Irregular
        if kind is MappingStartEvent:
            return self._mapping(depth)
        return self._sequence(depth)

    def _typed(self, event: Any, value: str) -> Any:
        """A plain scalar that may be a number, bool or null."""
        loader = self.loader
        tag = self.tags.get(value)
        if tag is None:  # the resolvers look at nothing but the text
            tag = self.tags[value] = loader.resolve(yaml.ScalarNode, value, (True, False))
        if tag == _STR or tag not in _SCALAR_TAGS:  # dates and the like stay text
            return value
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark)
        try:
            return loader.yaml_constructors[tag](loader, node)
        except (ValueError, KeyError, yaml.YAMLError):
            raise _Irregular from None

    def _mapping(self, depth: int) -> dict[str, Any]:
        """A mapping at ``depth`` whose start event was read; up to its end event."""
        result: dict[str, Any] = {}
        get_event = self.get_event
        typed_starts = self.typed_starts
        inner = depth + 1
        nested = inner <= _MAX_DEPTH
        while True:
            event = get_event()
            if type(event) is not ScalarEvent:
                if type(event) is MappingEndEvent:
                    return result
                raise _Irregular
            if event.anchor is not None or event.tag is not None:
                raise _Irregular
            key: str = event.value
            if key in result:
                raise _Irregular
            event = get_event()
            kind = type(event)
            if kind is AliasEvent or event.anchor is not None or event.tag is not None:
                raise _Irregular
            if kind is ScalarEvent:
                value: Any = event.value
                if event.implicit[0] and value[:1] in typed_starts:
                    value = self._typed(event, value)
                result[key] = value
            elif not nested:
                raise _Irregular
            elif kind is SequenceStartEvent:
                result[key] = self._sequence(inner)
            else:
                result[key] = self._mapping(inner)

    def _sequence(self, depth: int) -> list[Any]:
        """A sequence at ``depth`` whose start event was read; up to its end event."""
        result: list[Any] = []
        append = result.append
        get_event = self.get_event
        node = self._node
        mapping = self._mapping
        inner = depth + 1
        nested = inner <= _MAX_DEPTH
        while True:
            event = get_event()
            kind = type(event)
            if kind is SequenceEndEvent:
                return result
            if kind is MappingStartEvent and nested and event.anchor is None and event.tag is None:
                append(mapping(inner))
            else:
                append(node(event, inner))
