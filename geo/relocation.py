"""Relocation screening: which villages (or hamlets) should move, and why.

Ex-situ poverty relocation (易地扶贫搬迁) moved people out of places where "the land
cannot support the people". This module turns the measured village columns of the
terrain, network, access and water stages into an explainable screening: for every
village a set of rules is *triggered*, *not triggered* or *unknown*, each triggered rule
adds its weight to a 0-100 score and a bilingual reason naming the measured value, the
threshold and the clause it cites.

Rules (codes, default weights, default thresholds; every figure is a field of
:class:`RelocationRules` and comes from the policy profile's ``[relocation]`` section):

=================  ======  =========================================================
code               weight  triggered when
=================  ======  =========================================================
HAZARD             30      geological hazards (landslide, debris flow, collapse,
                           subsidence): ``geological_hazard_dist_m <= hazard_buffer_m``
                           (200 m), or inside a zone (``geological_hazard_frac > 0``).
                           Decisive.
SEISMIC            10      the same for seismic zones (``seismic_buffer_m``). Decisive.
FLOOD              10      the same for flood zones (``flood_buffer_m``). Not decisive:
                           floods have their own clause, never the geological one.
PROTECTED          10      ``in_protected`` and ``protected_kind`` is one of
                           ``protected_kinds`` (ecological redline, water-source
                           protection zone). Decisive.
HIGH_COLD          10      ``elev_mean_m > high_cold_elev_m`` (1,800 m)
STEEP              15      ``slope_gt25_frac >= steep_frac`` (0.30)
REMOTE             15      ``travel_min_township_seat > remote_township_seat_min``
                           (60 min) or ``travel_min_health_centre >
                           remote_health_centre_min`` (60 min); a blank travel time
                           (no destination, or a cell cut off) is unknown
SMALL_POOR         10      ``households <= small_poor_max_households`` (50) and
                           ``poor_population / population >=
                           small_poor_min_incidence_frac`` (0.5)
REPAIR_COSTLIER    10      per-person cost to repair in place
                           ``> relocation_cny_per_person`` (60,000 CNY)
=================  ======  =========================================================

Comparison convention: a threshold described as "above" is strict (``>``); "at least",
"at most" and "within" include the threshold (``>=``, ``<=``). So a village at exactly
1,800 m is *not* high and cold, one with exactly 30 % of its land steeper than 25° *is*
steep, a travel time of exactly 60 min is *not* remote, and a repair cost exactly equal
to the relocation cost does *not* make moving cheaper.

Missing data is never silently passed: a rule whose inputs are NaN/<NA> (or whose input
column is absent) is *unknown* for that village and listed in ``unknown_rules``. Rules
are evaluated in three-valued (Kleene) logic, so a rule is still decided when the known
inputs settle it (a village of 80 households is not "small and poor" whatever its
incidence; a village whose known road gaps alone cost more than moving is "costlier to
repair" even if its water status is unknown).

Repair-in-place cost per person (``repair_cny_per_person``)::

    ( unhardened_km * road_cny_per_km
    + road_snap_m / 1000 * new_road_cny_per_km        if road_access == "no_road"
    + (water_fixed_cny + water_cny_per_km * water_dist_m / 1000)
                                                      if has_safe_water is False
    + clinic_cny      if travel_min_health_centre > clinic_reach_limit_min (or
                      unknown if the travel time is blank) and clinic_standard is False
    ) / population

Road km of unknown surface (``unknown_surface_km``) may or may not need hardening: they
widen the cost into an interval. The rule triggers when the lowest possible cost is above
the relocation cost and passes when the highest possible cost is not; otherwise it is
unknown. ``repair_cny_per_person`` is NaN unless the cost is fully determined.

Default unit costs are **unverified placeholders** (road hardening 800,000 CNY/km for
village roads, new road 1,200,000 CNY/km, water connection 150,000 CNY plus
200,000 CNY/km, clinic 300,000 CNY, relocation 60,000 CNY per person); confirm them with
the county's transport, water and health bureaus and the provincial relocation plan.

Score: ``100 * sum(weights of triggered rules) / sum(all weights)``, so a village that
triggers every rule scores 100. ``reason_weights`` lists each triggered rule's points on
that 0-100 scale. Eligible: at least one rule triggered, and the score at least
``min_score`` or a rule flagged decisive triggered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from layers.errors import LayerSchemaError
from layers.settings import RULE_CODES, RelocationRules, RuleInfo
from layers.tristate import to_tristate

__all__ = [
    "RULE_CODES",
    "RelocationRules",
    "RuleInfo",
    "rules_table",
    "screen",
]

_PLAN = "《全国“十三五”易地扶贫搬迁规划》"

_PROTECTED_LABEL: dict[str, tuple[str, str]] = {
    "ecological_redline": ("生态保护红线", "ecological redline"),
    "basic_farmland": ("永久基本农田", "permanent basic farmland"),
    "water_source_protection": ("饮用水水源保护区", "drinking-water source protection zone"),
}


def rules_table(rules: RelocationRules) -> pd.DataFrame:
    """One row per rule: code, weight, points on the 0-100 scale, decisive, clause.

    Parameters
    ----------
    rules : RelocationRules

    Returns
    -------
    DataFrame
        Columns ``code``, ``weight``, ``points``, ``decisive``, ``clause``.
    """
    total = rules.total_weight
    rows = []
    for code in RULE_CODES:
        info = rules.rule(code)
        rows.append(
            {
                "code": code,
                "weight": info.weight,
                "points": 100.0 * info.weight / total,
                "decisive": info.decisive,
                "clause": info.clause,
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- helpers
def _num(df: pd.DataFrame, col: str) -> np.ndarray:
    """Column as float64 with NaN for missing values; all NaN if the column is absent."""
    if col not in df.columns:
        return np.full(len(df), np.nan)
    s = pd.to_numeric(df[col], errors="coerce")
    return s.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _tri(df: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray]:
    """Column as three-valued boolean: (value, known). Absent column: all unknown.

    Read through :func:`layers.tristate.to_tristate`, which raises
    :class:`~layers.errors.LayerSchemaError` for a value outside the yes/no vocabulary.
    """
    n = len(df)
    if col not in df.columns:
        return np.zeros(n, bool), np.zeros(n, bool)
    s = to_tristate(df[col], where=f"villages.{col}")
    known = s.notna().to_numpy(dtype=bool)
    value = s.fillna(False).to_numpy(dtype=bool)
    return value, known


def _text(df: pd.DataFrame, col: str) -> list[str | None]:
    if col not in df.columns:
        return [None] * len(df)
    return [None if pd.isna(v) else str(v) for v in df[col].to_numpy(dtype=object)]


def _fmt(x: float, decimals: int = 0) -> str:
    return f"{x:,.{decimals}f}"


def _pair(value: float, threshold: float, scale: float = 1.0, base: int = 0) -> tuple[str, str]:
    """Format a measured value and its threshold so that they never print alike.

    A value of 60.4 min against a 60 min limit prints as "60.4" and "60.0" rather than
    "60" and "60", which would read as a contradiction in a review meeting.
    """
    v, t = value * scale, threshold * scale
    for d in range(base, base + 4):
        a, b = _fmt(v, d), _fmt(t, d)
        if a != b or v == t:
            return a, b
    return _fmt(v, base + 3), _fmt(t, base + 3)


def _pct(value: float, threshold: float) -> tuple[str, str]:
    a, b = _pair(value, threshold, scale=100.0)
    return a + "%", b + "%"


# ----------------------------------------------------------------------------- rules
# Each rule returns (state, zh, en): state int8 per row (1 triggered, 0 not, -1 unknown)
# and reason texts for the triggered rows (None elsewhere).
_Result = tuple[np.ndarray, list[str | None], list[str | None]]


def _empty(n: int) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    return np.full(n, -1, np.int8), [None] * n, [None] * n


#: Per hazard group: the columns it reads, its buffer field and its words.
_HAZARD_RULES: dict[str, tuple[str, str, tuple[str, str], tuple[str, str]]] = {
    "HAZARD": (
        "geological",
        "hazard_buffer_m",
        ("地质灾害隐患区", "a geological hazard zone"),
        ("地质灾害威胁", "hazard threat"),
    ),
    "SEISMIC": (
        "seismic",
        "seismic_buffer_m",
        ("地震活跃带", "a seismic zone (active fault)"),
        ("地震威胁", "seismic threat"),
    ),
    "FLOOD": (
        "flood",
        "flood_buffer_m",
        ("洪涝灾害区", "a flood zone"),
        ("洪涝威胁", "flood threat"),
    ),
}


def _rule_hazard(df: pd.DataFrame, r: RelocationRules, code: str = "HAZARD") -> _Result:
    """Inside or within the buffer of a hazard zone of one group (geological, seismic, flood).

    Reads ``<group>_hazard_dist_m`` / ``<group>_hazard_frac``; NaN (no hazards layer) is
    unknown, never "safe".
    """
    group, buffer_field, (name_zh, name_en), (threat_zh, threat_en) = _HAZARD_RULES[code]
    buffer = float(getattr(r, buffer_field))
    n = len(df)
    state, zh, en = _empty(n)
    dist = _num(df, f"{group}_hazard_dist_m")
    frac = _num(df, f"{group}_hazard_frac")
    for i in range(n):
        d, f = dist[i], frac[i]
        if not np.isnan(d):
            state[i] = 1 if d <= buffer else 0
        elif not np.isnan(f) and f > 0:
            # a share of the village inside a zone means it is at distance 0
            state[i] = 1
            d = 0.0
        if state[i] != 1:
            continue
        if d == 0:
            if not np.isnan(f) and f > 0:
                share = _fmt(100 * f, 0 if f >= 0.01 else 1)
                zh[i] = f"位于{name_zh}内（占村域 {share}%）"
                en[i] = f"inside {name_en} ({share}% of the village area)"
            else:
                zh[i] = f"位于{name_zh}内"
                en[i] = f"inside {name_en}"
        else:
            a, b = _pair(d, buffer)
            zh[i] = f"距{name_zh} {a} m，不超过 {b} m（{threat_zh}）"
            en[i] = f"{a} m from {name_en}, within {b} m ({threat_en})"
    return state, zh, en


def _rule_protected(df: pd.DataFrame, r: RelocationRules) -> _Result:
    n = len(df)
    state, zh, en = _empty(n)
    inside, known = _tri(df, "in_protected")
    kinds = _text(df, "protected_kind")
    wanted = set(r.protected_kinds)
    for i in range(n):
        if not known[i]:
            continue
        if not inside[i]:
            state[i] = 0
            continue
        kind = kinds[i]
        if kind is None:
            continue  # inside something, but we cannot tell whether it counts
        listed = [k.strip() for k in kind.replace(";", ",").split(",") if k.strip()]
        hits = [k for k in listed if k in wanted]
        if not hits:
            state[i] = 0
            continue
        state[i] = 1
        zh_names = "、".join(_PROTECTED_LABEL.get(k, (k, k))[0] for k in hits)
        en_names = " and ".join(_PROTECTED_LABEL.get(k, (k, k))[1] for k in hits)
        zh[i] = f"位于{zh_names}内（禁止或限制开发区）"
        en[i] = f"inside {en_names} (development prohibited or restricted)"
    return state, zh, en


def _rule_high_cold(df: pd.DataFrame, r: RelocationRules) -> _Result:
    n = len(df)
    state, zh, en = _empty(n)
    elev = _num(df, "elev_mean_m")
    for i in range(n):
        e = elev[i]
        if np.isnan(e):
            continue
        state[i] = 1 if e > r.high_cold_elev_m else 0
        if state[i]:
            a, b = _pair(e, r.high_cold_elev_m)
            zh[i] = f"海拔 {a} m 高于 {b} m（高寒）"
            en[i] = f"mean elevation {a} m above {b} m (high and cold)"
    return state, zh, en


def _rule_steep(df: pd.DataFrame, r: RelocationRules) -> _Result:
    n = len(df)
    state, zh, en = _empty(n)
    share = _num(df, "slope_gt25_frac")
    for i in range(n):
        s = share[i]
        if np.isnan(s):
            continue
        state[i] = 1 if s >= r.steep_frac else 0
        if state[i]:
            a, b = _pct(s, r.steep_frac)
            zh[i] = f"坡度大于25°的土地占 {a}，不低于 {b}（山高坡陡）"
            en[i] = f"{a} of the land steeper than 25°, at least {b} (steep)"
    return state, zh, en


def _rule_remote(df: pd.DataFrame, r: RelocationRules) -> _Result:
    n = len(df)
    state, zh, en = _empty(n)
    targets = (
        ("travel_min_township_seat", r.remote_township_seat_min, "乡镇驻地", "the township seat"),
        (
            "travel_min_health_centre",
            r.remote_health_centre_min,
            "乡镇卫生院",
            "the township health centre",
        ),
    )
    cols = [(col in df.columns, _num(df, col), lim, z, e) for col, lim, z, e in targets]
    for i in range(n):
        parts_zh: list[str] = []
        parts_en: list[str] = []
        all_known = True
        for present, values, limit, name_zh, name_en in cols:
            if not present:
                all_known = False
                continue
            t = values[i]
            if np.isnan(t):
                # a blank travel time (no destination of that kind on the grid, or a cell
                # cut off by the data) is unknown, never "cannot be reached"
                all_known = False
            elif t > limit:
                a, b = _pair(t, limit)
                parts_zh.append(f"到{name_zh} {a} min，超过 {b} min")
                parts_en.append(f"{a} min to {name_en}, above {b} min")
        if parts_zh:
            state[i] = 1
            zh[i] = "，".join(parts_zh) + "（偏远）"
            en[i] = ", ".join(parts_en) + " (remote)"
        elif all_known:
            state[i] = 0
    return state, zh, en


def _rule_small_poor(df: pd.DataFrame, r: RelocationRules) -> _Result:
    n = len(df)
    state, zh, en = _empty(n)
    hh = _num(df, "households")
    pop = _num(df, "population")
    poor = _num(df, "poor_population")
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(pop > 0, poor / pop, np.nan)
    for i in range(n):
        small = None if np.isnan(hh[i]) else bool(hh[i] <= r.small_poor_max_households)
        poor_ = None if np.isnan(inc[i]) else bool(inc[i] >= r.small_poor_min_incidence_frac)
        if small is False or poor_ is False:
            state[i] = 0
        elif small and poor_:
            state[i] = 1
            h, hmax = _pair(hh[i], r.small_poor_max_households)
            a, b = _pct(inc[i], r.small_poor_min_incidence_frac)
            zh[i] = f"{h} 户、贫困发生率 {a}：不超过 {hmax} 户且不低于 {b}（小规模高贫困）"
            en[i] = (
                f"{h} households and poverty incidence {a}: at most {hmax} households "
                f"and at least {b} (small and poor)"
            )
    return state, zh, en


def _repair_interval(df: pd.DataFrame, r: RelocationRules) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest possible repair-in-place cost (CNY, whole village).

    Unknown inputs leave a component between what is certain (often 0) and +inf.
    """
    n = len(df)
    lo = np.zeros(n)
    hi = np.zeros(n)

    # roads: km already known unhardened, plus km of unknown surface that may be
    unh = _num(df, "unhardened_km")
    unk = _num(df, "unknown_surface_km") if "unknown_surface_km" in df.columns else np.zeros(n)
    lo += np.where(np.isnan(unh), 0.0, unh * r.road_cny_per_km)
    hi += np.where(np.isnan(unh) | np.isnan(unk), np.inf, (unh + unk) * r.road_cny_per_km)
    # a village not connected to its road (or with none) needs a new road over that distance
    access = _text(df, "road_access")
    snap = _num(df, "road_snap_m")
    no_road = np.array([a == "no_road" for a in access], bool)
    if "connection_km" in df.columns:
        conn_km = _num(df, "connection_km")
        no_road = no_road | (np.nan_to_num(conn_km) > 0)
        snap = np.where(np.isnan(conn_km), snap, conn_km * 1000.0)
    new = snap / 1000.0 * r.new_road_cny_per_km
    lo += np.where(no_road & ~np.isnan(snap), new, 0.0)
    hi += np.where(no_road, np.where(np.isnan(snap), np.inf, new), 0.0)

    # water: a connection when the village has no safe water
    safe, safe_known = _tri(df, "has_safe_water")
    wdist = _num(df, "water_dist_m")
    conn = r.water_fixed_cny + r.water_cny_per_km * wdist / 1000.0
    conn_hi = np.where(np.isnan(wdist), np.inf, conn)
    needs = safe_known & ~safe
    maybe = ~safe_known
    lo += np.where(needs, np.where(np.isnan(wdist), r.water_fixed_cny, conn), 0.0)
    hi += np.where(needs | maybe, conn_hi, 0.0)

    # clinic: a standard clinic when the health centre is out of reach and none exists
    if "travel_min_health_centre" in df.columns:
        t = _num(df, "travel_min_health_centre")
        far = ~np.isnan(t) & (t > r.clinic_reach_limit_min)
        far_known = ~np.isnan(t)  # a blank travel time is unknown, not "unreachable"
    else:
        far = np.zeros(n, bool)
        far_known = np.zeros(n, bool)
    std, std_known = _tri(df, "clinic_standard")
    sure = far_known & far & std_known & ~std
    possible = ~((far_known & ~far) | (std_known & std))
    lo += np.where(sure, r.clinic_cny, 0.0)
    hi += np.where(possible, r.clinic_cny, 0.0)
    return lo, hi


