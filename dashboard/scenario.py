"""Relocation scenarios: the controls offered to the planner, the re-run, the comparison.

:func:`run_relocation_scenario` reads a written plan through the plan contract
(:func:`layers.plan.open_plan`), applies the planner's overrides to the settings the plan
was made with, and calls the same :func:`geo.resettlement.plan_resettlement` the pipeline
calls; the page runs it in a fresh interpreter (:func:`run_scenario_view`), never in the
fork of the threaded web server. The rest of this module builds the overrides from the
panel's controls (only the ones moved away from the plan's own values), says in words
what a scenario changed, and reports its progress; the figures compared with the baseline
are :func:`dashboard.viewmodels.relocation_figures`.
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import importlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboard import security
from dashboard.i18n import t
from dashboard.plan import prepare_layer
from dashboard.viewmodels import relocation_view
from layers.catalogue import TRAVEL_KINDS
from layers.errors import AnjuError
from layers.plan import decode_road_surface, open_plan
from layers.settings import load_settings

ProgressFn = Callable[[str, float], None]


class _Lazy:
    """A module imported on first use: the relocation chain (numba, HiGHS, SciPy: half a
    second of imports) is needed by scenarios only, not by a fresh server's first page."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)


if TYPE_CHECKING:
    from geo import access, resettlement, scenario_cache
else:
    access = _Lazy("geo.access")
    resettlement = _Lazy("geo.resettlement")
    scenario_cache = _Lazy("geo.scenario_cache")

#: The village grids' memory budget (bytes): ``geo.scenario_cache.DEFAULT_MAX_BYTES``,
#: named here so that defining this module imports nothing of the chain.
_MAX_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Param:
    """A scenario control: override key, i18n label pair, range and step (its starting
    value is the plan's own setting: see :func:`defaults`)."""

    name: str
    label_zh: str
    label_en: str
    vmin: float
    vmax: float
    step: float
    group: str = "rules"


#: Suitability factors in the order of the pipeline's AHP matrix (``SITE_DEFAULTS``).
AHP_FACTORS: tuple[str, ...] = (
    "travel_min_county_seat",
    "travel_min_township_seat",
    "travel_min_industrial_park",
    "travel_min_school",
    "travel_min_health_centre",
    "road_dist_m",
    "water_dist_m",
    "slope_deg",
)

#: Controls of the scenario panel.  ``relocation`` controls go to the screening rules
#: (``RelocationRules``), ``suitability`` ones to the site settings, and ``ahp`` ones are
#: importances (1..9) of each factor, turned into a consistent AHP pairwise matrix.
PARAMS: tuple[Param, ...] = (
    Param("min_score", "搬迁评分门槛", "Relocation score threshold", 0, 100, 5, "relocation"),
    Param("hazard_buffer_m", "地灾影响距离（米）", "Hazard buffer (m)", 0, 1000, 50, "relocation"),
    Param(
        "steep_frac", "陡坡（>25°）占比门槛", "Steep-land share threshold", 0, 1, 0.05, "relocation"
    ),
    Param(
        "remote_township_seat_min",
        "到乡镇偏远阈值（分钟）",
        "Remote from township seat (min)",
        15,
        180,
        5,
        "relocation",
    ),
    Param(
        "slope_limit_deg",
        "安置点坡度上限（度）",
        "Site slope limit (deg)",
        5,
        25,
        0.5,
        "suitability",
    ),
    Param("site_threshold", "适宜性门槛", "Suitability threshold", 0.3, 0.9, 0.05, "suitability"),
    Param("capacity_factor", "安置容量系数", "Capacity factor", 0.5, 2.0, 0.1, "suitability"),
    Param(
        "open_sites",
        "安置点数量（0=自动）",
        "Number of sites (0 = solver decides)",
        0,
        30,
        1,
        "suitability",
    ),
    Param("ahp_travel_min_county_seat", "权重：到县城", "Weight: county seat", 1, 9, 1, "ahp"),
    Param("ahp_travel_min_township_seat", "权重：到乡镇", "Weight: township seat", 1, 9, 1, "ahp"),
    Param(
        "ahp_travel_min_industrial_park", "权重：到园区", "Weight: industrial park", 1, 9, 1, "ahp"
    ),
    Param("ahp_travel_min_school", "权重：到学校", "Weight: school", 1, 9, 1, "ahp"),
    Param(
        "ahp_travel_min_health_centre", "权重：到卫生院", "Weight: health centre", 1, 9, 1, "ahp"
    ),
    Param("ahp_road_dist_m", "权重：道路", "Weight: road", 1, 9, 1, "ahp"),
    Param("ahp_water_dist_m", "权重：水源", "Weight: water", 1, 9, 1, "ahp"),
    Param("ahp_slope_deg", "权重：坡度", "Weight: slope", 1, 9, 1, "ahp"),
)


#: How each control's value reads next to its slider: decimal places, unit suffix per
#: language (zh, en), shown as a percentage, and the text for 0 when 0 means "automatic".
PARAM_FORMATS: dict[str, dict[str, Any]] = {
    "min_score": {"digits": 0, "unit": (" 分", " pts")},
    "hazard_buffer_m": {"digits": 0, "unit": (" 米", " m")},
    "steep_frac": {"digits": 0, "pct": True},
    "remote_township_seat_min": {"digits": 0, "unit": (" 分钟", " min")},
    "slope_limit_deg": {"digits": 1, "unit": ("°", "°")},
    "site_threshold": {"digits": 2},
    "capacity_factor": {"digits": 1, "unit": (" 倍", "×")},
    "open_sites": {"digits": 0, "unit": (" 个", " sites"), "zero": ("自动", "auto")},
    **{f"ahp_{f}": {"digits": 0, "unit": (" / 9", " / 9")} for f in AHP_FACTORS},
}


