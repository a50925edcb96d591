"""structlog set-up: JSON lines for journald, readable lines on a terminal, secrets never out.

Redaction is a processor, not a convention: whatever a caller passes (a SecretStr, a dict
holding an API key, a URL with ``apiKey=...``, a PEM block) is masked before rendering,
so one careless log call cannot leak a key into the journal.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog

MASK = "**********"

_SECRET_KEY = re.compile(
    r"(private_?key|api_?key|secret|password|passwd|token|signature|authorization|"
    r"kalshi-access-signature|credential)",
    re.IGNORECASE,
)
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)
_QUERY_SECRET = re.compile(r"((?:api_?key|apiKey|token|secret)=)[^&\s\"']+", re.IGNORECASE)


def redact(value: Any, key: str | None = None) -> Any:
    """Mask secret-looking values, recursing through dicts, lists and tuples."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, ""):
        return MASK
    if _is_secret_type(value):
        return MASK
    if isinstance(value, str):
        value = _PEM_BLOCK.sub(MASK, value)
        return _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, value)
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


def _is_secret_type(value: Any) -> bool:
    return type(value).__name__ in {"SecretStr", "SecretBytes"}


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor wrapping :func:`redact`."""
    return {k: (v if k in ("timestamp", "level") else redact(v, k)) for k, v in event_dict.items()}


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog to ``stream`` (stdout): JSON unless ``fmt`` is console or a TTY in auto."""
    stream = stream or sys.stdout
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_level_number(level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def _level_number(level: str) -> int:
    number = logging.getLevelName(level.upper())
    if not isinstance(number, int):
        raise ValueError(f"logging.level {level!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return number


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name) if name else structlog.get_logger()
