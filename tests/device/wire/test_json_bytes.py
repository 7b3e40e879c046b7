"""The receiver's fast JSON read gives exactly what the standard library gives: the same
value (ints stay ints, however large), the same error, and orjson only where the bytes
prove every number in range; and the schema's container-only check, used after it,
refuses what the full check refuses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.wire import json_bytes
from device.wire.json_bytes import loads, numbers_in_range
from device.wire.summary import MAX_DEPTH, SummaryError, encode, validate_summary
from tests.support.delivery_helpers import make_summary


def same(a, b) -> bool:
    """Equal values of equal types all the way down (1 == 1.0 is not enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)  # NaN is itself


def stdlib(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return type(exc)


def ours(body: bytes):
    try:
        return loads(body)[0]
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return type(exc)


def test_orjson_is_installed_for_the_fast_path():
    # without it everything still works (the standard library), only slower
    assert json_bytes.orjson is not None


@pytest.mark.parametrize(
    "body, in_range",
    [
        (b'{"a":0.00322,"b":-12,"c":1e-05,"d":[1,2.5]}', True),
        (b'{"a":0.015000000000000001}', True),  # a long fraction is harmless
        (b'{"a":123456789012345}', True),  # 15 digits < 2**53
        (b'{"a":"1234567890123456"}', False),  # digits in a string: only the slow path
        (b'{"a":1234567890123456}', False),  # 16 digits: maybe beyond 2**53
        (b'{"a":-9007199254740993}', False),
        (b'{"a":18446744073709551616}', False),  # orjson would read a float
        (b'{"a":1e5}', False),
        (b'{"a":1E+5}', False),
        (b'{"a":1e400}', False),
        (b'{"a":0.' + b"1" * 40 + b"}", False),  # 32+ fraction digits: conservative
    ],
)
def test_numbers_in_range_from_the_bytes(body, in_range):
    assert numbers_in_range(body) is in_range
    assert same(ours(body), stdlib(body))
    if not in_range:
        assert loads(body)[1] is False


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":NaN}',
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b'{"a":18446744073709551616}',
        b'{"a":-9223372036854775809}',
        b'{"a":' + b"9" * 400 + b"}",
        b'{"a":"\\ud800"}',  # a lone surrogate escape: orjson refuses, json reads it
        b'{"a":"\xed\xa0\x80"}',  # not UTF-8
        b'\xef\xbb\xbf{"a":1}',  # BOM
        b'{"a":1,"a":2}',
        b'{"a":[1,]}',
        b'{"a":01}',
        b"",
    ],
)
def test_what_the_standard_library_reads_leniently_is_read_the_same(body):
    assert same(ours(body), stdlib(body))


def test_nesting_beyond_the_standard_library_is_refused_by_the_schema():
    s = make_summary(0)
    s["session"]["features"]["deep"] = json.loads("[" * 900 + "]" * 900)
    body = encode(s).replace(b"[" * 900, b"[" * 1010).replace(b"]" * 900, b"]" * 1010)
    assert stdlib(body) is RecursionError
    try:
        parsed, in_range = loads(body)
    except RecursionError:
        return  # read as the standard library reads it
    with pytest.raises(SummaryError, match="nested deeper"):
        validate_summary(parsed, encoded=body, numbers_checked=in_range)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_reads_as_the_standard_library_reads_it(value):
    for body in (
        json.dumps(value).encode(),
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(),
    ):
        value_read, in_range = loads(body)
        assert same(value_read, json.loads(body))
        if in_range:  # then the container-only schema check is as strict as the full one
            assert not _has_bad_number(value_read)


def _has_bad_number(v) -> bool:
    if isinstance(v, dict):
        return any(_has_bad_number(x) for x in v.values())
    if isinstance(v, list):
        return any(_has_bad_number(x) for x in v)
    if isinstance(v, float):
        return v != v or v in (float("inf"), float("-inf"))
    return isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53


def _nested_summary(depth: int) -> dict:
    """A valid summary whose session.features holds dicts nested to `depth` levels in all
    (the summary is level 1, session 2, features 3)."""
    s = json.loads(json.dumps(make_summary(0)))  # session and segments share one block
    inner: dict = {"x": 1.5}
    for _ in range(depth - 4):
        inner = {"d": inner}
    s["session"]["features"]["deep"] = inner
    return s


@pytest.mark.parametrize("checked", [False, True])
def test_nesting_is_limited_to_max_depth(checked):
    ok, deep = _nested_summary(MAX_DEPTH), _nested_summary(MAX_DEPTH + 1)
    for summary, fails in ((ok, False), (deep, True)):
        body = encode(summary)
        parsed, in_range = loads(body)
        assert in_range
        if fails:
            with pytest.raises(SummaryError, match=f"nested deeper than {MAX_DEPTH}") as err:
                validate_summary(parsed, encoded=body, numbers_checked=checked)
            assert "summary.session.features.deep.d" in str(err.value)
        else:
            validate_summary(parsed, encoded=body, numbers_checked=checked)


@pytest.mark.parametrize(
    "bad, where",
    [
        (list(range(65)), "list of 65 items"),
        ([[1.5] * 65], "list of 65 items"),
    ],
)
def test_the_container_only_check_still_refuses_long_lists(bad, where):
    s = make_summary(0)
    s["segments"][0]["features"]["series"] = bad
    body = encode(s)
    parsed, in_range = loads(body)
    assert in_range
    with pytest.raises(SummaryError, match=where):
        validate_summary(parsed, encoded=body, numbers_checked=True)