def _rule_repair(df: pd.DataFrame, r: RelocationRules) -> tuple[_Result, np.ndarray]:
    n = len(df)
    state, zh, en = _empty(n)
    lo, hi = _repair_interval(df, r)
    pop = _num(df, "population")
    valid = pop > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lo_pp = np.where(valid, lo / pop, 0.0)
        hi_pp = np.where(valid, hi / pop, np.inf)
    per_person = np.where(valid & (lo == hi), lo_pp, np.nan)
    limit = r.relocation_cny_per_person
    for i in range(n):
        if lo_pp[i] > limit:
            state[i] = 1
            a, b = _pair(lo_pp[i], limit)
            if np.isnan(per_person[i]):
                zh[i] = f"就地改善人均至少 {a} 元，高于搬迁人均 {b} 元（就地改善成本高）"
                en[i] = (
                    f"repair in place at least {a} CNY per person, above relocation "
                    f"{b} CNY per person (cheaper to move)"
                )
            else:
                zh[i] = f"就地改善人均 {a} 元，高于搬迁人均 {b} 元（就地改善成本高）"
                en[i] = (
                    f"repair in place {a} CNY per person, above relocation {b} CNY per "
                    f"person (cheaper to move)"
                )
        elif hi_pp[i] <= limit:
            state[i] = 0
    return (state, zh, en), per_person


