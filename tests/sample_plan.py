"""A tiny synthetic plan directory, written through the plan contract.

Used by the dashboard's unit tests. Every value is synthetic. ``write_sample_plan(out_dir,
seed=0)`` builds a :class:`layers.plan.PlanOutput` and writes it with
:func:`layers.plan.write_plan`, so it is checked against the same declaration as a real
plan (a layer missing a declared column is refused).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, box

from layers.catalogue import TRAVEL_KINDS
from layers.grid import Grid
from layers.plan import PlanOutput, write_plan

METRIC_CRS = "EPSG:4545"  # CGCS2000 3-degree Gauss-Kruger, central meridian 108E
X0, Y0 = 480_000.0, 2_960_000.0  # upper-left corner, about 107.8E 26.7N
CELL = 100.0
NX = NY = 160

TOWNSHIPS = ["龙溪镇", "白岩乡", "青山乡", "石门镇"]

INDICATORS = [
    {
        "id": "incidence",
        "name_zh": "贫困发生率低于3%",
        "name_en": "Poverty incidence below 3%",
        "rule": "<",
        "evidence": "poor_population / population",
        "threshold": 0.03,
        "unit": "frac",
        "clause": "关于建立贫困退出机制的意见 (2016) 二(二)",
        "weight": 20,
    },
    {
        "id": "road",
        "name_zh": "通硬化路",
        "name_en": "Hardened road into the village",
        "rule": "==",
        "evidence": "roads layer: hardened route to the village",
        "threshold": True,
        "unit": "",
        "clause": "省贫困村退出标准 第3条",
        "weight": 10,
    },
    {
        "id": "water",
        "name_zh": "饮水安全",
        "name_en": "Safe drinking water",
        "rule": "<=",
        "evidence": "water_dist_m to nearest safe source",
        "threshold": 1000,
        "unit": "m",
        "clause": "省贫困村退出标准 第4条",
        "weight": 10,
    },
    {
        "id": "clinic",
        "name_zh": "标准化卫生室",
        "name_en": "Standard village clinic",
        "rule": "==",
        "evidence": "clinics layer: standard and has_doctor",
        "threshold": True,
        "unit": "",
        "clause": "省贫困村退出标准 第6条",
        "weight": 10,
    },
]


def _xy(rng: np.random.Generator, n: int, margin: float = 1500.0) -> np.ndarray:
    x = rng.uniform(X0 + margin, X0 + NX * CELL - margin, n)
    y = rng.uniform(Y0 - NY * CELL + margin, Y0 - margin, n)
    return np.column_stack([x, y])


def _township_of(x: float, y: float) -> str:
    cx, cy = X0 + NX * CELL / 2, Y0 - NY * CELL / 2
    return TOWNSHIPS[(x > cx) + 2 * (y < cy)]


def _dem() -> np.ndarray:
    yy, xx = np.mgrid[0:NY, 0:NX].astype(float)
    z = (
        800
        + 400 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
        + 300 * np.exp(-((xx - 100) ** 2 + (yy - 60) ** 2) / 900.0)
        + 3.0 * yy
    )
    z[:4, :] = np.nan  # nodata strip outside the county
    return z.astype("float32")


def write_sample_plan(out_dir: Path | str, *, seed: int = 0, n_villages: int = 40) -> Path:
    """Write a small synthetic plan directory.

    Parameters
    ----------
    out_dir : path
        Created if needed; existing plan files are overwritten.
    seed : int
        Random seed (same seed, same plan).
    n_villages : int
        Number of villages.

    Returns
    -------
    Path
        ``out_dir``.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    layers: dict[str, gpd.GeoDataFrame] = {}
    rasters: dict[str, np.ndarray] = {}

    def save(gdf: gpd.GeoDataFrame, name: str) -> None:
        layers[name] = gdf.set_crs(METRIC_CRS, allow_override=True)

    # villages ---------------------------------------------------------------
    xy = _xy(rng, n_villages)
    pop = rng.integers(150, 2500, n_villages)
    poor = (pop * rng.uniform(0, 0.045, n_villages)).astype(int)
    tws = [_township_of(x, y) for x, y in xy]
    v = pd.DataFrame(
        {
            "village_id": [f"5201230{i:05d}" for i in range(n_villages)],
            "name": [f"{tws[i][:2]}{i + 1}村" for i in range(n_villages)],
            "township": tws,
            "population": pop,
            "households": (pop / 3.4).astype(int),
            "poor_population": poor,
        }
    )
    statuses = {}
    for ind in INDICATORS:
        iid = ind["id"]
        s = rng.choice(["met", "not_met", "unknown"], n_villages, p=[0.85, 0.1, 0.05])
        if iid == "incidence":
            frac = poor / pop
            s = np.where(frac < 0.03, "met", "not_met")
            v[f"{iid}_value"] = frac.round(4)
        elif iid == "water":
            dist = rng.uniform(50, 1500, n_villages).round(0)
            s = np.where(dist <= 1000, "met", "not_met")
            s = np.where(rng.random(n_villages) < 0.08, "unknown", s)
            v[f"{iid}_value"] = np.where(s == "unknown", np.nan, dist)
            v["water_dist_m"] = dist
        else:
            v[f"{iid}_value"] = pd.array(
                [True if x == "met" else (False if x == "not_met" else pd.NA) for x in s],
                dtype="boolean",
            )
        v[f"{iid}_threshold"] = str(ind["threshold"])
        v[f"{iid}_status"] = s
        v[iid] = pd.array(
            [True if x == "met" else (False if x == "not_met" else pd.NA) for x in s],
            dtype="boolean",
        )
        statuses[iid] = s
    st = np.column_stack([statuses[i["id"]] for i in INDICATORS])
    n_unmet = (st == "not_met").sum(axis=1)
    n_unknown = (st == "unknown").sum(axis=1)
    exit_ready = pd.array(
        [
            False if a > 0 else (pd.NA if b > 0 else True)
            for a, b in zip(n_unmet, n_unknown, strict=False)
        ],
        dtype="boolean",
    )
    v["exit_ready"] = exit_ready
    v["n_unmet"] = n_unmet
    v["n_unknown"] = n_unknown
    v["unmet"] = [
        ",".join(i["id"] for i, s in zip(INDICATORS, r, strict=False) if s == "not_met") for r in st
    ]
    v["unknown"] = [
        ",".join(i["id"] for i, s in zip(INDICATORS, r, strict=False) if s == "unknown") for r in st
    ]
    v["blocker_class"] = np.select(
        [n_unmet == 1, n_unmet > 1, n_unknown > 0],
        ["blocked_one", "blocked_several", "unknown"],
        "ready",
    )
    v["has_safe_water"] = v["water"]
    v["clinic_standard"] = v["clinic"]
    v["clinic_doctor"] = pd.array(rng.random(n_villages) < 0.8, dtype="boolean")
    v["road_access"] = np.where(
        statuses["road"] == "met",
        "hardened",
        np.where(statuses["road"] == "unknown", "unknown", "gap"),
    )
    v["road_snap_m"] = rng.uniform(0, 400, n_villages).round(1)
    v["unhardened_km"] = np.where(
        v["road_access"] == "gap", rng.uniform(0.5, 6, n_villages), 0
    ).round(2)
    v["unknown_surface_km"] = np.where(v["road_access"] == "unknown", 1.0, 0.0)
    v["in_water_service_area"] = rng.random(n_villages) < 0.5
    v["nearest_water_id"] = [f"W{rng.integers(0, 6)}" for _ in range(n_villages)]
    for kind in TRAVEL_KINDS:
        tm = rng.uniform(5, 120, n_villages).round(1)
        tm[rng.random(n_villages) < 0.03] = np.nan
        v[f"travel_min_{kind}"] = tm
    v["elev_mean_m"] = rng.uniform(500, 1600, n_villages).round(1)
    v["slope_mean_deg"] = rng.uniform(3, 35, n_villages).round(1)
    v["hazard_dist_m"] = rng.uniform(0, 3000, n_villages).round(0)
    v["incidence_frac"] = (poor / pop).round(4)
    v["score"] = rng.uniform(0, 100, n_villages).round(1)
    eligible = (v["slope_mean_deg"] > 25) | (v["hazard_dist_m"] < 300)
    v["eligible"] = eligible
    v["reloc_score"] = np.where(
        eligible, rng.uniform(0.4, 1, n_villages), rng.uniform(0, 0.4, n_villages)
    ).round(3)
    v["reloc_rank"] = v["reloc_score"].rank(ascending=False, method="first").astype(int)
    v["reasons_zh"] = np.where(eligible, "坡度大于25度；地质灾害威胁", "")
    v["reasons_en"] = np.where(eligible, "slope above 25 deg; geological hazard", "")
    v["site_id"] = np.where(eligible, "S1", None)
    vil = gpd.GeoDataFrame(v, geometry=[Point(x, y) for x, y in xy], crs=METRIC_CRS)
    save(vil, "villages")

    # context layers -------------------------------------------------------------
    ext = box(X0, Y0 - NY * CELL, X0 + NX * CELL, Y0)
    county = ext.buffer(-600)
    save(gpd.GeoDataFrame({"name": ["示范县"]}, geometry=[county], crs=METRIC_CRS), "boundary")
    cx, cy = X0 + NX * CELL / 2, Y0 - NY * CELL / 2
    quads = [
        box(X0, cy, cx, Y0),
        box(cx, cy, X0 + NX * CELL, Y0),
        box(X0, Y0 - NY * CELL, cx, cy),
        box(cx, Y0 - NY * CELL, X0 + NX * CELL, cy),
    ]
    save(
        gpd.GeoDataFrame(
            {"township_id": [f"T{i}" for i in range(4)], "name": TOWNSHIPS},
            geometry=[q.intersection(county) for q in quads],
            crs=METRIC_CRS,
        ),
        "townships",
    )
    order = np.argsort(xy[:, 0])
    lines, cls, hard = [], [], []
    for a, b in zip(order[:-1], order[1:], strict=False):
        lines.append(LineString([xy[a], xy[b]]))
        cls.append(rng.choice(["county", "township", "village"]))
        hard.append(rng.choice([True, False, None], p=[0.6, 0.3, 0.1]))
    roads = gpd.GeoDataFrame(
        {
            "road_id": [f"R{i}" for i in range(len(lines))],
            "road_class": cls,
            "surface": ["concrete" if h else ("gravel" if h is False else None) for h in hard],
            "hardened": [
                "hardened" if h else ("unhardened" if h is False else "unknown") for h in hard
            ],
            "hardened_inferred": [False] * len(lines),
        },
        geometry=lines,
        crs=METRIC_CRS,
    )
    save(roads, "roads")
    gaps = roads[roads["hardened"] != "hardened"].copy()
    gaps["township"] = [
        _township_of(*g.interpolate(0.5, normalized=True).coords[0]) for g in gaps.geometry
    ]
    gaps["length_km"] = (gaps.length / 1000).round(3)
    gaps["villages_served"] = rng.integers(1, 4, len(gaps))
    gaps["people_served"] = rng.integers(100, 3000, len(gaps))
    gaps["people_per_km"] = (gaps["people_served"] / gaps["length_km"]).round(1)
    gaps["rank"] = gaps["people_per_km"].rank(ascending=False, method="first").astype(int)
    gaps["gap_id"] = [f"G{i + 1}" for i in range(len(gaps))]
    save(
        gaps[
            [
                "gap_id",
                "township",
                "length_km",
                "villages_served",
                "people_served",
                "people_per_km",
                "rank",
                "geometry",
            ]
        ],
        "road_gaps",
    )
    pts = _xy(rng, 14)
    save(
        gpd.GeoDataFrame(
            {
                "clinic_id": [f"C{i}" for i in range(10)],
                "name": [f"卫生室{i}" for i in range(10)],
                "level": ["village_clinic"] * 8 + ["township_health_centre"] * 2,
                "standard": [True, False] * 5,
                "has_doctor": [True] * 10,
            },
            geometry=[Point(p) for p in pts[:10]],
            crs=METRIC_CRS,
        ),
        "clinics",
    )
    save(
        gpd.GeoDataFrame(
            {
                "school_id": ["SC0", "SC1"],
                "name": ["中心小学", "民族中学"],
                "level": ["primary", "middle"],
            },
            geometry=[Point(p) for p in pts[10:12]],
            crs=METRIC_CRS,
        ),
        "schools",
    )
    save(
        gpd.GeoDataFrame(
            {
                "town_id": ["TN0", "TN1"],
                "name": ["县城", "工业园"],
                "kind": ["county_seat", "industrial_park"],
                "jobs": [20000, 3000],
            },
            geometry=[Point(p) for p in pts[12:14]],
            crs=METRIC_CRS,
        ),
        "towns",
    )
    wpts = _xy(rng, 6)
    wgeoms = [Point(p) for p in wpts] + [Point(wpts[0]).buffer(2500)]
    save(
        gpd.GeoDataFrame(
            {
                "water_id": [f"W{i}" for i in range(7)],
                "kind": ["source"] * 5 + ["plant", "service_area"],
                "safe": [True] * 7,
                "name": [f"水源{i}" for i in range(6)] + ["供水区"],
            },
            geometry=wgeoms,
            crs=METRIC_CRS,
        ),
        "water",
    )
    hz = _xy(rng, 3)
    save(
        gpd.GeoDataFrame(
            {
                "hazard_id": ["H0", "H1", "H2"],
                "kind": ["landslide", "debris_flow", "collapse"],
                "radius_m": [500.0, 400.0, 300.0],
            },
            geometry=[Point(p).buffer(r) for p, r in zip(hz, [500, 400, 300], strict=False)],
            crs=METRIC_CRS,
        ),
        "hazards",
    )
    save(
        gpd.GeoDataFrame(
            {"protected_id": ["P0"], "kind": ["ecological_redline"]},
            geometry=[box(X0 + 1000, Y0 - 5000, X0 + 4000, Y0 - 1000)],
            crs=METRIC_CRS,
        ),
        "protected",
    )

    # relocation ---------------------------------------------------------------
    el = vil[vil["eligible"]]
    cands = gpd.GeoDataFrame(
        {
            "village_id": el["village_id"],
            "name": el["name"],
            "township": el["township"],
            "eligible": True,
            "score": el["reloc_score"],
            "rank": el["reloc_rank"],
            "reasons_zh": el["reasons_zh"],
            "reasons_en": el["reasons_en"],
            "reason_codes": "slope,hazard",
            "people_to_move": el["population"],
        },
        geometry=el.geometry,
        crs=METRIC_CRS,
    )
    save(cands, "relocation_candidates")
    spts = _xy(rng, 2, margin=4000)
    sites = gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2"],
            "name": ["龙溪安置点", "石门安置点"],
            "source": ["generated", "planner"],
            "locked": [False, True],
            "capacity_people": [5000, 3000],
            "area_ha": [12.5, 8.0],
            "suitability": [0.82, 0.74],
            "assigned_people": [int(el["population"].sum()), 0],
            "travel_min_county_seat": [25.0, 40.0],
            "travel_min_township_seat": [5.0, 8.0],
            "travel_min_health_centre": [6.0, 9.0],
            "travel_min_school": [4.0, 7.0],
            "travel_min_industrial_park": [20.0, 35.0],
            "robustness_frac": [0.9, 0.6],
            "opened": [True, False],
        },
        geometry=[Point(p).buffer(200) for p in spts],
        crs=METRIC_CRS,
    )
    save(sites, "sites")
    save(sites.set_geometry(sites.centroid), "site_points")
    alloc = gpd.GeoDataFrame(
        {
            "village_id": el["village_id"].values,
            "site_id": "S1",
            "people": el["population"].values,
            "travel_min": rng.uniform(10, 60, len(el)).round(1),
        },
        geometry=[LineString([g.coords[0], spts[0]]) for g in el.geometry],
        crs=METRIC_CRS,
    )
    save(alloc, "allocation")

    # rasters -------------------------------------------------------------------
    dem = _dem()
    rasters["dem"] = dem
    gy, gx = np.gradient(np.nan_to_num(dem, nan=800.0), CELL)
    slope = np.degrees(np.arctan(np.hypot(gx, gy))).astype("float32")
    slope[np.isnan(dem)] = np.nan
    rasters["slope_deg"] = slope
    yy, xx = np.mgrid[0:NY, 0:NX]
    for i, kind in enumerate(TRAVEL_KINDS):
        tt = (np.hypot(xx - 40 - 10 * i, yy - 80) * 0.8).astype("float32")
        tt[np.isnan(dem)] = np.nan
        rasters[f"travel_min_{kind}"] = tt
    suit = np.clip(1 - slope / 30, 0, 1).astype("float32")
    suit[slope > 25] = np.nan
    rasters["suitability"] = suit
    indicators = {
        "name": "national",
        "title": "国家贫困村退出标准（示例）",
        "kind": "village",
        "indicators": INDICATORS,
    }
    summary = {
        "villages": n_villages,
        "exit_ready": int((v["blocker_class"] == "ready").sum()),
        "blocked_one": int((v["blocker_class"] == "blocked_one").sum()),
        "blocked_several": int((v["blocker_class"] == "blocked_several").sum()),
        "unknown": int((v["blocker_class"] == "unknown").sum()),
        "people_to_relocate": int(el["population"].sum()),
        "km_to_harden": round(float(gaps["length_km"].sum()), 2),
        "no_safe_water": int((statuses["water"] == "not_met").sum()),
        "no_standard_clinic": int((statuses["clinic"] == "not_met").sum()),
        "sites_opened": 1,
    }
    manifest = {
        "anju_version": "0.1.0",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "workspace": {"name": "sample", "path": "synthetic"},
        "policy": {"name": "national", "title": "国家贫困村退出标准（示例）"},
        "crs_metric": METRIC_CRS,
        "inputs": [
            {
                "kind": "villages",
                "path": "synthetic/villages.gpkg",
                "sha256": "0" * 64,
                "features": n_villages,
            }
        ],
        "parameters": {"capacity_factor": 1.0, "n_sites": 2},
        "stages": {"terrain": 0.1, "access": 0.2, "indicators": 0.05, "relocation": 0.1},
        "summary": summary,
    }
    write_plan(
        out,
        PlanOutput(
            grid=Grid((NY, NX), from_origin(X0, Y0, CELL, CELL), CRS.from_user_input(METRIC_CRS)),
            layers=layers,
            rasters=rasters,
            tables={},
            tables_zh={},
            indicators=indicators,
            manifest=manifest,
        ),
    )
    return out
