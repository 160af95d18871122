"""The pipeline behind ``anju run``: workspace in, plan directory out.

Stages (each timed into ``manifest.json``)::

    load → terrain → villages (zonal) → network → access → water/hazards →
    indicators → coverage → relocation → suitability → sites → allocation →
    robustness → write

All analysis happens in ``geo/`` on arrays and GeoDataFrames in the workspace's
metric CRS; this module only wires stages together, reads settings once (from the
workspace and the policy profile) and writes the outputs. Outputs are first
written to a temporary sibling folder and moved into place at the end, so a
failed run never leaves a half-written plan.

:func:`run_relocation_scenario` re-runs the relocation stages (screening,
suitability, sites, allocation, robustness) on a written plan with changed
settings — the dashboard's scenario panel calls it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS
from rasterio.transform import Affine, rowcol
from shapely.geometry import LineString

from geo import access, network, terrain, zonal
from layers.catalogue import TRAVEL_KINDS
from layers.crs import STORAGE_CRS
from layers.errors import PolicyError

ProgressFn = Callable[[str, float], None]


# Defaults of the relocation-site stages; a policy profile's [suitability] section
# overrides any of them (see data/policies/national.toml).
SITE_DEFAULTS: dict[str, Any] = {
    "factors": [
        "travel_min_county_seat",
        "travel_min_township_seat",
        "travel_min_industrial_park",
        "travel_min_school",
        "travel_min_health_centre",
        "road_dist_m",
        "water_dist_m",
        "slope_deg",
    ],
    # Saaty pairwise judgements, rows/cols in the order of `factors`.
    "ahp": [
        [1, 1, 2, 2, 2, 1, 1, 3],
        [1, 1, 2, 2, 2, 1, 1, 3],
        [1 / 2, 1 / 2, 1, 1, 1, 1 / 2, 1 / 2, 2],
        [1 / 2, 1 / 2, 1, 1, 1, 1 / 2, 1 / 2, 2],
        [1 / 2, 1 / 2, 1, 1, 1, 1 / 2, 1 / 2, 2],
        [1, 1, 2, 2, 2, 1, 1, 3],
        [1, 1, 2, 2, 2, 1, 1, 3],
        [1 / 3, 1 / 3, 1 / 2, 1 / 2, 1 / 2, 1 / 3, 1 / 3, 1],
    ],
    # (lo, hi): full score at or below lo, zero at or above hi (all factors are costs).
    "ranges": {
        "travel_min_county_seat": [15, 120],
        "travel_min_township_seat": [5, 60],
        "travel_min_industrial_park": [15, 120],
        "travel_min_school": [5, 45],
        "travel_min_health_centre": [5, 45],
        "road_dist_m": [0, 1500],
        "water_dist_m": [0, 3000],
        "slope_deg": [0, 14.04],
    },
    "site_threshold": 0.6,
    "site_min_area_ha": 3.0,
    "site_max_area_ha": 40.0,
    "people_per_ha": 150.0,
    "max_sites": 60,
    "open_sites": None,  # p of the capacitated p-median; None = open as many as the solver likes
    "max_return_min": 120.0,
    "township_penalty_min": 15.0,
    "capacity_factor": 1.0,
    "time_limit_s": 60.0,
    "mip_gap": 0.005,  # relative MIP gap at which HiGHS stops; the achieved gap is reported
    "cost_grid_factor": 3,  # village→site minutes on a 3x coarser grid (documented speed/accuracy trade)
    "robustness_draws": 30,
}
# Largest error LERC may add when writing these rasters (per-village values are sampled
# before writing, at full precision); recorded in manifest.json.
RASTER_MAX_Z_ERROR = {"travel_min": 0.05, "suitability": 0.0005}
_SUIT_PARAM_KEYS = {
    "slope_limit_deg",
    "hazard_buffer_m",
    "protected_buffer_m",
    "water_buffer_m",
    "cr_warning",
    "mc_spread",
    "mc_draws",
    "all_touched",
}


@dataclass
class Grid:
    shape: tuple[int, int]
    transform: Affine
    crs: CRS

    @property
    def cellsize(self) -> tuple[float, float]:
        return (abs(self.transform.a), abs(self.transform.e))


@dataclass
class ScenarioResult:
    summary: dict
    candidates: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    allocation: gpd.GeoDataFrame
    unplaced: pd.DataFrame
    notes: list[str] = field(default_factory=list)


class _Timer:
    def __init__(self, progress: ProgressFn | None):
        self.stages: dict[str, float] = {}
        self.progress = progress
        self._name, self._t0 = None, 0.0

    def start(self, name: str, frac: float) -> None:
        self.stop()
        self._name, self._t0 = name, time.perf_counter()
        if self.progress:
            self.progress(name, frac)

    def stop(self) -> None:
        if self._name:
            self.stages[self._name] = round(time.perf_counter() - self._t0, 3)
            self._name = None


def _tqdm_progress() -> tuple[ProgressFn, Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(
        total=100, desc="anju", unit="%", bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}"
    )
    state = {"n": 0}

    def cb(name: str, frac: float) -> None:
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


# ----------------------------------------------------------------------------- stages


def _points(gdf: gpd.GeoDataFrame) -> gpd.GeoSeries:
    return gdf.geometry.representative_point()


def _cells(grid: Grid, pts: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, c = rowcol(grid.transform, pts.x.to_numpy(), pts.y.to_numpy())
    r, c = np.asarray(r), np.asarray(c)
    inside = (r >= 0) & (r < grid.shape[0]) & (c >= 0) & (c < grid.shape[1])
    return r, c, inside


def destinations(layers: dict, kind: str) -> gpd.GeoDataFrame:
    """The destinations of one travel-time kind, with an ``dest_id`` column."""
    empty = gpd.GeoDataFrame({"dest_id": []}, geometry=[], crs=layers["villages"].crs)
    towns, clinics, schools = layers.get("towns"), layers.get("clinics"), layers.get("schools")
    if kind in ("county_seat", "township_seat", "industrial_park"):
        if towns is None:
            return empty
        kinds = {
            "county_seat": ["county_seat"],
            "township_seat": ["township_seat", "county_seat"],
            "industrial_park": ["industrial_park"],
        }[kind]
        d = towns[towns["kind"].isin(kinds)]
        return gpd.GeoDataFrame(
            {"dest_id": d["town_id"].to_numpy()}, geometry=_points(d).to_numpy(), crs=d.crs
        )
    if kind in ("village_clinic", "health_centre"):
        if clinics is None:
            return empty
        levels = (
            ["village_clinic"]
            if kind == "village_clinic"
            else ["township_health_centre", "county_hospital"]
        )
        d = clinics[clinics["level"].isin(levels)]
        return gpd.GeoDataFrame(
            {"dest_id": d["clinic_id"].to_numpy()}, geometry=_points(d).to_numpy(), crs=d.crs
        )
    if kind == "school":
        if schools is None:
            return empty
        return gpd.GeoDataFrame(
            {"dest_id": schools["school_id"].to_numpy()},
            geometry=_points(schools).to_numpy(),
            crs=schools.crs,
        )
    raise ValueError(f"unknown travel kind {kind!r}; expected one of {', '.join(TRAVEL_KINDS)}")


def stage_terrain(
    dem, boundary: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Fill voids inside the county, compute slope; return (z, slope_deg, outside_mask, n_filled)."""
    from rasterio.features import geometry_mask

    z = dem.z
    outside = geometry_mask(
        boundary.geometry,
        out_shape=z.shape,
        transform=dem.transform,
        invert=False,
        all_touched=True,
    )
    # voids inside the county are filled; everything outside stays NaN
    z_filled, n_filled = terrain.fill_voids(np.where(outside, np.nan, z), outside=outside)
    z_filled = np.where(outside, np.nan, z_filled)
    slope = terrain.slope(z_filled, cellsize=dem.cellsize).astype("float32")
    return z_filled, slope, outside, n_filled


