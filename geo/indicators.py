"""Village exit indicators evaluated against a policy profile, with evidence.

For every village and every indicator of a :class:`~layers.policy.PolicyProfile`
:func:`evaluate` writes

- ``<id>_status``: ``"met"`` | ``"not_met"`` | ``"unknown"``; missing data is
  unknown, never met;
- ``<id>_quality``: the quality of the evidence behind the status (DESIGN.md, rule 1):
  ``"measured"`` (geometry, rasters, the road network), ``"attribute"`` (a value in the
  village or household table), ``"inferred"`` (a rule, e.g. a road surface taken from
  the road's class) or ``"missing"``;
- ``<id>_value`` and ``<id>_threshold``: the measured value and the threshold it
  was held against (province group applied);
- ``<id>_note_zh`` / ``<id>_note_en``: why a status is unknown or inferred, with the
  figures (both incidence figures of a conflict, the km of unknown surface...);
- ``<id>``: nullable boolean (True met, False not met, <NA> unknown);

then ``exit_applicable``, ``exit_ready``, ``unmet``, ``unknown``, ``unconfirmed``,
``n_unmet``, ``n_unknown``, ``n_unconfirmed``, ``blocker_class`` and, for scored
profiles, ``score``.

Who exits: the village exit rule applies to registered poverty villages (贫困村,
``poverty_village``); hamlets (``level == "hamlet"``) are parts of their administrative
village and are not assessed on their own. ``exit_applicable`` is False for both, and
their ``blocker_class`` is ``"not_registered"`` or ``"hamlet"``; a village whose flag is
blank is assessed (and listed in ``attrs["poverty_flag_missing"]``).

Inferred evidence: an indicator met only through inferred evidence is
``"unconfirmed"`` for readiness unless ``inferred_counts_as_met``; a village whose only
obstacles are unconfirmed indicators has ``blocker_class == "unconfirmed"``.

Borderline values, per rule: ``rate_below`` is strict (incidence exactly 2% is
NOT met when the threshold is 2%); ``at_least`` / ``at_most`` /
``households_share_at_least`` / ``clinic_or_health_centre_within`` are inclusive
(exactly 90% meets "at least 90%", exactly 60 min meets "within 60 min").

Incidence (``poverty_incidence_frac``)
    = registered poor people not yet exited (未脱贫, and 返贫 returned to poverty) /
    village population. See :func:`poverty_incidence`: the household register and the
    village figure must agree (within ``incidence_tolerance_frac``) and the register
    must list at least as many poor households as the village says it has; otherwise
    the status is unknown and both figures are shown. Without a ``register_status``
    column the register's poor count is an upper bound (some may have exited): the
    indicator is met when even that bound is below the threshold, else unknown.

Road
    from the network stage's ``road_access`` (hardened | gap | unknown | no_road),
    ``unhardened_km``, ``unknown_surface_km``, ``connection_km`` and ``road_evidence``;
    the claimed attribute ``road_hardened_claimed`` is only cross-checked
    (``road_claim_conflict``).

Clinic (rule ``clinic_in_village``, the national reading)
    met when the village has a standardised clinic with a qualified doctor
    (``clinic_standard`` and ``clinic_doctor``) or hosts the township health centre
    (``hosts_health_centre``, see :func:`health_centre_hosts`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from layers.errors import LayerSchemaError, PolicyError
from layers.policy import PROVINCE_GROUPS, Indicator, PolicyProfile
from layers.settings import EvidenceSettings
from layers.tristate import to_tristate

__all__ = [
    "MET",
    "NOT_MET",
    "UNKNOWN",
    "QUALITIES",
    "BLOCKER_CLASSES",
    "evaluate",
    "evidence_records",
    "health_centre_hosts",
    "poverty_incidence",
]

MET, NOT_MET, UNKNOWN = "met", "not_met", "unknown"
#: Evidence qualities, best first.
QUALITIES: tuple[str, ...] = ("measured", "attribute", "inferred", "missing")
BLOCKER_CLASSES: tuple[str, ...] = (
    "ready",
    "unconfirmed",
    "blocked_one",
    "blocked_several",
    "unknown",
    "not_registered",
    "hamlet",
)
ROAD_STATES = ("hardened", "gap", "unknown", "no_road")
#: Register statuses that count as poor for incidence (not yet exited, returned to poverty).
POOR_STATUSES = ("not_exited", "returned")


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


def _quality(status: pd.Series, known: str) -> pd.Series:
    """``known`` where the status is decided, ``"missing"`` where it is unknown."""
    return pd.Series(
        np.where(status == UNKNOWN, "missing", known), index=status.index, dtype=object
    )


def _tri(v: pd.DataFrame, col: str) -> pd.Series:
    if col not in v:
        return pd.Series(pd.NA, index=v.index, dtype="boolean")
    return to_tristate(v[col], where=f"villages column {col!r}")


def _pct(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"


def _km(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.2f} km"


@dataclass
class _Result:
    status: pd.Series
    value: pd.Series
    quality: pd.Series
    note_zh: pd.Series | None = None
    note_en: pd.Series | None = None


# --------------------------------------------------------------------------- incidence


def poverty_incidence(
    villages: pd.DataFrame,
    households: pd.DataFrame | None = None,
    *,
    tolerance_frac: float,
) -> pd.DataFrame:
    """Poverty incidence per village from the household register and the village figure.

    The numerator is the registered poor *not yet exited* (``register_status``
    ``not_exited`` or ``returned``); the denominator is always the village attribute
    ``population`` (the household table is the register of poor households, not a
    census). For a village the register lists:

    - the register is *incomplete* when it lists fewer registered-poor households than
      the village attribute ``poor_households``;
    - the two figures *conflict* when the register's incidence and the attribute
      ``poor_population / population`` differ by more than ``tolerance_frac``;
    - either way the figure is unknown (NaN) and both are kept for the reader;
    - households of unknown status (or, with no ``register_status`` column, every
      registered poor household) may have exited: the register then gives bounds
      ``[lo, hi]`` and the village figure must lie within them.

    Parameters
    ----------
    villages : DataFrame
        With ``village_id``, ``population`` and optionally ``poor_population``,
        ``poor_households``.
    households : DataFrame, optional
        With ``village_id``, ``members``, ``registered_poor`` and optionally
        ``register_status``.
    tolerance_frac : float
        Largest absolute difference of the two incidences that is not a conflict.

    Returns
    -------
    DataFrame
        Indexed like ``villages``: ``incidence_households_frac`` (register, when
        determinate), ``incidence_attribute_frac``, ``incidence_lo_frac`` /
        ``incidence_hi_frac`` (the bounds the rule holds against its threshold),
        ``poverty_incidence_frac`` (the figure used; NaN when unknown),
        ``incidence_source`` ("households" | "village_attribute" | "conflict" | None),
        ``incidence_conflict`` and ``incidence_register_complete`` (nullable booleans).

    Raises
    ------
    LayerSchemaError
        If the households table lacks a needed column.
    """
    idx = villages.index
    nan = pd.Series(np.nan, index=idx)
    pop = _numeric(villages["population"]) if "population" in villages else nan
    pop = pop.where(pop > 0)
    attr = _numeric(villages["poor_population"]) / pop if "poor_population" in villages else nan
    attr_hh = _numeric(villages["poor_households"]) if "poor_households" in villages else nan
    lo_people, hi_people, listed = nan.copy(), nan.copy(), nan.copy()
    has_rows = pd.Series(False, index=idx)
    if households is not None and len(households):
        need = [c for c in ("village_id", "members", "registered_poor") if c not in households]
        if need:
            raise LayerSchemaError(
                f"households table: missing column(s) {', '.join(need)} needed for "
                "poverty incidence"
            )
        poor = to_tristate(
            households["registered_poor"], where="households column 'registered_poor'"
        )
        members = _numeric(households["members"])
        if "register_status" in households:
            status = households["register_status"].astype(object)
            counted = status.isin(POOR_STATUSES)
            exited = status == "exited"
        else:  # who exited is not recorded: every registered poor household may have
            counted = pd.Series(False, index=households.index)
            exited = pd.Series(False, index=households.index)
        poor_true = poor.fillna(False).astype(bool)
        maybe_poor = ~(poor == False).fillna(False).astype(bool)  # noqa: E712 - True or unknown
        sure = poor_true & counted
        maybe = maybe_poor & ~(poor_true & (counted | exited))
        frame = pd.DataFrame(
            {
                "village_id": households["village_id"].astype(str),
                "lo": members.where(sure, 0.0),
                # unknown members of a household that may count leave the bound open
                "hi": members.where(sure | maybe, 0.0).where(
                    ~((sure | maybe) & members.isna()), np.inf
                ),
                "listed": poor_true.astype(float),
            }
        )
        frame["lo"] = frame["lo"].fillna(0.0)
        agg = frame.groupby("village_id")[["lo", "hi", "listed"]].sum()
        vid = villages["village_id"].astype(str)
        has_rows = vid.isin(agg.index)
        lo_people = vid.map(agg["lo"]).astype(float)
        hi_people = vid.map(agg["hi"]).astype(float)
        listed = vid.map(agg["listed"]).astype(float)
    lo_hh = lo_people / pop
    hi_hh = hi_people / pop
    determinate = has_rows & np.isclose(lo_hh, hi_hh, equal_nan=False)
    hh_value = lo_hh.where(determinate)
    complete = pd.Series(pd.NA, index=idx, dtype="boolean")
    check = has_rows & attr_hh.notna()
    complete[check] = (listed >= attr_hh)[check]
    conflict = pd.Series(pd.NA, index=idx, dtype="boolean")
    both = has_rows & attr.notna() & pop.notna()
    outside = (attr < lo_hh - tolerance_frac) | (attr > hi_hh + tolerance_frac)
    conflict[both] = (outside | (complete == False).fillna(False))[both]  # noqa: E712
    is_conflict = conflict.fillna(False).astype(bool)
    use_hh = has_rows & pop.notna() & ~is_conflict
    use_attr = ~has_rows & attr.notna()
    lo = lo_hh.where(use_hh, attr.where(use_attr))
    hi = hi_hh.where(use_hh, attr.where(use_attr))
    used = hh_value.where(use_hh, attr.where(use_attr))
    source = pd.Series(None, index=idx, dtype=object)
    source[use_attr] = "village_attribute"
    source[use_hh] = "households"
    source[is_conflict] = "conflict"
    return pd.DataFrame(
        {
            "incidence_households_frac": hh_value,
            "incidence_attribute_frac": attr,
            "incidence_lo_frac": lo,
            "incidence_hi_frac": hi,
            "incidence_register_lo_frac": lo_hh,
            "incidence_register_hi_frac": hi_hh,
            "poverty_incidence_frac": used,
            "incidence_source": source,
            "incidence_conflict": conflict,
            "incidence_register_complete": complete,
        },
        index=idx,
    )


def _incidence_notes(v: pd.DataFrame, status: pd.Series) -> tuple[pd.Series, pd.Series]:
    zh, en = [], []
    for i in v.index:
        src = v.at[i, "incidence_source"] if "incidence_source" in v else None
        a = v.at[i, "incidence_attribute_frac"] if "incidence_attribute_frac" in v else np.nan
        lo = v.at[i, "incidence_lo_frac"] if "incidence_lo_frac" in v else np.nan
        hi = v.at[i, "incidence_hi_frac"] if "incidence_hi_frac" in v else np.nan
        comp = (
            v.at[i, "incidence_register_complete"] if "incidence_register_complete" in v else pd.NA
        )
        incomplete = comp is not pd.NA and not bool(comp)
        if src == "conflict":
            rlo, rhi = v.at[i, "incidence_register_lo_frac"], v.at[i, "incidence_register_hi_frac"]
            reg = _pct(rlo) if np.isclose(rlo, rhi) else f"{_pct(rlo)}–{_pct(rhi)}"
            why_zh = "户登记不全" if incomplete else "户登记与村统计不一致"
            why_en = "register incomplete" if incomplete else "register and village figure disagree"
            zh.append(f"{why_zh}：户登记 {reg}，村统计 {_pct(a)}，需核实")
            en.append(f"{why_en}: register {reg}, village figure {_pct(a)}; to verify")
        elif status.at[i] == UNKNOWN and np.isfinite(lo) and np.isfinite(hi) and lo < hi:
            zh.append(f"脱贫状态不全：发生率在 {_pct(lo)}–{_pct(hi)} 之间")
            en.append(f"exit status incomplete: incidence between {_pct(lo)} and {_pct(hi)}")
        elif status.at[i] == UNKNOWN:
            zh.append("缺少人口或贫困人口数据")
            en.append("population or poor population missing")
        else:
            zh.append("")
            en.append("")
    return pd.Series(zh, index=v.index, dtype=object), pd.Series(en, index=v.index, dtype=object)


# --------------------------------------------------------------------------- clinics


def health_centre_hosts(
    villages: gpd.GeoDataFrame, clinics: gpd.GeoDataFrame | None, *, radius_m: float
) -> pd.Series:
    """Whether each village hosts a township health centre (乡镇卫生院 in the village).

    A health centre belongs to the village its ``village_id`` names; without one, to the
    village polygon containing it, or (point villages) to the nearest village point
    within ``radius_m``.

    Returns
    -------
    Series
        Nullable boolean indexed like ``villages``: True for hosts, False for the others,
        <NA> for every village when there is no clinics layer (unknown, never "no").
    """
    idx = villages.index
    if clinics is None:
        return pd.Series(pd.NA, index=idx, dtype="boolean")
    hc = clinics[clinics["level"] == "township_health_centre"]
    hosts: set[str] = set()
    if "village_id" in hc.columns:
        named = hc["village_id"].dropna().astype(str)
        hosts |= set(named)
        hc = hc[hc["village_id"].isna()]
    if len(hc):
        vg = villages[["village_id", "geometry"]]
        polys = vg.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        pts = gpd.GeoDataFrame(geometry=hc.geometry.representative_point(), crs=hc.crs)
        if polys:
            j = gpd.sjoin(pts, vg, predicate="within", how="inner")
        else:
            j = gpd.sjoin_nearest(pts, vg, how="inner", max_distance=radius_m)
        hosts |= set(j["village_id"].astype(str))
    return pd.Series(
        villages["village_id"].astype(str).isin(hosts).to_numpy(), index=idx, dtype="boolean"
    )


# --------------------------------------------------------------------------- rules


def _needed(ind: Indicator, thr: float | None) -> float:
    """The threshold of a rule that needs one (the profile loader guarantees it)."""
    if thr is None:
        raise PolicyError(f"indicator {ind.id!r}: rule {ind.rule} needs a threshold; none given")
    return float(thr)


def _rule_compare(ind: Indicator, v: pd.DataFrame, thr: float) -> _Result:
    values = _numeric(v[ind.evidence])
    idx = values.index
    a = values.to_numpy()
    lo, hi = a, a
    if ind.evidence == "poverty_incidence_frac" and "incidence_lo_frac" in v:
        lo = _numeric(v["incidence_lo_frac"]).to_numpy()
        hi = _numeric(v["incidence_hi_frac"]).to_numpy()
    with np.errstate(invalid="ignore"):
        if ind.rule == "rate_below":
            met, not_met = hi < thr, lo >= thr
        elif ind.rule == "at_least":
            met, not_met = lo >= thr, hi < thr
        else:  # at_most
            met, not_met = hi <= thr, lo > thr
    status = _status_from(met & ~np.isnan(hi), not_met & ~np.isnan(lo), idx)
    res = _Result(status, values, _quality(status, "attribute"))
    if ind.evidence == "poverty_incidence_frac":
        res.note_zh, res.note_en = _incidence_notes(v, status)
    return res


def _rule_is_true(v: pd.DataFrame, name: str) -> _Result:
    b = _tri(v, name)
    met = b.fillna(False).to_numpy(dtype=bool)
    not_met = (~b).fillna(False).to_numpy(dtype=bool)
    status = _status_from(met, not_met, b.index)
    return _Result(status, b, _quality(status, "attribute"))


def _rule_road(v: pd.DataFrame, ind: Indicator) -> _Result:
    idx = v.index
    nan = pd.Series(np.nan, index=idx)
    access = (
        v[ind.evidence].astype(object)
        if ind.evidence in v
        else pd.Series(None, index=idx, dtype=object)
    )
    bad = sorted({str(a) for a in access.dropna().unique()} - set(ROAD_STATES))
    if bad:
        raise LayerSchemaError(
            f"column {ind.evidence!r}: expected one of {', '.join(ROAD_STATES)}, "
            f"found {', '.join(bad)}"
        )
    unh = _numeric(v["unhardened_km"]) if "unhardened_km" in v else nan
    unk = _numeric(v["unknown_surface_km"]) if "unknown_surface_km" in v else nan
    conn = _numeric(v["connection_km"]).fillna(0.0) if "connection_km" in v else nan.fillna(0.0)
    inf_km = _numeric(v["inferred_km"]).fillna(0.0) if "inferred_km" in v else nan.fillna(0.0)
    met = (access == "hardened").to_numpy()
    not_met = access.isin(["gap", "no_road"]).to_numpy()
    status = _status_from(met, not_met, idx)
    # the value is the km that stand between the village and the hardened network:
    # known unhardened road plus any connection to build; unknown surface is shown apart
    value = (unh.fillna(0.0) + conn).where(access.isin(["gap", "no_road"]), np.nan)
    value = value.where(~pd.Series(met, index=idx), 0.0)
    value = value.where(access != "unknown", unk)
    if "road_evidence" in v:
        ev = v["road_evidence"].astype(object)
        quality = pd.Series(
            np.where(
                status == UNKNOWN, "missing", np.where(ev == "inferred", "inferred", "measured")
            ),
            index=idx,
            dtype=object,
        )
    else:
        quality = _quality(status, "measured")
    zh, en = [], []
    for i in idx:
        parts_zh, parts_en = [], []
        if np.isfinite(unh.at[i]) and unh.at[i] > 0:
            parts_zh.append(f"未硬化 {_km(unh.at[i])}")
            parts_en.append(f"{_km(unh.at[i])} unhardened")
        if np.isfinite(unk.at[i]) and unk.at[i] > 0:
            parts_zh.append(f"路面未知 {_km(unk.at[i])}")
            parts_en.append(f"{_km(unk.at[i])} of unknown surface")
        if conn.at[i] > 0:
            parts_zh.append(f"需新建连接路 {_km(conn.at[i])}")
            parts_en.append(f"{_km(conn.at[i])} of connection to build")
        if inf_km.at[i] > 0 and quality.at[i] == "inferred":
            parts_zh.append(f"其中 {_km(inf_km.at[i])} 路面按道路等级推定，待核实")
            parts_en.append(
                f"{_km(inf_km.at[i])} with a surface inferred from the road class; to confirm"
            )
        zh.append("；".join(parts_zh))
        en.append("; ".join(parts_en))
    return _Result(
        status,
        value,
        quality,
        pd.Series(zh, index=idx, dtype=object),
        pd.Series(en, index=idx, dtype=object),
    )


def _own_clinic(v: pd.DataFrame) -> pd.Series:
    """A standard clinic with a qualified doctor (nullable: unknown when either is)."""
    return _tri(v, "clinic_standard") & _tri(v, "clinic_doctor")


def _rule_clinic_in_village(v: pd.DataFrame) -> _Result:
    idx = v.index
    own = _own_clinic(v)
    host = _tri(v, "hosts_health_centre")
    ok = own | host  # Kleene: True if either is True, False only if both are False
    met = ok.fillna(False).to_numpy(dtype=bool)
    not_met = (~ok).fillna(False).to_numpy(dtype=bool)
    status = _status_from(met, not_met, idx)
    quality = pd.Series(
        np.where(
            status == UNKNOWN,
            "missing",
            np.where(
                (host.fillna(False) & ~own.fillna(False)).to_numpy(dtype=bool),
                "measured",
                "attribute",
            ),
        ),
        index=idx,
        dtype=object,
    )
    zh, en = [], []
    for i in idx:
        if (
            status.at[i] == MET
            and bool(host.fillna(False).at[i])
            and not bool(own.fillna(False).at[i])
        ):
            zh.append("乡镇卫生院所在村")
            en.append("hosts the township health centre")
        elif status.at[i] == UNKNOWN:
            zh.append("卫生室是否达标、是否有合格村医未知")
            en.append("clinic standard or qualified doctor unknown")
        else:
            zh.append("")
            en.append("")
    return _Result(
        status,
        ok,
        quality,
        pd.Series(zh, index=idx, dtype=object),
        pd.Series(en, index=idx, dtype=object),
    )


def _rule_clinic_within(v: pd.DataFrame, ind: Indicator, thr: float) -> _Result:
    """A provincial option: a standard clinic with a doctor, or the health centre within reach."""
    idx = v.index
    own = _own_clinic(v)
    travel = _numeric(v[ind.evidence]) if ind.evidence in v else pd.Series(np.nan, index=idx)
    own_yes = own.fillna(False).to_numpy(dtype=bool)
    own_no = (~own).fillna(False).to_numpy(dtype=bool)
    t = travel.to_numpy()
    with np.errstate(invalid="ignore"):
        near = ~np.isnan(t) & (t <= thr)
        far = ~np.isnan(t) & (t > thr)
    status = _status_from(own_yes | near, own_no & far, idx)
    quality = pd.Series(
        np.where(status == UNKNOWN, "missing", np.where(own_yes, "attribute", "measured")),
        index=idx,
        dtype=object,
    )
    return _Result(status, travel, quality)


def _rule_household_share(
    v: pd.DataFrame, ind: Indicator, thr: float, households: pd.DataFrame | None
) -> _Result:
    idx = v.index
    flag = ind.household_flag or ""
    nan = pd.Series(np.nan, index=idx)
    if households is None or flag not in households or "village_id" not in households:
        status = pd.Series(UNKNOWN, index=idx, dtype=object)
        return _Result(status, nan, _quality(status, "attribute"))
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
    status = _status_from(met, not_met, idx)
    return _Result(status, pd.Series(share_known, index=idx), _quality(status, "attribute"))


# --------------------------------------------------------------------------- evaluate


def evaluate(
    villages: pd.DataFrame,
    profile: PolicyProfile,
    *,
    households: pd.DataFrame | None = None,
    province_group: str | None,
    evidence: EvidenceSettings,
) -> pd.DataFrame:
    """Evaluate every exit indicator of ``profile`` for every village.

    Parameters
    ----------
    villages : DataFrame or GeoDataFrame
        Canonical village columns plus the computed ones (``road_access``,
        ``unhardened_km``, ``hosts_health_centre``...). Missing columns make the
        indicators that read them unknown; their names are listed in
        ``result.attrs["missing_evidence"]``.
    profile : PolicyProfile
        From :func:`layers.policy.load_policy`.
    households : DataFrame, optional
        The households table (for incidence and ``households:<flag>`` evidence).
    province_group : {"east", "central", "west"} or None
        Picks ``threshold_<group>`` overrides (incidence 3% in the west); required when
        the profile has such overrides.
    evidence : EvidenceSettings
        Whether inferred evidence counts as met; the incidence tolerance.

    Returns
    -------
    DataFrame or GeoDataFrame
        A copy of ``villages`` (same index, geometry kept) with the columns listed
        in the module docstring, ``road_claim_conflict`` and the incidence columns.

    Raises
    ------
    PolicyError
        For an unknown ``province_group``, or a missing one the profile needs.
    LayerSchemaError
        If ``village_id`` is missing or an evidence column holds values of the wrong
        kind (e.g. ``road_access`` outside hardened/gap/unknown/no_road).
    """
    if "village_id" not in villages.columns:
        raise LayerSchemaError(
            "villages: missing column 'village_id' needed to evaluate exit indicators"
        )
    if province_group is not None and province_group not in PROVINCE_GROUPS:
        raise PolicyError(
            f"unknown province group {province_group!r}; expected one of "
            f"{', '.join(PROVINCE_GROUPS)}"
        )
    needs_group = [i.id for i in profile.indicators if i.thresholds_by_group]
    if province_group is None and needs_group:
        raise PolicyError(
            f"profile {profile.name!r}: indicator(s) {', '.join(needs_group)} have thresholds "
            "by province group; a province_group is required"
        )
    out = villages.copy()
    idx = out.index
    inc = poverty_incidence(out, households, tolerance_frac=evidence.incidence_tolerance_frac)
    for col in inc.columns:
        out[col] = inc[col]

    missing: list[str] = []
    statuses: dict[str, pd.Series] = {}
    qualities: dict[str, pd.Series] = {}
    new_cols: dict[str, pd.Series] = {}
    empty = pd.Series("", index=idx, dtype=object)
    for ind in profile.indicators:
        thr = ind.threshold_for(province_group)
        if ind.rule == "households_share_at_least":
            if households is None or (ind.household_flag or "") not in households:
                missing.append(ind.evidence)
            res = _rule_household_share(out, ind, _needed(ind, thr), households)
        elif ind.rule == "clinic_in_village":
            absent = [
                c
                for c in ("clinic_standard", "clinic_doctor", "hosts_health_centre")
                if c not in out
            ]
            missing += absent
            res = _rule_clinic_in_village(out)
        elif ind.rule == "clinic_or_health_centre_within":
            if ind.evidence not in out.columns:
                missing.append(ind.evidence)
            res = _rule_clinic_within(out, ind, _needed(ind, thr))
        elif ind.rule == "road_access_hardened":
            if ind.evidence not in out.columns:
                missing.append(ind.evidence)
            res = _rule_road(out, ind)
            thr = 0.0  # km of not-hardened road allowed between the village and the network
        elif ind.evidence not in out.columns:
            missing.append(ind.evidence)
            status = pd.Series(UNKNOWN, index=idx, dtype=object)
            res = _Result(status, pd.Series(np.nan, index=idx), _quality(status, "attribute"))
        elif ind.rule in ("rate_below", "at_least", "at_most"):
            res = _rule_compare(ind, out, _needed(ind, thr))
        elif ind.rule == "is_true":
            res = _rule_is_true(out, ind.evidence)
        else:  # pragma: no cover - the loader refuses unknown rules
            raise PolicyError(f"indicator {ind.id!r}: unknown rule {ind.rule!r}")
        statuses[ind.id] = res.status
        qualities[ind.id] = res.quality
        new_cols[f"{ind.id}_status"] = res.status
        new_cols[f"{ind.id}_quality"] = res.quality
        new_cols[f"{ind.id}_value"] = res.value
        new_cols[f"{ind.id}_threshold"] = pd.Series(
            np.nan if thr is None else float(thr), index=idx, dtype=float
        )
        new_cols[f"{ind.id}_note_zh"] = res.note_zh if res.note_zh is not None else empty
        new_cols[f"{ind.id}_note_en"] = res.note_en if res.note_en is not None else empty
        new_cols[ind.id] = _boolean_from_status(res.status)
    for col, s in new_cols.items():
        out[col] = s

    frame = pd.DataFrame(statuses, index=idx)
    qual = pd.DataFrame(qualities, index=idx)
    ids = list(profile.ids)
    is_met_any = (frame == MET).to_numpy()
    inferred = (qual == "inferred").to_numpy() & is_met_any
    is_unconfirmed = inferred if not evidence.inferred_counts_as_met else np.zeros_like(inferred)
    is_met = is_met_any & ~is_unconfirmed
    is_unmet = (frame == NOT_MET).to_numpy()
    is_unknown = (frame == UNKNOWN).to_numpy()

    def listing(mask: np.ndarray) -> list[str]:
        return [",".join(i for i, m in zip(ids, row, strict=True) if m) for row in mask]

    out["unmet"] = listing(is_unmet)
    out["unknown"] = listing(is_unknown)
    out["unconfirmed"] = listing(is_unconfirmed)
    out["n_unmet"] = is_unmet.sum(axis=1).astype(int)
    out["n_unknown"] = is_unknown.sum(axis=1).astype(int)
    out["n_unconfirmed"] = is_unconfirmed.sum(axis=1).astype(int)

    if profile.scored:
        weights = np.array([float(i.weight or 0.0) for i in profile.indicators])
        required = np.array([i.required for i in profile.indicators], dtype=bool)
        pass_score = float(profile.pass_score or 0.0) - 1e-9
        score = (is_met * weights).sum(axis=1)
        reachable = score + ((is_unknown | is_unconfirmed) * weights).sum(axis=1)
        ready = (score >= pass_score) & (is_met | ~required).all(axis=1)
        could = (reachable >= pass_score) & (~is_unmet | ~required).all(axis=1)
        out["score"] = score
    else:
        ready = is_met.all(axis=1)
        could = ~is_unmet.any(axis=1)
    only_unconfirmed = could & ~ready & ~(is_unknown.any(axis=1) if not profile.scored else False)
    if profile.scored:
        # ready once the inferred items are confirmed, whatever the unknown ones turn out
        confirmed_score = score + (is_unconfirmed * weights).sum(axis=1)
        only_unconfirmed = (
            could
            & ~ready
            & (confirmed_score >= pass_score)
            & (is_met | is_unconfirmed | ~required).all(axis=1)
        )
    n_unmet = out["n_unmet"].to_numpy()
    blocker = np.where(
        ready,
        "ready",
        np.where(
            only_unconfirmed,
            "unconfirmed",
            np.where(could, "unknown", np.where(n_unmet <= 1, "blocked_one", "blocked_several")),
        ),
    ).astype(object)

    # who the village exit rule applies to: registered poverty villages, not hamlets
    level = (
        out["level"].astype(object) if "level" in out else pd.Series(None, index=idx, dtype=object)
    )
    hamlet = (level == "hamlet").to_numpy()
    flag = _tri(out, "poverty_village")
    not_registered = (flag == False).fillna(False).to_numpy(dtype=bool) & ~hamlet  # noqa: E712
    applicable = ~hamlet & ~not_registered
    blocker[hamlet] = "hamlet"
    blocker[not_registered] = "not_registered"
    out["exit_applicable"] = applicable
    exit_ready = pd.Series(ready & applicable, index=idx, dtype="boolean")
    exit_ready[~applicable] = pd.NA
    out["exit_ready"] = exit_ready
    out["blocker_class"] = blocker

    out["road_claim_conflict"] = _road_claim_conflict(out, profile)
    out.attrs["missing_evidence"] = sorted(set(missing))
    out.attrs["poverty_flag_missing"] = "poverty_village" not in villages.columns
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
        ``status``, ``quality``, ``value``, ``threshold``, ``unit``, ``evidence``,
        ``clause``, ``rule``, ``weight``, ``verified``, ``note_zh``, ``note_en``.
        Missing values are None; numpy scalars become Python scalars (JSON-ready).

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
                "quality": row.get(f"{ind.id}_quality"),
                "value": _py(row.get(f"{ind.id}_value")),
                "threshold": _py(row.get(f"{ind.id}_threshold")),
                "unit": ind.unit,
                "evidence": ind.evidence,
                "clause": ind.clause,
                "rule": ind.rule,
                "weight": ind.weight,
                "verified": ind.verified,
                "note_zh": row.get(f"{ind.id}_note_zh") or "",
                "note_en": row.get(f"{ind.id}_note_en") or "",
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
