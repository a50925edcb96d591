"""Kalshi request signing: the message, RSA-PSS parameters, and verification."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from daemon.venues.kalshi_auth import (
    KEY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    KeyFormatError,
    RequestSigner,
    auth_headers,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign_request,
    signing_message,
    verify_signature,
)

PRIVATE_PEM, PUBLIC_PEM = generate_keypair()
OTHER_PRIVATE, OTHER_PUBLIC = generate_keypair()
TS = 1703123456789
PATH = "/trade-api/v2/portfolio/balance"


def test_known_answer_message() -> None:
    assert signing_message(TS, "GET", PATH) == b"1703123456789GET/trade-api/v2/portfolio/balance"
    assert signing_message(str(TS), "get", PATH + "?limit=5&cursor=x") == \
        b"1703123456789GET/trade-api/v2/portfolio/balance"


def test_known_answer_signature_verifies_with_pss_digest_salt() -> None:
    signature = sign_request(PRIVATE_PEM, TS, "GET", PATH)
    raw = base64.b64decode(signature)
    public = load_public_key(PUBLIC_PEM)
    message = b"1703123456789GET/trade-api/v2/portfolio/balance"
    # Independently: SHA-256, MGF1(SHA-256), salt of exactly 32 bytes (the digest length).
    public.verify(raw, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                  hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public.verify(raw, message, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=0),
                      hashes.SHA256())
    assert verify_signature(PUBLIC_PEM, TS, "GET", PATH, signature)


def test_pss_is_randomised_but_both_verify() -> None:
    key = load_private_key(PRIVATE_PEM)
    a, b = sign_request(key, TS, "POST", "/trade-api/v2/portfolio/orders"), \
        sign_request(key, TS, "POST", "/trade-api/v2/portfolio/orders")
    assert a != b
    assert verify_signature(PUBLIC_PEM, TS, "POST", "/trade-api/v2/portfolio/orders", a)
    assert verify_signature(PUBLIC_PEM, TS, "POST", "/trade-api/v2/portfolio/orders", b)


@pytest.mark.parametrize("ts,method,path", [(TS + 1, "GET", PATH), (TS, "POST", PATH),
                                            (TS, "GET", "/trade-api/v2/portfolio/orders")])
def test_signature_binds_timestamp_method_and_path(ts: int, method: str, path: str) -> None:
    signature = sign_request(PRIVATE_PEM, TS, "GET", PATH)
    assert not verify_signature(PUBLIC_PEM, ts, method, path, signature)


@pytest.mark.parametrize("signature", ["", "not base64!", "AAAA", base64.b64encode(b"x" * 256).decode()])
def test_garbage_signatures_are_false_not_errors(signature: str) -> None:
    assert verify_signature(PUBLIC_PEM, TS, "GET", PATH, signature) is False


def test_other_key_does_not_verify() -> None:
    assert not verify_signature(OTHER_PUBLIC, TS, "GET", PATH, sign_request(PRIVATE_PEM, TS, "GET", PATH))


def test_headers() -> None:
    headers = auth_headers("key-1", load_private_key(PRIVATE_PEM), TS, "GET", PATH)
    assert headers[KEY_HEADER] == "key-1" and headers[TIMESTAMP_HEADER] == "1703123456789"
    assert verify_signature(PUBLIC_PEM, headers[TIMESTAMP_HEADER], "GET", PATH, headers[SIGNATURE_HEADER])


def test_bad_pem_errors_do_not_echo_the_key() -> None:
    secret = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n-----END PRIVATE KEY-----\n"
    with pytest.raises(KeyFormatError) as caught:
        load_private_key(secret)
    assert "c2VjcmV0" not in str(caught.value)
    with pytest.raises(KeyFormatError):
        load_public_key(b"nope")
    with pytest.raises(KeyFormatError):
        load_private_key(PUBLIC_PEM)


def test_generate_keypair_pems() -> None:
    assert PRIVATE_PEM.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert PUBLIC_PEM.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert load_private_key(PRIVATE_PEM).key_size == 2048


def test_the_signer_reuses_a_signature_only_for_the_same_message_within_its_window() -> None:
    signer = RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=100)
    orders = "/trade-api/v2/portfolio/orders"
    first = signer.headers(TS, "POST", orders)
    again = signer.headers(TS + 100, "post", orders)  # within the window: the same message
    assert again == first and again is not first and signer.signatures == 1
    assert verify_signature(PUBLIC_PEM, first["KALSHI-ACCESS-TIMESTAMP"], "POST", orders,
                            again["KALSHI-ACCESS-SIGNATURE"])
    later = signer.headers(TS + 101, "POST", orders)
    assert later["KALSHI-ACCESS-TIMESTAMP"] == str(TS + 101) and signer.signatures == 2
    other = signer.headers(TS + 101, "GET", orders)
    assert other["KALSHI-ACCESS-TIMESTAMP"] == str(TS + 101) and signer.signatures == 3
    backwards = signer.headers(TS, "POST", orders)  # the clock stepped back: sign afresh
    assert backwards["KALSHI-ACCESS-TIMESTAMP"] == str(TS) and signer.signatures == 4
    for headers, method in ((later, "POST"), (other, "GET"), (backwards, "POST")):
        assert verify_signature(PUBLIC_PEM, headers["KALSHI-ACCESS-TIMESTAMP"], method, orders,
                                headers["KALSHI-ACCESS-SIGNATURE"])


def test_signed_is_one_tuple_while_its_signature_is_reused() -> None:
    """What a caller builds from it (the order wire's request head) lives as long as it."""
    signer = RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=100)
    orders = "/trade-api/v2/portfolio/orders"
    first = signer.signed(TS, "POST", orders)
    assert signer.signed(TS + 100, "POST", orders) is first and signer.signatures == 1
    later = signer.signed(TS + 101, "POST", orders)
    assert later is not first and later[0] == TS + 101 and signer.signed(TS + 150, "POST", orders) is later
    assert later[1] == signer.headers(TS + 150, "POST", orders)
    no_reuse = RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=0)
    assert no_reuse.signed(TS, "POST", orders) is not no_reuse.signed(TS, "POST", orders)


