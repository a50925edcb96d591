"""The one error type configuration loading raises."""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(Exception):
    """Invalid configuration: every problem found, each as (key path, message).

    The key path is dotted (``risk.kelly_fraction``); for a file that cannot be read or
    parsed it is the file's path. Messages say where a bad value came from when known.
    """

    def __init__(self, errors: Iterable[tuple[str, str]]) -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        lines = "".join(f"\n  {path}: {message}" for path, message in self.errors)
        super().__init__(f"invalid configuration ({len(self.errors)} error(s)):{lines}")