def param_format(name: str, lang: str = "zh") -> dict[str, Any]:
    """The display spec of control ``name`` in ``lang``: ``digits``, ``suffix``, ``pct``,
    ``zero`` (text for 0, or None).  Also sent to the browser for the live label.

    Raises
    ------
    KeyError
        For an unknown control name.
    """
    f = PARAM_FORMATS[name]
    i = 1 if lang == "en" else 0
    return {
        "digits": int(f.get("digits", 0)),
        "suffix": f["unit"][i] if "unit" in f else "",
        "pct": bool(f.get("pct", False)),
        "zero": f["zero"][i] if "zero" in f else None,
    }


def format_param(name: str, value: Any, lang: str = "zh", *, unit: bool = True) -> str:
    """The value of control ``name`` as shown beside its slider (``"200 米"``, ``"30%"``).

    Mirrors ``anju.paramLabel`` in ``assets/anju.js``; ``"—"`` for a missing value.
    ``unit=False`` drops the unit suffix (for the short end marks under a slider).
    """
    spec = param_format(name, lang)
    if not unit:
        spec["suffix"] = ""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if spec["zero"] is not None and v == 0:
        return spec["zero"]
    if spec["pct"]:
        return f"{100 * v:.{spec['digits']}f}%"
    return f"{v:.{spec['digits']}f}{spec['suffix']}"


@lru_cache(maxsize=1)
def _base_parameters() -> dict[str, Any]:
    """The national (base) profile's relocation and suitability values, and its AHP weights."""
    base = load_settings("national", require_province_group=False).to_dict()
    from geo.suitability import ahp_weights

    w, _, _ = ahp_weights(np.asarray(base["suitability"]["ahp"], float))
    return {
        "relocation": base["relocation"],
        "suitability": base["suitability"],
        "ahp_weights": dict(zip(base["suitability"]["factors"], map(float, w), strict=True)),
    }


def defaults(parameters: dict[str, Any] | None = None) -> dict[str, float]:
    """Initial control values: the plan's own parameters; where a plan records none, the
    base profile's (every default lives in the profile files).

    ``parameters`` may be flat or nested (``{"relocation": {...}, "suitability": {...}}``).
    """
    parameters = {**copy.deepcopy(_base_parameters()), **(parameters or {})}
    flat: dict[str, Any] = {}
    for k, v in parameters.items():
        if isinstance(v, dict):
            flat.update(v)
        else:
            flat[k] = v
    aw = parameters.get("ahp_weights")
    if isinstance(aw, dict) and aw:
        top = max(float(w) for w in aw.values())
        for f, w in aw.items():
            flat.setdefault(f"ahp_{f}", min(9.0, max(1.0, round(9.0 * float(w) / top))))
    out = {}
    for prm in PARAMS:
        v = flat.get(prm.name)
        try:
            out[prm.name] = float(np.clip(float(v), prm.vmin, prm.vmax))
        except (TypeError, ValueError):
            # a plan value that is not a number: the base profile's value
            base = _base_parameters()
            fb = {**base["relocation"], **base["suitability"]}.get(prm.name, prm.vmin)
            out[prm.name] = float(np.clip(float(fb), prm.vmin, prm.vmax))
    return out


def ahp_matrix(
    importance: dict[str, float], factors: Sequence[str] = AHP_FACTORS
) -> list[list[float]]:
    """A perfectly consistent AHP pairwise matrix ``a_ij = w_i / w_j`` from importances."""
    w = [float(importance.get(f, 1.0)) for f in factors]
    return [[round(wi / wj, 6) for wj in w] for wi in w]


