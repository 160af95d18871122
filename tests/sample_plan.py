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

#: As the pipeline writes indicators.json (``scripts.pipeline._indicators_json``).
INDICATORS = [
    {
        "id": "incidence",
        "name_zh": "贫困发生率",
        "name_en": "Poverty incidence",
        "rule": "rate_below",
        "evidence": "poverty_incidence_frac",
        "threshold": 0.03,
        "unit": "frac",
        "clause": "厅字〔2016〕16号：贫困发生率降至2%以下（西部地区3%以下）",
        "weight": None,
        "verified": True,
    },
    {
        "id": "road",
        "name_zh": "通硬化路",
        "name_en": "Hardened road into the village",
        "rule": "road_access_hardened",
        "evidence": "road_access",
        "threshold": None,
        "unit": "km",
        "clause": "省贫困村退出标准 第3条",
        "weight": None,
        "verified": True,
    },
    {
        "id": "water",
        "name_zh": "饮水安全",
        "name_en": "Safe drinking water",
        "rule": "is_true",
        "evidence": "has_safe_water",
        "threshold": None,
        "unit": "bool",
        "clause": "省贫困村退出标准 第4条",
        "weight": None,
        "verified": True,
    },
    {
        "id": "clinic",
        "name_zh": "标准化村卫生室（有合格村医）",
        "name_en": "Standard village clinic with a qualified doctor",
        "rule": "clinic_in_village",
        "evidence": "clinic_standard, clinic_doctor, hosts_health_centre",
        "threshold": None,
        "unit": "bool",
        "clause": "省贫困村退出标准 第6条；乡镇卫生院所在村可不另设",
        "weight": None,
        "verified": True,
    },
    {
        "id": "bus",
        "name_zh": "通客车",
        "name_en": "Passenger bus",
        "rule": "is_true",
        "evidence": "bus_service",
        "threshold": None,
        "unit": "bool",
        "clause": "省级贫困村退出标准：具备条件的建制村通客车（待核实）",
        "weight": None,
        "verified": False,
    },
]
IDS = [i["id"] for i in INDICATORS]

#: Villages made to be in a given class, whatever the seed (index → what it shows).
SPECIAL = {
    0: "road met only through an inferred surface: unconfirmed",
    1: "road surface unknown on 3.38 km: unknown",
    2: "not a registered poverty village: not_registered",
    3: "a hamlet of village 4: hamlet",
    4: "clinic standard unknown: unknown",
    5: "hosts the township health centre (clinic met, measured): ready",
    6: "1.2 km unhardened + 0.45 km connection to build: blocked_one",
    7: "register and village figure disagree (incidence unknown): unknown",
    8: "no safe water and no bus: blocked_several",
    9: "everything met and measured: ready",
}


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


def _tri(values) -> pd.arrays.BooleanArray:
    return pd.array(list(values), dtype="boolean")


def _pick(rng: np.random.Generator, n: int, choices, p) -> list:
    return [choices[k] for k in rng.choice(len(choices), n, p=p)]


