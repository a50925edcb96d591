"""Logging: JSON lines off a TTY, and secrets never reach the output."""

from __future__ import annotations

import io
import json

from pydantic import SecretStr

from daemon.logs import MASK, configure_logging, get_logger, redact


def test_json_lines_with_secrets_redacted() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream)
    log = get_logger("test")
    log.info(
        "order_sent",
        client_order_id="ew-1",
        api_key="abc123",
        private_key=SecretStr("pem"),
        url="https://api.example/v4/sports/x/odds?apiKey=SUPERSECRET&regions=us",
        detail={"headers": {"KALSHI-ACCESS-SIGNATURE": "sig=="}, "note": "-----BEGIN PRIVATE KEY-----\nxyz\n-----END PRIVATE KEY-----"},
    )
    log.debug("hidden_below_level")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "order_sent" and event["client_order_id"] == "ew-1"
    assert event["api_key"] == MASK and event["private_key"] == MASK
    assert "SUPERSECRET" not in lines[0] and "apiKey=" + MASK in event["url"]
    assert event["detail"]["headers"]["KALSHI-ACCESS-SIGNATURE"] == MASK
    assert "xyz" not in lines[0]


def test_redact_leaves_ordinary_values_alone() -> None:
    assert redact({"ticker": "KX-1", "count": 5, "items": [1, "a"]}) == {
        "ticker": "KX-1", "count": 5, "items": [1, "a"]
    }
    assert redact(None, "api_key") is None


def test_console_format_is_readable() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream)
    get_logger().info("hello", token="t0k3n")
    out = stream.getvalue()
    assert "hello" in out and "t0k3n" not in out