def merge_overrides(base: dict[str, Any] | None, top: dict[str, Any]) -> dict[str, Any]:
    """Two-level merge: ``top``'s sections update ``base``'s (for fixed extra settings)."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in (base or {}).items()}
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k].update(v)
        else:
            out[k] = v
    return out


def build_overrides(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """Overrides for ``run_relocation_scenario`` from the panel's controls.

    Returns ``{"relocation": {...}, "suitability": {...}}``; AHP importances become the
    ``suitability.ahp`` matrix (see :func:`ahp_matrix`); ``open_sites`` is a whole number
    (0: the solver decides).

    Raises
    ------
    ValueError
        For an unknown control name or a value out of its range.
    """
    by_name = {p.name: p for p in PARAMS}
    reloc: dict[str, Any] = {}
    suit: dict[str, Any] = {}
    imp: dict[str, float] = {}
    for name, value in zip(names, values, strict=True):
        if name not in by_name:
            raise ValueError(
                f"scenario control: unknown name {name!r}; expected one of {sorted(by_name)}"
            )
        p = by_name[name]
        v = control_value(p, value)
        if p.group == "ahp":
            imp[name.removeprefix("ahp_")] = v
        elif p.group == "relocation":
            reloc[name] = v
        elif name == "open_sites":
            suit[name] = int(round(v))  # 0: the solver decides
        else:
            suit[name] = v
    if imp:
        suit["ahp"] = ahp_matrix(imp)
    out: dict[str, Any] = {}
    if reloc:
        out["relocation"] = reloc
    if suit:
        out["suitability"] = suit
    return out


def control_value(p: Param, value: Any) -> float:
    """``value`` of control ``p`` as a number in its range.

    Raises
    ------
    ValueError
        For anything else (a text, a path, a list, NaN, infinity, out of range), naming the
        control, its range and what was found (shortened).
    """
    expected = f"a number in {p.vmin}..{p.vmax}"
    shown = repr(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"scenario control {p.name}: expected {expected}, found {shown}")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"scenario control {p.name}: expected {expected}, found {shown}") from None
    if not np.isfinite(v) or not p.vmin <= v <= p.vmax:
        raise ValueError(f"scenario control {p.name}: expected {p.vmin}..{p.vmax}, found {v}")
    return v


def validate_overrides(overrides: Any) -> None:
    """Check a scenario's overrides before any process starts.

    The sections are ``relocation`` and ``suitability``; the panel's controls must be in
    their ranges (:func:`control_value`); the other settings a run may fix
    (``DashboardConfig.scenario_base``: solver, robustness draws, time limit, MIP gap, the
    AHP matrix) must be finite numbers, a known solver, or a square matrix of positive
    numbers.  The settings' own validation (:meth:`Settings.with_overrides`) runs again in
    the worker.

    Raises
    ------
    ValueError
        Naming the first bad value.
    """
    if not isinstance(overrides, dict):
        raise ValueError(
            f"scenario: expected a table of overrides, found {type(overrides).__name__}"
        )
    by_name = {p.name: p for p in PARAMS}
    for section, items in overrides.items():
        if section not in ("relocation", "suitability") or not isinstance(items, dict):
            raise ValueError(
                f"scenario: unknown override section {str(section)[:40]!r}; "
                "expected relocation or suitability"
            )
        for k, v in items.items():
            if k in by_name:
                control_value(by_name[k], v)
            elif k == "solver":
                if v not in SOLVER_LABELS:
                    raise ValueError(
                        f"scenario: solver expected one of {sorted(SOLVER_LABELS)}, "
                        f"found {str(v)[:40]!r}"
                    )
            elif k == "ahp":
                _check_matrix(v)
            else:
                _check_number(f"{section}.{k}", v)


def _check_number(name: str, v: Any) -> None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and bool(np.isfinite(v))
    if not ok or abs(float(v)) > 1e9 or float(v) < 0:
        raise ValueError(f"scenario: {name} expected a number in 0..1e9, found {repr(v)[:40]}")


def _check_matrix(m: Any) -> None:
    n = len(m) if isinstance(m, list | tuple) else 0
    bad = not 0 < n <= 64
    if not bad:
        for row in m:
            if not isinstance(row, list | tuple) or len(row) != n:
                bad = True
                break
            for x in row:
                if isinstance(x, bool) or not isinstance(x, int | float):
                    bad = True
                elif not (np.isfinite(x) and 0 < x <= 1e6):
                    bad = True
    if bad:
        raise ValueError(f"scenario: suitability.ahp expected a {n}x{n} matrix of positive numbers")


def changed_controls(
    base: dict[str, float], names: Sequence[str], values: Sequence[Any]
) -> tuple[list[str], list[Any]]:
    """The controls whose value differs from ``base`` (the plan's own: :func:`defaults`).

    Only these become overrides, so an untouched panel re-runs the plan's own settings (the
    AHP matrix that the importances approximate is not sent unless a weight moved; when
    one did, every weight is sent, as the matrix is built from all of them).
    """
    by_name = {p.name: p for p in PARAMS}
    pairs = list(zip(names, values, strict=True))
    moved = {n for n, v in pairs if n not in base or _moved(base[n], v)}
    if any(n in by_name and by_name[n].group == "ahp" for n in moved):
        moved |= {n for n, _ in pairs if n in by_name and by_name[n].group == "ahp"}
    keep = [(n, v) for n, v in pairs if n in moved]
    return [n for n, _ in keep], [v for _, v in keep]


def _moved(was: Any, now: Any) -> bool:
    try:
        return abs(float(now) - float(was)) > 1e-9
    except (TypeError, ValueError):
        return now != was


def changed_params(
    base: dict[str, float], names: Sequence[str], values: Sequence[Any], lang: str = "zh"
) -> list[str]:
    """``"搬迁评分门槛 30 分 → 100 分"`` for each control moved away from ``base``."""
    by_name = {p.name: p for p in PARAMS}
    out = []
    for n, v in zip(names, values, strict=True):
        if n not in by_name or n not in base or not _moved(base[n], v):
            continue
        p = by_name[n]
        label = p.label_en if lang == "en" else p.label_zh
        out.append(f"{label} {format_param(n, base[n], lang)} → {format_param(n, v, lang)}")
    return out


#: Names of the settings a quick scenario run may fix (``DashboardConfig.scenario_base``).
RUN_SETTING_LABELS: dict[str, tuple[str, str]] = {
    "solver": ("求解方法", "solver"),
    "robustness_draws": ("稳健性抽样次数", "robustness draws"),
    "time_limit_s": ("求解时限（秒）", "solver time limit (s)"),
    "mip_gap": ("允许最优性间隙", "MIP gap"),
    "heuristic_time_s": ("启发式求解时限（秒）", "heuristic time limit (s)"),
}


#: The allocation solvers in words.
SOLVER_LABELS: dict[str, tuple[str, str]] = {
    "heuristic": (
        "快速（启发式，约 1 秒，给出与下界的间隙）",
        "fast (heuristic, about 1 s, gap to a bound)",
    ),
    "exact": ("精确（HiGHS 求证最优，较慢）", "exact (HiGHS proves the optimum, slower)"),
}


def solver_overrides(solver: str | None) -> dict[str, Any]:
    """The scenario's solver choice as overrides (nothing for an unknown choice)."""
    return {"suitability": {"solver": solver}} if solver in SOLVER_LABELS else {}


def _plain(v: Any, lang: str = "zh") -> str:
    if v is None:
        return "—"
    if isinstance(v, str) and v in SOLVER_LABELS:
        return SOLVER_LABELS[v][1 if lang == "en" else 0].split("（")[0].split(" (")[0]
    return f"{v:g}" if isinstance(v, float) else str(v)


def run_settings(
    scenario_base: dict[str, Any] | None, plan_settings: dict[str, Any] | None, lang: str = "zh"
) -> list[str]:
    """The fixed extra settings of every scenario run after the plan's own value:
    ``"求解时限（秒） 60 → 10"`` (DESIGN.md rule 3: a setting changed without the user's say
    is said)."""
    out = []
    for section, items in (scenario_base or {}).items():
        if not isinstance(items, dict):
            continue
        recorded = (plan_settings or {}).get(section) or {}
        for k, v in items.items():
            names = RUN_SETTING_LABELS.get(k)
            label = (names[1] if lang == "en" else names[0]) if names else f"{section}.{k}"
            was = recorded.get(k)
            if was is None and k == "solver":
                was = "exact"  # plans written before the setting existed were solved exactly
            if k == "solver" and was == v:
                continue
            out.append(f"{label} {_plain(was, lang)} → {_plain(v, lang)}")
    return out


