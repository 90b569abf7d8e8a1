"""HMAC-signed download links: valid until they expire, for one file, with one secret."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from pipeline.storage.signing import content_url, sign, verify

SECRET, FILE_ID = "s3cret", "file_abc"
EXPIRES = 2_000_000_000


def test_a_signature_is_a_stable_sha256_hex_digest() -> None:
    signature = sign(SECRET, FILE_ID, EXPIRES)
    assert signature == sign(SECRET, FILE_ID, EXPIRES)
    assert len(signature) == 64 and int(signature, 16) >= 0


def test_a_fresh_signature_verifies() -> None:
    assert verify(SECRET, FILE_ID, EXPIRES, sign(SECRET, FILE_ID, EXPIRES), now=EXPIRES - 1)


def test_a_signature_is_valid_up_to_its_expiry_second() -> None:
    signature = sign(SECRET, FILE_ID, EXPIRES)
    assert verify(SECRET, FILE_ID, EXPIRES, signature, now=EXPIRES)
    assert not verify(SECRET, FILE_ID, EXPIRES, signature, now=EXPIRES + 0.001)


def test_an_expired_link_fails_with_the_real_clock() -> None:
    past = int(time.time()) - 1
    assert not verify(SECRET, FILE_ID, past, sign(SECRET, FILE_ID, past))


def test_a_tampered_signature_fails() -> None:
    signature = sign(SECRET, FILE_ID, EXPIRES)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    assert not verify(SECRET, FILE_ID, EXPIRES, flipped, now=0)
    assert not verify(SECRET, FILE_ID, EXPIRES, "", now=0)
    assert not verify(SECRET, FILE_ID, EXPIRES, signature.upper(), now=0)


def test_a_signature_is_bound_to_the_file_the_expiry_and_the_secret() -> None:
    signature = sign(SECRET, FILE_ID, EXPIRES)
    assert not verify(SECRET, "file_abd", EXPIRES, signature, now=0)
    assert not verify(SECRET, FILE_ID, EXPIRES + 3600, signature, now=0)  # extended expiry
    assert not verify("other", FILE_ID, EXPIRES, signature, now=0)


def test_content_url_carries_a_signature_that_verifies() -> None:
    url = content_url("https://strobe.test/", SECRET, FILE_ID, ttl_s=60)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "strobe.test",
        f"/files/{FILE_ID}/content",
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    expires = int(query["expires"])
    assert 0 < expires - time.time() <= 60
    assert verify(SECRET, FILE_ID, expires, query["signature"])


def test_path_signatures_bind_project_path_expiry_and_method() -> None:
    from pipeline.storage.signing import sign_path, signed_path_url, verify_path

    url, signature = signed_path_url("https://s.test/", "sk_a", "prj_a", "a/b.jpg", 2000, "get")
    assert url.startswith("https://s.test/signed/prj_a/a/b.jpg?expiry=2000&method=get&")
    assert verify_path(["sk_old", "sk_a"], "prj_a", "a/b.jpg", 2000, "get", signature, now=1999)
    assert not verify_path(["sk_a"], "prj_a", "a/b.jpg", 2000, "get", signature, now=2001)
    for changed in (
        ("prj_b", "a/b.jpg", 2000, "get"),
        ("prj_a", "a/c.jpg", 2000, "get"),
        ("prj_a", "a/b.jpg", 2001, "get"),
        ("prj_a", "a/b.jpg", 2000, "put"),
    ):
        assert not verify_path(["sk_a"], *changed, signature, now=0)
    assert not verify_path(["sk_b"], "prj_a", "a/b.jpg", 2000, "get", signature, now=0)
    assert sign_path("sk_a", "prj_a", "a/b.jpg", 2000, "get") == signature
