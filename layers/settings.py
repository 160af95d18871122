"""Settings: one typed, frozen object built from a policy profile and a workspace.

Every threshold, weight, speed, cost and seed the analysis uses is read from here, and
every value here comes from a file: the policy profile (``data/policies/*.toml``; the
``national`` profile is the base that the others ``extend``) and the workspace's
``[parameters]``. Nothing has a default in code: the national profile states every
value, and a profile that extends it overrides some.

:func:`load_settings` builds and validates a :class:`Settings`; it reports every problem
of every section at once in one :class:`~layers.errors.PolicyError` (one line each), so
``anju check`` and ``anju run`` refuse a bad profile or parameter before any work.
:meth:`Settings.to_dict` / :func:`settings_from_dict` round-trip the whole object through
the plan's ``manifest.json``, so a scenario or a later reader uses exactly the settings a
plan was made with.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from layers.catalogue import EXIT_YEAR_RANGE, HOUSEHOLD_FLAGS
from layers.errors import PolicyError
from layers.policy import PROVINCE_GROUPS, PolicyProfile, load_policy

__all__ = [
    "RULE_CODES",
    "WALKING_MODELS",
    "AccessSettings",
    "EvidenceSettings",
    "HouseholdSettings",
    "RelocationRules",
    "RoadSettings",
    "RuleInfo",
    "Settings",
    "SiteSettings",
    "WorkspaceParameters",
    "load_settings",
    "settings_from_dict",
]

#: Walking models of the off-road speed surface: ``isotropic`` (Tobler on the absolute
#: slope, the same both ways) or ``anisotropic`` (uphill slower than downhill, AccessMod).
WALKING_MODELS: tuple[str, ...] = ("isotropic", "anisotropic")
#: Allocation solvers: HiGHS branch and bound, or the fast local search (dashboard).
SOLVERS: tuple[str, ...] = ("exact", "heuristic")


def _suggest(word: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(word, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_value(name: str, value: Any, tp: Any, meta: Mapping[str, Any]) -> tuple[Any, str | None]:
    """Coerce ``value`` to the field type ``tp``; return (value, problem or None)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None:
            return None, None
        tp = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        if not isinstance(value, bool):
            return value, f"{name}: expected true or false, found {value!r}"
        return value, None
    if tp in (float, int):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value, f"{name}: expected a number, found {value!r}"
        if math.isnan(value) or (math.isinf(value) and not meta.get("inf", False)):
            return value, f"{name}: expected a finite number, found {value!r}"
        if tp is int and float(value) != int(value):
            return value, f"{name}: expected a whole number, found {value!r}"
        lo, hi = meta.get("min"), meta.get("max")
        if lo is not None and value < lo:
            return value, f"{name}: expected a number >= {lo}, found {value!r}"
        if meta.get("gt") is not None and value <= meta["gt"]:
            return value, f"{name}: expected a number > {meta['gt']}, found {value!r}"
        if hi is not None and value > hi:
            return value, f"{name}: expected a number <= {hi}, found {value!r}"
        return (int(value) if tp is int else float(value)), None
    if tp is str:
        if not isinstance(value, str):
            return value, f"{name}: expected text, found {value!r}"
        choices = meta.get("choices")
        if choices and value not in choices:
            return value, (
                f"{name}: expected one of {', '.join(choices)}, found {value!r}"
                f"{_suggest(value, list(choices))}"
            )
        return value, None
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return value, f"{name}: expected a list, found {value!r}"
        inner = args[0]
        out = []
        for k, item in enumerate(value):
            v, p = _check_value(f"{name}[{k}]", item, inner, {})
            if p:
                return value, p
            out.append(v)
        return tuple(out), None
    if tp is Any:
        return value, None
    raise TypeError(f"settings field {name}: unsupported type {tp!r}")  # a bug, not input