def scenario_settings(
    plan_relocation: dict[str, Any] | None, overrides: dict[str, Any] | None
) -> dict[str, Any]:
    """The relocation settings a scenario screens with: the plan's, updated by the overrides."""
    return {**(plan_relocation or {}), **((overrides or {}).get("relocation") or {})}


#: Step names of ``geo.resettlement.plan_resettlement``'s progress → i18n key.
STAGES: tuple[tuple[str, str], ...] = (
    ("relocation screening", "stage_screening"),
    ("suitability", "stage_suitability"),
    ("sites", "stage_sites"),
    ("village", "stage_travel"),
    ("allocation", "stage_allocation"),
    ("robustness", "stage_robustness"),
)


def stage_label(stage: str, lang: str = "zh") -> str:
    """The running step in words (``"allocation (HiGHS)"`` → ``分配搬迁人口（求解）``);
    an unknown step as it is."""
    for prefix, key in STAGES:
        if stage.startswith(prefix):
            return t(key, lang)
    return stage


def progress_adapter(
    set_progress: Callable[[tuple], None], *, lang: str | None = None
) -> Callable[..., None]:
    """Adapt the pipeline's ``progress(stage, fraction)`` to ``set_progress((value, max))``.

    Also accepts ``(done, total)`` and ``(fraction,)``; the value is out of 100.  With
    ``lang``, a third item says the step in words (``正在计算：稳健性检验（80%）``).
    """

    def cb(*args: Any, **_kw: Any) -> None:
        stage = ""
        if len(args) >= 2 and isinstance(args[0], str):
            stage, frac = args[0], float(args[1])
        elif len(args) >= 2 and args[1]:
            frac = float(args[0]) / float(args[1])
        elif len(args) == 1 and isinstance(args[0], int | float):
            frac = float(args[0])
        else:
            return
        value = int(round(100 * min(max(frac, 0.0), 1.0)))
        if lang is None:
            set_progress((value, 100))
            return
        step = stage_label(stage, lang) if stage else "…"
        set_progress((value, 100, t("stage_running", lang, stage=step, pct=value)))

    return cb


@dataclass
class ScenarioResult:
    """A scenario's headline figures and layers (EPSG:4326, for the map)."""

    summary: dict
    candidates: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    allocation: gpd.GeoDataFrame
    unplaced: pd.DataFrame
    notes: list[str] = field(default_factory=list)


#: Plan layers the relocation chain reads besides the villages.
_SCENARIO_LAYERS = ("roads", "hazards", "protected", "water", "townships", "boundary")


@dataclass
class PlanInputs:
    """What every scenario on one plan reads, read and computed once: the plan's layers in
    its metric CRS, its rasters, the speed surface, the suitability factors and (for quick
    scenarios) the prepared overlays and the village grids."""

    plan_dir: Path
    settings: Any  # layers.settings.Settings, the plan's own
    villages: gpd.GeoDataFrame
    layers: dict[str, gpd.GeoDataFrame]
    grid: Any  # layers.grid.Grid
    rasters: dict[str, np.ndarray]
    outside: np.ndarray
    speed: np.ndarray
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    prep_cache: scenario_cache.PrepCache = field(default_factory=lambda: scenario_cache.PrepCache())
    travel: dict[int, scenario_cache.VillageTravelCache] = field(default_factory=dict)

    def travel_cache(
        self, factor: int, max_bytes: int = _MAX_BYTES
    ) -> scenario_cache.VillageTravelCache:
        """The village grids on the grid ``factor`` times coarser (made on first use)."""
        tc = self.travel.get(int(factor))
        if tc is None:
            tc = scenario_cache.VillageTravelCache(
                self.speed, self.grid, factor=int(factor), max_bytes=max_bytes
            )
            self.travel = {int(factor): tc}  # one factor at a time: bounded memory
        return tc


def read_plan_inputs(plan_dir: str | Path) -> PlanInputs:
    """Read a written plan's layers and rasters for scenarios and rebuild its speed surface.

    Raises
    ------
    LayerSchemaError, LayerNotFoundError
        When the plan is incomplete or unreadable.
    """
    plan = open_plan(plan_dir)
    settings = plan.settings()
    crs = plan.metric_crs
    layers = {k: plan.read_layer(k, crs=crs) for k in _SCENARIO_LAYERS if k in plan.layer_names}
    if "roads" in layers:
        layers["roads"] = decode_road_surface(layers["roads"])
    villages = plan.read_layer("villages", crs=crs)
    slope, grid = plan.read_raster("slope_deg")
    rasters = {"slope_deg": slope}
    for kind in TRAVEL_KINDS:
        rasters[f"travel_min_{kind}"] = plan.read_raster(f"travel_min_{kind}")[0]
    outside = ~np.isfinite(plan.read_raster("dem")[0])
    speed, _ = access.county_speed_surface(
        layers["roads"],
        slope_deg=slope,
        outside=outside,
        transform=grid.transform,
        water=layers.get("water"),
        road_speeds=settings.access.road_speed_table,
        cliff_slope_deg=settings.parameters.cliff_slope_deg,
        river_width_m=settings.access.river_width_m,
        min_barrier_width_m=settings.access.min_barrier_width_m,
    )
    if "sites" in plan.layer_names:
        s = plan.read_layer("sites", crs=crs)
        layers["sites"] = s[s["source"] == "planner"][
            ["site_id", "name", "capacity_people", "locked", "geometry"]
        ]
    return PlanInputs(
        plan_dir=Path(plan_dir),
        settings=settings,
        villages=villages,
        layers=layers,
        grid=grid,
        rasters=rasters,
        outside=outside,
        speed=speed,
    )


