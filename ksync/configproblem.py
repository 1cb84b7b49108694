"""The problems found in desired-state files, and the error that carries them all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ksync.model import SourceRef

# Where a value sits in a file: ("customers", 3, "emails", 1).
YamlPath = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class ConfigProblem:
    """One thing wrong in the files, at a file, line and column."""

    source: SourceRef
    message: str

    def __str__(self) -> str:
        return f"{self.source.full}: {self.message}"


class ConfigError(Exception):
    """The files are not valid; ``problems`` holds every problem, sorted by position."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(sorted(set(problems)))
        super().__init__("\n".join(str(problem) for problem in self.problems))


def path_text(path: YamlPath) -> str:
    """``("customers", 3, "emails", 1)`` -> ``customers[3].emails[1]``."""
    parts: list[str] = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}" if parts else part)
    return "".join(parts)


def located(source: SourceRef, path: YamlPath, message: str) -> ConfigProblem:
    """A problem whose message is prefixed by the path it is about, if any."""
    prefix = path_text(path)
    return ConfigProblem(source, f"{prefix}: {message}" if prefix else message)