# ----------------------------------------------------------------------------- screen
def screen(villages: pd.DataFrame, *, rules: RelocationRules) -> pd.DataFrame:
    """Screen villages (or hamlets) for ex-situ relocation, with reasons.

    Parameters
    ----------
    villages : GeoDataFrame or DataFrame
        One row per village with ``village_id`` and the computed columns the rules read
        (``hazard_dist_m``, ``hazard_frac``, ``in_protected``, ``protected_kind``,
        ``elev_mean_m``, ``slope_gt25_frac``, ``travel_min_township_seat``,
        ``travel_min_health_centre``, ``households``, ``population``,
        ``poor_population``, ``unhardened_km``, ``unknown_surface_km``,
        ``road_access``, ``road_snap_m``, ``has_safe_water``, ``water_dist_m``,
        ``clinic_standard``). A missing column makes the rules that read it unknown.
        If ``level`` holds ``"hamlet"`` rows, every row is screened on its own and
        ``level`` and ``parent_id`` are kept.
    rules : RelocationRules
        Thresholds, weights and costs.

    Returns
    -------
    DataFrame
        Same index and row order as ``villages``, columns:

        - ``village_id``
        - ``eligible`` (bool): at least one rule triggered, and the score at least
          ``min_score`` or a decisive rule triggered.
        - ``score`` (float 0-100): ``100 * sum(triggered weights) / sum(all weights)``.
        - ``rank`` (Int64): 1 = highest score among eligible rows; ties broken by more
          ``people_to_move`` first, then ``village_id`` ascending; <NA> if not eligible.
        - ``reasons_zh``, ``reasons_en``: triggered reasons (heaviest first) joined
          with "；" / "; ", each naming the measured value and the threshold.
        - ``reason_codes``: comma-separated codes, same order.
        - ``reason_weights``: ``CODE:points`` on the 0-100 scale, same order.
        - ``reason_clauses``: the cited clauses, joined with "；".
        - ``people_to_move`` (Int64): population of an eligible row, 0 if not
          eligible, <NA> if eligible with unknown population. An administrative
          village whose hamlets are rows of the same layer counts only the people not
          living in those hamlets, so the column sums without double counting.
        - ``repair_cny_per_person`` (float, NaN unless fully determined),
          ``relocation_cny_per_person`` (float).
        - ``unknown_rules``: comma-separated codes of rules that could not be decided.
        - ``needs_review`` (bool): not eligible now, but would be if every unknown
          rule were triggered.
        - ``level``, ``parent_id``: kept when the layer has hamlets.

    Raises
    ------
    LayerSchemaError
        If ``village_id`` is missing, empty or duplicated, or a yes/no column holds a
        value outside the :mod:`layers.tristate` vocabulary.
    """
    if "village_id" not in villages.columns:
        raise LayerSchemaError(
            "villages: expected a 'village_id' column for relocation screening, found "
            f"columns {list(villages.columns)}"
        )
    df = pd.DataFrame(villages.drop(columns="geometry", errors="ignore"))
    ids = df["village_id"]
    if ids.isna().any():
        rows = list(ids.index[ids.isna()][:5])
        raise LayerSchemaError(f"villages: 'village_id' is empty in row(s) {rows}")
    ids = ids.astype(str)
    dup = ids[ids.duplicated(keep=False)]
    if len(dup):
        raise LayerSchemaError(
            f"villages: 'village_id' must be unique, found duplicates {sorted(set(dup))[:5]}"
        )
    n = len(df)

    (repair_res, repair_pp) = _rule_repair(df, rules)
    results: dict[str, _Result] = {
        "HAZARD": _rule_hazard(df, rules, "HAZARD"),
        "SEISMIC": _rule_hazard(df, rules, "SEISMIC"),
        "FLOOD": _rule_hazard(df, rules, "FLOOD"),
        "PROTECTED": _rule_protected(df, rules),
        "HIGH_COLD": _rule_high_cold(df, rules),
        "STEEP": _rule_steep(df, rules),
        "REMOTE": _rule_remote(df, rules),
        "SMALL_POOR": _rule_small_poor(df, rules),
        "REPAIR_COSTLIER": repair_res,
    }
    total = rules.total_weight
    info = {c: rules.rule(c) for c in RULE_CODES}
    points = {c: 100.0 * info[c].weight / total for c in RULE_CODES}
    # heaviest reasons first; equal weights keep the canonical order
    order = sorted(RULE_CODES, key=lambda c: (-points[c], RULE_CODES.index(c)))

    states = np.stack([results[c][0] for c in order], axis=1)  # (n, rules)
    pts = np.array([points[c] for c in order])
    decisive = np.array([info[c].decisive for c in order])
    triggered = states == 1
    unknown = states == -1

    # rounded so that equal sets of weights tie exactly whatever the summation order
    score = np.round((triggered * pts).sum(axis=1), 9)
    tol = 1e-9
    eligible = triggered.any(axis=1) & (
        (score >= rules.min_score - tol) | (triggered & decisive).any(axis=1)
    )
    possible = triggered | unknown
    score_max = (possible * pts).sum(axis=1)
    eligible_max = possible.any(axis=1) & (
        (score_max >= rules.min_score - tol) | (possible & decisive).any(axis=1)
    )
    needs_review = ~eligible & eligible_max

    reasons_zh, reasons_en, codes, weights, clauses, unknowns = [], [], [], [], [], []
    for i in range(n):
        hit = [c for j, c in enumerate(order) if triggered[i, j]]
        # a rule sets both texts on every row it triggers, so nothing is dropped here
        reasons_zh.append("；".join(t for c in hit if (t := results[c][1][i]) is not None))
        reasons_en.append("; ".join(t for c in hit if (t := results[c][2][i]) is not None))
        codes.append(",".join(hit))
        weights.append(",".join(f"{c}:{round(points[c], 1):g}" for c in hit))
        clauses.append("；".join(info[c].clause for c in hit))
        unknowns.append(",".join(c for c in RULE_CODES if results[c][0][i] == -1))

    # people. A hamlet moves whole. An administrative village moves its registered poor (or
    # everyone, per admin_village_people) — and everyone (同步搬迁) when a decisive rule says the
    # settlement is in danger or the repair comparison, made for all its people, triggers.
    # Admin villages whose hamlets are rows of their own keep only the people outside them.
    pop = _num(df, "population")
    poor_pop = (
        _num(df, "poor_population") if "poor_population" in df.columns else np.full(n, np.nan)
    )
    level = _text(df, "level")
    is_admin = np.array([lv != "hamlet" for lv in level])
    has_hamlets = any(lv == "hamlet" for lv in level)
    repair_hit = triggered[:, order.index("REPAIR_COSTLIER")]
    whole = (
        eligible
        & bool(rules.whole_settlement_when_decisive)
        & ((triggered & decisive).any(axis=1) | repair_hit)
    )
    everyone = pop.copy()
    poor_in = poor_pop.copy()
    if has_hamlets and "parent_id" in df.columns:
        parent = _text(df, "parent_id")
        hamlet_pop: dict[str, float] = {}
        hamlet_poor: dict[str, float] = {}
        for lv, par, p_, q_ in zip(level, parent, pop, poor_pop, strict=True):
            if lv == "hamlet" and par is not None:
                hamlet_pop[par] = hamlet_pop.get(par, 0.0) + p_  # NaN propagates
                hamlet_poor[par] = hamlet_poor.get(par, 0.0) + q_
        for i, vid in enumerate(ids):
            if is_admin[i] and vid in hamlet_pop:
                everyone[i] = max(0.0, pop[i] - hamlet_pop[vid])
                poor_in[i] = max(0.0, poor_pop[i] - hamlet_poor[vid])
    poor_in = np.minimum(poor_in, everyone)
    move_all = ~is_admin | whole | (rules.admin_village_people == "all")
    base = np.where(move_all, everyone, poor_in)
    poor_moving = np.where(move_all, poor_in, base)
    scope = np.array(
        [
            None if not e else ("whole_settlement" if m else "registered_poor")
            for e, m in zip(eligible, move_all, strict=True)
        ],
        dtype=object,
    )

    def _people(values: np.ndarray) -> Any:
        return pd.array(
            [
                (pd.NA if np.isnan(p) else round(p)) if e else 0
                for p, e in zip(values, eligible, strict=True)
            ],
            dtype="Int64",
        )

    people = _people(base)
    people_poor = _people(poor_moving)
    people_other = _people(base - poor_moving)

    out = pd.DataFrame(
        {
            "village_id": ids.to_numpy(dtype=object),
            "eligible": eligible,
            "score": score,
            "rank": pd.array([pd.NA] * n, dtype="Int64"),
            "reasons_zh": reasons_zh,
            "reasons_en": reasons_en,
            "reason_codes": codes,
            "reason_weights": weights,
            "reason_clauses": clauses,
            "people_to_move": people,
            "people_to_move_poor": people_poor,
            "people_to_move_other": people_other,
            "move_scope": scope,
            "repair_cny_per_person": repair_pp,
            "relocation_cny_per_person": float(rules.relocation_cny_per_person),
            "unknown_rules": unknowns,
            "needs_review": needs_review,
        },
        index=df.index,
    )
    if has_hamlets:
        out["level"] = df["level"].to_numpy(dtype=object)
        out["parent_id"] = (
            df["parent_id"].to_numpy(dtype=object) if "parent_id" in df.columns else None
        )

    if eligible.any():
        pos = np.flatnonzero(eligible)
        ppl = people.to_numpy(dtype=np.float64, na_value=-1.0)[pos]
        keys = pd.DataFrame(
            {"pos": pos, "score": score[pos], "people": ppl, "id": ids.to_numpy()[pos]}
        ).sort_values(["score", "people", "id"], ascending=[False, False, True], kind="stable")
        ranks = np.empty(n, dtype=np.int64)
        ranks[keys["pos"].to_numpy()] = np.arange(1, len(keys) + 1)
        rank_arr = pd.array([pd.NA] * n, dtype="Int64")
        rank_arr[pos] = ranks[pos]
        out["rank"] = rank_arr
    return out
