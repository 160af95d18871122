"""Household exit (两不愁三保障) and masking of personal fields.

Household exit (中办发〔2016〕16号): per-capita net income stably above the line,
enough food and clothing (两不愁), compulsory education, basic medical care and
safe housing assured (三保障); safe drinking water is judged with them.

Personal fields (``head_name``, ``id_number``, ``phone``) are masked in every
output of this module unless the caller passes ``allow_personal=True``.
Masking rules (:func:`mask_personal`):

- names: the first character (usually the surname) and one ``*``:
  ``"张三丰" → "张*"`` (a fixed single star so the length is not revealed);
- ID numbers: the 6-digit region code, 8 stars over the birth date, the last 4
  (``"110101199003071234" → "110101********1234"``), the common 前6后4 form that
  lets a clerk confirm a person without exposing the birth date; shorter or
  malformed values become all stars;
- phone numbers: 3 + ``****`` + last 4 (``"13812345678" → "138****5678"``);
  shorter values become all stars.
Missing values stay missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from layers.catalogue import HOUSEHOLD_FLAGS, PERSONAL_COLUMNS
from layers.errors import LayerSchemaError
from layers.tristate import to_tristate

__all__ = [
    "PERSONAL_COLUMNS",
    "DEFAULT_FLAGS",
    "CRITERIA",
    "evaluate_households",
    "households_by_village",
    "mask_personal",
    "mask_name",
    "mask_id_number",
    "mask_phone",
]

#: Columns holding personal data; household flags of 两不愁三保障 plus safe water.
DEFAULT_FLAGS: tuple[str, ...] = HOUSEHOLD_FLAGS
#: Criterion id for each flag (status columns are ``<criterion>_status``).
CRITERIA: dict[str, str] = {
    "food_ok": "food",
    "clothing_ok": "clothing",
    "education_ok": "education",
    "medical_ok": "medical",
    "housing_ok": "housing",
    "safe_water_ok": "safe_water",
}

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"


def _bool_status(values: pd.Series) -> pd.Series:
    """Map a nullable-boolean-like series to met / not_met / unknown."""
    s = to_tristate(values, where=f"households.{values.name}" if values.name else "households")
    out = pd.Series(UNKNOWN, index=values.index, dtype=object)
    out[s.fillna(False).to_numpy(dtype=bool)] = MET
    out[(~s).fillna(False).to_numpy(dtype=bool)] = NOT_MET
    return out


def evaluate_households(
    households: pd.DataFrame,
    *,
    income_line_cny: float,
    flags: Sequence[str] = DEFAULT_FLAGS,
    allow_personal: bool = False,
) -> pd.DataFrame:
    """Evaluate household exit: income line and 两不愁三保障 (+ safe water).

    Parameters
    ----------
    households : DataFrame
        The households table (contract columns ``household_id``, ``village_id``,
        ``income_per_capita_cny`` and the flags; nullable booleans, <NA> unknown).
    income_line_cny : float
        Per-capita income line. Met when income is strictly above the line
        ("稳定超过国家扶贫标准"): an income exactly at the line is not met.
    flags : sequence of str
        Flags that must be True (default :data:`DEFAULT_FLAGS`).
    allow_personal : bool
        Keep personal fields unmasked. Default False masks them.

    Returns
    -------
    DataFrame
        A copy with ``income_status`` and ``<criterion>_status`` for each flag
        (met / not_met / unknown), ``exit_ready`` (bool: every criterion met;
        unknown blocks), ``unmet`` and ``unknown`` (comma-separated criteria),
        personal fields masked unless ``allow_personal``.

    Raises
    ------
    LayerSchemaError
        If a required column is missing or ``income_line_cny`` is negative.
    """
    if not (np.isfinite(income_line_cny) and income_line_cny >= 0):
        raise LayerSchemaError(
            f"income_line_cny must be a finite number >= 0, found {income_line_cny!r}"
        )
    needed = ["income_per_capita_cny", *flags]
    missing = [c for c in needed if c not in households.columns]
    if missing:
        raise LayerSchemaError(
            f"households table: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(needed)}"
        )
    unknown_flags = [f for f in flags if f not in CRITERIA]
    if unknown_flags:
        raise LayerSchemaError(
            f"unknown household flag(s) {', '.join(unknown_flags)}; "
            f"expected some of {', '.join(CRITERIA)}"
        )
    out = households.copy()
    income = pd.to_numeric(out["income_per_capita_cny"], errors="coerce").astype(float)
    status = pd.Series(UNKNOWN, index=out.index, dtype=object)
    status[(income > income_line_cny).to_numpy()] = MET
    status[(income <= income_line_cny).to_numpy()] = NOT_MET
    statuses = {"income": status}
    for flag in flags:
        statuses[CRITERIA[flag]] = _bool_status(out[flag])
    for crit, st in statuses.items():
        out[f"{crit}_status"] = st
    frame = pd.DataFrame(statuses)
    out["exit_ready"] = (frame == MET).all(axis=1).astype(bool)
    out["unmet"] = _join_where(frame, NOT_MET)
    out["unknown"] = _join_where(frame, UNKNOWN)
    return out if allow_personal else mask_personal(out)


def _join_where(frame: pd.DataFrame, value: str) -> pd.Series:
    """Comma-separated column names where ``frame == value``, row by row (vectorised)."""
    mask = (frame == value).to_numpy()
    acc = np.full(len(frame), "", dtype=object)
    for j, col in enumerate(frame.columns):
        acc = acc + np.where(mask[:, j], f"{col},", "").astype(object)
    return pd.Series(acc, index=frame.index, dtype=object).str.rstrip(",")


def households_by_village(households_eval: pd.DataFrame) -> pd.DataFrame:
    """Per-village counts from :func:`evaluate_households` (no personal fields).

    Parameters
    ----------
    households_eval : DataFrame
        Output of :func:`evaluate_households` with ``village_id``, ``members`` and
        ``registered_poor``.

    Returns
    -------
    DataFrame
        One row per ``village_id``: ``n_households``, ``n_registered_poor``,
        ``poor_people`` (members of registered poor households),
        ``n_exit_ready``, ``n_poor_not_ready`` (registered poor households not
        meeting every criterion: the ones exit would be "on paper" for),
        ``n_with_unknown`` (households with at least one unknown criterion).

    Raises
    ------
    LayerSchemaError
        If a needed column is missing.
    """
    need = ["village_id", "members", "registered_poor", "exit_ready", "unknown"]
    missing = [c for c in need if c not in households_eval.columns]
    if missing:
        raise LayerSchemaError(
            f"households: missing column(s) {', '.join(missing)}; pass the output of "
            "evaluate_households"
        )
    poor = (
        to_tristate(households_eval["registered_poor"], where="households.registered_poor")
        .fillna(False)
        .astype(bool)
    )
    ready = households_eval["exit_ready"].astype(bool)
    members = pd.to_numeric(households_eval["members"], errors="coerce").fillna(0)
    df = pd.DataFrame(
        {
            "village_id": households_eval["village_id"].astype(str),
            "n_households": 1,
            "n_registered_poor": poor.astype(int),
            "poor_people": members.where(poor, 0),
            "n_exit_ready": ready.astype(int),
            "n_poor_not_ready": (poor & ~ready).astype(int),
            "n_with_unknown": (households_eval["unknown"].astype(str) != "").astype(int),
        }
    )
    return df.groupby("village_id", sort=True).sum().reset_index()


# --------------------------------------------------------------------------- masking


def _as_text(value: object) -> str | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        # CSV readers turn long digit strings into floats; keep the digits
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def mask_name(value: object) -> object:
    """``"张三丰" → "张*"``; missing stays missing."""
    text = _as_text(value)
    if text is None:
        return value
    return text[:1] + "*" if text else text


def mask_id_number(value: object) -> object:
    """``"110101199003071234" → "110101********1234"``; missing stays missing."""
    text = _as_text(value)
    if text is None:
        return value
    if len(text) in (15, 18):
        return text[:6] + "*" * 8 + text[-4:] if len(text) == 18 else text[:6] + "*" * 9
    return "*" * len(text)


def mask_phone(value: object) -> object:
    """``"13812345678" → "138****5678"``; missing stays missing."""
    text = _as_text(value)
    if text is None:
        return value
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    return "*" * len(digits)


def _mask_all(value: object) -> object:
    """Every character starred (a personal column no specific masker knows)."""
    text = _as_text(value)
    return value if text is None else "*" * len(text)


_MASKERS = {"head_name": mask_name, "id_number": mask_id_number, "phone": mask_phone}


def mask_personal(
    df: pd.DataFrame,
    *,
    allow_personal: bool = False,
    columns: Iterable[str] = PERSONAL_COLUMNS,
) -> pd.DataFrame:
    """Mask personal fields (names, ID numbers, phones) in a copy of ``df``.

    Parameters
    ----------
    df : DataFrame
        Any table; personal columns that are absent are ignored.
    allow_personal : bool
        The explicit opt-out: True returns an unmasked copy.
    columns : iterable of str
        Personal columns to mask. Names containing ``name`` are masked as names,
        ``id`` as ID numbers, ``phone`` as phones; anything else becomes stars.

    Returns
    -------
    DataFrame
        A copy; masked columns are object dtype.
    """
    out = df.copy()
    if allow_personal:
        return out
    for col in columns:
        if col not in out.columns:
            continue
        masker = _MASKERS.get(col)
        if masker is None:
            if "phone" in col:
                masker = mask_phone
            elif "id" in col:
                masker = mask_id_number
            elif "name" in col:
                masker = mask_name
            else:
                masker = _mask_all
        out[col] = out[col].astype(object).map(masker)
    return out