def _village_inputs(rng: np.random.Generator, n: int, xy: np.ndarray) -> pd.DataFrame:
    """The evidence columns of every village: random, then :data:`SPECIAL` rows set by hand."""
    pop = rng.integers(150, 2500, n)
    poor = (pop * rng.uniform(0, 0.045, n)).astype(int)
    tws = [_township_of(x, y) for x, y in xy]
    access = _pick(rng, n, ["hardened", "gap", "unknown", "no_road"], [0.75, 0.15, 0.05, 0.05])
    v = pd.DataFrame(
        {
            "village_id": [f"5201230{i:05d}" for i in range(n)],
            "name": [f"{tws[i][:2]}{i + 1}村" for i in range(n)],
            "township": tws,
            "level": "admin",
            "parent_id": None,
            "poverty_village": rng.random(n) < 0.85,
            "population": pop,
            "households": (pop / 3.4).astype(int),
            "poor_population": poor,
            "incidence_source": "village_attribute",
            "road_access": access,
            "unhardened_km": [
                round(float(rng.uniform(0.5, 6)), 2) if a == "gap" else 0.0 for a in access
            ],
            "unknown_surface_km": [1.0 if a == "unknown" else 0.0 for a in access],
            "connection_km": [
                round(float(rng.uniform(0.4, 1.5)), 2) if a == "no_road" else 0.0 for a in access
            ],
            "inferred_km": [
                round(float(rng.uniform(0.3, 2)), 2)
                if a == "hardened" and rng.random() < 0.12
                else 0.0
                for a in access
            ],
            "has_safe_water": _tri(_pick(rng, n, [True, False, None], [0.85, 0.1, 0.05])),
            "clinic_standard": _tri(_pick(rng, n, [True, False, None], [0.8, 0.15, 0.05])),
            "clinic_doctor": _tri(_pick(rng, n, [True, False], [0.85, 0.15])),
            "hosts_health_centre": _tri([False] * n),
            "bus_service": _tri(_pick(rng, n, [True, False, None], [0.85, 0.1, 0.05])),
        }
    )
    # the special villages: everything met and measured unless said otherwise (a plan of
    # fewer villages has the first ones only)
    for i in (i for i in SPECIAL if i < n):
        v.loc[i, ["poverty_village", "road_access", "unhardened_km", "unknown_surface_km"]] = [
            True,
            "hardened",
            0.0,
            0.0,
        ]
        v.loc[i, ["connection_km", "inferred_km"]] = [0.0, 0.0]
        v.loc[i, "poor_population"] = int(v.at[i, "population"] * 0.01)
        for c in ("has_safe_water", "clinic_standard", "clinic_doctor", "bus_service"):
            v.loc[i, c] = True
    changes = [
        (0, ["inferred_km"], [2.1]),
        (1, ["road_access", "unknown_surface_km"], ["unknown", 3.38]),
        (2, ["poverty_village"], [False]),
        (3, ["level", "parent_id", "poverty_village"], ["hamlet", f"5201230{4:05d}", True]),
        (4, ["clinic_standard"], [pd.NA]),
        (5, ["clinic_standard", "hosts_health_centre"], [False, True]),
        (6, ["road_access", "unhardened_km", "connection_km"], ["gap", 1.2, 0.45]),
        (7, ["incidence_source"], ["conflict"]),
        (8, ["has_safe_water", "bus_service"], [False, False]),
    ]
    for i, cols, values in changes:
        if i < n and (i != 3 or n > 4):
            for c, val in zip(cols, values, strict=True):
                v.loc[i, c] = val
    v["road_evidence"] = np.where(
        v["road_access"].isin(["unknown", "no_road"]),
        "missing",
        np.where(v["inferred_km"] > 0, "inferred", "measured"),
    )
    return v


def _status_of(b: pd.Series) -> np.ndarray:
    return np.where(b.isna(), "unknown", np.where(b.fillna(False), "met", "not_met"))


