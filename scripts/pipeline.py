"""The pipeline behind ``anju run``: workspace in, plan directory out. It only wires.

Stages, each timed into ``manifest.json``::

    load (layers.workspace + layers.settings) → terrain (geo.terrain) →
    village terrain (geo.zonal) → road network (geo.network) →
    travel time (geo.access) → water (geo.coverage) → indicators (geo.indicators) →
    coverage tables (geo.coverage) → households (geo.households) →
    exit timetable (geo.timetable) →
    relocation, sites, allocation, robustness (geo.resettlement) →
    site progress (geo.site_progress) → write (layers.plan)

Every analysis step lives in ``geo/``; every setting comes from the one
:class:`~layers.settings.Settings` object; the plan is written through the plan
contract (:func:`layers.plan.write_plan`), atomically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio.features import geometry_mask
from tqdm import tqdm

from geo import access, coverage, indicators, network, resettlement, site_progress, terrain, zonal
from geo import households as hh_mod
from geo import timetable as tt_mod
from layers.catalogue import HAZARD_GROUPS, TRAVEL_KINDS
from layers.errors import LayerSchemaError
from layers.grid import Grid
from layers.plan import (
    EarlyRasters,
    PlanOutput,
    _TerminateAsExit,
    clean_stale_siblings,
    write_plan,
)
from layers.settings import Settings
from layers.workspace import LoadedWorkspace, file_sha256, load_workspace

__all__ = ["run_pipeline"]

ProgressFn = Callable[[str, float], None]

#: Layers of the workspace copied into the plan as they are (for the map).
_CONTEXT_LAYERS = (
    "boundary",
    "townships",
    "clinics",
    "schools",
    "towns",
    "water",
    "hazards",
    "protected",
)
#: Which header vocabulary each bureau table uses (geo.coverage.chinese_headers).
_TABLE_KIND = {
    "transport": "transport",
    "road": "transport",
    "water": "water",
    "health": "health",
    "leaders": "leaders",
    "households": "households",
}


class _Timer:
    def __init__(self, progress: ProgressFn | None):
        self.stages: dict[str, float] = {}
        self.progress = progress
        self._name: str | None = None
        self._t0 = 0.0

    def start(self, name: str, frac: float) -> None:
        self.stop()
        self._name, self._t0 = name, time.perf_counter()
        if self.progress:
            self.progress(name, frac)

    def stop(self) -> None:
        if self._name:
            self.stages[self._name] = round(time.perf_counter() - self._t0, 3)
            self._name = None


class _Stopped(Exception):
    """The run failed elsewhere: the relocation worker stops at its next progress report."""


class _Relocation:
    """The relocation chain on a worker thread, so that it overlaps the stages that do not
    feed it: ``prepare()`` (the suitability inputs) starts at once, ``relocate(villages,
    prep, progress)`` once :meth:`start` hands over the villages; :meth:`result` joins it
    (its exception, if any, is raised there). :meth:`close` stops it when the run fails:
    it never waits for villages that will not come, and stops at its next progress report."""

    def __init__(
        self,
        prepare: Callable[[], Any],
        relocate: Callable[[pd.DataFrame, Any, ProgressFn], Any],
        progress: ProgressFn,
    ) -> None:
        self._villages: Future = Future()
        self._stop = threading.Event()
        self._progress = progress
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anju-relocation")
        self._fut = pool.submit(self._work, prepare, relocate)
        pool.shutdown(wait=False)  # the one task runs on; the pool takes no other

    def _report(self, name: str, frac: float) -> None:
        if self._stop.is_set():
            raise _Stopped(name)
        self._progress(name, frac)

    def _work(self, prepare: Callable[[], Any], relocate: Callable[..., Any]) -> Any:
        prep = prepare()
        villages = self._villages.result()  # CancelledError once close() ran
        return relocate(villages, prep, self._report)

    def start(self, villages: pd.DataFrame) -> None:
        self._villages.set_result(villages)

    def result(self) -> Any:
        return self._fut.result()

    def close(self) -> None:
        self._stop.set()
        self._villages.cancel()


def _tqdm_progress() -> tuple[ProgressFn, Callable[[bool], None]]:
    bar = tqdm(
        total=100, desc="anju", unit="%", bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}"
    )
    state = {"n": 0}
    lock = threading.Lock()  # stages run searches on several threads

    def cb(name: str, frac: float) -> None:
        with lock:
            target = int(round(frac * 100))
            bar.update(max(0, target - state["n"]))
            state["n"] = max(state["n"], target)
            bar.set_postfix_str(name)

    def close(ok: bool = True) -> None:
        if ok:
            bar.update(100 - state["n"])
            bar.set_postfix_str("done")
        else:
            bar.set_postfix_str("stopped: see the problems below")
        bar.close()

    return cb, close


def _zh_headers(tables: dict[str, pd.DataFrame], settings: Settings) -> dict[str, pd.DataFrame]:
    out = {}
    for name, df in tables.items():
        kind = _TABLE_KIND.get(name.split("_")[0], "villages")
        try:
            out[name] = coverage.chinese_headers(df, kind, profile=settings.profile)
        except LayerSchemaError:
            out[name] = df  # a table without a Chinese vocabulary keeps its English headers
    return out


def _summary(
    villages: pd.DataFrame, gaps: pd.DataFrame, reloc: resettlement.ResettlementResult
) -> dict:
    bc = villages["blocker_class"].value_counts()

    def count(mask: pd.Series) -> int:
        return int(mask.fillna(False).astype(bool).sum())

    known = gaps["known_unhardened_km"].sum() if "known_unhardened_km" in gaps else np.nan
    unknown = gaps["unknown_surface_km"].sum() if "unknown_surface_km" in gaps else np.nan
    s: dict[str, Any] = {
        "villages": int(len(villages)),
        "villages_assessed": int(villages["exit_applicable"].sum()),
        "population": int(coverage.counted_population(villages).sum()),
        **{k: int(bc.get(k, 0)) for k in indicators.BLOCKER_CLASSES},
        "exit_ready": int(bc.get("ready", 0)),
        # km to harden that are known; km of unknown surface are to survey, shown apart
        "km_to_harden": float(round(known, 2)) if len(gaps) else 0.0,
        "km_unknown_surface": float(round(unknown, 2)) if len(gaps) else 0.0,
        "villages_without_hardened_road": count(villages["road_access"] != "hardened"),
        "no_safe_water": count(villages["has_safe_water"].astype("boolean") == False),  # noqa: E712
        "safe_water_unknown": int(villages["has_safe_water"].isna().sum())
        if "has_safe_water" in villages
        else 0,
        "incidence_conflicts": count(
            villages.get("incidence_source", pd.Series(dtype=object)) == "conflict"
        ),
    }
    if "clinic_status" in villages:
        s["no_standard_clinic"] = count(villages["clinic_status"] == "not_met")
        s["clinic_unknown"] = count(villages["clinic_status"] == "unknown")
    s.update(reloc.summary())
    return s


def _on_water(points: gpd.GeoSeries, bodies: gpd.GeoSeries) -> np.ndarray:
    """Per point: within the union of the water bodies. A point within one body is; one
    that only touches bodies (on an edge) is tested against the union of those it touches,
    which holds it when it lies on an edge two bodies share. The spatial index spares the
    union of every body (0.4 s for the 33 bodies of a scale-4 demo) and a test against it."""
    # the index on the points and the bodies as queries: each body is prepared once, so a
    # point costs a lookup instead of a walk around a body's thousands of vertices
    shapely.prepare(bodies.to_numpy())  # once for both queries
    _, inside = points.sindex.query(bodies, predicate="contains")
    out = np.zeros(len(points), dtype=bool)
    out[inside] = True
    bi, pi = points.sindex.query(bodies, predicate="intersects")
    for i in np.unique(pi[~out[pi]]):
        out[i] = points.iloc[i].within(bodies.iloc[bi[pi == i]].union_all())
    return out


def _input_warnings(
    layers: dict,
    travel: dict[str, access.TravelTimes],
    villages: pd.DataFrame,
    *,
    dem_margin_m: float | None = None,
) -> list[str]:
    """Destinations and hazards the run could not see: blank, never "unreachable" or "safe"."""
    out = []
    wb = access.water_bodies(layers.get("water"))
    # which destinations lie on water, every kind in one query (each body prepared once)
    on_water: dict[str, np.ndarray] = {}
    if wb is not None:
        wet_kinds = [
            k for k, tt in travel.items() if len(tt.destinations) and wb.crs == tt.destinations.crs
        ]
        if wet_kinds:
            pts = [travel[k].destinations.geometry.to_numpy() for k in wet_kinds]
            flags = _on_water(gpd.GeoSeries(np.concatenate(pts)), wb.geometry)
            ends = np.cumsum([len(p) for p in pts])
            on_water = dict(zip(wet_kinds, np.split(flags, ends[:-1]), strict=True))
    for kind, tt in travel.items():
        if not len(tt.destinations):
            out.append(
                f"no {kind.replace('_', ' ')} in the workspace: travel_min_{kind} is blank (unknown), "
                "and the rules and site factors that read it are unknown or left out"
            )
        elif tt.outside_grid:
            out.append(
                f"{tt.outside_grid} {kind.replace('_', ' ')} destination(s) lie outside the DEM and were "
                "left out of the travel times"
                + (
                    f" (the DEM is read to the county boundary and {dem_margin_m / 1000:g} km "
                    "around it: raise margin_m in [layers.dem] to reach them)"
                    if dem_margin_m is not None
                    else ""
                )
            )
        if len(tt.destinations):
            # destinations on barriers: cut off when no cell but their own is nearest to them
            # (all neighbours barriers too: deep outside the county, in a wide water body,
            # among cliffs), else starting from their fastest passable neighbour
            ids = tt.destinations["dest_id"].to_numpy()
            cut = tt.cut_off()
            if cut.any():
                out.append(
                    f"{int(cut.sum())} {kind.replace('_', ' ')} destination(s) are cut off by "
                    "barriers (land outside the county, water bodies, cliffs): no cell but their "
                    f"own has them as nearest, so no village reaches them: "
                    f"{', '.join(map(str, ids[cut][:10]))}"
                )
            if kind in on_water:
                wet = on_water[kind] & ~cut
                if wet.any():
                    out.append(
                        f"{int(wet.sum())} {kind.replace('_', ' ')} destination(s) lie on a water "
                        "body (a barrier): their travel times start from the nearest passable "
                        f"cell: {', '.join(map(str, ids[wet][:10]))}"
                    )
        blank = int(villages[f"travel_min_{kind}"].isna().sum())
        if len(tt.destinations) and blank:
            out.append(
                f"{blank} village(s) have no travel time to a {kind.replace('_', ' ')} (unknown)"
            )
    if layers.get("protected") is None:
        out.append(
            "no protected-land layer: the protected-land relocation rule is unknown and sites are "
            "not screened against ecological redlines or basic farmland"
        )
    if layers.get("households") is None:
        out.append(
            "no household register: poverty incidence comes from the village figures alone and "
            "household exit is not assessed"
        )
    hz = layers.get("hazards")
    if hz is None:
        out.append(
            "no hazards layer: the geological, seismic and flood relocation rules are unknown"
        )
    else:
        for group, kinds in HAZARD_GROUPS.items():
            if not hz["kind"].isin(kinds).any():
                out.append(
                    f"the hazards layer maps no {group} zone ({', '.join(kinds)}): the {group} "
                    "relocation rule finds none"
                )
    return out


def _evidence_warnings(ev: pd.DataFrame) -> list[str]:
    """What the indicators could not see: never a silent figure (DESIGN.md rule 3)."""
    out = []
    if ev.attrs.get("missing_evidence"):
        out.append(
            "indicator evidence missing from the workspace (those indicators are unknown): "
            + ", ".join(ev.attrs["missing_evidence"])
        )
    if ev.attrs.get("poverty_flag_missing"):
        out.append(
            "villages carry no poverty-village flag (贫困村): exit readiness was assessed for "
            "every administrative village"
        )
    n = int((ev.get("incidence_source", pd.Series(dtype=object)) == "conflict").sum())
    if n:
        out.append(
            f"{n} village(s): household register and village figure disagree or the register is "
            "incomplete; their incidence is unknown until verified"
        )
    n = int((ev["n_unconfirmed"] > 0).sum())
    if n:
        out.append(
            f"{n} village(s) meet an indicator only through inferred evidence (road surfaces taken "
            "from the road class); they are not counted ready until confirmed"
        )
    return out


def _indicators_json(settings: Settings) -> dict:
    p = settings.profile
    return {
        "profile": {
            "name": p.name,
            "title_zh": p.title_zh,
            "title_en": p.title_en,
            "kind": p.kind,
            "pass_score": p.pass_score,
            "verified": p.verified,
            "inferred_counts_as_met": settings.evidence.inferred_counts_as_met,
        },
        "indicators": [
            {
                "id": i.id,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "rule": i.rule,
                "evidence": i.evidence,
                "threshold": i.threshold_for(settings.province_group),
                "unit": i.unit,
                "clause": i.clause,
                "clause_en": i.clause_en,
                "weight": i.weight,
                "verified": i.verified,
            }
            for i in p.indicators
        ],
    }


def _manifest(
    lw: LoadedWorkspace,
    settings: Settings,
    grid: Grid,
    reloc: resettlement.ResettlementResult,
    *,
    timer: _Timer,
    n_filled: int,
    allow_personal: bool,
    summary: dict,
    warnings: list[str],
) -> dict:
    ws = lw.workspace
    inputs = [
        {
            "kind": kind,
            "path": str(path),
            "sha256": file_sha256(path),
            "features": int(len(lw.layers[kind])) if kind in lw.layers else None,
        }
        for kind, src in ws.sources.items()
        for path in (src.tiles or [src.path])
    ]
    try:
        ver = version("anju")
    except PackageNotFoundError:
        ver = "0+unknown"
    sd = settings.to_dict()
    return {
        "anju_version": ver,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "workspace": {"name": ws.name, "path": str(ws.root.resolve())},
        "policy": {
            "name": settings.profile.name,
            "title_zh": settings.profile.title_zh,
            "title_en": settings.profile.title_en,
            "province_group": ws.province_group,
        },
        "crs_metric": grid.crs.to_string(),
        "grid": {"shape": list(grid.shape), "cellsize_m": list(grid.cellsize)},
        "dem": lw.dem_info,
        "inputs": inputs,
        # what the dashboard's scenario panel starts from, and every setting of the run
        "parameters": {
            "workspace": sd["parameters"],
            "road": sd["road"],
            "relocation": sd["relocation"],
            "suitability": sd["suitability"],
            "ahp_weights": reloc.weights,
            "allow_personal": allow_personal,
        },
        "settings": sd,
        "stages": {
            **timer.stages,
            **{f"relocation.{k}": round(v, 3) for k, v in reloc.timings.items()},
        },
        "warnings": [p.line() for p in lw.warnings]
        + warnings
        + reloc.notes
        + ([f"filled {n_filled} void cell(s) in the DEM"] if n_filled else []),
        "summary": summary,
    }


def run_pipeline(
    workspace: str | Path,
    out: str | Path,
    *,
    policy: str | None = None,
    allow_personal: bool = False,
    progress: bool | ProgressFn = True,
    xlsx: bool = False,
) -> dict:
    """Run every stage on ``workspace`` and write the plan into ``out``.

    Parameters
    ----------
    workspace
        Workspace folder with ``workspace.toml``.
    out
        Plan directory; replaced atomically at the end (never half-written).
    policy
        Policy profile name or path; default: the workspace's.
    allow_personal
        Write household names, ID numbers and phones unmasked. Off by default.
    progress
        True for a terminal progress bar, a callable ``(stage, fraction)``, or False.
    xlsx
        Also write every table as an XLSX workbook (CSV is always written).

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``).

    Raises
    ------
    ValidationError
        Input problems, settings included (all of them).
    AnjuError
        Other bad input (CRS...).
    """
    close = None
    cb: ProgressFn | None = None
    if progress is True:
        cb, close = _tqdm_progress()
    elif callable(progress):
        cb = progress
    timer = _Timer(cb)
    try:
        manifest = _run(Path(workspace), Path(out), policy, allow_personal, timer, cb, xlsx)
    except BaseException:
        timer.stop()
        if close:
            close(False)
        raise
    timer.stop()
    if close:
        close(True)
    return manifest


def _run(
    workspace: Path,
    out: Path,
    policy: str | None,
    allow_personal: bool,
    timer: _Timer,
    cb: ProgressFn | None,
    xlsx: bool = False,
) -> dict:
    """The pipeline's stages; the rasters known early are written while the rest runs
    (:class:`layers.plan.EarlyRasters`), and their temporary folder is removed on any
    failure or SIGTERM before the plan is in place."""
    early: list[EarlyRasters] = []
    background: list[_Relocation] = []
    with _TerminateAsExit():
        try:
            return _stages(
                workspace, out, policy, allow_personal, timer, cb, xlsx, early, background
            )
        except BaseException:
            for b in background:
                b.close()
            for e in early:
                e.close(remove=True)
            raise


def _stages(
    workspace: Path,
    out: Path,
    policy: str | None,
    allow_personal: bool,
    timer: _Timer,
    cb: ProgressFn | None,
    xlsx: bool,
    early: list[EarlyRasters],
    background: list[_Relocation],
) -> dict:
    timer.start("load", 0.0)
    if out.exists() and not out.is_dir():
        raise LayerSchemaError(f"{out}: --out must be a plan directory; found a file")
    blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        raise LayerSchemaError(f"{out}: --out is inside {blocked}, which is a file")
    clean_stale_siblings(out)  # leftovers of killed runs go first, not only after a success
    lw = load_workspace(workspace, policy=policy)
    lw.raise_for_errors()
    settings = lw.settings
    assert settings is not None  # raise_for_errors refuses invalid settings
    L = lw.layers
    villages = L["villages"].copy()
    dem = lw.dem
    assert dem is not None and lw.metric_crs is not None  # required inputs, validated
    grid = Grid(dem.shape, dem.transform, lw.metric_crs)
    params = settings.parameters

    timer.start("terrain", 0.05)
    outside = geometry_mask(
        L["boundary"].geometry,
        out_shape=grid.shape,
        transform=grid.transform,
        invert=False,
        all_touched=True,
    )
    z, slope, n_filled = terrain.county_terrain(dem.z, outside, cellsize=dem.cellsize)

    timer.start("village terrain", 0.15)
    villages = villages.join(
        zonal.village_terrain(
            villages,
            boundary=L["boundary"],
            z=z,
            slope_deg=slope,
            transform=grid.transform,
            hazards=L.get("hazards"),
            protected=L.get("protected"),
            radius_m=params.village_catchment_radius_m,
        )
    )

    if lw.dem_info and lw.dem_info.get("terrain_rules_unknown"):
        # a DEM coarser than dem_max_cell_m measures neither the share of steep land nor a
        # village's mean elevation: blank (unknown), so STEEP and HIGH_COLD are unknown
        # (DESIGN.md rule 2), in this run and in the dashboard's re-scoring of the plan
        villages["slope_gt25_frac"] = np.nan
        villages["elev_mean_m"] = np.nan

    timer.start("road network", 0.25)
    net, gap = network.village_road_access(
        L["roads"],
        villages,
        towns=L.get("towns"),
        snap_tolerance_m=params.road_snap_tolerance_m,
        max_snap_m=settings.road.max_snap_m,
        hardened_snap_m=settings.road.snap_tolerance_m,
        connection_max_m=settings.road.connection_max_m,
    )
    gap_cols = [
        "road_snap_m",
        "road_access",
        "unhardened_km",
        "unknown_surface_km",
        "connection_km",
        "inferred_km",
        "road_evidence",
        "gap_edge_ids",
    ]
    villages = villages.join(gap[[c for c in gap_cols if c in gap.columns]])

    timer.start("travel time", 0.35)
    speed, road_mask = access.county_speed_surface(
        L["roads"],
        slope_deg=slope,
        outside=outside,
        transform=grid.transform,
        water=L.get("water"),
        road_speeds=settings.access.road_speed_table,
        cliff_slope_deg=params.cliff_slope_deg,
        river_width_m=settings.access.river_width_m,
        min_barrier_width_m=settings.access.min_barrier_width_m,
    )
    dests = {
        kind: access.destinations(
            kind,
            towns=L.get("towns"),
            clinics=L.get("clinics"),
            schools=L.get("schools"),
            crs=grid.crs,
        )
        for kind in TRAVEL_KINDS
    }

    def tcb(kind: str, frac: float) -> None:
        if cb:
            cb(f"travel time: {kind}", 0.35 + 0.2 * frac)

    travel = access.travel_times(
        speed,
        dests,
        transform=grid.transform,
        walking=settings.access.walking,
        z=z,
        road_mask=road_mask,
        progress=tcb,
    )
    # the rasters known now are compressed on a worker thread while the rest runs
    early.append(EarlyRasters(out, grid))
    travel_rasters = {f"travel_min_{k}": t.minutes for k, t in travel.items()}
    for name, arr in {"dem": z, "slope_deg": slope, **travel_rasters}.items():
        early[0].submit(name, arr)
    # relocation runs on a worker thread from here: the suitability inputs need no village
    # figure, and the screening reads only the columns known once the water access is
    # joined below (terrain, hazards, travel, road, water), none that the indicators,
    # coverage or timetable stages add; HiGHS and the search kernels release the GIL
    rasters = {**travel_rasters, "slope_deg": slope}

    def rcb(name: str, frac: float) -> None:
        if cb:
            cb(name, 0.65 + 0.25 * frac)

    def prepare_suitability() -> resettlement.SuitabilityInputs:
        # the sites' exclusions (rasterised buffers: GDAL releases the GIL) beside the
        # distance transforms of the factors
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="anju-exclusion") as ex:
            excl = ex.submit(resettlement.site_exclusion, settings.sites, L, grid, outside, slope)
            factors = resettlement.factor_rasters(rasters, L, grid)
            return resettlement.prepare_suitability(
                factors, settings.sites, L, grid, outside, exclusion=excl.result()
            )

    reloc_bg = _Relocation(
        prepare_suitability,
        lambda vil, prep, progress: resettlement.plan_resettlement(
            vil,
            L,
            grid,
            rasters,
            speed,
            outside,
            rules=settings.relocation,
            sites=settings.sites,
            progress=progress,
            prep=prep,
        ),
        rcb,
    )
    background.append(reloc_bg)
    pts = villages.geometry.representative_point()
    villages = villages.join(access.sample_travel_times(pts, travel, transform=grid.transform))
    dem_src = lw.workspace.sources.get("dem")
    input_warnings = _input_warnings(
        L,
        travel,
        villages,
        dem_margin_m=dem_src.margin_m if dem_src is not None and "boundary" in L else None,
    )
    villages = villages.join(coverage.water_access(villages, L.get("water")))
    reloc_bg.start(villages.copy())  # a copy: the stages below add columns to villages

    timer.start("indicators", 0.55)
    hh = L.get("households")
    villages["hosts_health_centre"] = indicators.health_centre_hosts(
        villages, L.get("clinics"), radius_m=params.village_catchment_radius_m
    )
    ev = indicators.evaluate(
        villages,
        settings.profile,
        households=hh,
        province_group=settings.province_group,
        evidence=settings.evidence,
    )
    villages = villages.join(ev[[c for c in ev.columns if c not in villages.columns]])
    villages["exit_ready"] = ev[
        "exit_ready"
    ]  # nullable: not assessed for hamlets and non-poverty villages
    evidence_warnings = input_warnings + _evidence_warnings(ev)

    timer.start("coverage", 0.6)
    gaps = coverage.road_gaps(net.edges, villages)
    tv = villages[villages["road_access"] != "hardened"]
    tv_cols = (
        "village_id",
        "name",
        "township",
        "population",
        "road_access",
        "road_evidence",
        "road_snap_m",
        "unhardened_km",
        "unknown_surface_km",
        "connection_km",
        "inferred_km",
    )
    tables: dict[str, pd.DataFrame] = {
        "transport_townships": coverage.transport_summary(villages, gaps=gaps),
        "water_villages": coverage.water_summary(villages),
        "water_townships": coverage.water_township_summary(villages),
        "health_villages": coverage.health_summary(villages),
        "health_townships": coverage.health_township_summary(villages),
        "leaders_townships": coverage.leader_summary(villages),
        "transport_villages": pd.DataFrame(tv[[c for c in tv_cols if c in tv.columns]]),
    }
    hh_eval = None
    if hh is not None and len(hh):
        hh_eval = hh_mod.evaluate_households(
            hh,
            income_line_cny=settings.households.income_line_cny,
            flags=list(settings.households.flags),
            allow_personal=allow_personal,
        )

    timer.start("timetable", 0.64)
    tt = tt_mod.village_timetable(villages, current_year=params.current_year)
    villages = villages.drop(columns=[c for c in tt.columns if c in villages.columns]).join(tt)
    tables["timetable"] = tt_mod.timetable_by_year(
        villages,
        years=params.timetable_years,
        current_year=params.current_year,
        indicator_ids=settings.profile.ids,
        gaps=gaps,
        households=hh,
    )
    tables["at_risk"] = tt_mod.at_risk(villages, indicator_ids=settings.profile.ids)
    monitored = None
    if hh is not None and len(hh):
        monitored = tt_mod.monitoring(
            hh,
            villages,
            income_line_cny=settings.households.income_line_cny,
            margin_frac=settings.households.monitoring_margin_frac,
        )
        tables["monitoring"] = monitored
    evidence_warnings += tt_mod.timetable_warnings(
        tt,
        years=params.timetable_years,
        households=hh,
        monitored=monitored,
        current_year_stated="current_year" in lw.workspace.parameters,
    )
    timetable_summary = tt_mod.summary(
        villages, tables["timetable"], current_year=params.current_year, monitored=monitored
    )

    timer.start("relocation", 0.65)  # the time still to wait for it (relocation.* its steps)
    reloc = reloc_bg.result()
    early[0].submit("suitability", reloc.suitability)
    sc = reloc.screened
    villages["eligible"] = sc["eligible"].to_numpy()
    villages["reloc_score"] = sc["score"].to_numpy()
    villages["reloc_rank"] = sc["rank"].to_numpy()
    villages["reasons_zh"] = sc["reasons_zh"].to_numpy()
    villages["reasons_en"] = sc["reasons_en"].to_numpy()
    a = reloc.allocation.assignments
    villages["site_id"] = villages["village_id"].map(
        dict(zip(a["village_id"], a["site_id"], strict=False))
    )

    timer.start("site progress", 0.91)
    sites = reloc.sites
    alloc, unplaced = resettlement.allocation_frames(villages, sites, reloc.allocation)
    # minutes between each town and each site followed (jobs in reach), on the allocation's grid
    follow = site_progress.followed(sites)
    towns = L.get("towns")
    town_minutes = None
    if towns is not None and len(towns) and follow.any():
        town_minutes = resettlement.site_cost_matrix(
            speed,
            grid,
            towns.geometry.representative_point(),
            sites[follow].geometry.representative_point(),
            factor=settings.sites.cost_grid_factor,
        )
    progress_cols = site_progress.follow_sites(
        sites,
        allocation=alloc,
        current_year=params.current_year,
        school_max_min=settings.sites.followup_school_min,
        health_max_min=settings.sites.followup_health_min,
        jobs_max_min=settings.sites.followup_jobs_min,
        towns=towns,
        town_minutes=town_minutes,
        town_site_ids=list(sites.loc[follow, "site_id"].astype(str)),
    )
    evidence_warnings += site_progress.site_warnings(
        progress_cols,
        has_planner_sites=L.get("sites") is not None and len(L["sites"]) > 0,
    )
    sites = sites.drop(columns=[c for c in progress_cols.columns if c in sites.columns]).join(
        progress_cols
    )

    timer.start("write", 0.92)  # write_plan records the time the files take as stage "write"
    cand = reloc.candidates(villages)
    layers: dict[str, pd.DataFrame] = {
        "villages": villages.drop(columns=[c for c in ("gap_edge_ids",) if c in villages.columns]),
        "road_gaps": gaps
        if len(gaps)
        else gpd.GeoDataFrame(
            gaps, geometry=gaps.geometry if "geometry" in gaps else [], crs=villages.crs
        ),
        "relocation_candidates": cand,
        "sites": sites,
        "site_points": gpd.GeoDataFrame(
            sites.drop(columns="geometry"),
            geometry=sites.geometry.representative_point(),
            crs=sites.crs,
        ),
        "allocation": alloc,
        **{k: L[k] for k in _CONTEXT_LAYERS if k in L and len(L[k])},
        "roads": L["roads"],
    }
    tables.update(
        {
            "road_gaps": gaps,
            "relocation_candidates": cand[cand["eligible"].fillna(False).astype(bool)].sort_values(
                "rank"
            ),
            "sites": sites,
            "allocation": alloc,
            "unplaced": unplaced,
            "site_progress": site_progress.progress_table(sites),
        }
    )
    if hh_eval is not None:
        tables["households"] = hh_eval
    timer.stop()
    summary = {
        **_summary(villages, gaps, reloc),
        **timetable_summary,
        **site_progress.summary(sites),
    }
    tables_zh = _zh_headers(tables, settings)
    for name in ("timetable", "at_risk", "monitoring"):
        if name in tables:
            tables_zh[name] = tt_mod.chinese_headers(tables[name], profile=settings.profile)
    tables_zh["site_progress"] = site_progress.chinese_headers(tables["site_progress"])
    tables_zh["sites"] = site_progress.chinese_headers(tables_zh["sites"])
    plan = PlanOutput(
        grid=grid,
        layers=layers,
        rasters={
            "dem": z,
            "slope_deg": slope,
            **travel_rasters,
            "suitability": reloc.suitability,
        },
        tables=tables,
        tables_zh=tables_zh,
        indicators=_indicators_json(settings),
        manifest=_manifest(
            lw,
            settings,
            grid,
            reloc,
            timer=timer,
            n_filled=n_filled,
            allow_personal=allow_personal,
            summary=summary,
            warnings=evidence_warnings,
        ),
    )
    return write_plan(out, plan, xlsx=xlsx, early=early[0])