def _result(inputs: PlanInputs, reloc: resettlement.ResettlementResult) -> ScenarioResult:
    villages = inputs.villages
    alloc, unplaced = resettlement.allocation_frames(villages, reloc.sites, reloc.allocation)
    summary = reloc.summary()
    if summary.get("mean_robustness_opened") is not None and not np.isfinite(
        summary["mean_robustness_opened"]
    ):
        summary["mean_robustness_opened"] = None  # not computed: no figure
    return ScenarioResult(
        summary=summary,
        candidates=reloc.candidates(villages).to_crs(4326),
        sites=reloc.sites.to_crs(4326),
        allocation=alloc.to_crs(4326),
        unplaced=unplaced,
        notes=reloc.notes,
    )


def run_relocation_scenario(
    plan_dir: str | Path,
    *,
    overrides: dict | None = None,
    progress: ProgressFn | None = None,
) -> ScenarioResult:
    """Re-run screening, suitability, sites, allocation and robustness on a written plan.

    Parameters
    ----------
    plan_dir
        A plan directory written by ``anju run``.
    overrides
        ``{"relocation": {...}, "suitability": {...}}``: values that replace the plan's
        own settings (validated like a profile's).
    progress
        ``progress(stage, fraction)``.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    PolicyError
        For an unknown or out-of-range override.
    LayerSchemaError, LayerNotFoundError
        When the plan is incomplete or unreadable.
    """
    inputs = read_plan_inputs(plan_dir)
    settings = inputs.settings.with_overrides(overrides)
    reloc = resettlement.plan_resettlement(
        inputs.villages,
        inputs.layers,
        inputs.grid,
        inputs.rasters,
        inputs.speed,
        inputs.outside,
        rules=settings.relocation,
        sites=settings.sites,
        progress=progress,
    )
    return _result(inputs, reloc)


#: The heuristic's time budget in a quick scenario (s) unless the dashboard's
#: ``scenario_base`` sets ``suitability.heuristic_time_s``.
QUICK_HEURISTIC_S = 0.3


def quick_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The overrides of the interactive answer: the planner's, with the fast heuristic
    (within :data:`QUICK_HEURISTIC_S` unless the overrides set a budget)."""
    out = merge_overrides(overrides, {"suitability": {"solver": "heuristic"}})
    out["suitability"].setdefault("heuristic_time_s", QUICK_HEURISTIC_S)
    return out


def exact_overrides(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """The overrides of the background answer: the planner's, solved exactly by HiGHS."""
    return merge_overrides(overrides, {"suitability": {"solver": "exact"}})


def run_quick_scenario(
    inputs: PlanInputs,
    *,
    overrides: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    max_bytes: int = _MAX_BYTES,
) -> ScenarioResult:
    """The interactive answer of a scenario on a plan read once (:func:`read_plan_inputs`).

    The chain of :func:`run_relocation_scenario` (:func:`geo.scenario_cache.quick_resettlement`)
    with cached village grids, the fast heuristic (:func:`quick_overrides`) and no
    robustness draws; its notes say both. The overrides' own solver is replaced.

    Raises
    ------
    PolicyError
        For an unknown or out-of-range override.
    """
    settings = inputs.settings.with_overrides(quick_overrides(overrides))
    if not inputs.factors:
        inputs.factors = resettlement.factor_rasters(inputs.rasters, inputs.layers, inputs.grid)
    reloc = scenario_cache.quick_resettlement(
        inputs.villages,
        inputs.layers,
        inputs.grid,
        inputs.rasters,
        inputs.outside,
        rules=settings.relocation,
        sites=settings.sites,
        factors=inputs.factors,
        prep_cache=inputs.prep_cache,
        travel=inputs.travel_cache(settings.sites.cost_grid_factor, max_bytes),
        progress=progress,
    )
    return _result(inputs, reloc)


# --------------------------------------------------------------------------- isolated run


class ScenarioRunError(AnjuError, RuntimeError):
    """The scenario process failed (its message says why)."""


def scenario_view(
    res: ScenarioResult,
    *,
    settings: dict[str, Any],
    lang: str = "zh",
    metric_crs: Any = None,
    simplify_m: float = 20.0,
    precision: int = 5,
) -> dict[str, Any]:
    """A scenario result as the relocation page shows it: its layers simplified and rounded
    for the browser like the plan's (:func:`dashboard.plan.prepare_layer`), then
    :func:`dashboard.viewmodels.relocation_view` with the relocation ``settings`` it was
    screened with."""

    def web(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return prepare_layer(gdf, metric_crs=metric_crs, simplify_m=simplify_m, precision=precision)

    return relocation_view(
        candidates=web(res.candidates),
        sites=web(res.sites),
        allocation=web(res.allocation),
        unplaced=res.unplaced,
        summary=res.summary,
        notes=res.notes,
        settings=settings,
        lang=lang,
    )


#: The command that runs :func:`worker_main` in a fresh interpreter.
WORKER = (sys.executable, "-c", "from dashboard.scenario import worker_main; worker_main()")


def run_scenario_view(
    plan_dir: str | Path,
    *,
    overrides: dict[str, Any],
    settings: dict[str, Any],
    lang: str = "zh",
    web: dict[str, Any] | None = None,
    progress: ProgressFn | None = None,
    command: Sequence[str] = WORKER,
) -> dict[str, Any]:
    """Run a scenario in a fresh Python process and return its view (:func:`scenario_view`).

    The page's background callback runs in a fork of the threaded web server. A fork taken
    while another thread (a map tile being rendered) holds the lock of GDAL's or PROJ's
    bundled SQLite deadlocks on the first raster or CRS the child opens, and the run never
    ends. A fresh interpreter inherits no lock; cancelling the callback kills it with its
    parent.

    Parameters
    ----------
    plan_dir, overrides
        As for :func:`run_relocation_scenario`.
    settings
        The relocation settings the scenario screens with (:func:`scenario_settings`).
    web
        ``metric_crs``, ``simplify_m``, ``precision`` for :func:`scenario_view`.
    progress
        ``progress(stage, fraction)``, called as the worker reports.
    command
        The worker's command line (tests replace it).

    Raises
    ------
    ValueError
        For a bad override (:func:`validate_overrides`), before any process starts.
    JobRefusedError
        When this browser session or the server runs as many scenarios as allowed already
        (:func:`dashboard.security.job_slot`); no process starts.
    ScenarioRunError
        When the scenario fails: the worker's message (a bad override, an incomplete plan),
        or the end of its error output when it stopped otherwise.
    """
    validate_overrides(overrides)  # before any process starts
    with security.job_slot(security.session_id()):
        return _run_worker(plan_dir, overrides, settings, lang, web, progress, command)


def _run_worker(
    plan_dir: str | Path,
    overrides: dict[str, Any],
    settings: dict[str, Any],
    lang: str,
    web: dict[str, Any] | None,
    progress: ProgressFn | None,
    command: Sequence[str],
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> dict[str, Any]:
    job = {
        "plan_dir": str(plan_dir),
        "overrides": overrides,
        "settings": settings,
        "lang": lang,
        "web": web or {},
    }
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as err:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            encoding="utf-8",
        )
        if on_start is not None:
            on_start(proc)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(job))
        proc.stdin.close()
        result: dict[str, Any] | None = None
        failure: str | None = None
        for line in proc.stdout:  # other lines are a library's own output (the solver's log)
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "@anju:P" and progress is not None:
                frac, _, stage = rest.partition(" ")
                progress(stage, float(frac))
            elif kind == "@anju:R":
                result = json.loads(rest)
            elif kind == "@anju:E":
                failure = json.loads(rest)
        code = proc.wait()
        err.seek(0)
        tail = err.read()[-1500:].strip()
    if failure is not None:
        raise ScenarioRunError(failure)
    if code != 0 or result is None:
        raise ScenarioRunError(
            f"the scenario process stopped (exit code {code}) without a result"
            + (f": {tail.splitlines()[-1]}" if tail else "")
        )
    return result