def _evaluate(v: pd.DataFrame) -> pd.DataFrame:
    """The indicator columns as :func:`geo.indicators.evaluate` writes them (pass/fail profile,
    inferred evidence not counted as met), worked out here so the sample needs no geo code."""
    n = len(v)
    blank = np.full(n, "", dtype=object)
    out = v.copy()
    cols: dict[str, object] = {}

    def put(iid, status, quality, value, threshold, note_zh=blank, note_en=blank):
        status = np.asarray(status, dtype=object)
        cols[f"{iid}_status"] = status
        cols[f"{iid}_quality"] = np.asarray(quality, dtype=object)
        cols[f"{iid}_value"] = value
        cols[f"{iid}_threshold"] = np.full(n, threshold, dtype=float)
        cols[f"{iid}_note_zh"] = note_zh
        cols[f"{iid}_note_en"] = note_en
        cols[iid] = _tri(
            True if s == "met" else (False if s == "not_met" else None) for s in status
        )

    # incidence: the village figure, unknown where the register disagrees with it
    frac = (v["poor_population"] / v["population"]).round(4)
    conflict = (v["incidence_source"] == "conflict").to_numpy()
    st = np.where(conflict, "unknown", np.where(frac < 0.03, "met", "not_met"))
    nz = np.where(conflict, "户登记与村统计不一致：户登记 4.1%，村统计 1.2%，需核实", "")
    ne = np.where(
        conflict,
        "register and village figure disagree: register 4.1%, village figure 1.2%; to verify",
        "",
    )
    cols["poverty_incidence_frac"] = np.where(conflict, np.nan, frac)
    put(
        "incidence",
        st,
        np.where(conflict, "missing", "attribute"),
        cols["poverty_incidence_frac"],
        0.03,
        nz,
        ne,
    )

    # road: from the network stage's road_access and its km
    acc = v["road_access"].to_numpy()
    st = np.where(acc == "hardened", "met", np.where(acc == "unknown", "unknown", "not_met"))
    q = np.where(
        st == "unknown",
        "missing",
        np.where(v["road_evidence"] == "inferred", "inferred", "measured"),
    )
    value = np.where(
        acc == "unknown",
        v["unknown_surface_km"],
        np.where(acc == "hardened", 0.0, v["unhardened_km"] + v["connection_km"]),
    )
    nz, ne = [], []
    for r in v.itertuples():
        pz, pe = [], []
        if r.unhardened_km > 0:
            pz.append(f"未硬化 {r.unhardened_km:.2f} km")
            pe.append(f"{r.unhardened_km:.2f} km unhardened")
        if r.unknown_surface_km > 0:
            pz.append(f"路面未知 {r.unknown_surface_km:.2f} km")
            pe.append(f"{r.unknown_surface_km:.2f} km of unknown surface")
        if r.connection_km > 0:
            pz.append(f"需新建连接路 {r.connection_km:.2f} km")
            pe.append(f"{r.connection_km:.2f} km of connection to build")
        if r.inferred_km > 0 and r.road_evidence == "inferred":
            pz.append(f"其中 {r.inferred_km:.2f} km 路面按道路等级推定，待核实")
            pe.append(
                f"{r.inferred_km:.2f} km with a surface inferred from the road class; to confirm"
            )
        nz.append("；".join(pz))
        ne.append("; ".join(pe))
    put("road", st, q, value, 0.0, np.array(nz, dtype=object), np.array(ne, dtype=object))

    # water and bus: village attributes
    for iid, col in (("water", "has_safe_water"), ("bus", "bus_service")):
        st = _status_of(v[col])
        put(iid, st, np.where(st == "unknown", "missing", "attribute"), v[col], np.nan)

    # clinic: a standard clinic with a doctor, or the township health centre in the village
    own = v["clinic_standard"] & v["clinic_doctor"]
    ok = own | v["hosts_health_centre"]
    st = _status_of(ok)
    by_centre = (v["hosts_health_centre"].fillna(False) & ~own.fillna(False)).to_numpy(bool)
    q = np.where(st == "unknown", "missing", np.where(by_centre, "measured", "attribute"))
    nz = np.where(
        by_centre,
        "乡镇卫生院所在村",
        np.where(st == "unknown", "卫生室是否达标、是否有合格村医未知", ""),
    )
    ne = np.where(
        by_centre,
        "hosts the township health centre",
        np.where(st == "unknown", "clinic standard or qualified doctor unknown", ""),
    )
    put("clinic", st, q, ok, np.nan, nz.astype(object), ne.astype(object))

    for c, val in cols.items():
        out[c] = val
    frame = np.column_stack([cols[f"{i}_status"] for i in IDS])
    qual = np.column_stack([cols[f"{i}_quality"] for i in IDS])
    unconfirmed = (frame == "met") & (qual == "inferred")
    met = (frame == "met") & ~unconfirmed
    unmet = frame == "not_met"
    unknown = frame == "unknown"

    def listing(mask):
        return [",".join(i for i, m in zip(IDS, row, strict=True) if m) for row in mask]

    out["unmet"] = listing(unmet)
    out["unknown"] = listing(unknown)
    out["unconfirmed"] = listing(unconfirmed)
    out["n_unmet"] = unmet.sum(axis=1)
    out["n_unknown"] = unknown.sum(axis=1)
    out["n_unconfirmed"] = unconfirmed.sum(axis=1)
    ready = met.all(axis=1)
    could = ~unmet.any(axis=1)
    only_unconfirmed = could & ~ready & ~unknown.any(axis=1)
    blocker = np.where(
        ready,
        "ready",
        np.where(
            only_unconfirmed,
            "unconfirmed",
            np.where(
                could, "unknown", np.where(unmet.sum(axis=1) <= 1, "blocked_one", "blocked_several")
            ),
        ),
    ).astype(object)
    hamlet = (v["level"] == "hamlet").to_numpy()
    not_registered = ~v["poverty_village"].to_numpy(bool) & ~hamlet
    applicable = ~hamlet & ~not_registered
    blocker[hamlet] = "hamlet"
    blocker[not_registered] = "not_registered"
    out["exit_applicable"] = applicable
    out["exit_ready"] = _tri(bool(r) if a else None for r, a in zip(ready, applicable, strict=True))
    out["blocker_class"] = blocker
    out["road_claim_conflict"] = _tri([None] * n)
    return out


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
    if n_villages > 4:
        xy[3] = xy[4] + np.array([600.0, -400.0])  # the hamlet lies beside its village
    v = _village_inputs(rng, n_villages, xy)
    v = _evaluate(v)
    v["road_snap_m"] = rng.uniform(0, 400, n_villages).round(1)
    v["in_water_service_area"] = rng.random(n_villages) < 0.5
    v["nearest_water_id"] = [f"W{rng.integers(0, 6)}" for _ in range(n_villages)]
    v["water_dist_m"] = rng.uniform(50, 1500, n_villages).round(0)
    for kind in TRAVEL_KINDS:
        tm = rng.uniform(5, 120, n_villages).round(1)
        tm[rng.random(n_villages) < 0.03] = np.nan
        v[f"travel_min_{kind}"] = tm
    v["elev_mean_m"] = rng.uniform(500, 1600, n_villages).round(1)
    v["slope_mean_deg"] = rng.uniform(3, 35, n_villages).round(1)
    v["hazard_dist_m"] = rng.uniform(0, 3000, n_villages).round(0)
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
    lines, cls, hard, inferred = [], [], [], []
    for a, b in zip(order[:-1], order[1:], strict=False):
        lines.append(LineString([xy[a], xy[b]]))
        cls.append(rng.choice(["county", "township", "village"]))
        h = rng.choice([True, False, None], p=[0.6, 0.3, 0.1])
        # the road out of village 1 has an unknown surface; village 0's is inferred hardened
        h = None if a == 1 else (True if a == 0 else h)
        hard.append(h)
        inferred.append(bool(a == 0))
    roads = gpd.GeoDataFrame(
        {
            "road_id": [f"R{i}" for i in range(len(lines))],
            "road_class": cls,
            "surface": [
                None if i else ("concrete" if h else ("gravel" if h is False else None))
                for h, i in zip(hard, inferred, strict=True)
            ],
            "hardened": [
                "hardened" if h else ("unhardened" if h is False else "unknown") for h in hard
            ],
            "hardened_inferred": inferred,
        },
        geometry=lines,
        crs=METRIC_CRS,
    )
    save(roads, "roads")
    gaps = roads[roads["hardened"] != "hardened"].copy()
    gaps["kind"] = "harden"
    # a connection to build from village 6 to the network (a road that does not exist yet)
    conn = gpd.GeoDataFrame(
        {"hardened": ["unhardened"], "kind": ["connection"]},
        geometry=[
            LineString([xy[min(6, n_villages - 1)], xy[min(6, n_villages - 1)] + (450.0, 0.0)])
        ],
        crs=METRIC_CRS,
    )
    gaps = pd.concat([gaps, conn], ignore_index=True)
    gaps["township"] = [
        _township_of(*g.interpolate(0.5, normalized=True).coords[0]) for g in gaps.geometry
    ]
    gaps["length_km"] = (gaps.length / 1000).round(3)
    harden = (gaps["kind"] == "harden").to_numpy()
    gaps["known_unhardened_km"] = np.where(
        harden & (gaps["hardened"] == "unhardened"), gaps["length_km"], 0.0
    )
    gaps["unknown_surface_km"] = np.where(
        harden & (gaps["hardened"] == "unknown"), gaps["length_km"], 0.0
    )
    gaps["villages_served"] = rng.integers(1, 4, len(gaps))
    gaps["people_served"] = rng.integers(100, 3000, len(gaps))
    gaps["people_per_km"] = (gaps["people_served"] / gaps["length_km"]).round(1)
    gaps["rank"] = gaps["people_per_km"].rank(ascending=False, method="first").astype(int)
    gaps["gap_id"] = [f"G{i + 1}" for i in range(len(gaps))]
    gaps = gpd.GeoDataFrame(
        gaps[
            [
                "gap_id",
                "kind",
                "township",
                "length_km",
                "known_unhardened_km",
                "unknown_surface_km",
                "villages_served",
                "people_served",
                "people_per_km",
                "rank",
                "geometry",
            ]
        ],
        crs=METRIC_CRS,
    )
    save(gaps, "road_gaps")
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
        "profile": {
            "name": "national",
            "title_zh": "国家贫困村退出标准（示例）",
            "title_en": "National poverty-exit standard (sample)",
            "kind": "pass_fail",
            "pass_score": None,
            "verified": True,
            "inferred_counts_as_met": False,
        },
        "indicators": INDICATORS,
    }
    bc = v["blocker_class"].value_counts()
    harden = gaps["kind"] == "harden"
    summary = {
        "villages": n_villages,
        "villages_assessed": int(v["exit_applicable"].sum()),
        "population": int(v["population"].sum()),
        **{
            k: int(bc.get(k, 0))
            for k in (
                "ready",
                "unconfirmed",
                "blocked_one",
                "blocked_several",
                "unknown",
                "not_registered",
                "hamlet",
            )
        },
        "exit_ready": int(bc.get("ready", 0)),
        "people_to_relocate": int(el["population"].sum()),
        "km_to_harden": round(float(gaps.loc[harden, "known_unhardened_km"].sum()), 2),
        "km_unknown_surface": round(float(gaps.loc[harden, "unknown_surface_km"].sum()), 2),
        "villages_without_hardened_road": int((v["road_access"] != "hardened").sum()),
        "no_safe_water": int((v["has_safe_water"] == False).sum()),  # noqa: E712
        "safe_water_unknown": int(v["has_safe_water"].isna().sum()),
        "no_standard_clinic": int((v["clinic_status"] == "not_met").sum()),
        "clinic_unknown": int((v["clinic_status"] == "unknown").sum()),
        "incidence_conflicts": int((v["incidence_source"] == "conflict").sum()),
        "sites_opened": 1,
    }
    warnings = [
        f"{summary['incidence_conflicts']} village(s): household register and village figure "
        "disagree or the register is incomplete; their incidence is unknown until verified",
        f"{int((v['n_unconfirmed'] > 0).sum())} village(s) meet an indicator only through "
        "inferred evidence (road surfaces taken from the road class); they are not counted "
        "ready until confirmed",
    ]
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
        "warnings": warnings,
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
