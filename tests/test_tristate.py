"""The one yes / no / unknown parser (layers.tristate) and the places that use it."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.errors import LayerSchemaError
from layers.tristate import (
    FALSE_TOKENS,
    TRUE_TOKENS,
    UNKNOWN_TOKENS,
    invalid_tristate,
    parse_tristate,
    to_tristate,
)

TRUE_TEXT = ["true", "t", "1", "1.0", "yes", "y", "是", "有", "达标", "合格", "通", "已通"]
FALSE_TEXT = ["false", "f", "0", "0.0", "no", "n", "否", "无", "不达标", "未达标", "不合格", "未通"]
BLANKS = [None, np.nan, float("nan"), pd.NA, np.float64("nan"), "", " ", "\t", "\u3000", " \n "]


def test_vocabulary_constants_are_the_documented_ones():
    assert set(TRUE_TEXT) == TRUE_TOKENS
    assert set(FALSE_TEXT) == FALSE_TOKENS
    assert not TRUE_TOKENS & FALSE_TOKENS
    assert not (TRUE_TOKENS | FALSE_TOKENS) & UNKNOWN_TOKENS


@pytest.mark.parametrize("token", TRUE_TEXT)
def test_every_true_token(token):
    assert parse_tristate(token) is True
    assert parse_tristate(token.upper()) is True
    assert parse_tristate(f"  {token.title()}\t") is True


@pytest.mark.parametrize("token", FALSE_TEXT)
def test_every_false_token(token):
    assert parse_tristate(token) is False
    assert parse_tristate(token.upper()) is False
    assert parse_tristate(f"  {token.title()}\t") is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (np.bool_(True), True),
        (np.bool_(False), False),
        (1, True),
        (0, False),
        (1.0, True),
        (0.0, False),
        (np.int64(1), True),
        (np.int8(0), False),
        (np.float32(1.0), True),
        (np.float64(0.0), False),
    ],
)
def test_bools_and_numbers(value, expected):
    assert parse_tristate(value) is expected


@pytest.mark.parametrize("value", BLANKS + sorted(UNKNOWN_TOKENS) + ["UNKNOWN", " 未知 ", "N/A"])
def test_unknowns(value):
    assert parse_tristate(value) is None


@pytest.mark.parametrize("value", ["maybe", "2", "truth", "是的", "ok", 2, -1, 0.5, b"1", [1]])
def test_unrecognised_token_raises_naming_value_and_vocabulary(value):
    with pytest.raises(LayerSchemaError, match=r"villages\.has_safe_water: expected a yes/no"):
        parse_tristate(value, where="villages.has_safe_water")
    with pytest.raises(ValueError, match=r"true/false.*是/否.*found " + re.escape(repr(value))):
        parse_tristate(value)


def test_series_mixed_case_whitespace_and_types():
    s = pd.Series(
        [" YES", "No ", "是", "否", "有", "无", "达标", "不达标", 1, 0.0, True, None, "", "  "]
    )
    out = to_tristate(s)
    assert str(out.dtype) == "boolean"
    assert out.tolist()[:11] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
    ]
    assert out.iloc[11:].isna().all()
    assert not invalid_tristate(s).any()


def test_series_numeric_dtypes():
    assert to_tristate(pd.Series([1, 0, 1])).tolist() == [True, False, True]
    f = to_tristate(pd.Series([1.0, np.nan, 0.0]))
    assert f.isna().tolist() == [False, True, False] and f.fillna(False).tolist()[::2] == [
        True,
        False,
    ]
    i = to_tristate(pd.Series([1, pd.NA, 0], dtype="Int64"))
    assert i.isna().tolist() == [False, True, False] and str(i.dtype) == "boolean"
    with pytest.raises(LayerSchemaError, match="found 2"):
        to_tristate(pd.Series([1, 2, 0]))
    s = to_tristate(pd.Series(["y", None, "n"], dtype="string"))
    assert s.isna().tolist() == [False, True, False]
    assert s.fillna(True).tolist()[::2] == [True, False]


def test_series_error_lists_distinct_bad_values_and_where():
    s = pd.Series(["yes", "maybe", "maybe", "sometimes", None, 7])
    bad = invalid_tristate(s)
    assert bad.tolist() == [False, True, True, True, False, True]
    assert bad.index.equals(s.index) and bad.dtype == bool
    with pytest.raises(LayerSchemaError) as e:
        to_tristate(s, where="villages.has_safe_water")
    msg = str(e.value)
    assert msg.startswith("villages.has_safe_water: 4 value(s) are not yes/no")
    assert "found 'maybe', 'sometimes', 7" in msg and "是/否" in msg


def test_boolean_column_is_a_no_op_and_bool_column_is_cast():
    s = pd.Series([True, None, False], dtype="boolean", index=[5, 6, 7], name="x")
    assert to_tristate(s) is s
    assert not invalid_tristate(s).any()
    b = pd.Series([True, False], index=[3, 4], name="y")
    out = to_tristate(b)
    assert str(out.dtype) == "boolean" and out.tolist() == [True, False]
    assert out.index.tolist() == [3, 4] and out.name == "y"


_values = st.one_of(
    st.sampled_from(TRUE_TEXT + FALSE_TEXT + BLANKS + [True, False, 1, 0, 1.0, 0.0]),
    st.text(alphabet=" \t\u3000", max_size=4),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_values, max_size=30))
def test_blank_never_becomes_true_or_false(values):
    s = pd.Series(values, dtype=object)
    out = to_tristate(s)
    for v, b in zip(values, out, strict=True):
        blank = v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))
        blank = blank or (isinstance(v, str) and not v.strip())
        if blank:
            assert b is pd.NA
        else:
            assert b is not pd.NA and bool(b) is parse_tristate(v)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([True, False, None]), max_size=30))
def test_boolean_series_round_trips_unchanged(values):
    s = pd.Series(values, dtype="boolean")
    out = to_tristate(s)
    pd.testing.assert_series_equal(out, s)
    # and through object text, e.g. a column read back from a CSV
    text = s.astype(object).map(lambda v: "" if v is pd.NA else str(v))
    pd.testing.assert_series_equal(to_tristate(text), s)


# --------------------------------------------------------------------------- callers


def test_validator_collects_every_bad_value_instead_of_raising():
    from layers.validate import parse_bool

    parsed, bad = parse_bool(pd.Series(["是", "有", "maybe", None, "未知", 2, "不达标"]))
    assert bad.tolist() == [False, False, True, False, False, True, False]
    assert parsed.tolist()[:2] == [True, True] and parsed.iloc[6] == False  # noqa: E712
    assert parsed.iloc[2:6].isna().all()


def test_dashboard_reads_chinese_yes_no_and_leaves_garbage_unknown():
    from dashboard.viewmodels import bool_series, to_bool

    assert to_bool("是") is True and to_bool("否") is False and to_bool(" 有 ") is True
    assert to_bool("hardened") is None and to_bool(None) is None and to_bool(2) is None
    s = bool_series(pd.Series(["是", "no", "??", None]))
    assert s.iloc[:2].tolist() == [True, False] and s.iloc[2:].isna().all()


def test_road_speed_reads_text_hardened_flags():
    from geo.access import _surface_state

    assert _surface_state("false") == "unhardened"  # bool("false") would say hardened
    assert _surface_state("是") == "hardened"
    assert _surface_state(None) == "unknown" and _surface_state(np.nan) == "unknown"
    with pytest.raises(LayerSchemaError, match="roads.hardened"):
        _surface_state("gravel")


def test_coverage_and_households_accept_text_flags():
    from geo.coverage import water_township_summary
    from geo.households import _bool_status

    v = pd.DataFrame({"has_safe_water": ["是", "否", None], "township": ["a", "a", "a"]})
    t = water_township_summary(v)
    row = t[t["township"] == "a"].iloc[0]
    assert (row["n_safe_water"], row["n_without_safe_water"], row["n_water_unknown"]) == (1, 1, 1)
    st_ = _bool_status(pd.Series(["yes", "no", ""], name="food_ok"))
    assert st_.tolist() == ["met", "not_met", "unknown"]
    with pytest.raises(LayerSchemaError, match="households.food_ok"):
        _bool_status(pd.Series(["perhaps"], name="food_ok"))