def worker_main() -> None:
    """Read a job (JSON) on stdin, run it, write ``@anju:P <fraction> <stage>`` lines while
    it runs and ``@anju:R <view JSON>`` at the end; ``@anju:E <message JSON>`` (exit code 2)
    for a scenario that cannot run (a bad override, an incomplete plan)."""
    job = json.loads(sys.stdin.read())

    def report(stage: str, frac: float) -> None:
        print(f"@anju:P {float(frac):.4f} {stage}", flush=True)

    try:
        res = run_relocation_scenario(job["plan_dir"], overrides=job["overrides"], progress=report)
    except (AnjuError, ValueError) as exc:
        print("@anju:E " + json.dumps(str(exc), ensure_ascii=False), flush=True)
        sys.exit(2)
    view = scenario_view(res, settings=job["settings"], lang=job["lang"], **job["web"])
    status = res.summary.get("allocation_status")
    view["answer"] = answer_of(res.summary, "heuristic" if status == "heuristic" else "exact")
    print("@anju:R " + json.dumps(view, ensure_ascii=False, allow_nan=False), flush=True)


# --------------------------------------------------------------------------- quick answers
#
# The interactive answer runs in one long-lived worker per server process: a fresh
# interpreter (never a fork of the threaded server, see run_scenario_view) that keeps the
# plan's inputs and village grids between scenarios. The exact HiGHS solve of the same
# scenario then runs in a fresh process of its own (run_scenario_view with the exact
# solver), in a background thread of the server; the page polls it (exact_job_status).

#: The command of the long-lived quick worker (:func:`quick_worker_main`).
QUICK_WORKER = (
    sys.executable,
    "-c",
    "from dashboard.scenario import quick_worker_main; quick_worker_main()",
)

#: Plans a quick worker keeps read (the least recently used leaves).
QUICK_PLANS = 2


class QuickEngine:
    """Quick scenarios on the plans read so far (:class:`PlanInputs` by plan directory,
    re-read when the plan's manifest changes)."""

    def __init__(self, *, keep: int = QUICK_PLANS, max_bytes: int = _MAX_BYTES):
        self.keep = keep
        self.max_bytes = max_bytes
        self._plans: dict[str, tuple[float, PlanInputs]] = {}

    def inputs(self, plan_dir: str | Path) -> PlanInputs:
        """The plan's inputs, read on first use (and again when ``manifest.json`` changed).

        Raises
        ------
        LayerSchemaError, LayerNotFoundError
            When the plan is incomplete or unreadable.
        """
        key = str(Path(plan_dir).resolve())
        manifest = Path(key) / "manifest.json"
        stamp = manifest.stat().st_mtime if manifest.is_file() else -1.0
        hit = self._plans.pop(key, None)
        if hit is None or hit[0] != stamp:
            hit = (stamp, read_plan_inputs(key))
        self._plans[key] = hit  # most recent last
        while len(self._plans) > self.keep:
            self._plans.pop(next(iter(self._plans)))
        return hit[1]

    def warm(self, plan_dir: str | Path) -> int:
        """Read the plan and compute the grids of the villages its own settings move, so the
        first scenario is quick too; returns the grids computed."""
        inputs = self.inputs(plan_dir)
        settings = inputs.settings
        if not inputs.factors:
            inputs.factors = resettlement.factor_rasters(inputs.rasters, inputs.layers, inputs.grid)
        inputs.prep_cache.get(
            inputs.factors, settings.sites, inputs.layers, inputs.grid, inputs.outside
        )
        from geo import relocation

        screened = relocation.screen(inputs.villages, rules=settings.relocation)
        movers = inputs.villages.loc[screened["eligible"].fillna(False).astype(bool)]
        tc = inputs.travel_cache(settings.sites.cost_grid_factor, self.max_bytes)
        return tc.warm(movers.geometry.representative_point())

    def run(self, job: dict[str, Any], progress: ProgressFn | None = None) -> dict[str, Any]:
        """A job of :func:`run_quick_view` → the page's view, with its ``answer``."""
        inputs = self.inputs(job["plan_dir"])
        res = run_quick_scenario(
            inputs, overrides=job["overrides"], progress=progress, max_bytes=self.max_bytes
        )
        view = scenario_view(res, settings=job["settings"], lang=job["lang"], **job["web"])
        view["answer"] = answer_of(res.summary, "heuristic")
        return view


