"""Household exit (两不愁三保障), the register's counts, and masking of personal fields.

Household exit (中办发〔2016〕16号): per-capita net income stably above the line,
enough food and clothing (两不愁), compulsory education, basic medical care and
safe housing assured (三保障); safe drinking water is judged with them.

Register status (建档立卡): a registered poor household is ``not_exited`` (未脱贫),
``exited`` (已脱贫) or ``returned`` (返贫) to poverty; :func:`register_counts` counts
the register per village. Missing is never met: a household whose ``registered_poor``
is unknown is counted as unknown, never as not poor, and a registered poor household
without a status is counted as status unknown, never as exited.

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

from layers.catalogue import HOUSEHOLD_FLAGS, PERSONAL_COLUMNS, REGISTER_STATUSES, SPECS
from layers.errors import LayerSchemaError
from layers.tristate import to_tristate
from layers.validate import normalise_choice

__all__ = [
    "PERSONAL_COLUMNS",
    "DEFAULT_FLAGS",
    "CRITERIA",
    "evaluate_households",
    "households_by_village",
    "register_counts",
    "register_status",
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
        ``register_status`` (not_exited / exited / returned, Chinese values read as
        these; None when unknown or when the table has no such column), personal
        fields masked unless ``allow_personal``.

    Raises
    ------
    LayerSchemaError
        If a required column is missing, ``income_line_cny`` is negative or a
        register status is outside the vocabulary.
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
    out["register_status"] = register_status(households)
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
        ``n_registered_poor_unknown`` (households whose ``registered_poor`` is
        unknown: neither poor nor not poor), ``poor_people`` (members of
        registered poor households),
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
    tri = to_tristate(households_eval["registered_poor"], where="households.registered_poor")
    # missing is never met: an unknown registered_poor is counted apart, never as not poor
    poor = tri.fillna(False).astype(bool)
    poor_unknown = tri.isna().to_numpy(bool)
    ready = households_eval["exit_ready"].astype(bool)
    members = pd.to_numeric(households_eval["members"], errors="coerce").fillna(0)
    df = pd.DataFrame(
        {
            "village_id": households_eval["village_id"].astype(str),
            "n_households": 1,
            "n_registered_poor": poor.astype(int),
            "n_registered_poor_unknown": poor_unknown.astype(int),
            "poor_people": members.where(poor, 0),
            "n_exit_ready": ready.astype(int),
            "n_poor_not_ready": (poor & ~ready).astype(int),
            "n_with_unknown": (households_eval["unknown"].astype(str) != "").astype(int),
        }
    )
    return df.groupby("village_id", sort=True).sum().reset_index()


# --------------------------------------------------------------------------- the register

#: Statuses whose people are still poor: incidence counts them (返贫 are poor again).
_STILL_POOR = frozenset({"not_exited", "returned"})


def register_status(households: pd.DataFrame) -> pd.Series:
    """The ``register_status`` column read as codes (``"已脱贫"`` → ``"exited"``).

    Parameters
    ----------
    households : DataFrame
        A households table, validated or as read (Chinese values accepted).

    Returns
    -------
    Series
        Object dtype, same index: ``not_exited``, ``exited``, ``returned`` or None
        (unknown: blank, a placeholder such as 未知, or no such column).

    Raises
    ------
    LayerSchemaError
        If a value is outside the vocabulary; the message lists what was found.
    """
    if "register_status" not in households.columns:
        return pd.Series(None, index=households.index, dtype=object)
    spec = SPECS["households"].column("register_status")
    assert spec is not None  # declared in the catalogue
    codes = normalise_choice(households["register_status"], spec)
    bad = codes.notna() & ~codes.isin(REGISTER_STATUSES)
    if bad.any():
        found = sorted({str(v) for v in codes[bad]})
        accepted = ", ".join(f"{a} ({b})" for a, b in spec.aliases)
        raise LayerSchemaError(
            f"households column 'register_status': {int(bad.sum())} value(s) not among "
            f"{', '.join(REGISTER_STATUSES)} or {accepted}; found {', '.join(found[:10])}"
        )
    return codes


def register_counts(households: pd.DataFrame) -> pd.DataFrame:
    """What the register says, per village: poor households and people by status.

    Parameters
    ----------
    households : DataFrame
        With ``village_id``, ``members``, ``registered_poor`` (yes/no; blank =
        unknown) and optionally ``register_status`` (codes or Chinese values).

    Returns
    -------
    DataFrame
        One row per ``village_id`` (sorted), columns

        - ``n_households``: rows of the table;
        - ``poor_households_listed``: households with ``registered_poor`` true;
        - ``poor_people_listed``: their members;
        - ``poor_people_not_exited``: members of registered poor households whose
          status is ``not_exited`` or ``returned`` (the people poverty incidence counts);
        - ``poor_people_exited``: members of registered poor households ``exited``;
        - ``status_unknown_households`` / ``status_unknown_people``: registered poor
          households without a status, and their members; they are in neither of the
          two columns above, so ``poor_people_not_exited`` is a lower bound whenever
          ``status_unknown_households`` > 0;
        - ``unknown_households``: households whose ``registered_poor`` is unknown,
          counted in no poor column (missing is never met: never read as not poor).

        Counts are integers; a people column is <NA> (unknown) for a village where a
        household it counts has no ``members``.

    Raises
    ------
    LayerSchemaError
        If a needed column is missing or a value is outside its vocabulary.
    """
    need = ["village_id", "members", "registered_poor"]
    missing = [c for c in need if c not in households.columns]
    if missing:
        raise LayerSchemaError(
            f"households table: missing column(s) {', '.join(missing)}; expected "
            f"{', '.join(need)} (and optionally register_status)"
        )
    tri = to_tristate(households["registered_poor"], where="households.registered_poor")
    poor = tri.fillna(False).to_numpy(bool)
    poor_unknown = tri.isna().to_numpy(bool)
    status = register_status(households).to_numpy(dtype=object)
    still = poor & np.isin(status, list(_STILL_POOR))
    exited = poor & (status == "exited")
    no_status = poor & pd.isna(status)
    members = pd.to_numeric(households["members"], errors="coerce").astype(float).to_numpy()
    parts = {
        "poor_people_listed": poor,
        "poor_people_not_exited": still,
        "poor_people_exited": exited,
        "status_unknown_people": no_status,
    }
    data: dict[str, object] = {
        "village_id": households["village_id"].astype(str).to_numpy(),
        "n_households": 1,
        "poor_households_listed": poor.astype(int),
        "status_unknown_households": no_status.astype(int),
        "unknown_households": poor_unknown.astype(int),
    }
    for name, mask in parts.items():
        data[name] = np.where(mask, np.nan_to_num(members, nan=0.0), 0.0)
        # a counted household without members makes the village's figure unknown
        data[f"_{name}_gap"] = (mask & np.isnan(members)).astype(int)
    df = pd.DataFrame(data)
    out = df.groupby("village_id", sort=True).sum()
    for name in parts:
        gap = out.pop(f"_{name}_gap") > 0
        out[name] = out[name].round().astype("Int64").mask(gap)
    columns = [
        "n_households",
        "poor_households_listed",
        "poor_people_listed",
        "poor_people_not_exited",
        "poor_people_exited",
        "status_unknown_households",
        "status_unknown_people",
        "unknown_households",
    ]
    return out[columns].reset_index()


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
