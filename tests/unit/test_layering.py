"""The layering (DESIGN.md "Layout"): ``market`` ← ``strategies``, ``risk``, ``monitoring`` ←
``backtest`` ← ``daemon``; ``config`` reads ``market`` and ``strategies`` (a plugin strategy's
parameters are validated with the config, and only the plugin knows their schema); nothing
below ``daemon`` imports it.

Read from the source with ``ast``, so an import inside a function or under ``TYPE_CHECKING``
counts too: a late import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = frozenset({"market", "strategies", "risk", "monitoring", "backtest", "config", "daemon"})
ALLOWED: dict[str, frozenset[str]] = {
    "market": frozenset(),
    "strategies": frozenset({"market"}),
    "risk": frozenset({"market"}),
    "monitoring": frozenset({"market"}),
    "backtest": frozenset({"market", "strategies", "risk", "monitoring"}),
    "config": frozenset({"market", "strategies"}),
}


def imported_modules(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, at any depth; relative
    imports resolved against ``module`` (dotted, e.g. ``risk.switches.base``)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def violations() -> list[str]:
    out = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            module = ".".join(parts[:-1] if is_package else parts)
            for line, name in imported_modules(path.read_text(encoding="utf-8"), module, is_package):
                top = name.split(".")[0]
                if top in PROJECT and top != layer and top not in allowed:
                    out.append(f"{path.relative_to(ROOT)}:{line}: {layer} imports {name}")
    return out


def test_every_layer_imports_only_the_layers_below_it() -> None:
    assert all(any((ROOT / layer).rglob("*.py")) for layer in ALLOWED)  # the tree is where we look
    found = violations()
    assert not found, "imports against the layering (DESIGN.md, Layout):\n" + "\n".join(found)


def test_imports_are_found_at_any_depth_and_relative_ones_resolved() -> None:
    source = (
        "import numpy as np, market.units\n"
        "from . import base\n"
        "from ..locks import Lock\n"
        "def late():\n"
        "    if True:\n"
        "        from daemon.ledger import LedgerReader\n"
    )
    assert imported_modules(source, "risk.switches.stale_book", is_package=False) == [
        (1, "numpy"), (1, "market.units"), (2, "risk.switches"), (3, "risk.locks"), (6, "daemon.ledger"),
    ]
    assert imported_modules("from .base import X\n", "risk.switches", is_package=True) == [
        (1, "risk.switches.base"),
    ]
