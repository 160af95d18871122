"""Village exit indicators evaluated against a policy profile, with evidence.

For every village and every indicator of a :class:`~layers.policy.PolicyProfile`
:func:`evaluate` writes

- ``<id>_status``: ``"met"`` | ``"not_met"`` | ``"unknown"``; missing data is
  unknown, never met;
- ``<id>_value`` and ``<id>_threshold``: the measured value and the threshold it
  was held against (province group applied);
- ``<id>``: nullable boolean (True met, False not met, <NA> unknown);

then ``exit_ready``, ``unmet``, ``unknown``, ``n_unmet``, ``n_unknown``,
``blocker_class`` and, for scored profiles, ``score``.

Borderline values, per rule: ``rate_below`` is strict (incidence exactly 2% is
NOT met when the threshold is 2%); ``at_least`` / ``at_most`` /
``households_share_at_least`` / ``clinic_or_health_centre_within`` are inclusive
(exactly 90% meets "at least 90%", exactly 60 min meets "within 60 min").

Incidence (``poverty_incidence_frac``)
    = registered poor people / village population. The numerator is taken from
    the households table (sum of ``members`` of households with
    ``registered_poor``) where the table covers the village (at least one row with
    its ``village_id`` and no unknown ``registered_poor``/``members``), else from the
    village attribute ``poor_population``. The denominator is always the village
    attribute ``population`` (the registered rural population): the households
    table is usually the 建档立卡 register of poor households only, so its member
    count is not the village's population. When both sources exist and differ by
    more than ``incidence_tolerance_frac`` (absolute), ``incidence_conflict`` is
    True; the households figure is used ("挤干水分": the register beats the
    summary attribute).

Road
    from the network stage's ``road_access`` (hardened | gap | unknown | no_road)
    and ``unhardened_km``, not from an attribute alone; the claimed attribute
    ``road_hardened_claimed`` is cross-checked into ``road_claim_conflict``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from layers.errors import LayerSchemaError, PolicyError
from layers.policy import PROVINCE_GROUPS, Indicator, PolicyProfile
from layers.tristate import to_tristate

__all__ = [
    "MET",
    "NOT_MET",
    "UNKNOWN",
    "BLOCKER_CLASSES",
    "evaluate",
    "evidence_records",
    "poverty_incidence",
]

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
BLOCKER_CLASSES: tuple[str, ...] = ("ready", "blocked_one", "blocked_several", "unknown")
ROAD_STATES = ("hardened", "gap", "unknown", "no_road")


# --------------------------------------------------------------------------- helpers


def _numeric(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype(float)


def _status_from(met: np.ndarray, not_met: np.ndarray, index: pd.Index) -> pd.Series:
    st = np.full(len(index), UNKNOWN, dtype=object)
    st[not_met] = NOT_MET
    st[met] = MET
    return pd.Series(st, index=index, dtype=object)


def _boolean_from_status(status: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=status.index, dtype="boolean")
    out[status == MET] = True
    out[status == NOT_MET] = False
    return out


# --------------------------------------------------------------------------- incidence


def poverty_incidence(
    villages: pd.DataFrame,
    households: pd.DataFrame | None = None,
    *,
    tolerance_frac: float = 0.005,
) -> pd.DataFrame:
    """Poverty incidence per village, from the households table and the attribute.

    Parameters
    ----------
    villages : DataFrame
        With ``village_id``, ``population`` and (optionally) ``poor_population``.
    households : DataFrame, optional
        With ``village_id``, ``members``, ``registered_poor``.
    tolerance_frac : float
        Absolute difference between the two incidences above which they conflict.

    Returns
    -------
    DataFrame
        Indexed like ``villages``: ``incidence_households_frac``,
        ``incidence_attribute_frac``, ``poverty_incidence_frac`` (the one used),
        ``incidence_source`` ("households" | "village_attribute" | None when
        neither is available) and ``incidence_conflict`` (nullable boolean; <NA>
        unless both sources exist).

    Raises
    ------
    LayerSchemaError
        If the households table lacks a needed column.
    """
    idx = villages.index
    pop = (
        _numeric(villages["population"])
        if "population" in villages
        else pd.Series(np.nan, index=idx)
    )
    pop = pop.where(pop > 0)
    if "poor_population" in villages:
        attr = _numeric(villages["poor_population"]) / pop
    else:
        attr = pd.Series(np.nan, index=idx)
    hh_inc = pd.Series(np.nan, index=idx)
    if households is not None and len(households):
        need = [c for c in ("village_id", "members", "registered_poor") if c not in households]
        if need:
            raise LayerSchemaError(
                f"households table: missing column(s) {', '.join(need)} needed for "
                "poverty incidence"
            )
        hh = pd.DataFrame(
            {
                "village_id": households["village_id"].astype(str),
                "members": _numeric(households["members"]),
                "poor": to_tristate(
                    households["registered_poor"], where="households column 'registered_poor'"
                ),
            }
        )
        hh["bad"] = hh["members"].isna() | hh["poor"].isna()
        hh["poor_members"] = hh["members"].where(hh["poor"].fillna(False).astype(bool), 0.0)
        agg = hh.groupby("village_id").agg(poor_members=("poor_members", "sum"), bad=("bad", "any"))
        agg = agg[~agg["bad"]]
        vid = villages["village_id"].astype(str)
        poor_people = vid.map(agg["poor_members"]).astype(float)
        hh_inc = pd.Series(poor_people.to_numpy() / pop.to_numpy(), index=idx)
    use_hh = hh_inc.notna()
    used = hh_inc.where(use_hh, attr)
    source = pd.Series(None, index=idx, dtype=object)
    source[attr.notna()] = "village_attribute"
    source[use_hh] = "households"
    conflict = pd.Series(pd.NA, index=idx, dtype="boolean")
    both = use_hh & attr.notna()
    conflict[both] = ((hh_inc - attr).abs() > tolerance_frac)[both]
    return pd.DataFrame(
        {
            "incidence_households_frac": hh_inc,
            "incidence_attribute_frac": attr,
            "poverty_incidence_frac": used,
            "incidence_source": source,
            "incidence_conflict": conflict,
        },
        index=idx,
    )


# --------------------------------------------------------------------------- rules


def _needed(ind: Indicator, thr: float | None) -> float:
    """The threshold of a rule that reads one (the policy loader refuses such a rule without)."""
    if thr is None:
        raise PolicyError(f"indicator {ind.id!r}: rule {ind.rule} needs a threshold, found none")
    return float(thr)


def _rule_compare(ind: Indicator, values: pd.Series, thr: float) -> tuple[pd.Series, pd.Series]:
    v = _numeric(values)
    known = v.notna().to_numpy()
    a = v.to_numpy()
    with np.errstate(invalid="ignore"):
        if ind.rule == "rate_below":
            ok = a < thr
        elif ind.rule == "at_least":
            ok = a >= thr
        else:  # at_most
            ok = a <= thr
    return _status_from(known & ok, known & ~ok, v.index), v


def _rule_is_true(values: pd.Series, name: str) -> tuple[pd.Series, pd.Series]:
    b = to_tristate(values, where=f"villages column {name!r}")
    met = b.fillna(False).to_numpy(dtype=bool)
    not_met = (~b).fillna(False).to_numpy(dtype=bool)
    return _status_from(met, not_met, b.index), b


def _rule_road(v: pd.DataFrame, ind: Indicator) -> tuple[pd.Series, pd.Series]:
    idx = v.index
    access = (
        v[ind.evidence].astype(object)
        if ind.evidence in v
        else pd.Series(None, index=idx, dtype=object)
    )
    km = _numeric(v["unhardened_km"]) if "unhardened_km" in v else pd.Series(np.nan, index=idx)
    bad = sorted({str(a) for a in access.dropna().unique()} - set(ROAD_STATES))
    if bad:
        raise LayerSchemaError(
            f"column {ind.evidence!r}: expected one of {', '.join(ROAD_STATES)}, "
            f"found {', '.join(bad)}"
        )
    met = (access == "hardened").to_numpy()
    not_met = access.isin(["gap", "no_road"]).to_numpy()
    # a hardened village has no unhardened km on its path, whatever the column says
    value = km.where(~met, 0.0)
    return _status_from(met, not_met, idx), value


def _rule_clinic(v: pd.DataFrame, ind: Indicator, thr: float) -> tuple[pd.Series, pd.Series]:
    idx = v.index
    na = pd.Series(pd.NA, index=idx, dtype="boolean")
    std = (
        to_tristate(v["clinic_standard"], where="villages column 'clinic_standard'")
        if "clinic_standard" in v
        else na
    )
    doc = (
        to_tristate(v["clinic_doctor"], where="villages column 'clinic_doctor'")
        if "clinic_doctor" in v
        else na
    )
    travel = _numeric(v[ind.evidence]) if ind.evidence in v else pd.Series(np.nan, index=idx)
    own = (std & doc).fillna(False).to_numpy(dtype=bool)
    own_no = (~(std & doc)).fillna(False).to_numpy(dtype=bool)
    t = travel.to_numpy()
    with np.errstate(invalid="ignore"):
        near = ~np.isnan(t) & (t <= thr)
        far = ~np.isnan(t) & (t > thr)
    # NaN travel time is "unreachable" in the access contract only when the access
    # stage ran; with no column at all it is unknown, handled by travel being NaN
    # and ``far`` False.
    return _status_from(own | near, own_no & far, idx), travel


def _rule_household_share(
    v: pd.DataFrame, ind: Indicator, thr: float, households: pd.DataFrame | None
) -> tuple[pd.Series, pd.Series]:
    idx = v.index
    flag = ind.household_flag or ""
    nan = pd.Series(np.nan, index=idx)
    if households is None or flag not in households or "village_id" not in households:
        return pd.Series(UNKNOWN, index=idx, dtype=object), nan
    b = to_tristate(households[flag], where=f"households column {flag!r}")
    g = (
        pd.DataFrame(
            {
                "village_id": households["village_id"].astype(str),
                "yes": b.fillna(False).astype(float),
                "no": (~b).fillna(False).astype(float),
                "n": 1.0,
            }
        )
        .groupby("village_id")[["yes", "no", "n"]]
        .sum()
    )
    vid = v["village_id"].astype(str)
    yes = vid.map(g["yes"]).astype(float).to_numpy()
    no = vid.map(g["no"]).astype(float).to_numpy()
    n = vid.map(g["n"]).astype(float).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share_known = yes / (yes + no)
        lo = yes / n  # every unknown household False
        hi = (n - no) / n  # every unknown household True
        met = ~np.isnan(lo) & (lo >= thr)
        not_met = ~np.isnan(hi) & (hi < thr)
    return _status_from(met, not_met, idx), pd.Series(share_known, index=idx)


# --------------------------------------------------------------------------- evaluate


def evaluate(
    villages: pd.DataFrame,
    profile: PolicyProfile,
    *,
    households: pd.DataFrame | None = None,
    province_group: str = "west",
    incidence_tolerance_frac: float = 0.005,
) -> pd.DataFrame:
    """Evaluate every exit indicator of ``profile`` for every village.

    Parameters
    ----------
    villages : DataFrame or GeoDataFrame
        Canonical village columns plus the computed ones (``road_access``,
        ``unhardened_km``, ``travel_min_health_centre``...). Missing columns make
        the indicators that read them unknown; their names are listed in
        ``result.attrs["missing_evidence"]``.
    profile : PolicyProfile
        From :func:`layers.policy.load_policy`.
    households : DataFrame, optional
        The households table (for incidence and ``households:<flag>`` evidence).
    province_group : {"east", "central", "west"}
        Picks ``threshold_<group>`` overrides (incidence 3% in the west).
    incidence_tolerance_frac : float
        Household-derived vs. attribute incidence difference reported as a conflict.

    Returns
    -------
    DataFrame or GeoDataFrame
        A copy of ``villages`` (same index, geometry kept) with the columns listed
        in the module docstring, ``road_claim_conflict`` and the incidence columns.

    Raises
    ------
    PolicyError
        For an unknown ``province_group``.
    LayerSchemaError
        If ``village_id`` is missing or an evidence column holds values of the wrong
        kind (e.g. ``road_access`` outside hardened/gap/unknown/no_road).
    """
    if "village_id" not in villages.columns:
        raise LayerSchemaError(
            "villages: missing column 'village_id' needed to evaluate exit indicators"
        )
    if province_group not in PROVINCE_GROUPS:
        raise PolicyError(
            f"unknown province group {province_group!r}; expected one of "
            f"{', '.join(PROVINCE_GROUPS)}"
        )
    out = villages.copy()
    idx = out.index
    inc = poverty_incidence(out, households, tolerance_frac=incidence_tolerance_frac)
    for col in inc.columns:
        out[col] = inc[col]

    missing: list[str] = []
    statuses: dict[str, pd.Series] = {}
    new_cols: dict[str, pd.Series] = {}
    for ind in profile.indicators:
        thr = ind.threshold_for(province_group)
        if ind.rule == "households_share_at_least":
            if households is None or (ind.household_flag or "") not in households:
                missing.append(ind.evidence)
            status, value = _rule_household_share(out, ind, _needed(ind, thr), households)
        elif ind.evidence not in out.columns:
            missing.append(ind.evidence)
            if ind.rule == "clinic_or_health_centre_within":
                status, value = _rule_clinic(out, ind, _needed(ind, thr))
            else:
                status = pd.Series(UNKNOWN, index=idx, dtype=object)
                value = pd.Series(np.nan, index=idx)
        elif ind.rule in ("rate_below", "at_least", "at_most"):
            status, value = _rule_compare(ind, out[ind.evidence], _needed(ind, thr))
        elif ind.rule == "is_true":
            status, value = _rule_is_true(out[ind.evidence], ind.evidence)
        elif ind.rule == "road_access_hardened":
            status, value = _rule_road(out, ind)
            thr = 0.0  # km of unhardened road allowed on the path
        elif ind.rule == "clinic_or_health_centre_within":
            status, value = _rule_clinic(out, ind, _needed(ind, thr))
        else:  # pragma: no cover - the loader refuses unknown rules
            raise PolicyError(f"indicator {ind.id!r}: unknown rule {ind.rule!r}")
        statuses[ind.id] = status
        new_cols[f"{ind.id}_status"] = status
        new_cols[f"{ind.id}_value"] = value
        new_cols[f"{ind.id}_threshold"] = pd.Series(
            np.nan if thr is None else float(thr), index=idx, dtype=float
        )
        new_cols[ind.id] = _boolean_from_status(status)
    for col, s in new_cols.items():
        out[col] = s

    frame = pd.DataFrame(statuses, index=idx)
    ids = list(profile.ids)
    is_met = (frame == MET).to_numpy()
    is_unmet = (frame == NOT_MET).to_numpy()
    is_unknown = (frame == UNKNOWN).to_numpy()
    out["unmet"] = [",".join(i for i, m in zip(ids, row, strict=True) if m) for row in is_unmet]
    out["unknown"] = [",".join(i for i, m in zip(ids, row, strict=True) if m) for row in is_unknown]
    out["n_unmet"] = is_unmet.sum(axis=1).astype(int)
    out["n_unknown"] = is_unknown.sum(axis=1).astype(int)

    if profile.scored:
        weights = np.array([float(i.weight or 0.0) for i in profile.indicators])
        required = np.array([i.required for i in profile.indicators], dtype=bool)
        score = (is_met * weights).sum(axis=1)
        reachable = score + (is_unknown * weights).sum(axis=1)
        req_all_met = (is_met | ~required).all(axis=1)
        req_no_unmet = (~is_unmet | ~required).all(axis=1)
        ready = (score >= float(profile.pass_score or 0.0) - 1e-9) & req_all_met
        could = (reachable >= float(profile.pass_score or 0.0) - 1e-9) & req_no_unmet
        out["score"] = score
    else:
        ready = is_met.all(axis=1)
        could = ~is_unmet.any(axis=1)
    n_unmet = out["n_unmet"].to_numpy()
    blocker = np.where(
        ready,
        "ready",
        np.where(could, "unknown", np.where(n_unmet <= 1, "blocked_one", "blocked_several")),
    )
    out["exit_ready"] = ready.astype(bool)
    out["blocker_class"] = blocker.astype(object)

    out["road_claim_conflict"] = _road_claim_conflict(out, profile)
    out.attrs["missing_evidence"] = sorted(set(missing))
    out.attrs["policy"] = profile.name
    out.attrs["province_group"] = province_group
    return out


def _road_claim_conflict(out: pd.DataFrame, profile: PolicyProfile) -> pd.Series:
    conflict = pd.Series(pd.NA, index=out.index, dtype="boolean")
    roads = profile.indicators_by_rule("road_access_hardened")
    if "road_hardened_claimed" not in out.columns or not roads:
        return conflict
    claim = to_tristate(
        out["road_hardened_claimed"], where="villages column 'road_hardened_claimed'"
    )
    measured = out[roads[0].id]
    both = (claim.notna() & measured.notna()).to_numpy()
    conflict[both] = (claim != measured)[both]
    return conflict


def evidence_records(
    evaluated_row: pd.Series | dict[str, Any], profile: PolicyProfile
) -> list[dict]:
    """The evidence behind each indicator for one evaluated village.

    Parameters
    ----------
    evaluated_row : Series or dict
        One row of :func:`evaluate`'s result.
    profile : PolicyProfile
        The profile it was evaluated against.

    Returns
    -------
    list of dict
        One dict per indicator, in profile order: ``id``, ``name_zh``, ``name_en``,
        ``status``, ``value``, ``threshold``, ``unit``, ``evidence``, ``clause``,
        ``rule``, ``weight``, ``verified``. Missing values are None; numpy scalars
        become Python scalars (JSON-ready).

    Raises
    ------
    LayerSchemaError
        If the row lacks the profile's status columns (evaluated with another profile).
    """
    row = dict(evaluated_row)
    records = []
    for ind in profile.indicators:
        key = f"{ind.id}_status"
        if key not in row:
            raise LayerSchemaError(
                f"row has no column {key!r}: was it evaluated with profile {profile.name!r}?"
            )
        records.append(
            {
                "id": ind.id,
                "name_zh": ind.name_zh,
                "name_en": ind.name_en,
                "status": row[key],
                "value": _py(row.get(f"{ind.id}_value")),
                "threshold": _py(row.get(f"{ind.id}_threshold")),
                "unit": ind.unit,
                "evidence": ind.evidence,
                "clause": ind.clause,
                "rule": ind.rule,
                "weight": ind.weight,
                "verified": ind.verified,
            }
        )
    return records


def _py(v: Any) -> Any:
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v