def answer_of(summary: dict[str, Any], kind: str) -> dict[str, Any]:
    """Which answer a view shows: ``kind`` (``heuristic``: the interactive answer;
    ``exact``: HiGHS), the solver's status and its gap (None when unknown)."""
    gap = summary.get("allocation_gap")
    return {
        "kind": kind,
        "status": summary.get("allocation_status"),
        "gap": float(gap) if isinstance(gap, int | float) and np.isfinite(gap) else None,
    }


def _gap_text(gap: float | None, lang: str) -> str:
    if gap is None:
        return t("unknown", lang)
    return f"{100 * gap:.2f}%"


def answer_line(view: dict[str, Any] | None, lang: str = "zh") -> str:
    """Which answer the scenario shows, in words (empty for a view without ``answer``:
    the baseline): the heuristic and its gap, the exact solve running or how it ended, or
    the exact result (proven optimal, or stopped with its gap)."""
    if not view or not isinstance(view.get("answer"), dict):
        return ""
    a = view["answer"]
    gap = _gap_text(a.get("gap"), lang)
    if a.get("kind") == "exact":
        status = a.get("status")
        if status == "optimal":
            return t("answer_optimal", lang)
        if status in ("time_limit", "gap_limit"):
            return t("answer_stopped", lang, status=status, gap=gap)
        return t("answer_exact_other", lang, status=status)
    key = "answer_heuristic" if a.get("gap") is not None else "answer_heuristic_nobound"
    parts = [t(key, lang, gap=gap)]
    job = view.get("exact_job") or {}
    state = job.get("state")
    if state == "running":
        parts.append(t("answer_running_bg", lang))
    elif state in ("failed", "refused"):
        parts.append(t(f"answer_{state}", lang, error=job.get("error") or "—"))
    elif state == "cancelled":
        parts.append(t("answer_cancelled", lang))
    return " ".join(parts)


def quick_worker_main() -> None:
    """Serve quick scenarios: one JSON job per line on stdin (``{"id", "op": "run" | "warm",
    ...}``); ``@anju:R <id> <view JSON>`` or ``@anju:E <id> <message JSON>`` per job on
    stdout. Ends at the end of stdin."""
    engine = QuickEngine()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        jid = str(job.get("id"))
        try:
            if job.get("op") == "warm":
                out: Any = {"grids": engine.warm(job["plan_dir"])}
            else:
                out = engine.run(job)
        except (AnjuError, ValueError, OSError) as exc:
            print(f"@anju:E {jid} " + json.dumps(str(exc), ensure_ascii=False), flush=True)
            continue
        print(f"@anju:R {jid} " + json.dumps(out, ensure_ascii=False, allow_nan=False), flush=True)


class QuickWorker:
    """The server's side of the quick worker: one process, one job at a time.

    Parameters
    ----------
    command
        The worker's command line (tests replace it).
    timeout_s
        How long a job may take (the first one reads the plan) before the worker is
        stopped and the job fails.
    """

    def __init__(self, command: Sequence[str] = QUICK_WORKER, *, timeout_s: float = 300.0):
        self.command = list(command)
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pid = os.getpid()
        self._n = 0

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None and self._pid == os.getpid():
            return self._proc
        self._pid = os.getpid()  # a forked copy starts its own worker
        self._lines = queue.Queue()
        self._err = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            text=True,
            encoding="utf-8",
        )
        lines = self._lines

        def pump() -> None:
            assert proc.stdout is not None
            for ln in proc.stdout:
                if ln.startswith("@anju:"):  # other lines are a library's own output
                    lines.put(ln.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True, name="anju-quick-worker").start()
        self._proc = proc
        return proc

    def request(self, job: dict[str, Any]) -> Any:
        """Send one job, wait for its answer.

        Raises
        ------
        ScenarioRunError
            The worker's message, or why it stopped without an answer.
        """
        with self._lock:
            proc = self._start()
            self._n += 1
            jid = str(self._n)
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps({**job, "id": jid}) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._stop()
                raise ScenarioRunError("the scenario worker stopped; try again") from None
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    self._stop()
                    raise ScenarioRunError(
                        f"the scenario took longer than {self.timeout_s:g} s and was stopped"
                    ) from None
                if line is None:
                    tail = self._tail()
                    self._stop()
                    raise ScenarioRunError(
                        "the scenario worker stopped without a result"
                        + (f": {tail.splitlines()[-1]}" if tail else "")
                    )
                kind, _, rest = line.partition(" ")
                rid, _, body = rest.partition(" ")
                if rid != jid:
                    continue  # the answer of a job whose caller gave up
                if kind == "@anju:E":
                    raise ScenarioRunError(json.loads(body))
                return json.loads(body)

    def _tail(self) -> str:
        try:
            self._err.seek(0)
            return self._err.read()[-1500:].strip()
        except (OSError, ValueError, AttributeError):
            return ""

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the worker (it also ends with the server: its stdin closes)."""
        with self._lock:
            if self._proc is not None and self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                except OSError:
                    pass
            self._stop()


_QUICK: dict[str, QuickWorker] = {}
_QUICK_LOCK = threading.Lock()


def quick_worker() -> QuickWorker:
    """This server process's quick worker (started on first use)."""
    with _QUICK_LOCK:
        w = _QUICK.get("w")
        if w is None:
            w = _QUICK["w"] = QuickWorker()
        return w


def warm_quick_worker(plan_dir: str | Path, worker: QuickWorker | None = None) -> None:
    """Read the plan and compute its village grids in the quick worker, in a background
    thread (the page calls this when it opens, so the first scenario is quick too)."""
    w = worker or quick_worker()

    def go() -> None:
        try:
            w.request({"op": "warm", "plan_dir": str(plan_dir)})
        except ScenarioRunError:
            pass  # the scenario itself will say what is wrong with the plan

    threading.Thread(target=go, daemon=True, name="anju-quick-warm").start()