def stage_village_terrain(
    villages, boundary, z, slope, transform, hazards, protected, *, radius_m: float
) -> pd.DataFrame:
    """Terrain statistics per village (polygons, or Voronoi catchments of points) + hazard/protected columns."""
    is_point = villages.geometry.geom_type.isin(["Point", "MultiPoint"]).all()
    if is_point:
        polys = zonal.catchments(
            villages[["village_id", "geometry"]], boundary=boundary, radius_m=radius_m
        )
        polys = polys.set_index(villages.index) if len(polys) == len(villages) else polys
    else:
        polys = villages[["village_id", "geometry"]]
    hz = _hazard_zones(hazards)
    stats = zonal.village_terrain_stats(polys, z, slope, transform=transform, hazard_polygons=hz)
    stats.index = villages.index
    out = stats.copy()
    geom = villages.geometry
    if hz is not None and len(hz):
        union = hz.union_all()
        out["hazard_dist_m"] = geom.distance(union).round(1).to_numpy()
    else:
        out["hazard_dist_m"] = np.inf
    out["in_protected"] = False
    out["protected_kind"] = None
    if protected is not None and len(protected):
        j = gpd.sjoin(
            gpd.GeoDataFrame(geometry=_points(villages), crs=villages.crs),
            protected[["kind", "geometry"]],
            predicate="within",
            how="left",
        )
        j = j[~j.index.duplicated(keep="first")]
        out["in_protected"] = j["kind"].notna().to_numpy()
        out["protected_kind"] = j["kind"].where(j["kind"].notna(), None).to_numpy()
    return out


def _hazard_zones(hazards) -> gpd.GeoDataFrame | None:
    if hazards is None or not len(hazards):
        return None
    g = hazards.copy()
    pts = g.geometry.geom_type.isin(["Point", "MultiPoint"])
    if pts.any():
        g.loc[pts, "geometry"] = g.loc[pts].geometry.buffer(
            g.loc[pts, "radius_m"].astype(float).to_numpy()
        )
    return g


def stage_network(
    layers, villages, *, snap_tolerance_m: float, max_snap_m: float, hardened_snap_m: float
):
    roads = layers["roads"]
    net = network.build_network(roads, snap_tolerance_m=snap_tolerance_m)
    seat = None
    towns = layers.get("towns")
    if towns is not None and (towns["kind"] == "county_seat").any():
        seat = _points(towns[towns["kind"] == "county_seat"]).iloc[0]
    gap = network.unhardened_gap(
        net,
        villages,
        max_snap_m=max_snap_m,
        hardened_network_snap_m=hardened_snap_m,
        county_seat=seat,
    )
    gap.index = villages.index
    return net, gap


def water_bodies(layers: dict) -> gpd.GeoDataFrame | None:
    """Rivers, lakes and reservoirs of the water layer (kind ``water_body``), or None."""
    water = layers.get("water")
    if water is None or not len(water):
        return None
    wb = water[
        (water["kind"] == "water_body") & water.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    ]
    return wb if len(wb) else None


def speed_raster(
    layers: dict, grid: Grid, slope, outside, *, cliff_slope_deg: float, road_speeds=None
) -> np.ndarray:
    """Speed surface (km/h): roads by class and surface; Tobler off road; water bodies, cliffs and
    land outside the county as barriers (a road crossing water is a bridge and stays passable)."""
    from rasterio.features import geometry_mask

    road_speed = access.rasterize_roads(
        layers["roads"],
        shape=grid.shape,
        transform=grid.transform,
        **({"speed_by_class_surface": road_speeds} if road_speeds else {}),
    )
    barriers = outside.copy()
    wb = water_bodies(layers)
    if wb is not None:
        barriers |= geometry_mask(
            wb.geometry, out_shape=grid.shape, transform=grid.transform, invert=True
        )
    return access.speed_surface(
        slope_deg=np.where(outside, np.nan, slope),
        road_raster_speed=np.where(outside, 0, road_speed),
        barriers=barriers,
        cliff_slope_deg=cliff_slope_deg,
    )


def stage_access(
    layers,
    grid: Grid,
    slope,
    outside,
    *,
    cliff_slope_deg: float,
    road_speeds=None,
    progress: ProgressFn | None = None,
    frac0: float = 0.0,
    frac1: float = 1.0,
):
    """Speed surface and travel-time rasters; returns (speed, {kind: (minutes, nearest_label, dest gdf)})."""
    speed = speed_raster(
        layers, grid, slope, outside, road_speeds=road_speeds, cliff_slope_deg=cliff_slope_deg
    )
    results = {}
    for k, kind in enumerate(TRAVEL_KINDS):
        if progress:
            progress(f"travel time: {kind}", frac0 + (frac1 - frac0) * k / len(TRAVEL_KINDS))
        d = destinations(layers, kind)
        labels = np.full(grid.shape, -1, dtype=np.int64)
        if len(d):
            r, c, inside = _cells(grid, d.geometry)
            labels[r[inside], c[inside]] = np.flatnonzero(inside)
        if (labels >= 0).any():
            minutes, nearest = access.travel_time_with_nearest(
                speed, labels, cellsize=grid.cellsize
            )
        else:
            minutes, nearest = np.full(grid.shape, np.nan), np.full(grid.shape, -1)
        results[kind] = (minutes.astype("float32"), nearest, d)
    return speed, results


def sample_access(villages, grid: Grid, results) -> pd.DataFrame:
    pts = _points(villages)
    r, c, inside = _cells(grid, pts)
    out = pd.DataFrame(index=villages.index)
    for kind, (minutes, nearest, d) in results.items():
        vals = np.full(len(villages), np.nan)
        near = np.full(len(villages), None, dtype=object)
        vals[inside] = minutes[r[inside], c[inside]]
        lab = np.full(len(villages), -1)
        lab[inside] = nearest[r[inside], c[inside]]
        ok = lab >= 0
        ids = d["dest_id"].to_numpy()
        near[ok] = ids[lab[ok]]
        out[f"travel_min_{kind}"] = np.round(vals, 2)
        out[f"nearest_{kind}_id"] = near
    return out


