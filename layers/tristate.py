"""One tri-state type for yes / no / unknown values: ``True``, ``False`` or unknown.

Every place that reads a yes/no value (the validator, the indicator rules, the bureau
tables, the road network, the dashboard) goes through this module, so a value means
the same thing everywhere. Missing is never met: a blank is unknown, never True or
False, and a value outside the vocabulary is an error, never a guess.

Vocabulary (case-insensitive, surrounding whitespace ignored):

- true: ``true``, ``t``, ``1``, ``1.0``, ``yes``, ``y``, ``是``, ``有``, ``达标``,
  ``合格``, ``通``, ``已通``; Python and numpy ``True``; the numbers ``1`` / ``1.0``;
- false: ``false``, ``f``, ``0``, ``0.0``, ``no``, ``n``, ``否``, ``无``, ``不达标``,
  ``未达标``, ``不合格``, ``未通``; Python and numpy ``False``; the numbers ``0`` / ``0.0``;
- unknown: ``None``, ``NaN``, ``pd.NA``, ``""`` or whitespace only, and the
  placeholders in :data:`UNKNOWN_TOKENS` (``unknown``, ``未知``, ``不详``, ``-``, ``n/a``…).

Series come back as pandas' nullable ``"boolean"`` dtype (``<NA>`` = unknown).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from layers.errors import LayerSchemaError

__all__ = [
    "ACCEPTED",
    "FALSE_TOKENS",
    "TRUE_TOKENS",
    "UNKNOWN_TOKENS",
    "invalid_tristate",
    "parse_tristate",
    "to_tristate",
]

#: Text read as True (compared after ``strip().lower()``).
TRUE_TOKENS: frozenset[str] = frozenset(
    {"true", "t", "1", "1.0", "yes", "y", "是", "有", "达标", "合格", "通", "已通"}
)
#: Text read as False (compared after ``strip().lower()``).
FALSE_TOKENS: frozenset[str] = frozenset(
    {"false", "f", "0", "0.0", "no", "n", "否", "无", "不达标", "未达标", "不合格", "未通"}
)
#: Text read as unknown besides the empty string (placeholders seen in county tables).
UNKNOWN_TOKENS: frozenset[str] = frozenset(
    {"", "nan", "none", "null", "na", "n/a", "<na>", "unknown", "未知", "不详", "-"}
)
assert not (TRUE_TOKENS & FALSE_TOKENS)
assert not ((TRUE_TOKENS | FALSE_TOKENS) & UNKNOWN_TOKENS)

#: The vocabulary as people read it, for error messages.
ACCEPTED = (
    "true/false, t/f, 1/0, yes/no, y/n, 是/否, 有/无, 达标/不达标 (未达标), 合格/不合格, "
    "通 (已通)/未通; empty, unknown or 未知 for unknown"
)

_MAX_LISTED = 10


class _Bad:
    """Marker for a value outside the vocabulary."""

    __slots__ = ()


_BAD = _Bad()
_MISS = object()


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return False


def _parse_one(value: Any) -> bool | None | _Bad:
    """True / False / None (unknown) / ``_BAD``; never raises."""
    if _is_missing(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        if value == 1:
            return True
        if value == 0:
            return False
        return _BAD
    if isinstance(value, str):
        token = value.strip().lower()
        if token in TRUE_TOKENS:
            return True
        if token in FALSE_TOKENS:
            return False
        if token in UNKNOWN_TOKENS:
            return None
    return _BAD


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def parse_tristate(value: Any, *, where: str = "") -> bool | None:
    """Read one yes/no value: ``True``, ``False`` or ``None`` for unknown.

    Parameters
    ----------
    value : object
        A bool, numpy bool, 0/1 number, text from the vocabulary (see the module
        docstring), or a missing value (None, NaN, pd.NA, blank text).
    where : str, optional
        Where the value comes from (e.g. ``"villages.has_safe_water"``), for the message.

    Raises
    ------
    LayerSchemaError
        If the value is not in the vocabulary; the message names the value and
        the accepted vocabulary.
    """
    out = _parse_one(value)
    if isinstance(out, _Bad):  # _BAD is the only instance
        raise LayerSchemaError(
            f"{_prefix(where)}expected a yes/no value ({ACCEPTED}), found {value!r}"
        )
    return out


def _parse_series(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The nullable-boolean reading of ``series`` and a numpy mask of unrecognised values."""
    n = len(series)
    dtype = series.dtype
    if isinstance(dtype, pd.BooleanDtype):
        return series, np.zeros(n, dtype=bool)
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return series.astype("boolean"), np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        a = series.to_numpy(dtype=float, na_value=np.nan)
        unknown = np.isnan(a)
        true = a == 1
        bad = ~unknown & ~true & (a != 0)
        arr = pd.arrays.BooleanArray(true, unknown | bad)
        return pd.Series(arr, index=series.index, name=series.name), bad
    vals = series.to_numpy(dtype=object)
    true = np.zeros(n, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    cache: dict[str, bool | None | _Bad] = {}
    for i, v in enumerate(vals):
        if isinstance(v, str):  # text repeats: parse each distinct token once
            r = cache.get(v, _MISS)
            if r is _MISS:
                r = cache[v] = _parse_one(v)
        else:
            r = _parse_one(v)
        if r is True:
            true[i] = True
        elif r is False:
            continue
        else:
            mask[i] = True
            if r is _BAD:
                bad[i] = True
    arr = pd.arrays.BooleanArray(true, mask)
    return pd.Series(arr, index=series.index, name=series.name), bad


def invalid_tristate(series: pd.Series) -> pd.Series:
    """Mask (plain bool Series, same index) of values outside the yes/no vocabulary.

    Blanks are *not* invalid: they are unknown. For validators that collect every
    problem instead of raising.
    """
    _, bad = _parse_series(series)
    return pd.Series(bad, index=series.index, dtype=bool)


def to_tristate(series: pd.Series, *, where: str = "") -> pd.Series:
    """Read a column of yes/no values as pandas nullable ``"boolean"`` (``<NA>`` = unknown).

    A column already of ``"boolean"`` dtype is returned as is (no copy); a numpy
    ``bool`` column is cast. Blanks become ``<NA>``, never True or False.

    Parameters
    ----------
    series : pandas.Series
        Values from the vocabulary in the module docstring.
    where : str, optional
        Layer and column (e.g. ``"villages.has_safe_water"``), for the message.

    Raises
    ------
    LayerSchemaError
        If any value is outside the vocabulary; the message lists the distinct
        values found, how many rows hold them, and the accepted vocabulary.
    """
    out, bad = _parse_series(series)
    if bad.any():
        found: list[str] = []
        for v in series.to_numpy(dtype=object)[bad]:
            r = repr(v)
            if r not in found:
                found.append(r)
        more = f" … and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
        raise LayerSchemaError(
            f"{_prefix(where)}{int(bad.sum())} value(s) are not yes/no (expected {ACCEPTED}); "
            f"found {', '.join(found[:_MAX_LISTED])}{more}"
        )
    return out
