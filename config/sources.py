"""Where settings come from: the pydantic-settings sources, fed from explicit inputs.

``load_settings`` puts its inputs (TOML path, environment mapping, credentials, command-line
overrides) into ``LOAD_CONTEXT``; ``Settings.settings_customise_sources`` builds the library's
sources from it. Passing the environment explicitly keeps tests hermetic and lets the
daemon validate a config against an environment that is not its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

ENV_PREFIX = "EDGEWARDEN_"
ENV_DELIMITER = "__"
NON_SETTING_ENV_VARS = frozenset({"EDGEWARDEN_KILL", "EDGEWARDEN_CONFIG"})
"""EDGEWARDEN_* variables that are not settings keys: the environment kill switch and the
config file path. Any other EDGEWARDEN_* variable must name a settings field."""

CREDENTIALS: Mapping[str, tuple[str, ...]] = {
    "kalshi-key-id": ("venue", "kalshi", "key_id"),
    "kalshi-private-key": ("venue", "kalshi", "private_key"),
    "odds-api-key": ("odds", "api_key"),
}
"""systemd ``LoadCredential=`` names (files in $CREDENTIALS_DIRECTORY) -> settings key."""

Tree = dict[str, Any]


@dataclass(frozen=True)
class LoadContext:
    """The inputs of one ``load_settings`` call, lowest precedence last."""

    overrides: Tree = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    credentials: Tree = field(default_factory=dict)
    toml_file: Path | None = None


LOAD_CONTEXT: ContextVar[LoadContext | None] = ContextVar("edgewarden_config_load", default=None)


class MappingEnvSettingsSource(EnvSettingsSource):
    """The library's environment source, reading a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._mapping = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._mapping, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        """JSON for a list or table; otherwise pass the raw string on, so validation
        reports it at its key path together with every other error."""
        try:
            return super().decode_complex_value(field_name, field, value)  # type: ignore[arg-type]
        except ValueError:
            return value


def first_dir(env: Mapping[str, str], name: str) -> Path | None:
    """A systemd directory variable ($STATE_DIRECTORY, ...); several are ':'-separated."""
    value = env.get(name, "")
    first = value.split(":", 1)[0]
    return Path(first) if first else None


def read_credentials(env: Mapping[str, str]) -> tuple[Tree, list[tuple[str, str]]]:
    """Secrets systemd placed in $CREDENTIALS_DIRECTORY, as a nested settings tree."""
    directory = first_dir(env, "CREDENTIALS_DIRECTORY")
    tree: Tree = {}
    errors: list[tuple[str, str]] = []
    if directory is None:
        return tree, errors
    for name, key_path in CREDENTIALS.items():
        path = directory / name
        if not path.exists():
            continue
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            errors.append((".".join(key_path), f"cannot read credential {path}: {_why(exc)}"))
            continue
        set_path(tree, key_path, text)
    return tree, errors


def read_secret_file(path: Path) -> str:
    """The stripped text of a secret file; OSError/UnicodeDecodeError/ValueError on failure."""
    text = expand(path).read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{path} is empty")
    return text


def expand(path: Path) -> Path:
    """``~`` expanded; an unknown ``~user`` is a ValueError like any other bad path."""
    try:
        return path.expanduser()
    except RuntimeError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _why(exc: BaseException) -> str:
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def set_path(tree: Tree, key_path: tuple[str, ...], value: Any) -> None:
    node = tree
    for key in key_path[:-1]:
        node = node.setdefault(key, {})
    node[key_path[-1]] = value


def nest_overrides(overrides: Mapping[str, Any]) -> tuple[Tree, list[tuple[str, str]]]:
    """Command-line overrides with dotted (``risk.kelly_fraction``) or nested keys -> a tree."""
    tree: Tree = {}
    errors: list[tuple[str, str]] = []

    def add(prefix: tuple[str, ...], mapping: Mapping[Any, Any]) -> None:
        for key, value in mapping.items():
            if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
                errors.append((".".join(prefix) or "<overrides>", f"bad key {key!r}"))
                continue
            path = prefix + tuple(key.split("."))
            if isinstance(value, Mapping):
                add(path, value)
                continue
            node = tree
            for part in path[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    errors.append((".".join(path), "conflicts with another override"))
                    break
                node = child
            else:
                if isinstance(node.get(path[-1]), dict):
                    errors.append((".".join(path), "conflicts with another override"))
                else:
                    node[path[-1]] = value

    add((), overrides)
    return tree, errors


def env_var_paths(env: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Settings key path of every EDGEWARDEN_* variable (allow-listed ones excluded)."""
    paths: dict[tuple[str, ...], str] = {}
    for name in env:
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in NON_SETTING_ENV_VARS:
            continue
        paths[tuple(upper[len(ENV_PREFIX) :].lower().split(ENV_DELIMITER))] = name
    return paths


def unknown_env_vars(model: type[BaseModel], env: Mapping[str, str]) -> list[tuple[str, str]]:
    """EDGEWARDEN_* variables that name no settings field (the library would ignore some)."""
    errors: list[tuple[str, str]] = []
    for path, name in env_var_paths(env).items():
        current: type[BaseModel] | None = model
        for depth, key in enumerate(path):
            where = ".".join(path[: depth + 1])
            if current is None:
                parent = ".".join(path[:depth])
                errors.append(
                    (where, f"{parent} is not a table (from environment variable {name})")
                )
                break
            info = current.model_fields.get(key)
            if info is None:
                errors.append((where, f"unknown key (from environment variable {name})"))
                break
            ann = info.annotation
            current = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return errors


def lookup(tree: Any, path: tuple[str | int, ...]) -> bool:
    """Does ``tree`` provide a value at ``path``, at one of its prefixes, or below it?"""
    node = tree
    for key in path:
        if not isinstance(node, dict):
            return True
        if key not in node:
            return False
        node = node[key]
    return True