def run_quick_view(
    plan_dir: str | Path,
    *,
    overrides: dict[str, Any],
    settings: dict[str, Any],
    lang: str = "zh",
    web: dict[str, Any] | None = None,
    worker: QuickWorker | None = None,
) -> dict[str, Any]:
    """The interactive answer of a scenario (the fast heuristic, no robustness draws) as
    the page's view, with ``answer`` saying so (:func:`answer_of`).

    Raises
    ------
    ValueError
        For a bad override (:func:`validate_overrides`).
    JobRefusedError
        When this browser session or the server runs as many scenarios as allowed already.
    ScenarioRunError
        When the scenario fails (the worker's message).
    """
    validate_overrides(overrides)
    job = {
        "op": "run",
        "plan_dir": str(plan_dir),
        "overrides": overrides,
        "settings": settings,
        "lang": lang,
        "web": web or {},
    }
    with security.job_slot(security.session_id()):
        view = (worker or quick_worker()).request(job)
    if not isinstance(view, dict):
        raise ScenarioRunError("the scenario worker answered without a view")
    return view


# --------------------------------------------------------------------------- exact jobs


@dataclass
class ExactJob:
    """A background exact solve of one scenario."""

    key: str
    session: str | None
    started: float
    state: str = "running"  # running, done, failed, refused, cancelled
    view: dict[str, Any] | None = None
    error: str | None = None
    proc: subprocess.Popen[str] | None = None
    thread: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        """JSON-safe state for the page (no view)."""
        return {"key": self.key, "state": self.state, "started": self.started, "error": self.error}


class ExactJobs:
    """Background exact solves, keyed by scenario; a session's new scenario cancels its
    previous solve. Each holds one slot of the exact pool (:func:`dashboard.security.job_slot`
    in ``<private folder>/exact``), apart from the quick answers' slots.

    Parameters
    ----------
    command
        The exact worker's command line (:data:`WORKER`; tests replace it).
    keep
        Finished jobs kept for polling (oldest leave first).
    folder
        Where the exact pool's lock files live (default: the server's private folder).
    slot_wait_s
        How long a job waits for a free slot before it is refused.
    """

    def __init__(
        self,
        command: Sequence[str] = WORKER,
        *,
        keep: int = 32,
        folder: Path | None = None,
        slot_wait_s: float = 5.0,
    ):
        self.slot_wait_s = slot_wait_s
        self.command = list(command)
        self.keep = keep
        self.folder = folder
        self._jobs: dict[str, ExactJob] = {}
        self._lock = threading.Lock()

    def start(
        self,
        plan_dir: str | Path,
        *,
        overrides: dict[str, Any],
        settings: dict[str, Any],
        lang: str = "zh",
        web: dict[str, Any] | None = None,
        session: str | None = None,
    ) -> ExactJob:
        """Start the exact solve of a scenario in the background (returns at once)."""
        ov = exact_overrides(overrides)
        key = hashlib.sha256(
            json.dumps([str(plan_dir), ov, lang, session, time.time()], sort_keys=True).encode()
        ).hexdigest()[:24]
        job = ExactJob(key=key, session=session, started=time.time())
        with self._lock:
            for old in self._jobs.values():
                if old.session == session and old.state == "running":
                    self._cancel(old)
            self._jobs[key] = job
            done = [k for k, j in self._jobs.items() if j.state != "running"]
            for k in done[: max(0, len(self._jobs) - self.keep)]:
                del self._jobs[k]

        def on_start(proc: subprocess.Popen[str]) -> None:
            with self._lock:
                job.proc = proc
                if job.state == "cancelled":
                    proc.kill()

        def go() -> None:
            folder = (self.folder or security.runtime_dir()) / "exact"
            folder.mkdir(mode=0o700, exist_ok=True)
            # the session's previous solve, just cancelled, frees its slot within moments
            deadline = time.monotonic() + self.slot_wait_s
            while True:
                try:
                    with security.job_slot(session, folder=folder):
                        if job.state == "cancelled":
                            return
                        view = _run_worker(
                            plan_dir, ov, settings, lang, web, None, self.command, on_start
                        )
                    break
                except security.JobRefusedError as exc:
                    if job.state == "cancelled":
                        return
                    if time.monotonic() < deadline:
                        time.sleep(0.1)
                        continue
                    self._finish(job, "refused", error=str(exc))
                    return
                except (AnjuError, ValueError) as exc:
                    self._finish(job, "failed", error=str(exc))
                    return
            self._finish(job, "done", view=view)

        job.thread = threading.Thread(target=go, daemon=True, name=f"anju-exact-{key}")
        job.thread.start()
        return job

    def _finish(
        self, job: ExactJob, state: str, *, view: dict | None = None, error: str | None = None
    ) -> None:
        with self._lock:
            if job.state == "cancelled":
                return
            job.state, job.view, job.error, job.proc = state, view, error, None

    def _cancel(self, job: ExactJob) -> None:
        job.state = "cancelled"
        if job.proc is not None and job.proc.poll() is None:
            job.proc.kill()  # our own child, by its handle

    def cancel(self, key: str) -> None:
        """Stop a running job (it ends as ``cancelled``)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state == "running":
                self._cancel(job)

    def cancel_all(self) -> None:
        """Stop every running job (at the server's exit)."""
        with self._lock:
            for job in self._jobs.values():
                if job.state == "running":
                    self._cancel(job)

    def get(self, key: str | None) -> ExactJob | None:
        """The job of ``key`` (None when unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(key) if key else None

    def wait(self, key: str, timeout: float | None = None) -> ExactJob | None:
        """Wait for a job's thread to end (tests and benchmarks)."""
        job = self.get(key)
        if job is not None and job.thread is not None:
            job.thread.join(timeout)
        return job


_EXACT: dict[str, ExactJobs] = {}


def exact_jobs() -> ExactJobs:
    """This server process's background exact solves."""
    with _QUICK_LOCK:
        j = _EXACT.get("j")
        if j is None:
            j = _EXACT["j"] = ExactJobs()
            atexit.register(j.cancel_all)  # no solve outlives the server
        return j