def stage_water(villages, water) -> pd.DataFrame:
    out = pd.DataFrame(index=villages.index)
    out["water_dist_m"] = np.nan
    out["nearest_water_id"] = None
    out["in_water_service_area"] = pd.array([pd.NA] * len(villages), dtype="boolean")
    if water is None or not len(water):
        return out
    safe = (
        water["safe"].fillna(True).astype(bool)
        if "safe" in water.columns
        else pd.Series(True, index=water.index)
    )
    src = water[water["kind"].isin(["source", "plant", "network"]) & safe]
    pts = _points(villages)
    if len(src):
        g = gpd.GeoDataFrame(
            {"nearest_water_id": src["water_id"].to_numpy()},
            geometry=src.geometry.to_numpy(),
            crs=water.crs,
        )
        j = gpd.sjoin_nearest(
            gpd.GeoDataFrame(geometry=pts, crs=villages.crs),
            g,
            how="left",
            distance_col="water_dist_m",
        )
        j = j[~j.index.duplicated(keep="first")]
        out["water_dist_m"] = j["water_dist_m"].round(1).to_numpy()
        out["nearest_water_id"] = j["nearest_water_id"].to_numpy()
    areas = water[water["kind"] == "service_area"]
    inside = pts.within(areas.union_all()) if len(areas) else pd.Series(False, index=villages.index)
    out["in_water_service_area"] = pd.array(inside.to_numpy(), dtype="boolean")
    return out


# ----------------------------------------------------------------------------- relocation stages


def site_settings(
    profile_suitability: dict | None, overrides: dict | None = None
) -> tuple[dict, Any]:
    """Merge site defaults, the profile's [suitability] section and scenario overrides.

    Returns (settings dict, SuitabilityParams). Unknown keys are refused (PolicyError).
    """
    from geo.suitability import SuitabilityParams

    merged = dict(SITE_DEFAULTS)
    for src in (profile_suitability or {}), (overrides or {}):
        for k, v in src.items():
            if k not in merged and k not in _SUIT_PARAM_KEYS:
                import difflib

                hint = difflib.get_close_matches(k, list(merged) + sorted(_SUIT_PARAM_KEYS), n=1)
                raise PolicyError(
                    f"[suitability] unknown key {k!r}"
                    + (f"; did you mean {hint[0]!r}?" if hint else "")
                )
            merged[k] = v
    params = SuitabilityParams(**{k: merged[k] for k in _SUIT_PARAM_KEYS if k in merged})
    return merged, params


def factor_rasters(
    rasters: dict[str, np.ndarray], layers: dict, grid: Grid
) -> dict[str, np.ndarray]:
    """All suitability factors on the grid: travel times, distance to hardened road and water, slope."""
    from rasterio.features import rasterize
    from scipy import ndimage

    out = {k: v for k, v in rasters.items()}
    roads = layers.get("roads")
    cs = grid.cellsize[0]
    if roads is not None and len(roads):
        hard = roads[roads["hardened"].fillna(False).astype(bool)]
        mask = (
            rasterize(
                ((g, 1) for g in hard.geometry),
                out_shape=grid.shape,
                transform=grid.transform,
                fill=0,
                all_touched=True,
                dtype="uint8",
            )
            if len(hard)
            else np.zeros(grid.shape, "uint8")
        )
        out["road_dist_m"] = (
            (ndimage.distance_transform_edt(mask == 0) * cs).astype("float32")
            if mask.any()
            else np.full(grid.shape, np.inf, "float32")
        )
    water = layers.get("water")
    if water is not None and len(water):
        w = water[water["kind"].isin(["source", "plant", "network"])]
        mask = (
            rasterize(
                ((g, 1) for g in w.geometry),
                out_shape=grid.shape,
                transform=grid.transform,
                fill=0,
                all_touched=True,
                dtype="uint8",
            )
            if len(w)
            else np.zeros(grid.shape, "uint8")
        )
        out["water_dist_m"] = (
            (ndimage.distance_transform_edt(mask == 0) * cs).astype("float32")
            if mask.any()
            else np.full(grid.shape, np.inf, "float32")
        )
    return out


@dataclass
class SuitabilityInputs:
    """What the overlay needs, computed once: factor names, rescaled factors, exclusions, AHP matrix."""

    names: list[str]
    rescaled: list[np.ndarray]
    exclusion: np.ndarray
    matrix: np.ndarray
    keep: list[int]


