"""Range and conditional-request parsing (RFC 9110 §14, §13), without a server."""

from __future__ import annotations

import pytest

from pipeline.api.serving import (
    ByteRange,
    Unsatisfiable,
    Validators,
    not_modified,
    parse_range,
    range_applies,
    signed_cache_control,
    validators,
)

SIZE = 1000


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 100)),
        ("bytes=100-199", ByteRange(100, 200)),
        ("bytes=-500", ByteRange(500, 1000)),
        ("bytes=-5000", ByteRange(0, 1000)),  # a suffix longer than the file: all of it
        ("bytes=100-", ByteRange(100, 1000)),
        ("bytes=990-5000", ByteRange(990, 1000)),  # the end is clipped to the file
        ("bytes=999-999", ByteRange(999, 1000)),
        ("Bytes = 0-0", ByteRange(0, 1)),
    ],
)
def test_one_range_is_read(header: str, expected: ByteRange) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=5-1",  # last before first: an invalid range-spec
        "bytes=",
        "bytes=-",
        "bytes=abc",
        "bytes=1-x",
        "bytes=+1-2",
        "bytes=١-٢",  # non-ASCII digits
        "items=0-99",
        "0-99",
        "bytes=0-99,200-299",  # several ranges: the whole file (documented)
        "bytes=" + ",".join(f"{i}-{i}" for i in range(5000)),
    ],
)
def test_a_malformed_or_multiple_range_means_the_whole_file(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [
        ("bytes=1000-", SIZE),
        ("bytes=1000-2000", SIZE),
        ("bytes=99999999999999999999-", SIZE),
        ("bytes=-0", SIZE),
        ("bytes=0-", 0),
        ("bytes=-10", 0),
    ],
)
def test_a_range_past_the_end_is_unsatisfiable(header: str, size: int) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


def test_content_range_names_the_last_byte_and_the_size() -> None:
    assert ByteRange(0, 100).content_range(SIZE) == "bytes 0-99/1000"


TAG = validators(SIZE, 1_700_000_000_123_456_789)
LAST_MODIFIED = "Tue, 14 Nov 2023 22:13:20 GMT"


def test_validators_change_with_size_and_time() -> None:
    assert TAG.etag.startswith('"') and TAG.etag.endswith('"')
    assert TAG.last_modified == LAST_MODIFIED
    assert validators(SIZE + 1, 1_700_000_000_123_456_789).etag != TAG.etag
    assert validators(SIZE, 1_700_000_000_123_456_790).etag != TAG.etag


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, False),
        ({"if-none-match": TAG.etag}, True),
        ({"if-none-match": f'"x", W/{TAG.etag}'}, True),  # weak comparison
        ({"if-none-match": "*"}, True),
        ({"if-none-match": '"other"'}, False),
        ({"if-modified-since": LAST_MODIFIED}, True),
        ({"if-modified-since": "Wed, 15 Nov 2023 00:00:00 GMT"}, True),
        ({"if-modified-since": "Mon, 13 Nov 2023 00:00:00 GMT"}, False),
        ({"if-modified-since": "yesterday"}, False),
        # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
        ({"if-none-match": '"other"', "if-modified-since": LAST_MODIFIED}, False),
    ],
)
def test_not_modified(headers: dict[str, str], expected: bool) -> None:
    assert not_modified(headers, TAG) is expected


@pytest.mark.parametrize(
    ("if_range", "expected"),
    [
        (None, True),
        (TAG.etag, True),
        (f"W/{TAG.etag}", False),  # If-Range compares strongly
        ('"other"', False),
        (LAST_MODIFIED, True),
        ("Mon, 13 Nov 2023 00:00:00 GMT", False),
        ("garbage", False),
    ],
)
def test_if_range_keeps_the_range_only_for_the_same_version(
    if_range: str | None, expected: bool
) -> None:
    headers = {} if if_range is None else {"if-range": if_range}
    assert range_applies(headers, TAG) is expected


def test_signed_cache_control_lasts_until_expiry() -> None:
    assert signed_cache_control(1_000_600, now=1_000_000) == "private, max-age=600"
    assert signed_cache_control(1_000_000, now=1_000_100) == "private, max-age=0"


def test_validators_is_a_value() -> None:
    assert Validators('"a"', 0).last_modified == "Thu, 01 Jan 1970 00:00:00 GMT"