def test_prepare_signs_ahead_only_when_the_held_signature_would_expire_within_the_horizon() -> None:
    signer = RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=1000)
    orders = "/trade-api/v2/portfolio/orders"
    signer.prepare(TS, "POST", orders, horizon_ms=250)  # none held: sign now
    assert signer.signatures == 1
    signer.prepare(TS + 750, "POST", orders, horizon_ms=250)  # still good at TS + 1000
    assert signer.signatures == 1
    signer.prepare(TS + 751, "POST", orders, horizon_ms=250)  # would be stale by TS + 1001
    assert signer.signatures == 2
    sent = signer.headers(TS + 900, "POST", orders)  # the order finds it made
    assert sent["KALSHI-ACCESS-TIMESTAMP"] == str(TS + 751) and signer.signatures == 2
    assert verify_signature(PUBLIC_PEM, sent["KALSHI-ACCESS-TIMESTAMP"], "POST", orders,
                            sent["KALSHI-ACCESS-SIGNATURE"])
    no_reuse = RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=0)
    no_reuse.prepare(TS, "POST", orders, horizon_ms=250)  # nothing to reuse: nothing to prepare
    assert no_reuse.signatures == 0


def test_a_signer_without_reuse_signs_every_request() -> None:
    signer = RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=0)
    for _ in range(3):
        signer.headers(TS, "POST", PATH)
    assert signer.signatures == 3
    with pytest.raises(ValueError, match="reuse_ms -1"):
        RequestSigner("key-1", load_private_key(PRIVATE_PEM), reuse_ms=-1)
