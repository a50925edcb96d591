"""Strategies of your own: a class named in the config by its import path.

A table ``[strategies.my_name]`` with ``kind = "package.module:ClassName"`` builds
``ClassName(name, params, defaults, enabled)``, where ``params`` is the table (less ``kind``
and ``enabled``) validated by the class's ``Params`` model, so a bad value is a config error
naming its key. The class must have a vectorised ``propose(view) -> Proposals``
(strategies.base); it never sizes an order: the risk gate does, as for the built-ins.
``strategies/examples/favourite_premium.py`` is a template to copy.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, ClassVar

from pydantic import BaseModel

from .base import MarketView, Proposals, StrategyDefaults


class PluginStrategy:
    """Convenience base: stores what the registry passes; subclasses declare ``Params``
    and write ``propose``. Not required: any class with the same shape will do."""

    Params: ClassVar[type[BaseModel]]

    def __init__(self, name: str, params: Any, defaults: StrategyDefaults, enabled: bool = True) -> None:
        self.name = name
        self.params = params
        self.defaults = defaults
        self.enabled = enabled

    def propose(self, view: MarketView) -> Proposals:
        raise NotImplementedError


class PluginError(ValueError):
    """``kind`` names nothing importable, or something that is not a strategy."""


def load_plugin(kind: str) -> type:
    """The class ``kind`` ("package.module:ClassName") names, checked to be a strategy."""
    module_name, sep, attr = kind.partition(":")
    if not sep or not module_name.strip() or not attr.strip():
        raise PluginError(f'{kind!r}: expected "flb", "odds_edge" or "package.module:ClassName"')
    try:
        module = importlib.import_module(module_name.strip())
    except Exception as exc:  # a plugin's import may fail in any way; report it, not crash
        raise PluginError(f"cannot import {module_name.strip()!r}: {type(exc).__name__}: {exc}") from None
    cls: Any = module
    for part in attr.strip().split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise PluginError(f"{module_name.strip()!r} has no {attr.strip()!r}")
    if not isinstance(cls, type):
        raise PluginError(f"{kind!r} is not a class")
    if not callable(getattr(cls, "propose", None)):
        raise PluginError(f"{kind!r} is not a strategy: it has no propose(view) method")
    params = getattr(cls, "Params", None)
    if not is_params_model(params):
        raise PluginError(f"{kind!r} is not a strategy: its Params is not a pydantic model or dataclass")
    return cls


def is_params_model(params: Any) -> bool:
    return isinstance(params, type) and (issubclass(params, BaseModel) or dataclasses.is_dataclass(params))