def _build(cls: type, section: str, raw: Mapping[str, Any], problems: list[str]) -> Any:
    """Instantiate dataclass ``cls`` from ``raw``, appending every problem to ``problems``."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    kwargs: dict[str, Any] = {}
    bad = False
    for key in raw:
        if key not in names:
            problems.append(f"[{section}] unknown key {key!r}{_suggest(key, names)}")
            bad = True
    for f in fields(cls):
        if f.name not in raw:
            problems.append(
                f"[{section}] missing key {f.name!r} (the base profile 'national' states every key)"
            )
            bad = True
            continue
        value, problem = _check_value(f.name, raw[f.name], hints[f.name], f.metadata)
        if problem:
            problems.append(f"[{section}] {problem}")
            bad = True
        kwargs[f.name] = value
    if bad:
        return None
    try:
        return cls(**kwargs)
    except PolicyError as exc:
        problems.append(str(exc))
        return None


# Fields carry their validation in ``field(metadata=...)``: min, max, gt, choices, inf
# (every number has a sane maximum: an absurd value such as 100000 Monte Carlo draws is
# refused by ``anju check`` before a run spends hours on it)
# (read by _check_value). Written out as ``field`` so type checkers see no default.


@dataclass(frozen=True)
class WorkspaceParameters:
    """Workspace ``[parameters]`` (the profile's ``[parameters]`` give the base values).

    Attributes
    ----------
    infer_surface_from_class : bool
        Roads with no recorded surface take one inferred from their class.
    village_catchment_radius_m : float
        Radius of a point village's catchment for terrain statistics.
    road_snap_tolerance_m : float
        Road ends closer than this are joined when the network is built.
    cliff_slope_deg : float
        Cells steeper than this are impassable on foot.
    dem_outside_max_frac : float
        Largest share of the county without DEM elevation (beyond the DEM's extent or on
        nodata cells) that is only a warning; more is an error.
    dem_coarse_cell_m : float
        A DEM with coarser cells gets a warning: slope-based rules and travel times
        within a cell are low-confidence.
    dem_max_cell_m : float
        A DEM with coarser cells leaves the terrain relocation rules (STEEP, HIGH_COLD)
        unknown.
    timetable_years : tuple of int
        The county's target years of the exit timetable (脱贫攻坚 years), increasing.
    current_year : int
        The year the workspace's data describe: villages due in it or before and still
        blocked are at risk; later years are the work still to do.
    """

    infer_surface_from_class: bool
    village_catchment_radius_m: float = field(metadata={"gt": 0, "max": 20000})
    road_snap_tolerance_m: float = field(metadata={"min": 0, "max": 1000})
    cliff_slope_deg: float = field(metadata={"gt": 0, "max": 90})
    dem_outside_max_frac: float = field(metadata={"min": 0, "max": 1})
    dem_coarse_cell_m: float = field(metadata={"gt": 0, "max": 10000})
    dem_max_cell_m: float = field(metadata={"gt": 0, "max": 10000})
    timetable_years: tuple[int, ...]
    current_year: int = field(metadata={"min": EXIT_YEAR_RANGE[0], "max": EXIT_YEAR_RANGE[1]})

    def __post_init__(self) -> None:
        years = list(self.timetable_years)
        lo, hi = EXIT_YEAR_RANGE
        if not years:
            raise PolicyError("[parameters] timetable_years: expected at least one year, found []")
        if any(not lo <= y <= hi for y in years):
            raise PolicyError(
                f"[parameters] timetable_years: expected years in {lo}..{hi}, found {years}"
            )
        if any(b <= a for a, b in zip(years, years[1:], strict=False)):
            raise PolicyError(
                f"[parameters] timetable_years: expected increasing years, found {years}"
            )


@dataclass(frozen=True)
class RoadSettings:
    """``[road]``: how villages join the road network.

    Attributes
    ----------
    snap_tolerance_m : float
        A village within this distance of a hardened road is joined to it.
    max_snap_m : float
        Beyond this distance a village has no road.
    connection_max_m : float
        A settlement further than this from the road it joins is not connected: the
        road indicator is not met and the missing connection is part of its gap.
    datum_suspect_snap_m : float
        Villages a median of more than this from roads at least ``dense_roads_km_per_km2``
        dense point to mixed datums (GCJ-02 / BD-09 with CGCS2000): a warning, never a figure.
    dense_roads_km_per_km2 : float
        Road density above which villages far from roads are suspect (below it they may
        honestly be far).
    """

    snap_tolerance_m: float = field(metadata={"min": 0, "max": 1000})
    max_snap_m: float = field(metadata={"min": 0, "max": 50000})
    connection_max_m: float = field(metadata={"min": 0, "max": 50000})
    datum_suspect_snap_m: float = field(metadata={"gt": 0, "max": 10000})
    dense_roads_km_per_km2: float = field(metadata={"min": 0, "max": 1000})


@dataclass(frozen=True)
class EvidenceSettings:
    """``[evidence]``: how evidence of each quality counts.

    Attributes
    ----------
    inferred_counts_as_met : bool
        Whether an indicator met only through inferred evidence (a road surface taken
        from its class) counts towards exit readiness. False: it shows as
        "met (inferred)" and the village waits for someone to confirm it.
    incidence_tolerance_frac : float
        Largest difference between the household register's incidence and the
        village figure before the two are a conflict (the status is then unknown).
    """

    inferred_counts_as_met: bool
    incidence_tolerance_frac: float = field(metadata={"min": 0, "max": 1})


@dataclass(frozen=True)
class AccessSettings:
    """``[access]``: the speed surface of the travel-time stage.

    Attributes
    ----------
    walking : str
        One of :data:`WALKING_MODELS`.
    road_speeds_kmh : tuple of str
        ``"class/surface = km/h"`` entries, for every road class and surface
        (``hardened``, ``unhardened``, ``unknown``); see :attr:`road_speed_table`.
    river_width_m : float
        Width of a river line of the water layer without its own ``width_m``: the line
        is buffered by half of it and becomes a walking barrier (roads bridge it).
    min_barrier_width_m : float
        River lines narrower than this (by ``width_m``, else ``river_width_m``) are
        fordable streams, not barriers.
    """

    walking: str = field(metadata={"choices": WALKING_MODELS})
    road_speeds_kmh: Any
    river_width_m: float = field(metadata={"gt": 0, "max": 10000})
    min_barrier_width_m: float = field(metadata={"min": 0, "max": 10000})

    def __post_init__(self) -> None:
        table = self.road_speeds_kmh
        problems = []
        if not isinstance(table, Mapping) or not table:
            problems.append(
                f"road_speeds_kmh: expected a table of class -> {{surface = km/h}}, found {table!r}"
            )
        else:
            for cls_, row in table.items():
                if not isinstance(row, Mapping):
                    problems.append(f"road_speeds_kmh.{cls_}: expected a table, found {row!r}")
                    continue
                for surf in ("hardened", "unhardened", "unknown"):
                    v = row.get(surf)
                    if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                        problems.append(
                            f"road_speeds_kmh.{cls_}.{surf}: expected a speed > 0 km/h, found {v!r}"
                        )
                for surf in row:
                    if surf not in ("hardened", "unhardened", "unknown"):
                        problems.append(
                            f"road_speeds_kmh.{cls_}: unknown surface {surf!r}; expected "
                            "hardened, unhardened, unknown"
                        )
        if problems:
            raise PolicyError("[access] " + "; ".join(problems))
        object.__setattr__(
            self,
            "road_speeds_kmh",
            types.MappingProxyType({c: types.MappingProxyType(dict(r)) for c, r in table.items()}),
        )

    @property
    def road_speed_table(self) -> dict[tuple[str, str], float]:
        """``{(road class, surface): km/h}`` as :func:`geo.access.rasterize_roads` takes it."""
        return {(c, s): float(v) for c, row in self.road_speeds_kmh.items() for s, v in row.items()}


@dataclass(frozen=True)
class HouseholdSettings:
    """``[households]``: the household exit test.

    Attributes
    ----------
    income_line_cny : float
        Per-capita net income a household must exceed.
    income_line_year : int
        The year of that line.
    income_line_note : str
        Where the line comes from.
    flags : tuple of str
        Household flags that must be met (两不愁三保障 and safe water).
    monitoring_margin_frac : float
        Households not in poverty whose per-capita income is above the line by at most
        this share of it (exited households and households never registered: 脱贫不稳定户,
        边缘易致贫户) are listed for monitoring against a return to poverty (返贫).
    """

    income_line_cny: float = field(metadata={"min": 0, "max": 1000000})
    income_line_year: int = field(metadata={"min": 1949, "max": 2100})
    income_line_note: str
    flags: tuple[str, ...]
    monitoring_margin_frac: float = field(metadata={"min": 0, "max": 1})


@dataclass(frozen=True)
class SiteSettings:
    """``[suitability]``: resettlement-site suitability, siting and allocation.

    Attributes
    ----------
    factors : tuple of str
        Suitability factors, in the order of the AHP matrix's rows.
    ahp : tuple of tuple of float
        Saaty pairwise judgements, one row per factor.
    ranges : mapping
        Factor → ``[lo, hi]``: full score at or below lo, zero at or above hi.
    slope_limit_deg, hazard_buffer_m, protected_buffer_m, water_buffer_m, all_touched
        Exclusions of the overlay.
    cr_warning : float
        AHP consistency ratio above which the plan carries a warning.
    site_threshold, site_min_area_ha, site_max_area_ha, people_per_ha, max_sites
        How suitable patches become candidate sites.
    open_sites : int
        p of the capacitated p-median; 0 lets the solver decide.
    min_occupancy_people : int
        An opened generated (centralized) site receives at least this many people.
    unplaced_warning_frac : float
        A run that leaves more than this share of the people to move unplaced says why.
    opening_cost_person_min : float
        Cost of opening a generated site, in the objective's unit (person-minutes): a site
        opens only if it saves at least this much travel.
    max_return_min, township_penalty_min, capacity_factor, time_limit_s, mip_gap
        The allocation model and its solver limits.
    solver : str
        ``exact`` (HiGHS, proves the optimum or reports its gap) or ``heuristic`` (greedy
        and local search in ``heuristic_time_s``, with the gap to an LP lower bound); the
        dashboard's scenarios use the heuristic.
    cost_grid_factor : int
        Village → site minutes on a grid this many times coarser.
    robustness_draws, mc_spread, robustness_seed
        Monte Carlo over the AHP weights: draws, perturbation, random seed.
    followup_school_min, followup_health_min : float
        Site follow-through (大、小配套): a school / a township health centre (or better)
        within this many minutes of a site serves its people.
    followup_jobs_min : float
        Jobs of towns and industrial parks within this many minutes of a site are in
        reach of its people (有事做).
    """

    factors: tuple[str, ...]
    ahp: Any
    ranges: Any
    slope_limit_deg: float = field(metadata={"gt": 0, "max": 90})
    hazard_buffer_m: float = field(metadata={"min": 0, "max": 20000})
    protected_buffer_m: float = field(metadata={"min": 0, "max": 20000})
    water_buffer_m: float = field(metadata={"min": 0, "max": 20000})
    all_touched: bool
    cr_warning: float = field(metadata={"min": 0, "max": 1})
    site_threshold: float = field(metadata={"min": 0, "max": 1})
    site_min_area_ha: float = field(metadata={"min": 0, "max": 10000})
    site_max_area_ha: float = field(metadata={"gt": 0, "max": 100000})
    people_per_ha: float = field(metadata={"gt": 0, "max": 10000})
    max_sites: int = field(metadata={"min": 1, "max": 10000})
    open_sites: int = field(metadata={"min": 0, "max": 10000})
    min_occupancy_people: int = field(metadata={"min": 0, "max": 1000000})
    unplaced_warning_frac: float = field(metadata={"min": 0, "max": 1})
    opening_cost_person_min: float = field(metadata={"min": 0, "max": 1000000000000.0})
    max_return_min: float = field(metadata={"gt": 0, "max": 10000})
    township_penalty_min: float = field(metadata={"min": 0, "max": 10000})
    capacity_factor: float = field(metadata={"gt": 0, "max": 100})
    time_limit_s: float = field(metadata={"gt": 0, "max": 86400})
    mip_gap: float = field(metadata={"min": 0, "max": 1})
    solver: str = field(metadata={"choices": SOLVERS})
    heuristic_time_s: float = field(metadata={"gt": 0, "max": 86400})
    cost_grid_factor: int = field(metadata={"min": 1, "max": 100})
    robustness_draws: int = field(metadata={"min": 0, "max": 10000})
    mc_spread: float = field(metadata={"min": 0, "max": 10})
    robustness_seed: int = field(metadata={"min": 0, "max": 4294967295})
    followup_school_min: float = field(metadata={"gt": 0, "max": 10000})
    followup_health_min: float = field(metadata={"gt": 0, "max": 10000})
    followup_jobs_min: float = field(metadata={"gt": 0, "max": 10000})

    def __post_init__(self) -> None:
        problems = []
        n = len(self.factors)
        a = self.ahp
        rows_ok = isinstance(a, list | tuple) and len(a) == n
        if rows_ok:
            for row in a:
                if not isinstance(row, list | tuple) or len(row) != n:
                    rows_ok = False
                    break
                if not all(
                    isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in row
                ):
                    rows_ok = False
                    break
        if not rows_ok:
            problems.append(
                f"ahp: expected {n} rows of {n} positive numbers (one per factor), found {a!r}"
            )
        r = self.ranges
        if not isinstance(r, Mapping):
            problems.append(f"ranges: expected a table factor = [lo, hi], found {r!r}")
        else:
            for k, v in r.items():
                if (
                    not isinstance(v, list | tuple)
                    or len(v) != 2
                    or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
                    or not v[0] < v[1]
                ):
                    problems.append(f"ranges.{k}: expected [lo, hi] with lo < hi, found {v!r}")
        if self.site_min_area_ha > self.site_max_area_ha:
            problems.append(
                f"site_min_area_ha {self.site_min_area_ha} is above site_max_area_ha "
                f"{self.site_max_area_ha}"
            )
        if problems:
            raise PolicyError("[suitability] " + "; ".join(problems))
        if rows_ok:
            object.__setattr__(self, "ahp", tuple(tuple(float(x) for x in row) for row in a))
        object.__setattr__(
            self,
            "ranges",
            types.MappingProxyType({k: (float(v[0]), float(v[1])) for k, v in r.items()}),
        )


#: Ceiling of every finite number in ``[relocation]`` (costs in CNY are the largest).
_RULE_VALUE_MAX = 1e12

#: Rule codes in their canonical order (also the tie order for reasons of equal weight).
RULE_CODES: tuple[str, ...] = (
    "HAZARD",
    "SEISMIC",
    "FLOOD",
    "PROTECTED",
    "HIGH_COLD",
    "STEEP",
    "REMOTE",
    "SMALL_POOR",
    "REPAIR_COSTLIER",
)

#: Field-name prefix of each rule's ``<prefix>_weight``, ``<prefix>_decisive`` and
#: ``<prefix>_clause`` settings.
_PREFIX: dict[str, str] = {
    "HAZARD": "hazard",
    "SEISMIC": "seismic",
    "FLOOD": "flood",
    "PROTECTED": "protected",
    "HIGH_COLD": "high_cold",
    "STEEP": "steep",
    "REMOTE": "remote",
    "SMALL_POOR": "small_poor",
    "REPAIR_COSTLIER": "repair",
}


@dataclass(frozen=True)
class RuleInfo:
    """The settings of one rule as read from :class:`RelocationRules`.

    Attributes
    ----------
    code : str
        Rule code, one of :data:`RULE_CODES`.
    weight : float
        Weight before scaling to the 0-100 score.
    decisive : bool
        Whether triggering this rule alone makes the village eligible.
    clause : str
        The policy clause the rule cites.
    """

    code: str
    weight: float
    decisive: bool
    clause: str


@dataclass(frozen=True)
class RelocationRules:
    """Thresholds, weights and unit costs of the relocation screening.

    Built by :func:`load_settings` from the profile's ``[relocation]`` section through
    :meth:`from_dict`; no field has a default in code (the national profile states each). Validated on
    construction: a bad value raises :class:`~layers.errors.PolicyError` listing every
    problem found.

    Attributes
    ----------
    min_score : float
        Score (0-100) at or above which a village is eligible.
    hazard_buffer_m : float
        A village at most this far from a geological hazard zone (landslide, debris flow,
        collapse, subsidence) is threatened (``geological_hazard_dist_m <= hazard_buffer_m``).
    seismic_buffer_m, flood_buffer_m : float
        The same for seismic zones (active faults) and flood zones: separate rules with
        their own clauses.
    whole_settlement_when_decisive : bool
        同步搬迁: when a decisive rule (the whole settlement is in danger) or the
        repair-in-place comparison (made for everyone) triggers, everyone moves, the
        registered poor and the others counted apart; otherwise ``admin_village_people``.
    high_cold_elev_m : float
        Mean elevation strictly above which a village is high and cold.
    steep_frac : float
        Share of village land steeper than 25 degrees (``slope_gt25_frac``) at or above
        which a village is steep.30.
    remote_township_seat_min : float
        Travel time to the township seat strictly above which a village is remote.

    remote_health_centre_min : float
        Travel time to the township health centre (or better) strictly above which a
        village is remote.
    small_poor_max_households : float
        At most this many households ...
    small_poor_min_incidence_frac : float
        ... and poverty incidence at least this: small and poor.5.
    protected_kinds : tuple of str
        Kinds of protected land whose inside triggers PROTECTED. Default ecological
        redline and drinking-water source protection zone (basic farmland restricts
        building, not living, so it is not a reason to move by default).
    road_cny_per_km : float
        Cost to harden one km of village road.
    new_road_cny_per_km : float
        Cost to build one km of new road to a village with no road (``road_access ==
        "no_road"``, length ``road_snap_m``).
    water_fixed_cny : float
        Fixed cost of a safe-water connection.
    water_cny_per_km : float
        Cost per km of pipe to the nearest safe source (``water_dist_m``). Default
        200,000 (unverified placeholder).
    clinic_cny : float
        Cost of a standard village clinic, counted when the health centre is further than
        ``clinic_reach_limit_min`` and the village has no standard clinic. Default
        300,000 (unverified placeholder).
    clinic_reach_limit_min : float
        Travel time to the health centre strictly above which a village needs its own
        standard clinic.
    relocation_cny_per_person : float
        Per-person cost of relocation.
    <prefix>_weight, <prefix>_decisive, <prefix>_clause
        Weight, decisive flag and cited clause of each rule; prefixes ``hazard``
        (geological), ``seismic``, ``flood``, ``protected``, ``high_cold``, ``steep``, ``remote``, ``small_poor``, ``repair``.
    """

    min_score: float
    # who moves from an eligible administrative village: "registered_poor" (the 建档立卡
    # people the 13th Five-Year relocation plan targets; non-poor neighbours may follow
    # voluntarily — 同步搬迁 — and are not counted) or "all"; a hamlet row always moves whole
    admin_village_people: str
    whole_settlement_when_decisive: bool
    # thresholds
    hazard_buffer_m: float
    seismic_buffer_m: float
    flood_buffer_m: float
    high_cold_elev_m: float
    steep_frac: float
    remote_township_seat_min: float
    remote_health_centre_min: float
    small_poor_max_households: float
    small_poor_min_incidence_frac: float
    protected_kinds: tuple[str, ...]
    # repair in place vs. move (all unit costs are unverified placeholders)
    road_cny_per_km: float
    new_road_cny_per_km: float
    water_fixed_cny: float
    water_cny_per_km: float
    clinic_cny: float
    clinic_reach_limit_min: float
    relocation_cny_per_person: float
    # weights (scaled so that all rules together give 100)
    hazard_weight: float
    seismic_weight: float
    flood_weight: float
    protected_weight: float
    high_cold_weight: float
    steep_weight: float
    remote_weight: float
    small_poor_weight: float
    repair_weight: float
    # decisive rules make a village eligible on their own
    hazard_decisive: bool
    seismic_decisive: bool
    flood_decisive: bool
    protected_decisive: bool
    high_cold_decisive: bool
    steep_decisive: bool
    remote_decisive: bool
    small_poor_decisive: bool
    repair_decisive: bool
    # cited clauses
    hazard_clause: str
    seismic_clause: str
    flood_clause: str
    protected_clause: str
    high_cold_clause: str
    steep_clause: str
    remote_clause: str
    small_poor_clause: str
    repair_clause: str

    def __post_init__(self) -> None:
        problems: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_decisive"):
                if not isinstance(value, bool):
                    problems.append(f"{f.name}: expected true or false, found {value!r}")
            elif f.name.endswith("_clause"):
                if not isinstance(value, str):
                    problems.append(f"{f.name}: expected text, found {value!r}")
            elif f.name == "admin_village_people":
                if value not in ("registered_poor", "all"):
                    problems.append(
                        f"admin_village_people: expected 'registered_poor' or 'all', found {value!r}"
                    )
            elif f.name == "protected_kinds":
                if isinstance(value, str) or not all(isinstance(k, str) for k in value):
                    problems.append(f"protected_kinds: expected a list of kinds, found {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{f.name}: expected a number, found {value!r}")
            elif math.isnan(value) or value < 0:
                problems.append(f"{f.name}: expected a number >= 0, found {value!r}")
            elif f.name.endswith("_frac") and value > 1:
                problems.append(f"{f.name}: expected a fraction in [0, 1], found {value!r}")
            elif f.name == "min_score" and value > 100:
                problems.append(f"min_score: expected a score in [0, 100], found {value!r}")
            elif f.name.endswith("_weight") and math.isinf(value):
                problems.append(f"{f.name}: expected a finite weight, found {value!r}")
            elif not math.isinf(value) and value > _RULE_VALUE_MAX:
                problems.append(
                    f"{f.name}: expected a number <= {_RULE_VALUE_MAX:g}, found {value!r}"
                )
        if not problems:
            total = sum(getattr(self, f"{p}_weight") for p in _PREFIX.values())
            if total <= 0:
                problems.append(
                    "weights: expected at least one rule weight > 0, found all weights 0"
                )
        if problems:
            raise PolicyError("[relocation] settings are invalid: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RelocationRules:
        """Build the rules from a ``[relocation]`` mapping (e.g. parsed TOML).

        Parameters
        ----------
        d : Mapping
            Field names to values; every field is required (the national profile states them all). Integers are
            accepted for numeric fields and lists for ``protected_kinds``.

        Returns
        -------
        RelocationRules

        Raises
        ------
        PolicyError
            If a key is not a field (the message names it and lists the valid keys), or
            a value has the wrong type or range.
        """
        valid = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in valid]
        missing = [k for k in valid if k not in d]
        if unknown or missing:
            parts = [
                f"unknown key {k!r}{_suggest(k, valid)} (valid keys: {', '.join(valid)})"
                for k in unknown
            ]
            parts += [f"missing key {k!r}" for k in missing]
            raise PolicyError("[relocation] " + "; ".join(parts))
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key == "protected_kinds" and isinstance(value, list | tuple):
                value = tuple(value)
            elif (
                isinstance(value, int)
                and not isinstance(value, bool)
                and not key.endswith(("_decisive", "_clause"))
            ):
                value = float(value)
            kwargs[key] = value
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """All settings as a plain dict (for the run manifest); inverse of :meth:`from_dict`."""
        out = asdict(self)
        out["protected_kinds"] = list(self.protected_kinds)
        return out

    def rule(self, code: str) -> RuleInfo:
        """Weight, decisive flag and clause of rule ``code``.

        Raises
        ------
        PolicyError
            If ``code`` is not one of :data:`RULE_CODES`.
        """
        if code not in _PREFIX:
            raise PolicyError(
                f"unknown relocation rule {code!r}; expected one of {', '.join(RULE_CODES)}"
            )
        p = _PREFIX[code]
        return RuleInfo(
            code=code,
            weight=float(getattr(self, f"{p}_weight")),
            decisive=bool(getattr(self, f"{p}_decisive")),
            clause=getattr(self, f"{p}_clause"),
        )

    @property
    def total_weight(self) -> float:
        """Sum of all rule weights (the score's denominator)."""
        return float(sum(self.rule(c).weight for c in RULE_CODES))


@dataclass(frozen=True)
class Settings:
    """Everything a run reads: the policy profile and every typed section.

    Built by :func:`load_settings` (or :func:`settings_from_dict` from a plan's manifest);
    frozen, so a stage cannot change what another stage sees.
    """

    profile: PolicyProfile
    province_group: str | None
    parameters: WorkspaceParameters
    road: RoadSettings
    evidence: EvidenceSettings
    access: AccessSettings
    households: HouseholdSettings
    relocation: RelocationRules
    sites: SiteSettings

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe sections (``manifest.json["settings"]``)."""
        sites = {f.name: getattr(self.sites, f.name) for f in fields(self.sites)}
        sites["ahp"] = [list(r) for r in self.sites.ahp]
        sites["ranges"] = {k: list(v) for k, v in self.sites.ranges.items()}
        sites["factors"] = list(self.sites.factors)
        access = {
            "walking": self.access.walking,
            "road_speeds_kmh": {c: dict(r) for c, r in self.access.road_speeds_kmh.items()},
            "river_width_m": self.access.river_width_m,
            "min_barrier_width_m": self.access.min_barrier_width_m,
        }
        hh = asdict(self.households)
        hh["flags"] = list(self.households.flags)
        return {
            "profile": {"name": self.profile.name, "path": self.profile.path},
            "province_group": self.province_group,
            "parameters": {
                **asdict(self.parameters),
                "timetable_years": list(self.parameters.timetable_years),
            },
            "road": asdict(self.road),
            "evidence": asdict(self.evidence),
            "access": access,
            "households": hh,
            "relocation": self.relocation.to_dict(),
            "suitability": sites,
        }

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]] | None) -> Settings:
        """A copy with some ``relocation`` / ``suitability`` values changed (a scenario).

        Raises
        ------
        PolicyError
            For an unknown section or key, or a value of the wrong type or range (every
            problem at once).
        """
        if not overrides:
            return self
        d = self.to_dict()
        problems = []
        for section, values in overrides.items():
            if section not in ("relocation", "suitability"):
                problems.append(
                    f"scenario: unknown section {section!r}; expected relocation or suitability"
                )
                continue
            d[section] = {**d[section], **dict(values or {})}
        if problems:
            raise PolicyError("\n".join(problems))
        return _from_sections(self.profile, d)


def _from_sections(
    profile: PolicyProfile, d: Mapping[str, Any], *, require_province_group: bool = True
) -> Settings:
    problems: list[str] = []
    group = d.get("province_group")
    if group is not None and group not in PROVINCE_GROUPS:
        problems.append(
            f"province_group: expected one of {', '.join(PROVINCE_GROUPS)}, found {group!r}"
        )
    by_group = [i.id for i in profile.indicators if i.thresholds_by_group]
    if group is None and by_group and require_province_group:
        # never a silent default: the lenient western threshold is a fact about the county
        problems.append(
            f"province_group: profile {profile.name!r} has thresholds by province group "
            f"(indicator(s) {', '.join(by_group)}); set [workspace] province_group = "
            f"{' | '.join(repr(g) for g in PROVINCE_GROUPS)}"
        )
    built = {
        "parameters": _build(
            WorkspaceParameters, "parameters", d.get("parameters") or {}, problems
        ),
        "road": _build(RoadSettings, "road", d.get("road") or {}, problems),
        "evidence": _build(EvidenceSettings, "evidence", d.get("evidence") or {}, problems),
        "access": _build(AccessSettings, "access", d.get("access") or {}, problems),
        "households": _build(HouseholdSettings, "households", d.get("households") or {}, problems),
        "sites": _build(SiteSettings, "suitability", d.get("suitability") or {}, problems),
    }
    try:
        built["relocation"] = RelocationRules.from_dict(d.get("relocation") or {})
    except PolicyError as exc:
        problems.append(str(exc))
    if built["households"] is not None:
        for f in built["households"].flags:
            if f not in HOUSEHOLD_FLAGS:
                problems.append(
                    f"[households] unknown flag {f!r}{_suggest(f, list(HOUSEHOLD_FLAGS))}; "
                    f"expected some of {', '.join(HOUSEHOLD_FLAGS)}"
                )
    if problems:
        where = profile.path or profile.name
        raise PolicyError(
            f"settings from {where}: {len(problems)} problem(s):\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    return Settings(profile=profile, province_group=group, **built)


def load_settings(
    policy: str | Path,
    *,
    province_group: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    policies_dir: str | Path | None = None,
    require_province_group: bool = True,
) -> Settings:
    """Read a policy profile and the workspace's parameters into one :class:`Settings`.

    Parameters
    ----------
    policy : str or Path
        Profile name (``"national"``) or path of a TOML file.
    province_group : str, optional
        ``east``, ``central`` or ``west`` (threshold overrides of the indicators).
    parameters : mapping, optional
        The workspace's ``[parameters]``; they override the profile's ``[parameters]``.
    policies_dir : str or Path, optional
        Where named profiles live.
    require_province_group : bool
        Refuse a missing ``province_group`` when the profile has thresholds by group
        (default). False only for readers that use no indicator threshold (the
        dashboard's scenario controls).

    Returns
    -------
    Settings

    Raises
    ------
    PolicyError
        The profile is missing or invalid, or any section or parameter is unknown, of the
        wrong type or out of range: every problem in one message, one line each.
    """
    profile = load_policy(policy, policies_dir=policies_dir)
    sections: dict[str, Any] = {k: dict(v) for k, v in profile.sections.items()}
    sections["parameters"] = {**sections.get("parameters", {}), **dict(parameters or {})}
    sections["province_group"] = province_group
    return _from_sections(profile, sections, require_province_group=require_province_group)


def settings_from_dict(d: Mapping[str, Any], *, policies_dir: str | Path | None = None) -> Settings:
    """Rebuild the :class:`Settings` a plan was made with from ``manifest.json["settings"]``.

    The profile (its indicators) is read again by name or path; the sections are the
    plan's own, so a scenario re-run uses exactly the plan's settings.

    Raises
    ------
    PolicyError
        When the recorded settings are incomplete or invalid, or the profile is gone.
    """
    prof = d.get("profile") or {}
    ref = (
        prof.get("path") if prof.get("path") and Path(prof["path"]).is_file() else prof.get("name")
    )
    if not ref:
        raise PolicyError("plan settings: expected a profile name, found none")
    profile = load_policy(ref, policies_dir=policies_dir)
    # a plan written before a setting existed lacks its key: the profile's own value fills
    # it (the plan's figures never read it; a re-run may), and the plan's values stand
    filled: dict[str, Any] = dict(d)
    for name, section in profile.sections.items():
        mine = d.get(name)
        if isinstance(section, Mapping) and isinstance(mine, Mapping):
            filled[name] = {**section, **mine}
        elif isinstance(section, Mapping) and mine is None:
            filled[name] = dict(section)
    return _from_sections(profile, filled)


def replace_settings(settings: Settings, **changes: Any) -> Settings:
    """``dataclasses.replace`` for :class:`Settings` (tests and scenarios)."""
    return replace(settings, **changes)
