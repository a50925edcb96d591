"""Showing settings (secrets masked) and comparing them for a reload on SIGHUP."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from .settings import Settings

MASK = "**********"


def settings_for_display(settings: Settings) -> dict[str, Any]:
    """JSON-able dict of the settings: secrets as "**********", Decimals and paths as strings."""
    return settings.model_dump(mode="json")


def settings_to_toml(settings: Settings) -> str:
    """The settings as a TOML document (secrets masked, unset keys left out)."""
    lines: list[str] = []
    _emit_table(lines, (), settings_for_display(settings))
    return "\n".join(lines).lstrip("\n") + "\n"


def _emit_table(lines: list[str], path: tuple[str, ...], table: dict[str, Any]) -> None:
    scalars = {
        k: v
        for k, v in table.items()
        if v is not None and not _is_table(v) and not _is_table_array(v)
    }
    if path and (scalars or not table):
        lines.append("")
        lines.append(f"[{_dotted(path)}]")
    for key, value in scalars.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if _is_table(value):
            _emit_table(lines, (*path, key), value)
    for key, value in table.items():
        if _is_table_array(value):
            for item in value:
                lines.append("")
                lines.append(f"[[{_dotted((*path, key))}]]")
                for item_key, item_value in item.items():
                    if item_value is not None:
                        lines.append(f"{_key(item_key)} = {_value(item_value)}")


def _is_table(value: Any) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_key(part) for part in path)


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _string(key)


def _string(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; DEL must be escaped in TOML.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{" + inner + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


# ---------------------------------------------------------------- reload


def _leaves(model: BaseModel, prefix: str = "") -> dict[str, tuple[Any, bool]]:
    """Dotted path -> (value, reloadable) for every non-section field."""
    leaves: dict[str, tuple[Any, bool]] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            leaves.update(_leaves(value, f"{path}."))
            continue
        extra = info.json_schema_extra
        reloadable = isinstance(extra, dict) and extra.get("reloadable") is True
        leaves[path] = (value, reloadable)
    # Extra tables (strategies of one's own): each is one leaf; changing one needs a restart.
    for name, value in (model.model_extra or {}).items():
        leaves[f"{prefix}{name}"] = (value, False)
    return leaves


def reloadable_paths() -> list[str]:
    """Every settings key that may change on SIGHUP without a restart."""
    return [path for path, (_, ok) in _leaves(Settings()).items() if ok]


def reloadable_changes(old: Settings, new: Settings) -> tuple[dict[str, Any], list[str]]:
    """What a reload would change: ({dotted path: new value} for reloadable keys that
    differ, [dotted paths of changed keys that need a restart]). The caller applies the
    first only when the second is empty, or logs the second as ignored."""
    before = _leaves(old)
    changed: dict[str, Any] = {}
    rejected: list[str] = []
    after = _leaves(new)
    for path, (value, reloadable) in after.items():
        if path in before and before[path][0] == value:
            continue
        if reloadable and path in before:
            changed[path] = value
        else:
            rejected.append(path)
    rejected += [path for path in before if path not in after]  # a table taken out
    return changed, rejected