def prepare_suitability(
    factors: dict[str, np.ndarray], settings: dict, params, layers: dict, grid: Grid, outside
) -> SuitabilityInputs:
    """Exclusion mask and every factor rescaled to 0..1 (cost direction), ready for any weights.

    Only the weights change between Monte Carlo draws, so the expensive parts happen once.
    """
    from geo.suitability import exclusion_mask, rescale

    names_all = list(settings["factors"])
    known = set(SITE_DEFAULTS["ranges"]) | {f"travel_min_{k}" for k in TRAVEL_KINDS}
    unknown = [n for n in names_all if n not in known]
    if unknown:
        raise PolicyError(
            f"[suitability] unknown factor(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    matrix = np.asarray(settings["ahp"], dtype=float)
    if matrix.shape != (len(names_all), len(names_all)):
        raise PolicyError(
            f"[suitability] ahp must be {len(names_all)}x{len(names_all)} (one row per factor); "
            f"found {matrix.shape[0]}x{matrix.shape[1] if matrix.ndim == 2 else '?'}"
        )
    # A factor whose layer the workspace lacks (no water layer, say) leaves the overlay; the
    # pipeline notes it. Its AHP row and column go with it.
    keep = [i for i, n in enumerate(names_all) if n in factors]
    names = [names_all[i] for i in keep]
    hz = layers.get("hazards")
    prot = layers.get("protected")
    excl = exclusion_mask(
        shape=grid.shape,
        transform=grid.transform,
        slope_deg=factors.get("slope_deg"),
        slope_limit_deg=params.slope_limit_deg,
        hazard_geoms=list(hz.geometry) if hz is not None and len(hz) else None,
        hazard_radius_m=(
            hz["radius_m"].fillna(0).to_numpy(float)
            if hz is not None and "radius_m" in hz.columns and len(hz)
            else None
        ),
        hazard_buffer_m=params.hazard_buffer_m,
        protected_geoms=list(prot.geometry) if prot is not None and len(prot) else None,
        protected_buffer_m=params.protected_buffer_m,
        water_geoms=list(wb.geometry) if (wb := water_bodies(layers)) is not None else None,
        water_buffer_m=params.water_buffer_m,
        outside_mask=outside,
        all_touched=params.all_touched,
    )
    rescaled = []
    for n in names:
        lo, hi = settings["ranges"].get(n) or (None, None)
        rescaled.append(
            np.asarray(rescale(factors[n], direction="cost", lo=lo, hi=hi), dtype="float32")
        )
    return SuitabilityInputs(
        names=names, rescaled=rescaled, exclusion=np.asarray(excl, bool), matrix=matrix, keep=keep
    )


def combine_suitability(
    prep: SuitabilityInputs, weights: np.ndarray | None = None
) -> tuple[np.ndarray, dict, float]:
    """Weighted overlay: sum of weight x rescaled factor, NaN where excluded or a factor is NaN.

    ``weights`` (one per factor of the full AHP matrix) override the AHP weights, as the
    Monte Carlo draws do. Returns (suitability float32, weights by factor, consistency ratio).
    """
    from geo.suitability import ahp_weights

    sub = prep.matrix[np.ix_(prep.keep, prep.keep)]
    w, cr, _ = ahp_weights(sub)
    if weights is not None:
        wf = np.asarray(weights, dtype=float)[prep.keep]
        w = wf / wf.sum()
    total = np.zeros(prep.exclusion.shape, dtype="float32")
    for wk, r in zip(w, prep.rescaled, strict=True):
        total += np.float32(wk) * r
    total[prep.exclusion] = np.nan
    return total, dict(zip(prep.names, map(float, w), strict=True)), float(cr)


def compute_suitability(
    factors: dict[str, np.ndarray],
    settings: dict,
    params,
    layers: dict,
    grid: Grid,
    outside,
    *,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, dict, float]:
    """Suitability raster in one call (see :func:`prepare_suitability` and :func:`combine_suitability`)."""
    return combine_suitability(
        prepare_suitability(factors, settings, params, layers, grid, outside), weights
    )


def _coarse(speed: np.ndarray, factor: int) -> np.ndarray:
    """Block-mean of speed over factor x factor blocks (NaN/0 kept as barriers if the whole block is)."""
    if factor <= 1:
        return speed
    h, w = speed.shape
    H, W = h // factor * factor, w // factor * factor
    s = np.where(np.isfinite(speed), speed, 0.0)[:H, :W].reshape(
        H // factor, factor, W // factor, factor
    )
    # the fastest cell in a block stands for it: roads are thin and must survive the coarsening
    return s.max(axis=(1, 3))


def site_cost_matrix(
    speed: np.ndarray,
    grid: Grid,
    demand_pts: gpd.GeoSeries,
    site_pts: gpd.GeoSeries,
    *,
    factor: int,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Travel minutes from every demand point to every site (cost-distance from each site on a coarser grid)."""
    coarse = _coarse(speed, factor)
    ct = grid.transform * Affine.scale(factor, factor)
    cg = Grid(coarse.shape, ct, grid.crs)
    dr, dc, dins = _cells(cg, demand_pts)
    sr, sc, sins = _cells(cg, site_pts)
    cost = np.full((len(demand_pts), len(site_pts)), np.nan)
    for j in range(len(site_pts)):
        if progress:
            progress(f"site {j + 1}/{len(site_pts)}", j / max(1, len(site_pts)))
        if not sins[j]:
            continue
        src = np.zeros(coarse.shape, bool)
        src[sr[j], sc[j]] = True
        tt = access.travel_time(coarse, src, cellsize=cg.cellsize)
        cost[dins, j] = tt[dr[dins], dc[dins]]
    return cost


def relocation_stages(
    villages: gpd.GeoDataFrame,
    layers: dict,
    grid: Grid,
    rasters: dict[str, np.ndarray],
    speed,
    outside,
    *,
    relocation_settings: dict,
    suitability_settings: dict,
    overrides: dict | None = None,
    progress: ProgressFn | None = None,
) -> dict:
    """Screening → suitability → sites → allocation → robustness. Everything in the metric CRS."""
    from geo import relocation, siting
    from geo.suitability import monte_carlo_weights

    overrides = dict(overrides or {})
    rel_over = overrides.pop("relocation", {}) or {}
    rules = relocation.RelocationRules.from_dict({**(relocation_settings or {}), **rel_over})
    settings, params = site_settings(suitability_settings, overrides.pop("suitability", {}) or {})
    notes: list[str] = []
    t = {}
    t0 = time.perf_counter()
    if progress:
        progress("relocation screening", 0.0)
    screened = relocation.screen(villages, rules=rules)
    t["screening"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("suitability", 0.1)
    factors = factor_rasters(rasters, layers, grid)
    absent = [n for n in settings["factors"] if n not in factors]
    if absent:
        notes.append(
            f"suitability factor(s) {', '.join(absent)} left out: the workspace lacks their layer"
        )
    prep = prepare_suitability(factors, settings, params, layers, grid, outside)
    suit, weights, cr = combine_suitability(prep)
    if cr > params.cr_warning:
        notes.append(
            f"AHP consistency ratio {cr:.3f} is above {params.cr_warning}: revise the pairwise judgements"
        )
    t["suitability"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("sites", 0.25)
    gen = siting.sites_from_suitability(
        suit,
        transform=grid.transform,
        crs=grid.crs,
        threshold=settings["site_threshold"],
        min_area_ha=settings["site_min_area_ha"],
        people_per_ha=settings["people_per_ha"],
        max_sites=settings["max_sites"],
        max_area_ha=settings["site_max_area_ha"],
    )
    planner = layers.get("sites")
    sites = siting.merge_planner_sites(gen, planner, people_per_ha=settings["people_per_ha"])
    sites["capacity_people"] = np.floor(
        sites["capacity_people"].astype(float) * float(settings["capacity_factor"])
    ).astype(int)
    sites = _site_attributes(sites, grid, rasters, suit, layers)
    t["sites"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    elig = screened[screened["eligible"].fillna(False).astype(bool)]
    vil = villages.loc[elig.index]
    demand = pd.DataFrame(
        {
            "village_id": vil["village_id"].to_numpy(),
            "people": elig["people_to_move"].fillna(0).astype(int).to_numpy(),
            "township": vil["township"].to_numpy(),
        }
    )
    site_pts = sites.geometry.representative_point()
    if progress:
        progress("village → site travel times", 0.35)
    cost = site_cost_matrix(
        speed, grid, _points(vil), site_pts, factor=int(settings["cost_grid_factor"])
    )
    sdf = pd.DataFrame(
        {
            "site_id": sites["site_id"].to_numpy(),
            "capacity_people": sites["capacity_people"].to_numpy(),
            "township": sites["township"].to_numpy(),
            "locked": sites["locked"].fillna(False).astype(bool).to_numpy(),
        }
    )
    if progress:
        progress("allocation (HiGHS)", 0.55)
    p = settings.get("open_sites")
    result = siting.allocate(
        demand,
        sdf,
        cost,
        p=int(p) if p else None,
        max_return_min=settings["max_return_min"],
        township_penalty_min=float(settings["township_penalty_min"]),
        time_limit_s=float(settings["time_limit_s"]),
        mip_gap=float(settings["mip_gap"]),
    )
    greedy = siting.greedy_allocate(
        demand,
        sdf,
        cost,
        p=int(p) if p else None,
        max_return_min=settings["max_return_min"],
        township_penalty_min=float(settings["township_penalty_min"]),
    )
    t["allocation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    if progress:
        progress("robustness (Monte Carlo over AHP weights)", 0.7)
    n_draws = int(settings.get("robustness_draws") or 0)
    freq = pd.Series(0.0, index=sites["site_id"])
    if n_draws > 0 and len(demand) and len(sites):
        rng = np.random.default_rng(2017)
        draws = monte_carlo_weights(
            np.asarray(settings["ahp"], float), n=n_draws, spread=params.mc_spread, rng=rng
        )
        base_ids = sites["site_id"].to_numpy()
        gen_mask = (sites["source"] == "generated").to_numpy()

        def run(wvec):
            s2, _, _ = combine_suitability(prep, wvec)
            alt = siting.sites_from_suitability(
                s2,
                transform=grid.transform,
                crs=grid.crs,
                threshold=settings["site_threshold"],
                min_area_ha=settings["site_min_area_ha"],
                people_per_ha=settings["people_per_ha"],
                max_sites=settings["max_sites"],
                max_area_ha=settings["site_max_area_ha"],
            )
            m = siting.match_sites(sites[gen_mask], alt) if len(alt) else {}
            keep = np.array(
                [(not g) or (sid in m) for sid, g in zip(base_ids, gen_mask, strict=True)]
            )
            if not keep.any():
                return []
            r = siting.greedy_allocate(
                demand,
                sdf[keep].reset_index(drop=True),
                cost[:, keep],
                p=int(p) if p else None,
                max_return_min=settings["max_return_min"],
                township_penalty_min=float(settings["township_penalty_min"]),
            )
            return r.open_sites

        def cb(done, total):
            if progress:
                progress(f"robustness {done}/{total}", 0.7 + 0.25 * done / total)

        freq = siting.robustness(draws, run, sites=list(base_ids), progress=cb)
    t["robustness"] = time.perf_counter() - t0
    sites["robustness_frac"] = sites["site_id"].map(freq).fillna(0.0).round(3).to_numpy()
    return dict(
        screened=screened,
        sites=sites,
        suitability=suit,
        weights=weights,
        cr=cr,
        result=result,
        greedy=greedy,
        demand=demand,
        cost=cost,
        notes=notes,
        timings=t,
        settings=settings,
    )


def _site_attributes(
    sites: gpd.GeoDataFrame, grid: Grid, rasters: dict, suit: np.ndarray, layers: dict
) -> gpd.GeoDataFrame:
    sites = sites.copy()
    pts = sites.geometry.representative_point()
    r, c, inside = _cells(grid, pts)
    for kind in ("county_seat", "township_seat", "health_centre", "school", "industrial_park"):
        key = f"travel_min_{kind}"
        vals = np.full(len(sites), np.nan)
        if key in rasters:
            vals[inside] = rasters[key][r[inside], c[inside]]
        sites[key] = np.round(vals, 1)
    if "suitability" not in sites.columns or sites["suitability"].isna().any():
        vals = np.full(len(sites), np.nan)
        vals[inside] = suit[r[inside], c[inside]]
        sites["suitability"] = sites.get(
            "suitability", pd.Series(np.nan, index=sites.index)
        ).fillna(pd.Series(vals, index=sites.index))
    tw = layers.get("townships")
    sites["township"] = None
    if tw is not None and len(tw):
        j = gpd.sjoin(
            gpd.GeoDataFrame(geometry=pts, crs=sites.crs),
            tw[["name", "geometry"]],
            predicate="within",
            how="left",
        )
        j = j[~j.index.duplicated(keep="first")]
        sites["township"] = j["name"].to_numpy()
    if "name" not in sites.columns:
        sites["name"] = None
    sites["name"] = sites["name"].where(
        sites["name"].notna(), sites["site_id"].map(lambda s: f"安置点 {s}")
    )
    return sites


def allocation_frames(
    villages: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, result
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Allocation lines (village → site) and the unplaced table."""
    a = result.assignments.copy()
    vpt = dict(zip(villages["village_id"], _points(villages), strict=True))
    spt = dict(zip(sites["site_id"], sites.geometry.representative_point(), strict=True))
    geoms = [
        LineString([vpt[v], spt[s]]) for v, s in zip(a["village_id"], a["site_id"], strict=True)
    ]
    alloc = gpd.GeoDataFrame(a, geometry=geoms, crs=villages.crs)
    return alloc, result.unplaced.copy()


# ----------------------------------------------------------------------------- writing


def _write_raster(
    path: Path,
    arr: np.ndarray,
    grid: Grid,
    *,
    nodata=np.nan,
    dtype="float32",
    max_z_error: float | None = None,
) -> None:
    """Tiled GeoTIFF with overviews: lossless DEFLATE, or LERC within ``max_z_error`` (a
    bounded error stated in the manifest; travel minutes to 0.05 min compress 3x better)."""
    comp = {"compress": "deflate", "predictor": 3 if dtype.startswith("float") else 1}
    if max_z_error:
        comp = {"compress": "LERC_DEFLATE", "max_z_error": max_z_error}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=grid.shape[1],
        height=grid.shape[0],
        count=1,
        dtype=dtype,
        crs=grid.crs,
        transform=grid.transform,
        nodata=nodata,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        **comp,
    ) as dst:
        dst.write(arr.astype(dtype), 1)
        # overviews let the dashboard's tile server read a county at low zoom without the full grid
        factors = [f for f in (2, 4, 8, 16) if min(grid.shape) // f >= 64]
        if factors:
            from rasterio.enums import Resampling

            dst.build_overviews(factors, Resampling.average)
            dst.update_tags(ns="rio_overview", resampling="average")


def _plain_values(df: pd.DataFrame, skip: str | None = None) -> pd.DataFrame:
    """Nullable booleans as True/False/None and lists as comma-joined text (GPKG/CSV/XLSX-safe)."""
    g = df.copy()
    for c in g.columns:
        if c == skip:
            continue
        s = g[c]
        if str(s.dtype) == "boolean":
            g[c] = s.astype("object").where(s.notna(), None)
        elif s.dtype == object:
            g[c] = s.map(
                lambda v: (
                    ",".join(map(str, v)) if isinstance(v, list | tuple | set | np.ndarray) else v
                )
            )
    return g


def _gpkg_safe(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Lists as comma-joined text; yes/no columns as GeoPackage booleans (NULL = unknown)."""
    g = gdf.copy()
    for c in g.columns:
        if c == g.geometry.name:
            continue
        s = g[c]
        if s.dtype == object:
            vals = s.dropna()
            if len(vals) and vals.map(lambda v: isinstance(v, bool | np.bool_)).all():
                g[c] = s.astype("boolean")
            else:
                g[c] = s.map(
                    lambda v: (
                        ",".join(map(str, v))
                        if isinstance(v, list | tuple | set | np.ndarray)
                        else v
                    )
                )
    return g


_TABLE_KIND = {
    "transport": "transport",
    "road": "transport",
    "water": "water",
    "health": "health",
    "leaders": "leaders",
    "households": "households",
}


def _write_table(df: pd.DataFrame, tables: Path, name: str, *, profile=None) -> list[str]:
    """Write one bureau table as UTF-8-BOM CSV (Excel opens it) and XLSX with a Chinese and an English sheet."""
    from geo.coverage import chinese_headers
    from layers.errors import LayerSchemaError

    df = _plain_values(pd.DataFrame(df.drop(columns=[c for c in ("geometry",) if c in df.columns])))
    df.to_csv(tables / f"{name}.csv", index=False, encoding="utf-8-sig")
    kind = _TABLE_KIND.get(name.split("_")[0], "villages")
    try:
        zh = chinese_headers(df, kind, profile=profile)
    except LayerSchemaError:
        zh = df
    with pd.ExcelWriter(tables / f"{name}.xlsx", engine="xlsxwriter") as xw:
        zh.to_excel(xw, sheet_name="中文", index=False)
        df.to_excel(xw, sheet_name="en", index=False)
    return [f"tables/{name}.csv", f"tables/{name}.xlsx"]


def _summary(villages: pd.DataFrame, gaps: pd.DataFrame | None, reloc: dict | None) -> dict:
    bc = villages["blocker_class"].value_counts()
    s = {
        "villages": int(len(villages)),
        "population": int(villages["population"].fillna(0).sum()),
        "exit_ready": int(bc.get("ready", 0)),
        "blocked_one": int(bc.get("blocked_one", 0)),
        "blocked_several": int(bc.get("blocked_several", 0)),
        "unknown": int(bc.get("unknown", 0)),
        "km_to_harden": float(round(gaps["length_km"].sum(), 2))
        if gaps is not None and len(gaps)
        else 0.0,
        "villages_without_hardened_road": int((villages["road_access"] != "hardened").sum()),
        "no_safe_water": int((villages["has_safe_water"].astype("boolean") == False).sum()),  # noqa: E712
        "safe_water_unknown": int(villages["has_safe_water"].isna().sum())
        if "has_safe_water" in villages
        else 0,
    }
    cs = villages.get("clinic_standard")
    cd = villages.get("clinic_doctor")
    if cs is not None and cd is not None:
        ok = cs.astype("boolean").fillna(False) & cd.astype("boolean").fillna(False)
        s["no_standard_clinic"] = int((~ok).sum())
    if reloc is not None:
        s.update(_summary_reloc(reloc))
    return s


def run_pipeline(
    workspace: str | Path,
    out: str | Path,
    *,
    policy: str | None = None,
    allow_personal: bool = False,
    progress: bool | ProgressFn = True,
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

    Returns
    -------
    dict
        The manifest (also written as ``manifest.json``).

    Raises
    ------
    ValidationError
        Input problems (all of them).
    AnjuError
        Other bad input (policy profile, CRS).
    """
    from geo import coverage, indicators
    from geo import households as hh_mod
    from layers.policy import load_policy
    from layers.workspace import file_sha256, load_workspace

    close = None
    if progress is True:
        cb, close = _tqdm_progress()
    elif callable(progress):
        cb = progress
    else:
        cb = None
    timer = _Timer(cb)
    workspace, out = Path(workspace), Path(out)
    try:
        timer.start("load", 0.0)
        lw = load_workspace(workspace)
        lw.raise_for_errors()
        ws = lw.workspace
        profile = load_policy(policy or ws.policy)
        L = lw.layers
        villages = L["villages"].copy()
        dem = lw.dem
        grid = Grid(dem.shape, dem.transform, lw.metric_crs)
        params = ws.parameters

        timer.start("terrain", 0.05)
        z, slope, outside, n_filled = stage_terrain(dem, L["boundary"])

        timer.start("village terrain", 0.15)
        vt = stage_village_terrain(
            villages,
            L["boundary"],
            z,
            slope,
            dem.transform,
            L.get("hazards"),
            L.get("protected"),
            radius_m=float(params["village_catchment_radius_m"]),
        )
        villages = villages.join(vt)

        timer.start("road network", 0.25)
        road_cfg = dict(profile.road or {})
        net, gap = stage_network(
            L,
            villages,
            snap_tolerance_m=float(params["road_snap_tolerance_m"]),
            max_snap_m=float(road_cfg.get("max_snap_m", 500.0)),
            hardened_snap_m=float(road_cfg.get("snap_tolerance_m", 50.0)),
        )
        gap_cols = [
            "road_snap_m",
            "road_access",
            "unhardened_km",
            "unknown_surface_km",
            "gap_edge_ids",
        ]
        villages = villages.join(gap[[c for c in gap_cols if c in gap.columns]])

        timer.start("travel time", 0.35)
        speed, results = stage_access(
            L,
            grid,
            slope,
            outside,
            cliff_slope_deg=float(params["cliff_slope_deg"]),
            progress=cb,
            frac0=0.35,
            frac1=0.55,
        )
        villages = villages.join(sample_access(villages, grid, results))
        villages = villages.join(stage_water(villages, L.get("water")))

        timer.start("indicators", 0.55)
        hh = L.get("households")
        ev = indicators.evaluate(villages, profile, households=hh, province_group=ws.province_group)
        ev_new = ev[[c for c in ev.columns if c not in villages.columns]]
        villages = villages.join(ev_new)

        timer.start("coverage", 0.6)
        gaps = coverage.road_gaps(net.edges, villages)
        tables = {
            "transport_townships": coverage.transport_summary(villages, gaps=gaps),
            "water_villages": coverage.water_summary(villages),
            "water_townships": coverage.water_township_summary(villages),
            "health_villages": coverage.health_summary(villages),
            "health_townships": coverage.health_township_summary(villages),
            "leaders_townships": coverage.leader_summary(villages),
        }
        tv = villages[villages["road_access"] != "hardened"]
        tables["transport_villages"] = pd.DataFrame(
            tv[
                [
                    c
                    for c in (
                        "village_id",
                        "name",
                        "township",
                        "population",
                        "road_access",
                        "road_snap_m",
                        "unhardened_km",
                        "unknown_surface_km",
                    )
                    if c in tv.columns
                ]
            ]
        )
        hh_eval = None
        if hh is not None and len(hh):
            hcfg = dict(profile.households or {})
            hh_eval = hh_mod.evaluate_households(
                hh,
                income_line_cny=float(hcfg.get("income_line_cny", 4000)),
                flags=hcfg.get("flags", hh_mod.DEFAULT_FLAGS),
                allow_personal=allow_personal,
            )

        timer.start("relocation", 0.65)
        rasters = {f"travel_min_{k}": v[0] for k, v in results.items()}
        rasters["slope_deg"] = slope

        def rcb(name, frac):
            if cb:
                cb(name, 0.65 + 0.25 * frac)

        reloc = relocation_stages(
            villages,
            L,
            grid,
            rasters,
            speed,
            outside,
            relocation_settings=dict(profile.relocation or {}),
            suitability_settings=dict(profile.suitability or {}),
            progress=rcb,
        )
        sc = reloc["screened"]
        villages["eligible"] = sc["eligible"].to_numpy()
        villages["reloc_score"] = sc["score"].to_numpy()
        villages["reloc_rank"] = sc["rank"].to_numpy()
        villages["reasons_zh"] = sc["reasons_zh"].to_numpy()
        villages["reasons_en"] = sc["reasons_en"].to_numpy()
        amap = dict(
            zip(
                reloc["result"].assignments["village_id"],
                reloc["result"].assignments["site_id"],
                strict=False,
            )
        )
        villages["site_id"] = villages["village_id"].map(amap)

        timer.start("write", 0.92)
        manifest = _write_plan(
            out,
            workspace=lw,
            profile=profile,
            villages=villages,
            gaps=gaps,
            net=net,
            tables=tables,
            hh_eval=hh_eval,
            reloc=reloc,
            grid=grid,
            z=z,
            slope=slope,
            results=results,
            n_filled=n_filled,
            timer=timer,
            file_sha256=file_sha256,
            allow_personal=allow_personal,
        )
    except BaseException:
        timer.stop()
        if close:
            close(ok=False)
        raise
    timer.stop()
    if close:
        close()
    return manifest


def _write_plan(
    out: Path,
    *,
    workspace,
    profile,
    villages,
    gaps,
    net,
    tables,
    hh_eval,
    reloc,
    grid,
    z,
    slope,
    results,
    n_filled,
    timer,
    file_sha256,
    allow_personal,
) -> dict:
    from layers.crs import to_storage

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        (tmp / "rasters").mkdir()
        (tmp / "tables").mkdir()
        outputs: list[str] = []
        _write_raster(tmp / "rasters" / "dem.tif", z, grid)
        _write_raster(tmp / "rasters" / "slope_deg.tif", slope, grid)
        outputs += ["rasters/dem.tif", "rasters/slope_deg.tif"]
        for kind, (minutes, _, _) in results.items():
            _write_raster(
                tmp / "rasters" / f"travel_min_{kind}.tif",
                minutes,
                grid,
                max_z_error=RASTER_MAX_Z_ERROR["travel_min"],
            )
            outputs.append(f"rasters/travel_min_{kind}.tif")
        _write_raster(
            tmp / "rasters" / "suitability.tif",
            reloc["suitability"],
            grid,
            max_z_error=RASTER_MAX_Z_ERROR["suitability"],
        )
        outputs.append("rasters/suitability.tif")

        gpkg = tmp / "plan.gpkg"
        L = workspace.layers

        def put(name, gdf):
            _gpkg_safe(to_storage(gdf)).to_file(gpkg, layer=name, driver="GPKG")
            outputs.append(f"plan.gpkg:{name}")

        v = villages.drop(columns=[c for c in ("gap_edge_ids",) if c in villages.columns])
        put("villages", v)
        put(
            "road_gaps",
            gaps
            if len(gaps)
            else gpd.GeoDataFrame(
                gaps, geometry=gaps.geometry if "geometry" in gaps else [], crs=villages.crs
            ),
        )
        sc = reloc["screened"]
        cand = villages[["village_id", "name", "township", "population", "geometry"]].join(
            sc.drop(columns=[c for c in ("village_id",) if c in sc.columns])
        )
        put("relocation_candidates", gpd.GeoDataFrame(cand, geometry="geometry", crs=villages.crs))
        sites = reloc["sites"].copy()
        res = reloc["result"]
        assigned = (
            res.assignments.groupby("site_id")["people"].sum()
            if len(res.assignments)
            else pd.Series(dtype=float)
        )
        sites["assigned_people"] = sites["site_id"].map(assigned).fillna(0).astype(int)
        sites["opened"] = sites["site_id"].isin(res.open_sites)
        put("sites", sites)
        put(
            "site_points",
            gpd.GeoDataFrame(
                sites.drop(columns="geometry"),
                geometry=sites.geometry.representative_point(),
                crs=sites.crs,
            ),
        )
        alloc, unplaced = allocation_frames(villages, sites, res)
        put("allocation", alloc)
        unplaced.to_csv(tmp / "tables" / "unplaced.csv", index=False, encoding="utf-8-sig")
        for kind in (
            "boundary",
            "townships",
            "clinics",
            "schools",
            "towns",
            "water",
            "hazards",
            "protected",
        ):
            if kind in L and len(L[kind]):
                put(kind, L[kind])
        roads = L["roads"].copy()
        roads["hardened"] = roads["hardened"].map(
            lambda h: "unknown" if pd.isna(h) else ("hardened" if h else "unhardened")
        )
        put("roads", roads)

        for name, df in tables.items():
            outputs += _write_table(df, tmp / "tables", name, profile=profile)
        outputs += _write_table(gaps, tmp / "tables", "road_gaps")
        outputs += _write_table(
            cand[cand["eligible"].fillna(False).astype(bool)].sort_values("rank"),
            tmp / "tables",
            "relocation_candidates",
        )
        outputs += _write_table(sites, tmp / "tables", "sites")
        outputs += _write_table(alloc, tmp / "tables", "allocation")
        if hh_eval is not None:
            outputs += _write_table(hh_eval, tmp / "tables", "households")

        ind = {
            "profile": {
                "name": profile.name,
                "title_zh": profile.title_zh,
                "title_en": profile.title_en,
                "kind": profile.kind,
                "pass_score": profile.pass_score,
            },
            "indicators": [
                {
                    "id": i.id,
                    "name_zh": i.name_zh,
                    "name_en": i.name_en,
                    "rule": i.rule,
                    "evidence": i.evidence,
                    "threshold": i.threshold_for(workspace.workspace.province_group),
                    "unit": i.unit,
                    "clause": i.clause,
                    "weight": i.weight,
                }
                for i in profile.indicators
            ],
        }
        (tmp / "indicators.json").write_text(
            json.dumps(ind, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
        outputs.append("indicators.json")

        timer.stop()
        ws = workspace.workspace
        inputs = []
        for kind, src in ws.sources.items():
            frame = L.get(kind)
            inputs.append(
                {
                    "kind": kind,
                    "path": str(src.path),
                    "sha256": file_sha256(src.path),
                    "features": int(len(frame)) if frame is not None else None,
                }
            )
        from importlib.metadata import PackageNotFoundError, version

        try:
            ver = version("anju")
        except PackageNotFoundError:
            ver = "0+unknown"
        manifest = {
            "anju_version": ver,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "workspace": {"name": ws.name, "path": str(ws.root.resolve())},
            "policy": {
                "name": profile.name,
                "title_zh": profile.title_zh,
                "title_en": profile.title_en,
                "province_group": ws.province_group,
            },
            "crs_metric": grid.crs.to_string(),
            "crs_storage": STORAGE_CRS.to_string(),
            "grid": {"shape": list(grid.shape), "cellsize_m": list(grid.cellsize)},
            "raster_max_error": RASTER_MAX_Z_ERROR,
            "inputs": inputs,
            "parameters": {
                "workspace": ws.parameters,
                "road": dict(profile.road or {}),
                "relocation": dict(profile.relocation or {}),
                "suitability": {k: v for k, v in reloc["settings"].items()},
                "ahp_weights": reloc["weights"],
                "allow_personal": allow_personal,
            },
            "stages": {
                **timer.stages,
                **{f"relocation.{k}": round(v, 3) for k, v in reloc["timings"].items()},
            },
            "warnings": [p.line() for p in workspace.warnings]
            + reloc["notes"]
            + ([f"filled {n_filled} void cell(s) in the DEM"] if n_filled else []),
            "outputs": outputs,
            "summary": _summary(villages, gaps, reloc),
        }
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1, default=_json_default),
            encoding="utf-8",
        )
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _swap_into_place(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ----------------------------------------------------------------------------- scenarios


def run_relocation_scenario(
    plan_dir: str | Path, *, overrides: dict | None = None, progress: ProgressFn | None = None
) -> ScenarioResult:
    """Re-run screening, suitability, sites, allocation and robustness on a written plan.

    Parameters
    ----------
    plan_dir
        A plan directory written by :func:`run_pipeline`.
    overrides
        ``{"relocation": {...RelocationRules fields}, "suitability": {...site settings, e.g. "ahp",
        "open_sites", "capacity_factor", "site_threshold", "max_return_min"}}``.
    progress
        ``progress(stage, fraction)``.

    Returns
    -------
    ScenarioResult
        Summary and layers in EPSG:4326 for the map.
    """
    from layers.policy import load_policy

    plan_dir = Path(plan_dir)
    manifest = json.loads((plan_dir / "manifest.json").read_text(encoding="utf-8"))
    crs = CRS.from_user_input(manifest["crs_metric"])
    gpkg = plan_dir / "plan.gpkg"
    import pyogrio

    names = set(pyogrio.list_layers(gpkg)[:, 0])
    layers = {
        k: gpd.read_file(gpkg, layer=k).to_crs(crs)
        for k in ("villages", "roads", "hazards", "protected", "water", "townships", "boundary")
        if k in names
    }
    for k in ("roads",):
        if k in layers:
            layers[k]["hardened"] = (
                layers[k]["hardened"].map({"hardened": True, "unhardened": False}).astype("boolean")
            )
    villages = layers.pop("villages")
    if "in_protected" in villages.columns:
        villages["in_protected"] = villages["in_protected"].fillna(False).astype(bool)
    rasters = {}
    with rasterio.open(plan_dir / "rasters" / "slope_deg.tif") as src:
        grid = Grid(src.shape, src.transform, crs)
        rasters["slope_deg"] = src.read(1)
    for kind in TRAVEL_KINDS:
        with rasterio.open(plan_dir / "rasters" / f"travel_min_{kind}.tif") as src:
            rasters[f"travel_min_{kind}"] = src.read(1)
    with rasterio.open(plan_dir / "rasters" / "dem.tif") as src:
        outside = ~np.isfinite(src.read(1))
    from layers.workspace import DEFAULT_PARAMETERS

    ws_params = {**DEFAULT_PARAMETERS, **manifest.get("parameters", {}).get("workspace", {})}
    speed = speed_raster(
        layers,
        grid,
        rasters["slope_deg"],
        outside,
        cliff_slope_deg=float(ws_params["cliff_slope_deg"]),
    )
    profile = load_policy(manifest["policy"]["name"])
    sites_layer = gpd.read_file(gpkg, layer="sites").to_crs(crs) if "sites" in names else None
    if sites_layer is not None:
        layers["sites"] = sites_layer[sites_layer["source"] == "planner"][
            ["site_id", "name", "capacity_people", "locked", "geometry"]
        ]
    reloc = relocation_stages(
        villages,
        layers,
        grid,
        rasters,
        speed,
        outside,
        relocation_settings=dict(profile.relocation or {}),
        suitability_settings={**dict(profile.suitability or {})},
        overrides=overrides,
        progress=progress,
    )
    sc = reloc["screened"]
    cand = gpd.GeoDataFrame(
        villages[["village_id", "name", "township", "population", "geometry"]].join(
            sc.drop(columns=[c for c in ("village_id",) if c in sc.columns])
        ),
        geometry="geometry",
        crs=crs,
    )
    sites = reloc["sites"]
    res = reloc["result"]
    assigned = (
        res.assignments.groupby("site_id")["people"].sum()
        if len(res.assignments)
        else pd.Series(dtype=float)
    )
    sites["assigned_people"] = sites["site_id"].map(assigned).fillna(0).astype(int)
    sites["opened"] = sites["site_id"].isin(res.open_sites)
    alloc, unplaced = allocation_frames(villages, sites, res)
    return ScenarioResult(
        summary=_summary_reloc(reloc),
        candidates=cand.to_crs(4326),
        sites=sites.to_crs(4326),
        allocation=alloc.to_crs(4326),
        unplaced=unplaced,
        notes=reloc["notes"],
    )


def _summary_reloc(reloc: dict) -> dict:
    """Headline figures of the relocation stages (plan manifest and scenario comparison)."""
    res = reloc["result"]
    a = res.assignments
    sites = reloc["sites"]
    opened = sites[sites["site_id"].isin(res.open_sites)]
    return {
        "relocation_candidates": int(reloc["screened"]["eligible"].fillna(False).sum()),
        "people_to_relocate": int(reloc["demand"]["people"].sum()),
        "people_placed": int(round(res.placed_people)),
        "people_unplaced": int(round(res.unplaced_people)),
        "sites_candidate": int(len(sites)),
        "sites_opened": int(len(res.open_sites)),
        "mean_travel_min": float(
            round((a["people"] * a["travel_min"]).sum() / max(1.0, a["people"].sum()), 1)
        )
        if len(a)
        else None,
        "mean_robustness_opened": float(round(opened["robustness_frac"].mean(), 3))
        if len(opened)
        else None,
        "allocation_status": res.status,
        "allocation_gap": None
        if res.mip_gap is None or not np.isfinite(res.mip_gap)
        else float(res.mip_gap),
        "exact_objective": float(res.objective) if res.objective is not None else None,
        "greedy_objective": float(reloc["greedy"].objective)
        if reloc["greedy"].objective is not None
        else None,
        "ahp_cr": round(reloc["cr"], 4),
    }


__all__ = ["run_pipeline", "run_relocation_scenario", "ScenarioResult", "TRAVEL_KINDS"]
