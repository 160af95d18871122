"""Seeded generator of the synthetic demo county (青岩县, clearly synthetic) in ``data/demo/``.

Everything written here is invented: terrain, names, codes, people and personal fields. The
county imitates a mountainous county of western Hunan / eastern Guizhou (centre near 109.0°E,
28.3°N) so that the planning pipeline and the dashboard have something plausible to chew on.

How the terrain is made
-----------------------
1. A coarse (4 x the DEM cell, 120 m at scale 1) spectral 1/f^β noise surface with a regional
   tilt decides where water goes: a priority flood from one outlet on the county boundary gives
   every cell a downstream neighbour (a dendritic drainage tree) and a flow accumulation.
2. Elevations are integrated up that tree from the outlet with a steady-state stream-power
   slope ``S = k_s A^-θ`` (capped at a threshold hillslope gradient), so every valley connects
   downhill and river profiles are concave; ``k_s`` varies smoothly (higher mountains to the west).
3. Valley floors along large rivers are flattened (alluvial floors), the surface is rescaled to
   the target relief, upsampled to 30 m, and fine 1/f^β detail is added on the slopes.
4. Water bodies: the rivers above ``floor_km2`` get channel polygons around centre lines traced
   through the lowest cells of the 30 m surface (width growing with drainage area), burnt into
   the DEM; each reservoir gets a lake filling its valley behind a dam. Seats and villages are
   moved off the channels, and roads pay extra to run on a channel cell (they cross on bridges).

Usage::

    python scripts/make_demo.py --out data/demo --seed 2017 --scale 1

The output is deterministic for a seed and scale (byte-identical DEM, identical vector tables).
"""

from __future__ import annotations

import argparse
import heapq
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely
from rasterio.transform import Affine
from scipy import ndimage
from scipy.spatial import cKDTree
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.ops import nearest_points
from skimage.graph import MCP_Geometric
from skimage.segmentation import watershed

__all__ = [
    "DEMO_YEARS",
    "MAIN_YEAR",
    "YEAR_FILES",
    "generate",
    "main",
    "DemoConfig",
    "HOUSEHOLD_RENAME",
    "VILLAGE_RENAME",
]

METRIC_CRS = "EPSG:4545"  # CGCS2000 / 3-degree Gauss-Kruger CM 108E
STORAGE_CRS = "EPSG:4490"  # CGCS2000 geographic
WEB_CRS = "EPSG:4326"
NODATA = -32768

# Every file generate() writes (README.md is hand-written and never touched).
GENERATED_FILES = (
    "workspace.toml",
    "dem.tif",
    "county.gpkg",
    "villages.shp",
    "villages.shx",
    "villages.dbf",
    "villages.prj",
    "villages.cpg",
    "roads.gpkg",
    "towns.geojson",
    "facilities.gpkg",
    "sites.gpkg",
    "households.csv",
    "generated.txt",
    "years",  # a folder: the same county year by year (years/<year>/, see DEMO_YEARS)
)

# Shapefile (GB18030) column → canonical column; written into workspace.toml as the rename table.
# Names are at most 5 Chinese characters (10 bytes in GB18030, the DBF field-name limit).
VILLAGE_RENAME: dict[str, str] = {
    "村代码": "village_id",
    "村名": "name",
    "乡镇": "township",
    "人口": "population",
    "户数": "households",
    "贫困人口": "poor_population",
    "贫困户数": "poor_households",
    "贫困村": "poverty_village",
    "层级": "level",
    "上级村": "parent_id",
    "安全饮水": "has_safe_water",
    "通电": "has_electricity",
    "宽带": "has_broadband",
    "文化场所": "has_culture_venue",
    "广播电视": "has_tv",
    "通客车": "bus_service",
    "通村硬化": "road_hardened_claimed",
    "卫生室达标": "clinic_standard",
    "有村医": "clinic_doctor",
    "卫生厕所率": "sanitary_toilet_frac",
    "水冲厕所率": "flush_toilet_frac",  # 水冲式厕所率, shortened to fit the DBF's 10 bytes
    "入户路硬化": "household_road_hardened_frac",
    "医保参保率": "medical_insurance_frac",
    "集体收入": "collective_income_cny",
    "计划退出": "planned_exit_year",  # 计划退出年份, shortened to fit the DBF's 10 bytes
    "退出年份": "exit_year",
}

# households.csv column → canonical column (the register's status in Chinese, as counties keep it).
HOUSEHOLD_RENAME: dict[str, str] = {
    "脱贫状态": "register_status",
    "脱贫年份": "exit_year",
    "计划脱贫年份": "planned_exit_year",
}
# Register statuses as written in households.csv.
_STATUS_ZH = {"not_exited": "未脱贫", "exited": "已脱贫", "returned": "返贫"}

_COUNTY_CODE = "439901"  # "99" is no prefecture of Hunan (43): visibly synthetic
_COUNTY_NAME = "青岩县（合成示范数据）"

_TOWNSHIP_NAMES = (
    "龙潭镇",
    "白岩乡",
    "石门镇",
    "清溪镇",
    "茶园乡",
    "马鞍镇",
    "枫木乡",
    "大坪镇",
    "青龙乡",
    "竹山乡",
    "高岩乡",
    "双河镇",
    "桃花溪乡",
    "岩口镇",
    "杉木乡",
    "金竹乡",
    "长潭乡",
    "水田乡",
    "梅子乡",
    "红岩镇",
    "黄土坪乡",
    "鹿角乡",
    "板栗乡",
    "五里镇",
    "三岔乡",
    "凉风乡",
    "猫儿乡",
    "獐子乡",
    "岩门镇",
    "溪口镇",
)
_ROOT_A = "白黑龙凤岩塘坪溪茶竹杉桃李枫石马牛羊鹅青红黄金银上下中高大小新老花梨柳松柏桐梅樟田洞"
_ROOT_B = "坪溪寨坳冲湾坡岩塘垭屯坝田洞桥岭山口河界园林湖坑场堡"
_SURNAMES = "张王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗田彭向龙石滕麻唐曾谭符宋舒姚覃"
_GIVEN = "国建明华平军志勇春秀英兰芳玉金银桂云海红梅生福贵成家文武德永世光富忠祥"

_CLASS_RANK = {"provincial": 4, "county": 3, "township": 2, "village": 1}


@dataclass(frozen=True)
class DemoConfig:
    """Numbers that shape the demo county (all scale with ``scale`` where noted).

    Attributes are plain defaults, not policy: the demo only has to look plausible.
    """

    cell_m: float = 30.0
    coarse_factor: int = 4
    side_cells: int = 2000  # DEM side at scale 1 (x sqrt(scale))
    centre_lonlat: tuple[float, float] = (109.0, 28.3)
    n_townships: int = 15  # x scale
    n_villages: int = 250  # x scale
    n_hamlets: int = 12  # x scale
    n_household_villages: int = 20  # x scale
    min_elev_m: float = 260.0
    relief_m: float = 1650.0
    theta: float = 0.6
    max_gradient: float = 0.75  # threshold hillslope gradient before smoothing and rescaling
    hillslope_km2: float = 0.08  # drainage area of a channel head
    river_km2: float = 3.0  # drainage area that makes a mapped river
    floor_km2: float = 15.0  # rivers this large get a flat alluvial floor
    village_spacing_m: float = 1100.0
    township_compactness: float = 2.0  # metres of elevation per coarse cell of distance
    # water bodies: channels of the rivers above floor_km2, width growing with drainage area
    channel_min_width_m: float = 15.0
    channel_max_width_m: float = 60.0
    channel_width_exp: float = 0.28  # width ∝ A^b: 15 m at 15 km², 60 m from about 2,000 km²
    channel_depth_m: float = 1.0  # channels are burnt at least this far below the water level
    named_river_km2: float = 120.0  # smaller tributaries dissolve into the river they join
    min_water_body_m2: float = 10_000.0  # smaller slivers (cut at the county edge) are dropped
    channel_road_cost: float = 10.0  # roads keep to the banks, crossing the channels on bridges
    reservoir_lake_m2: tuple[float, ...] = (350_000.0, 220_000.0)  # target lake areas
    settlement_clear_m: float = 40.0  # villages, seats (and reservoir lakes) keep this clearance
    dam_search_cells: int = 12  # a reservoir's dam may sit this many coarse cells up or down


# --------------------------------------------------------------------------------------------
# terrain
# --------------------------------------------------------------------------------------------


def _fbm(rng: np.random.Generator, shape: tuple[int, int], beta: float) -> np.ndarray:
    """Spectral 1/f^β noise, zero mean and unit variance."""
    white = rng.standard_normal(shape)
    spec = np.fft.rfft2(white)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    spec *= k ** (-beta / 2.0)
    spec[0, 0] = 0.0
    out = np.fft.irfft2(spec, s=shape)
    return (out - out.mean()) / out.std()


def _county_polygon(rng: np.random.Generator, cx: float, cy: float, side_m: float) -> Polygon:
    """An irregular blob: polar radius with random low harmonics plus a small wiggle."""
    n = 720
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 8):
        amp = 0.11 / k**0.9
        r += amp * rng.uniform(0.4, 1.0) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    wig = _fbm(rng, (1, n), 1.6)[0]
    r += 0.012 * wig
    r = r / r.max() * 0.485 * side_m
    xs = cx + r * np.cos(t)
    ys = cy + r * np.sin(t)
    poly = Polygon(np.column_stack([xs, ys])).buffer(0)
    return shapely.simplify(poly, 25.0)


def _priority_flood(base: np.ndarray, outlet: tuple[int, int]) -> tuple[list[int], np.ndarray]:
    """Priority flood from one outlet: visiting order and downstream neighbour of every cell.

    Returns flat indices into ``base`` (row-major) in the order cells were reached, and the
    parent (downstream) index of each cell (-1 at the outlet). Depressions are filled
    implicitly: a cell reached from a higher one drains to it.
    """
    nr, nc = base.shape
    w = nc + 2
    padded = np.full((nr + 2, nc + 2), np.inf)
    padded[1:-1, 1:-1] = base
    closed = np.zeros(padded.shape, dtype=bool)
    closed[0, :] = closed[-1, :] = closed[:, 0] = closed[:, -1] = True
    zl = padded.ravel().tolist()
    cl = closed.ravel().tolist()
    offs = (-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1)
    parent_p = [-1] * len(zl)
    order_p: list[int] = []
    o = (outlet[0] + 1) * w + outlet[1] + 1
    heap = [(zl[o], zl[o], o)]
    cl[o] = True
    push, pop = heapq.heappush, heapq.heappop
    while heap:
        z, _, i = pop(heap)
        order_p.append(i)
        for off in offs:
            j = i + off
            if not cl[j]:
                cl[j] = True
                parent_p[j] = i
                zj = zl[j]
                # inside a filled depression the raw value orders the flood (invasion
                # percolation), which grows branching channels instead of straight fans
                push(heap, (zj if zj > z else z, zj, j))
    op = np.asarray(order_p, dtype=np.int64)
    pp = np.asarray(parent_p, dtype=np.int64)

    # back to unpadded flat indices
    def unpad(a: np.ndarray) -> np.ndarray:
        return (a // w - 1) * nc + (a % w - 1)

    order = unpad(op)
    parent = np.full(nr * nc, -1, dtype=np.int64)
    has = pp[op] >= 0
    parent[order[has]] = unpad(pp[op][has])
    return order.tolist(), parent


def _terrain(
    rng: np.random.Generator,
    cfg: DemoConfig,
    nrc: int,
    inside_c: np.ndarray,
    outlet: tuple[int, int],
) -> dict[str, np.ndarray]:
    """Coarse terrain: elevation, flow accumulation (km²), parent, river elevations."""
    cc = cfg.cell_m * cfg.coarse_factor
    yy, xx = np.mgrid[0:nrc, 0:nrc] / nrc
    base = _fbm(rng, (nrc, nrc), 2.2) + 0.35 * _fbm(rng, (nrc, nrc), 0.8)
    # regional tilt towards the outlet so the trunk river crosses the county
    orow, ocol = outlet[0] / nrc, outlet[1] / nrc
    base += 2.5 * np.hypot(yy - orow, xx - ocol)
    order, parent = _priority_flood(base, outlet)
    n = nrc * nrc
    acc = np.ones(n)
    par = parent.tolist()
    accl = acc.tolist()
    for i in reversed(order):
        p = par[i]
        if p >= 0:
            accl[p] += accl[i]
    acc = np.asarray(accl) * (cc * cc) / 1e6  # km²
    uplift = np.exp(0.35 * _fbm(rng, (nrc, nrc), 3.2)) * (1.25 - 0.5 * xx)  # higher to the west
    ks = (uplift.ravel() * cfg.max_gradient).tolist()
    accl = acc.tolist()
    z = [0.0] * n
    th = cfg.theta
    a_c = cfg.hillslope_km2
    sq2 = math.sqrt(2.0)
    for i in order[1:]:
        p = par[i]
        step = cc * (sq2 if (i - p) not in (1, -1, nrc, -nrc) else 1.0)
        a = accl[i]
        # threshold hillslopes below the channel-head area, stream power S = k A^-θ above it
        s = ks[i] if a <= a_c else ks[i] * (a / a_c) ** (-th)
        z[i] = z[p] + step * s
    zc = np.asarray(z).reshape(nrc, nrc)
    acc2 = acc.reshape(nrc, nrc)
    # alluvial floors along big rivers: flat-bottomed valleys (wider for bigger rivers)
    big = acc2 >= cfg.floor_km2
    d, idx = ndimage.distance_transform_edt(~big, return_indices=True)
    d = d * cc
    a_near = acc2[idx[0], idx[1]]
    z_near = zc[idx[0], idx[1]]
    half_width = 45.0 * a_near**0.38
    floor = d < half_width
    zc = np.where(floor, np.minimum(zc, z_near + 0.012 * d), zc)
    zc = ndimage.gaussian_filter(zc, 0.9)
    # rescale to the target relief inside the county
    lo = float(zc[inside_c].min())
    hi = float(zc[inside_c].max())
    relief = cfg.relief_m * rng.uniform(0.95, 1.05)
    zc = cfg.min_elev_m + (zc - lo) / (hi - lo) * relief
    return {"z": zc, "acc": acc2, "parent": parent.reshape(nrc, nrc), "floor": floor}


def _upsample(zc: np.ndarray, factor: int, rng: np.random.Generator) -> np.ndarray:
    """Cubic upsampling of the coarse surface plus fine 1/f^β detail on the slopes."""
    z = ndimage.zoom(zc, factor, order=3, mode="nearest", grid_mode=True)
    detail = _fbm(rng, z.shape, 2.6)
    lo = ndimage.zoom(
        ndimage.minimum_filter(zc, 5), factor, order=1, grid_mode=True, mode="nearest"
    )
    # roughness grows with height above the local valley bottom; valley floors stay smooth
    amp = np.clip((z - lo) / 150.0, 0.0, 1.0) * 9.0
    return z + detail * amp


def _slope_deg(z: np.ndarray, cell: float) -> np.ndarray:
    gy, gx = np.gradient(z, cell)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


# --------------------------------------------------------------------------------------------
# sampling helpers
# --------------------------------------------------------------------------------------------


def _poisson_pick(
    rng: np.random.Generator,
    xy: np.ndarray,
    weight: np.ndarray,
    n: int,
    min_dist: float,
    existing: np.ndarray | None = None,
) -> np.ndarray:
    """Pick up to ``n`` candidate indices ∝ weight with a minimum spacing (greedy, seeded)."""
    w = np.asarray(weight, dtype=float)
    keep = np.flatnonzero(w > 0)
    if keep.size == 0:
        return np.empty(0, dtype=np.int64)
    # weighted random order: Efraimidis–Spirakis keys
    keys = rng.random(keep.size) ** (1.0 / w[keep])
    cand = keep[np.argsort(-keys, kind="stable")]
    chosen: list[int] = []
    pts = [] if existing is None else [tuple(p) for p in existing]
    md2 = min_dist * min_dist
    for i in cand:
        x, y = xy[i]
        if all((x - px) ** 2 + (y - py) ** 2 >= md2 for px, py in pts):
            chosen.append(int(i))
            pts.append((x, y))
            if len(chosen) >= n:
                break
    return np.asarray(chosen, dtype=np.int64)


def _unique_names(rng: np.random.Generator, n: int, suffix: str, taken: set[str]) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        a = _ROOT_A[rng.integers(len(_ROOT_A))]
        b = _ROOT_B[rng.integers(len(_ROOT_B))]
        name = a + b + suffix
        if name not in taken and a != b and b != suffix[0]:
            taken.add(name)
            names.append(name)
    return names


def _tri(rng: np.random.Generator, n: int, p_true: float, p_na: float) -> pd.array:
    """Nullable booleans: True with p_true, <NA> with p_na, else False."""
    u = rng.random(n)
    vals = np.where(u < p_true, True, False).astype(object)
    vals[u >= 1.0 - p_na] = None
    return pd.array(vals.tolist(), dtype="boolean")


def _blob(
    rng: np.random.Generator, x: float, y: float, r: float, *, elong: float = 1.0, n: int = 24
) -> Polygon:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rr = r * (1.0 + 0.25 * rng.uniform(-1, 1, n))
    ang = rng.uniform(0, np.pi)
    px = rr * np.cos(t) * elong
    py = rr * np.sin(t)
    ca, sa = math.cos(ang), math.sin(ang)
    return Polygon(np.column_stack([x + ca * px - sa * py, y + sa * px + ca * py])).buffer(0)


def _mask_polygons(
    mask: np.ndarray, transform: Affine, *, simplify_m: float, min_area_m2: float
) -> list[Polygon]:
    polys = []
    for geom, val in rasterio.features.shapes(
        mask.astype(np.uint8), mask=mask, transform=transform
    ):
        if val != 1:
            continue
        p = shapely.geometry.shape(geom).buffer(0)
        # round off the raster staircase before simplifying
        p = p.buffer(transform.a * 0.6, quad_segs=2).buffer(-transform.a * 0.6, quad_segs=2)
        p = shapely.simplify(p, simplify_m)
        if p.area >= min_area_m2:
            if isinstance(p, MultiPolygon):
                polys.extend(g for g in p.geoms if g.area >= min_area_m2)
            else:
                polys.append(p)
    return polys


def _chaikin(coords: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Chaikin corner cutting with both endpoints fixed (so shared nodes stay shared)."""
    p = coords
    for _ in range(iterations):
        if len(p) < 3:
            return p
        q = 0.75 * p[:-1] + 0.25 * p[1:]
        r = 0.25 * p[:-1] + 0.75 * p[1:]
        mid = np.empty((2 * (len(p) - 1), 2))
        mid[0::2] = q
        mid[1::2] = r
        p = np.vstack([p[:1], mid[1:-1], p[-1:]])
    return p


# --------------------------------------------------------------------------------------------
# water bodies: river channels and reservoir lakes
# --------------------------------------------------------------------------------------------

_RIVER_NAMES = (
    "清水河",
    "龙溪",
    "白水河",
    "麻溪",
    "桃花溪",
    "杉木河",
    "青龙河",
    "石门溪",
    "竹溪",
    "茶溪",
    "枫木河",
    "马鞍溪",
    "梅溪",
    "黄泥河",
    "双溪",
    "岩鹰河",
)


def _channel_width_m(acc_km2: np.ndarray, cfg: DemoConfig) -> np.ndarray:
    """Bankfull width growing with drainage area: ``min_w (A/A_0)^b`` capped at ``max_w``."""
    a = np.maximum(np.asarray(acc_km2, dtype=float), cfg.floor_km2)
    w = cfg.channel_min_width_m * (a / cfg.floor_km2) ** cfg.channel_width_exp
    return np.clip(w, cfg.channel_min_width_m, cfg.channel_max_width_m)


def _river_streams(acc: np.ndarray, parent: np.ndarray, min_km2: float) -> list[dict]:
    """Hack decomposition of the channel tree (cells with ``acc >= min_km2``) into streams.

    Each stream follows the larger branch upstream from its mouth; it is a dict with ``cells``
    (flat coarse indices from the mouth junction cell upstream), ``recv`` (the receiving
    stream's index, -1 for the trunk) and ``area_km2`` (drainage area at its first own cell).
    """
    accf = acc.ravel()
    par = parent.ravel()
    chan = np.flatnonzero(accf >= min_km2)
    children: dict[int, list[int]] = {}
    roots = []
    for i in chan.tolist():
        p = int(par[i])
        if p >= 0 and accf[p] >= min_km2:
            children.setdefault(p, []).append(i)
        else:
            roots.append(i)
    streams: list[dict] = []
    stack = [(r, -1, None) for r in sorted(roots, key=lambda j: (accf[j], -j))]
    while stack:
        start, recv, mouth = stack.pop()
        sid = len(streams)
        cells = [] if mouth is None else [mouth]
        cur = start
        branches = []
        while True:
            cells.append(cur)
            ch = sorted(children.get(cur, []), key=lambda j: (-accf[j], j))
            if not ch:
                break
            branches.extend((j, sid, cur) for j in ch[1:])
            cur = ch[0]
        streams.append({"cells": cells, "recv": recv, "area_km2": float(accf[start])})
        # smallest pushed first, so the largest branch is processed next (depth first)
        stack.extend(sorted(branches, key=lambda b: (accf[b[0]], -b[0])))
    return streams


def _rivers(
    cfg: DemoConfig,
    acc: np.ndarray,
    parent: np.ndarray,
    county: Polygon,
    zf: np.ndarray,
    *,
    x0: float,
    y1: float,
    cc: float,
    cell: float,
) -> tuple[list[tuple[str, Polygon | MultiPolygon]], np.ndarray, np.ndarray]:
    """River channel polygons along the big rivers of the flow tree.

    The flow tree lives on the coarse grid; the channel centre lines are traced on the fine
    surface ``zf`` (a least-cost path through the lowest cells of a corridor one coarse cell
    either side of the coarse channel), so they follow the valley bottoms of the DEM.

    Returns ``(name, geometry)`` per named river (trunk first; tributaries below
    ``cfg.named_river_km2`` are dissolved into the river they join), and the densified centre
    line vertices ``(n, 2)`` with their water levels (running minimum of the DEM downstream),
    for burning the channels into the DEM.
    """
    nrc = acc.shape[0]
    f = zf.shape[0] // nrc
    accf = acc.ravel()
    streams = _river_streams(acc, parent, cfg.floor_km2)
    group: list[int] = []
    for sid, s in enumerate(streams):
        big = s["recv"] < 0 or s["area_km2"] >= cfg.named_river_km2
        group.append(sid if big else group[s["recv"]])
    # fine-grid cost: cheap on the lowest cells, impassable outside the channel corridor
    corridor = ndimage.binary_dilation(acc >= cfg.floor_km2, structure=np.ones((3, 3)))
    corridor = np.kron(corridor, np.ones((f, f), dtype=bool))
    above = zf - ndimage.minimum_filter(zf, size=9)
    # on flat valley floors the coarse channel (cell centre to downstream cell centre) guides
    # the path, so the river meanders with the valley instead of running straight
    ch = np.flatnonzero((accf >= cfg.floor_km2) & (parent.ravel() >= 0))
    pa = parent.ravel()[ch]
    segs = [
        LineString(
            [
                (x0 + (a % nrc + 0.5) * cc, y1 - (a // nrc + 0.5) * cc),
                (x0 + (b % nrc + 0.5) * cc, y1 - (b // nrc + 0.5) * cc),
            ]
        )
        for a, b in zip(ch.tolist(), pa.tolist(), strict=True)
    ]
    fine_t = Affine(cell, 0, x0, 0, -cell, y1)
    on_tree = rasterio.features.rasterize(
        [(g, 1) for g in segs], out_shape=zf.shape, transform=fine_t, all_touched=True
    ).astype(bool)
    off = ndimage.distance_transform_edt(~on_tree) * cell
    cost = np.where(corridor, 1.0 + (above / 4.0) ** 2 + (off / 90.0) ** 2, np.inf)

    def lowest(i: int) -> tuple[int, int]:
        r, c = divmod(int(i), nrc)
        blk = zf[r * f : (r + 1) * f, c * f : (c + 1) * f]
        k = int(np.argmin(blk))
        return r * f + k // f, c * f + k % f

    mcp = MCP_Geometric(cost, fully_connected=True)
    mcp.find_costs([lowest(streams[0]["cells"][0])])
    traced = np.zeros(zf.shape, dtype=bool)
    parts: dict[int, list] = {}
    verts, levels = [], []
    nr = zf.shape[0]
    for sid, s in enumerate(streams):
        cells = np.asarray(s["cells"][::-1])  # upstream → downstream
        if cells.size < 2:
            continue
        pts = np.column_stack([x0 + (cells % nrc + 0.5) * cc, y1 - (cells // nrc + 0.5) * cc])
        path = np.asarray(mcp.traceback(lowest(cells[0])))[::-1]  # head → outlet
        hit = np.flatnonzero(traced[path[:, 0], path[:, 1]])
        if hit.size:
            path = path[: hit[0] + 1]  # up to the junction with a river already traced
        traced[path[:, 0], path[:, 1]] = True
        if len(path) < 2:
            continue
        fine = np.column_stack([x0 + (path[:, 1] + 0.5) * cell, y1 - (path[:, 0] + 0.5) * cell])
        # the 30 m staircase is smoothed; the mouth (on the receiving river) stays put
        sm = _chaikin(shapely.get_coordinates(shapely.simplify(LineString(fine), 12.0)), 3)
        line = shapely.segmentize(LineString(sm), cell / 2.0)
        xy = shapely.get_coordinates(line)
        # drainage area at each vertex: that of the nearest original cell centre
        near = cKDTree(pts).query(xy)[1]
        width = _channel_width_m(accf[cells[near]], cfg)
        col = np.clip(((xy[:, 0] - x0) // cell).astype(int), 0, nr - 1)
        row = np.clip(((y1 - xy[:, 1]) // cell).astype(int), 0, nr - 1)
        lev = np.minimum.accumulate(zf[row, col])  # water runs downhill
        verts.append(xy)
        levels.append(lev)
        # constant-width pieces, 5 m classes
        wcls = np.round(width / 5.0) * 5.0
        cut = np.flatnonzero(np.diff(wcls) != 0) + 1
        bounds = [0, *cut.tolist(), len(xy) - 1]
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            seg = xy[a : b + 1] if b > a else xy[max(0, a - 1) : a + 1]
            if len(seg) < 2:
                continue
            parts.setdefault(group[sid], []).append(
                shapely.buffer(LineString(seg), float(wcls[a]) / 2.0, quad_segs=4)
            )
    out = []
    taken = shapely.Polygon()
    order = sorted(parts, key=lambda g: (g != 0, -streams[g]["area_km2"], g))
    k = 0
    for g in order:
        geom = shapely.simplify(shapely.union_all(parts[g]), 2.0)
        geom = shapely.make_valid(geom.intersection(county).difference(taken))
        polys = [p for p in getattr(geom, "geoms", [geom]) if p.geom_type == "Polygon"]
        polys = [p for p in polys if p.area >= cfg.min_water_body_m2]
        if not polys:
            continue
        geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
        taken = taken.union(geom)
        name = _RIVER_NAMES[k] if k < len(_RIVER_NAMES) else f"{k + 1}号河"
        out.append((name, geom))
        k += 1
    v = np.vstack(verts) if verts else np.empty((0, 2))
    lv = np.concatenate(levels) if levels else np.empty(0)
    return out, v, lv


def _burn_channels(
    dem: np.ndarray,
    geoms: list,
    verts: np.ndarray,
    levels: np.ndarray,
    transform: Affine,
    *,
    depth_m: float,
) -> np.ndarray:
    """Lower the DEM under the river polygons to the water level minus ``depth_m``.

    The water level of a cell is that of the nearest centre-line vertex (a running minimum
    downstream), so channels are the lowest cells across the valley and never run uphill.
    """
    if not geoms or verts.size == 0:
        return dem
    mask = rasterio.features.rasterize(
        [(g, 1) for g in geoms], out_shape=dem.shape, transform=transform, all_touched=True
    ).astype(bool)
    mask &= dem != NODATA
    rows, cols = np.nonzero(mask)
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    lev = levels[cKDTree(verts).query(np.column_stack([xs, ys]))[1]]
    out = dem.copy()
    out[rows, cols] = np.minimum(dem[rows, cols], np.round(lev - depth_m)).astype(dem.dtype)
    return out


def _push_out(
    xy: np.ndarray,
    water: Polygon | MultiPolygon,
    margin_m: float,
    ok=None,
) -> tuple[np.ndarray, int]:
    """Move points lying in ``water`` (grown by ``margin_m``) to just outside it.

    A point goes to the nearest bank (plus ``margin_m``) or, if ``ok(i, x, y)`` refuses that,
    to the opposite bank. Returns the new coordinates and how many points moved.
    """
    out = np.array(xy, dtype=float, copy=True)
    if water.is_empty or len(out) == 0:
        return out, 0
    zone = water.buffer(margin_m, quad_segs=4)
    hit = np.flatnonzero(shapely.contains_xy(zone, out[:, 0], out[:, 1]))
    moved = 0
    boundary = zone.boundary
    for i in hit.tolist():
        p = Point(*out[i])
        qx, qy = shapely.get_coordinates(shapely.shortest_line(boundary, p))[0]
        d = np.array([qx - p.x, qy - p.y])
        n = float(np.hypot(*d))
        d = d / n if n > 0 else np.array([1.0, 0.0])
        cands = [np.array([qx, qy]) + d * 5.0]
        # the opposite bank: walk the other way until leaving the zone
        for step in np.arange(5.0, 400.0, 5.0):
            c = out[i] - d * step
            if not zone.contains(Point(*c)):
                cands.append(c + -d * 5.0)
                break
        for c in cands:
            if not zone.contains(Point(*c)) and (ok is None or ok(i, c[0], c[1])):
                out[i] = c
                moved += 1
                break
    return out, moved


def _reservoir_lake(
    dam_xy: tuple[float, float],
    dem: np.ndarray,
    basin_fine: np.ndarray,
    transform: Affine,
    avoid: np.ndarray,
    *,
    target_m2: float,
) -> tuple[np.ndarray, float, tuple[int, int, int, int]] | None:
    """The lake behind a dam: the fine cells of the dam's basin below a water level.

    The level rises in 0.5 m steps from the lowest basin cell next to the dam while the lake
    stays under ``target_m2`` and clear of the ``avoid`` mask (settlements with a margin).
    Returns the lake mask in a window, its depth at the dam (m) and the window (row0, row1,
    col0, col1), or None when the lake stays under half the target.
    """
    cell = transform.a
    col = int((dam_xy[0] - transform.c) // cell)
    row = int((transform.f - dam_xy[1]) // cell)
    r0, c0 = max(0, row - 2), max(0, col - 2)
    win = dem[r0 : row + 3, c0 : col + 3].astype(float)
    win = np.where((win == NODATA) | ~basin_fine[r0 : row + 3, c0 : col + 3], np.inf, win)
    if not np.isfinite(win).any():
        return None
    k = int(np.argmin(win))
    sr, sc = r0 + k // win.shape[1], c0 + k % win.shape[1]
    z0 = float(dem[sr, sc])
    h = 60  # work in a window around the dam
    ra, rb = max(0, sr - h), min(dem.shape[0], sr + h + 1)
    ca, cb = max(0, sc - h), min(dem.shape[1], sc + h + 1)
    z = dem[ra:rb, ca:cb].astype(float)
    av = avoid[ra:rb, ca:cb]
    allowed = basin_fine[ra:rb, ca:cb] & (z != NODATA)
    best, depth = None, 0.0
    for level in np.arange(z0 + 0.5, z0 + 80.0, 0.5):
        lab, _ = ndimage.label(allowed & (z <= level), structure=np.ones((3, 3)))
        seed = lab[sr - ra, sc - ca]
        if seed == 0:
            break
        comp = lab == seed
        if comp.sum() * cell * cell > target_m2 or (comp & av).any():
            break
        best, depth = comp, float(level - z0)
    if best is None or best.sum() * cell * cell < 0.5 * target_m2:
        return None
    return best, depth, (ra, rb, ca, cb)


def _lakes(
    cfg: DemoConfig,
    water: gpd.GeoDataFrame,
    dem: np.ndarray,
    parent: np.ndarray,
    acc: np.ndarray,
    transform: Affine,
    avoid_frames: list[gpd.GeoDataFrame],
    county: Polygon,
) -> list[tuple[str, Polygon]]:
    """A lake polygon behind every reservoir (水库) source point of ``water``.

    The dam is placed on the reservoir's valley within a few kilometres up or down the flow
    tree, where the lake (filling the dam's upstream basin up to a water level) reaches half to
    all of its target area with the greatest depth, i.e. in the narrowest valley; it keeps
    ``cfg.settlement_clear_m`` clear of every point in ``avoid_frames``. The reservoir point in
    ``water`` is moved onto its dam (in place).
    """
    is_res = (water["kind"] == "source") & water["name"].str.endswith("水库")
    if not is_res.any():
        return []
    f = cfg.coarse_factor
    nrc = parent.shape[0]
    cc = transform.a * f
    par = parent.ravel()
    accf = acc.ravel()
    has = np.flatnonzero(par >= 0)
    by_par = has[np.argsort(par[has], kind="stable")]
    sorted_par = par[by_par]

    def kids(i: int) -> list[int]:
        lo, hi = np.searchsorted(sorted_par, [i, i + 1])
        return by_par[lo:hi].tolist()

    # settlements and facilities, with their clearance, on the fine grid
    avoid = np.zeros(dem.shape, dtype=bool)
    for frame in avoid_frames:
        xy = shapely.get_coordinates(frame.geometry[frame.geometry.geom_type == "Point"])
        col = ((xy[:, 0] - transform.c) // transform.a).astype(int)
        row = ((transform.f - xy[:, 1]) // transform.a).astype(int)
        ok = (row >= 0) & (row < dem.shape[0]) & (col >= 0) & (col < dem.shape[1])
        avoid[row[ok], col[ok]] = True
    r_cl = int(math.ceil(cfg.settlement_clear_m / transform.a))
    yy, xx = np.mgrid[-r_cl : r_cl + 1, -r_cl : r_cl + 1]
    avoid = ndimage.binary_dilation(avoid, structure=(yy**2 + xx**2) <= r_cl**2)
    out = []
    for k, wi in enumerate(np.flatnonzero(is_res.to_numpy())):
        g = water.geometry.iloc[wi]
        name = water["name"].iloc[wi]
        i0 = int((transform.f - g.y) // cc) * nrc + int((g.x - transform.c) // cc)
        # candidate dams: down the flow path and up the main branch from the reservoir point
        cands = [i0]
        i = i0
        for _ in range(cfg.dam_search_cells):
            i = int(par[i])
            if i < 0 or accf[i] >= cfg.floor_km2 * 4:
                break
            cands.append(i)
        i = i0
        for _ in range(cfg.dam_search_cells):
            ch = kids(i)
            if not ch:
                break
            i = max(ch, key=lambda j: (accf[j], -j))
            if accf[i] < cfg.river_km2:
                break
            cands.append(i)
        target = cfg.reservoir_lake_m2[k % len(cfg.reservoir_lake_m2)]
        best = None
        for dam in cands:
            r, c = divmod(dam, nrc)
            # the dam's upstream basin within 3 km, walking the flow tree upstream
            basin = np.zeros(nrc * nrc, dtype=bool)
            stack = [dam]
            reach = (3000.0 / cc) ** 2
            while stack:
                j = stack.pop()
                basin[j] = True
                stack.extend(
                    q for q in kids(j) if (q // nrc - r) ** 2 + (q % nrc - c) ** 2 <= reach
                )
            basin_fine = np.kron(basin.reshape(nrc, nrc), np.ones((f, f), dtype=bool))
            xy = (transform.c + (c + 0.5) * cc, transform.f - (r + 0.5) * cc)
            got = _reservoir_lake(xy, dem, basin_fine, transform, avoid, target_m2=target)
            if got is not None and (best is None or got[1] > best[1][1]):
                best = (xy, got)
        if best is None:
            continue
        xy, (mask, _, (ra, _, ca, _)) = best
        wt = transform @ Affine.translation(ca, ra)
        polys = _mask_polygons(mask, wt, simplify_m=8.0, min_area_m2=1000.0)
        if not polys:
            continue
        lake = max(polys, key=lambda p: p.area)
        # round the raster staircase off the shore
        lake = shapely.simplify(lake.buffer(25.0, quad_segs=4).buffer(-25.0, quad_segs=4), 5.0)
        lake = shapely.make_valid(lake.intersection(county))
        lake = max(
            (g for g in getattr(lake, "geoms", [lake]) if g.geom_type == "Polygon"),
            key=lambda g: g.area,
        )
        dam = shapely.get_coordinates(shapely.shortest_line(lake.exterior, Point(*xy)))[0]
        water.loc[water.index[wi], "geometry"] = Point(*dam)
        out.append((name, lake))
    return out


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


def generate(
    out_dir: str | Path, *, seed: int = 2017, scale: float = 1.0, config: DemoConfig | None = None
) -> Path:
    """Write a complete synthetic demo workspace into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write (created; files of the same names are overwritten).
    seed
        Random seed; the same seed and scale give a byte-identical DEM and identical tables.
    scale
        Multiplies the county area, the number of townships, villages and households.
    config
        Shape parameters; defaults give a ~2,000–2,500 km² county with ~15 townships.

    Returns
    -------
    Path
        The workspace folder (holding ``workspace.toml``).

    Raises
    ------
    ValueError
        If ``scale`` is not positive.
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    cfg = config or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    # ---- grid -------------------------------------------------------------------------------
    f = cfg.coarse_factor
    nrc = max(64, int(round(cfg.side_cells * math.sqrt(scale) / f)))
    nr = nrc * f
    cell = cfg.cell_m
    cc = cell * f
    side_m = nr * cell
    from pyproj import Transformer

    to_metric = Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
    cx0, cy0 = to_metric.transform(*cfg.centre_lonlat)
    x0 = math.floor((cx0 - side_m / 2) / 1000.0) * 1000.0
    y1 = math.floor((cy0 + side_m / 2) / 1000.0) * 1000.0
    transform = Affine(cell, 0, x0, 0, -cell, y1)
    ctransform = Affine(cc, 0, x0, 0, -cc, y1)
    cx, cy = x0 + side_m / 2, y1 - side_m / 2

    # ---- county outline and terrain -----------------------------------------------------------
    county = _county_polygon(rng, cx, cy, side_m)
    inside = rasterio.features.rasterize(
        [(county, 1)], out_shape=(nr, nr), transform=transform, fill=0, dtype=np.uint8
    ).astype(bool)
    inside_c = rasterio.features.rasterize(
        [(county, 1)], out_shape=(nrc, nrc), transform=ctransform, fill=0, dtype=np.uint8
    ).astype(bool)
    interior_c = ndimage.binary_erosion(inside_c, iterations=2)
    # outlet: a county-boundary cell on the east/south-east side (rivers of the region drain east)
    edge = inside_c & ~ndimage.binary_erosion(inside_c)
    er, ec = np.nonzero(edge)
    ang = np.arctan2(-(er - nrc / 2), ec - nrc / 2)  # 0 = east
    target = rng.uniform(-0.6, 0.2)
    k = int(np.argmin(np.abs(np.angle(np.exp(1j * (ang - target))))))
    outlet = (int(er[k]), int(ec[k]))
    ter = _terrain(rng, cfg, nrc, inside_c, outlet)
    zc, acc = ter["z"], ter["acc"]
    zf = _upsample(zc, f, rng)
    dem = np.where(inside, np.round(zf), NODATA).astype(np.int16)
    # river channels (no random numbers: the rest of the stream is unchanged)
    rivers, river_verts, river_levels = _rivers(
        cfg, acc, ter["parent"], county, zf, x0=x0, y1=y1, cc=cc, cell=cell
    )
    dem = _burn_channels(
        dem,
        [g for _, g in rivers],
        river_verts,
        river_levels,
        transform,
        depth_m=cfg.channel_depth_m,
    )
    river_union = shapely.union_all([g for _, g in rivers])
    profile = {
        "driver": "GTiff",
        "dtype": "int16",
        "width": nr,
        "height": nr,
        "count": 1,
        "crs": METRIC_CRS,
        "transform": transform,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
        "zlevel": 9,
    }
    with rasterio.open(out / "dem.tif", "w", **profile) as dst:
        dst.write(dem, 1)

    slope_c = _slope_deg(zc, cc)
    valid_c = interior_c.copy()
    # cell centres of the coarse grid
    rr, cc_ = np.mgrid[0:nrc, 0:nrc]
    cxs = x0 + (cc_ + 0.5) * cc
    cys = y1 - (rr + 0.5) * cc
    xy_c = np.column_stack([cxs.ravel(), cys.ravel()])
    river = acc >= cfg.river_km2
    d_river = ndimage.distance_transform_edt(~river) * cc
    zin = zc[inside_c]
    z_lo, z_hi = float(np.percentile(zin, 2)), float(np.percentile(zin, 98))
    zrel = (zc - z_lo) / (z_hi - z_lo)

    def dem_value(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col = np.floor((x - x0) / cell).astype(int)
        row = np.floor((y1 - y) / cell).astype(int)
        ok = (row >= 0) & (row < nr) & (col >= 0) & (col < nr)
        v = np.full(x.shape, NODATA, dtype=np.int32)
        v[ok] = dem[row[ok], col[ok]]
        return v

    # ---- towns: county seat and township seats --------------------------------------------------
    n_town = max(4, int(round(cfg.n_townships * scale)))
    gentle = np.exp(-slope_c / 4.0)
    floor_frac = ndimage.uniform_filter(gentle, 13)
    seat_score = np.where(valid_c, np.sqrt(acc) * floor_frac * np.exp(-2.0 * zrel), 0.0)
    # county seat: the widest low valley (largest floor with a big river)
    county_seat = int(np.argmax(seat_score.ravel()))
    town_w = np.where(valid_c & river, floor_frac * np.exp(-1.5 * zrel) * np.sqrt(acc), 0.0).ravel()
    spacing = 0.62 * math.sqrt(county.area / n_town)
    seats = np.empty(0, dtype=np.int64)
    while seats.size < n_town - 1 and spacing > 500:
        seats = _poisson_pick(rng, xy_c, town_w, n_town - 1, spacing, existing=xy_c[[county_seat]])
        spacing *= 0.9
    seat_idx = np.concatenate([[county_seat], seats])
    seat_xy = xy_c[seat_idx] + rng.uniform(-0.3, 0.3, (seat_idx.size, 2)) * cc
    # seats sit on a river bank, not in the channel
    seat_xy, n_moved_seats = _push_out(
        seat_xy,
        river_union,
        cfg.settlement_clear_m,
        ok=lambda i, x, y: bool(shapely.contains_xy(county, x, y)),
    )
    n_town = seat_idx.size
    tnames = ["城关镇"] + list(_TOWNSHIP_NAMES[: n_town - 1])
    if n_town - 1 > len(_TOWNSHIP_NAMES):
        extra = _unique_names(rng, n_town - 1 - len(_TOWNSHIP_NAMES), "乡", set(tnames))
        tnames = ["城关镇", *_TOWNSHIP_NAMES, *extra]
    # township codes: 镇 100-199, 乡 200-399 (the national statistical convention)
    tcodes = []
    nz, nx = 100, 200
    for nm in tnames:
        if nm.endswith("镇"):
            nz += 1
            tcodes.append(f"{_COUNTY_CODE}{nz:03d}")
        else:
            nx += 1
            tcodes.append(f"{_COUNTY_CODE}{nx:03d}")

    # ---- townships: watershed from the seats over the terrain, so borders run on ridges ---------
    markers = np.zeros((nrc, nrc), dtype=np.int32)
    for i, (sx, sy) in enumerate(seat_xy):
        markers[int((y1 - sy) // cc), int((sx - x0) // cc)] = i + 1
    tlabel = watershed(zc, markers, compactness=cfg.township_compactness).astype(np.int32)
    tpolys = []
    for i in range(n_town):
        parts = [
            shapely.geometry.shape(g)
            for g, v in rasterio.features.shapes(tlabel, mask=tlabel == i + 1, transform=ctransform)
            if v == i + 1
        ]
        tpolys.append(shapely.make_valid(shapely.union_all(parts).intersection(county)))
    townships = gpd.GeoDataFrame(
        {"township_id": [c[:9] for c in tcodes], "name": tnames},
        geometry=tpolys,
        crs=METRIC_CRS,
    )
    tlabel = np.where(inside_c, tlabel, 0)

    # ---- villages ---------------------------------------------------------------------------
    n_vill = max(n_town * 3, int(round(cfg.n_villages * scale)))
    vweight = np.where(
        valid_c,
        # near rivers but, mostly, a little above the channel itself
        np.exp(-slope_c / 7.0)
        * np.exp(-1.8 * zrel)
        * (0.25 + np.exp(-d_river / 700.0) * (1.0 - np.exp(-d_river / 250.0))),
        0.0,
    )
    # keep villages off the seat cells themselves
    t_w = np.array([vweight[tlabel == i + 1].sum() for i in range(n_town)])
    t_a = np.array([(tlabel == i + 1).sum() for i in range(n_town)], dtype=float)
    share = (t_w / t_w.sum()) ** 0.6 * (t_a / t_a.sum()) ** 0.4
    share /= share.sum()
    min_per = max(3, n_vill // (n_town * 3))
    counts = np.maximum(min_per, np.floor(share * n_vill)).astype(int)
    while counts.sum() < n_vill:
        counts[int(np.argmax(share * n_vill - counts))] += 1
    while counts.sum() > n_vill:
        counts[int(np.argmax(counts))] -= 1
    seat_pts = seat_xy.copy()
    vsel: list[int] = []
    vtown: list[int] = []
    flat_lab = tlabel.ravel()
    for i in range(n_town):
        w_i = np.where(flat_lab == i + 1, vweight.ravel(), 0.0)
        existing = np.vstack([seat_pts, xy_c[vsel]]) if vsel else seat_pts
        sp = cfg.village_spacing_m
        got = np.empty(0, dtype=np.int64)
        while sp > 200:
            got = _poisson_pick(rng, xy_c, w_i, int(counts[i]), sp, existing=existing)
            if got.size >= counts[i]:
                break
            sp *= 0.8
        vsel.extend(got.tolist())
        vtown.extend([i] * got.size)
    vsel_a = np.asarray(vsel)
    vxy = xy_c[vsel_a] + rng.uniform(-0.35, 0.35, (vsel_a.size, 2)) * cc
    # the jittered point must stay on a valid DEM cell inside the county
    bad = ~shapely.contains_xy(county, vxy[:, 0], vxy[:, 1]) | (
        dem_value(vxy[:, 0], vxy[:, 1]) == NODATA
    )
    vxy[bad] = xy_c[vsel_a[bad]]

    def _bank_ok(towns_of: list[int]):
        def ok(i: int, x: float, y: float) -> bool:
            r, c = int((y1 - y) // cc), int((x - x0) // cc)
            return (
                0 <= r < nrc
                and 0 <= c < nrc
                and tlabel[r, c] == towns_of[i] + 1
                and bool(shapely.contains_xy(county, x, y))
                and dem_value(np.array([x]), np.array([y]))[0] != NODATA
            )

        return ok

    # no village stands in a river channel: move it to the nearer bank in its township
    vxy, n_moved_v = _push_out(vxy, river_union, cfg.settlement_clear_m, ok=_bank_ok(vtown))

    # hamlets: high, small, scattered
    n_ham = max(3, int(round(cfg.n_hamlets * scale)))
    hweight = np.where(valid_c & (slope_c < 28), np.clip(zrel - 0.45, 0, None) ** 1.5, 0.0)
    hsel = _poisson_pick(
        rng, xy_c, hweight.ravel(), n_ham, 1500.0, existing=np.vstack([seat_xy, vxy])
    )
    hxy = xy_c[hsel] + rng.uniform(-0.3, 0.3, (hsel.size, 2)) * cc
    bad = ~shapely.contains_xy(county, hxy[:, 0], hxy[:, 1]) | (
        dem_value(hxy[:, 0], hxy[:, 1]) == NODATA
    )
    hxy[bad] = xy_c[hsel[bad]]
    htown = [int(flat_lab[i]) - 1 for i in hsel]
    hxy, n_moved_h = _push_out(hxy, river_union, cfg.settlement_clear_m, ok=_bank_ok(htown))

    villages = _village_table(rng, cfg, vxy, vtown, hxy, htown, tnames, tcodes, zc, ctransform)
    n_admin = vxy.shape[0]

    # ---- roads --------------------------------------------------------------------------------
    roads, village_leaf_surface, town_road_cells = _roads(
        rng,
        slope_c,
        inside_c,
        ctransform,
        seat_xy,
        villages,
        n_admin,
        outlet,
        acc,
        x0=x0,
        y1=y1,
        cc=cc,
        wet=shapely.contains_xy(river_union.buffer(30.0), xy_c[:, 0], xy_c[:, 1]).reshape(nrc, nrc),
        wet_cost=cfg.channel_road_cost,
    )

    # ---- facilities, hazards, protected, water ---------------------------------------------------
    towns = _towns(rng, seat_xy, tnames, slope_c, valid_c, xy_c, town_road_cells, nrc)
    clinics, schools = _clinics_schools(rng, villages, n_admin, seat_xy, tnames)
    water, in_service = _water(
        rng, villages, seat_xy, tnames, county, zc, acc, xy_c, valid_c, slope_c
    )
    # water bodies: the river channels, and a lake behind each reservoir dam
    lakes = _lakes(
        cfg,
        water,
        dem,
        ter["parent"],
        acc,
        transform,
        [villages, towns, clinics, schools, water[~water["name"].str.endswith("水库")]],
        county,
    )
    lake_union = shapely.union_all([g for _, g in lakes]) if lakes else shapely.Polygon()
    bodies = [(n_, g) for n_, g in lakes]
    for n_, g in rivers:
        # one feature per named river (several parts where it leaves and re-enters the county)
        g = shapely.make_valid(g.difference(lake_union))
        polys = [p for p in getattr(g, "geoms", [g]) if p.geom_type == "Polygon"]
        polys = [p for p in polys if p.area >= cfg.min_water_body_m2]
        if polys:
            bodies.append((n_, polys[0] if len(polys) == 1 else MultiPolygon(polys)))
    wb = gpd.GeoDataFrame(
        {
            "water_id": [f"WB{i + 1:03d}" for i in range(len(bodies))],
            "kind": "water_body",
            "name": [n_ for n_, _ in bodies],
            "safe": pd.array([pd.NA] * len(bodies), dtype="boolean"),
            "capacity_m3d": np.nan,
        },
        geometry=[g for _, g in bodies],
        crs=METRIC_CRS,
    )
    water_union = shapely.union_all(wb.geometry.to_numpy())
    # point facilities placed beside settlements must not stand in the water either
    for frame, keep in (
        (clinics, None),
        (schools, None),
        (towns, None),
        (water, ~water["name"].str.endswith("水库")),
    ):
        pts = frame.geometry.geom_type == "Point"
        if keep is not None:
            pts &= keep
        idx = np.flatnonzero(pts.to_numpy())
        if idx.size:
            xy, _ = _push_out(shapely.get_coordinates(frame.geometry.iloc[idx]), water_union, 15.0)
            frame.loc[frame.index[idx], "geometry"] = shapely.points(xy)
    water = pd.concat([water, wb], ignore_index=True)
    water["safe"] = water["safe"].astype("boolean")
    hazards = _hazards(rng, villages, n_admin, county, slope_c, valid_c, xy_c, acc, ter, ctransform)
    protected = _protected(rng, villages, seat_xy, county, zc, slope_c, inside_c, ctransform, water)
    _village_indicators(rng, villages, n_admin, clinics, in_service, village_leaf_surface)
    # an administrative village's counts include its hamlets' (after the roads, schools and
    # indicators, which were drawn on the village's own core, so those stay as they were)
    core_inc = (villages["poor_population"] / villages["population"]).to_numpy()[:n_admin]
    _include_hamlets(villages, n_admin)
    households, planted = _households(rng, villages, n_admin, cfg, scale, rank_by=core_inc)
    # the register's units draw from a stream of their own, so the rest of the county is the
    # same with or without them
    aux = np.random.default_rng([seed, 1])
    _register_status(aux, households)
    _current_poor(villages, n_admin, households, planted)
    incomplete_id = _pick_incomplete(villages, households, planted["village_id"])
    _poverty_villages(aux, villages, n_admin, {planted["village_id"], incomplete_id})
    _campaign(np.random.default_rng([seed, 2]), villages, n_admin)  # a stream of its own
    _flush_toilets(aux, villages)
    households, incomplete = _incomplete_register(aux, villages, households, incomplete_id)
    keep_out = shapely.union_all(
        [
            *hazards.geometry.buffer(
                np.where(hazards["radius_m"].notna(), hazards["radius_m"].fillna(0.0), 0.0) + 150.0
            ),
            *protected.geometry,
            water_union.buffer(cfg.settlement_clear_m),
        ]
    )
    sites = _sites(rng, seat_xy, tnames, slope_c, valid_c, xy_c, keep_out)

    # ---- the same county year by year (a stream of its own: the main workspace is unchanged
    # but for the timetable and site columns it gains)
    story = _years_story(
        seed,
        villages,
        n_admin,
        roads,
        clinics,
        households,
        sites,
        towns,
        {planted["village_id"], incomplete["village_id"]},
    )
    villages["planned_exit_year"] = story.planned.to_numpy()
    villages["exit_year"] = story.exit_year.where(
        (story.exit_year <= MAIN_YEAR).fillna(False)
    ).to_numpy()
    hh_plan = _household_plan(story, villages, households, np.random.default_rng([seed, 4]))
    households = _with_plan(households, hh_plan)

    # ---- write --------------------------------------------------------------------------------
    boundary = gpd.GeoDataFrame({"name": [_COUNTY_NAME]}, geometry=[county], crs=METRIC_CRS)
    gp = out / "county.gpkg"
    gp.unlink(missing_ok=True)
    boundary.to_file(gp, layer="boundary", driver="GPKG")
    townships.to_file(gp, layer="townships", driver="GPKG")

    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        (out / f"villages.{ext}").unlink(missing_ok=True)
    vout = villages.rename(columns={v: k for k, v in VILLAGE_RENAME.items()})
    vout = vout[[*VILLAGE_RENAME.keys(), "geometry"]].to_crs(STORAGE_CRS)
    vout.to_file(out / "villages.shp", encoding="GB18030", driver="ESRI Shapefile")
    (out / "villages.cpg").write_text("GB18030", encoding="ascii")

    rp = out / "roads.gpkg"
    rp.unlink(missing_ok=True)
    roads.to_crs(STORAGE_CRS).to_file(rp, layer="roads", driver="GPKG")

    tp = out / "towns.geojson"
    tp.unlink(missing_ok=True)
    towns.to_crs(WEB_CRS).to_file(tp, driver="GeoJSON")

    fp = out / "facilities.gpkg"
    fp.unlink(missing_ok=True)
    for name, frame in (
        ("clinics", clinics),
        ("schools", schools),
        ("water", water),
        ("hazards", hazards),
        ("protected", protected),
    ):
        frame.to_crs(STORAGE_CRS).to_file(fp, layer=name, driver="GPKG")

    sp_ = out / "sites.gpkg"
    sp_.unlink(missing_ok=True)
    main_sites = _stage_columns(sites, MAIN_YEAR)
    (main_sites if main_sites is not None else sites).to_file(sp_, layer="sites", driver="GPKG")

    # the register's statuses as the county writes them (未脱贫, 已脱贫, 返贫)
    hh_out = households.assign(register_status=households["register_status"].map(_STATUS_ZH))
    hh_out.rename(columns={v: k for k, v in HOUSEHOLD_RENAME.items()}).to_csv(
        out / "households.csv", index=False, encoding="utf-8"
    )
    _write_toml(out, seed=seed, scale=scale)
    _clean_years(out)
    for year in DEMO_YEARS:
        folder = out / "years" / str(year)
        if year == MAIN_YEAR:
            folder.mkdir(parents=True, exist_ok=True)
            _write_year_toml(folder, year, seed=seed, scale=scale, sites=True, own=False)
            continue
        _write_year(
            folder,
            year,
            story.states[year],
            planned=story.planned,
            exit_year=story.exit_year,
            hh_plan=hh_plan,
            seed=seed,
            scale=scale,
        )
    stats = {
        "seed": seed,
        "scale": scale,
        "area_km2": county.area / 1e6,
        "elev_min": int(dem[inside].min()),
        "elev_max": int(dem[inside].max()),
        "n_townships": n_town,
        "n_admin": n_admin,
        "n_hamlets": len(villages) - n_admin,
        "n_roads": len(roads),
        "road_km": float(roads.length.sum() / 1000.0),
        "n_households": len(households),
        "n_water_bodies": len(wb),
        "river_channels_km2": round(
            float(wb.loc[~wb["name"].str.endswith("水库")].area.sum() / 1e6), 3
        ),
        "reservoir_lakes_ha": {n_: round(g.area / 1e4, 1) for n_, g in lakes},
        "moved_off_channels": {"seats": n_moved_seats, "villages": n_moved_v + n_moved_h},
        "n_poverty_villages": int(villages["poverty_village"].iloc[:n_admin].sum()),
        "hamlets_by_parent": {
            p_: list(g["village_id"])
            for p_, g in villages.iloc[n_admin:].groupby("parent_id", sort=True)
        },
        "registered_poor_households": int(households["registered_poor"].sum()),
        "register_status": {
            k: int(v)
            for k, v in households.loc[households["registered_poor"], "register_status"]
            .fillna("unknown")
            .value_counts()
            .sort_index()
            .items()
        },
        "planted": planted,
        "incomplete_register": incomplete,
        "claimed_hardened_but_last_link_unhardened": [
            villages.at[i, "village_id"]
            for i, srf in sorted(village_leaf_surface.items())
            if srf in ("gravel", "earth")
            and villages["road_hardened_claimed"].fillna(False).iloc[i]
        ],
        "hamlets_without_road": [
            villages.at[i, "village_id"]
            for i in range(n_admin, len(villages))
            if i not in village_leaf_surface
        ],
        "main_year": MAIN_YEAR,
        "planned_exit_years": {
            int(y): int(n) for y, n in story.planned.dropna().value_counts().sort_index().items()
        },
        "exit_years": {
            int(y): int(n) for y, n in story.exit_year.dropna().value_counts().sort_index().items()
        },
        "years": story.figures,
    }
    _write_stats(out, stats)
    return out


# --------------------------------------------------------------------------------------------
# villages
# --------------------------------------------------------------------------------------------


def _village_table(
    rng, cfg, vxy, vtown, hxy, htown, tnames, tcodes, zc, ctransform
) -> gpd.GeoDataFrame:
    n = vxy.shape[0]
    pop = np.clip(np.round(rng.lognormal(math.log(1050), 0.5, n)), 300, 3000).astype(int)
    hh = np.maximum(1, np.round(pop / rng.normal(3.3, 0.2, n))).astype(int)
    # incidence: most 1-15 %, a cluster near the 2-3 % exit thresholds, a few above 15 %
    u = rng.random(n)
    inc = np.where(
        u < 0.18,
        rng.uniform(0.004, 0.02, n),
        np.where(
            u < 0.33,
            rng.uniform(0.02, 0.035, n),
            np.where(u < 0.93, rng.uniform(0.035, 0.15, n), rng.uniform(0.15, 0.32, n)),
        ),
    )
    poor = np.round(pop * inc).astype(int)
    poor_hh = np.minimum(
        hh, np.maximum(np.sign(poor), np.round(poor / rng.uniform(2.6, 3.4, n)))
    ).astype(int)
    taken: set[str] = set()
    names = _unique_names(rng, n, "村", taken)
    ids: list[str] = []
    seq = {i: 200 for i in range(len(tnames))}
    for t in vtown:
        seq[t] += 1
        ids.append(f"{tcodes[t]}{seq[t]:03d}")
    admin = pd.DataFrame(
        {
            "village_id": ids,
            "name": names,
            "township": [tnames[t] for t in vtown],
            "population": pop,
            "households": hh,
            "poor_population": poor,
            "poor_households": poor_hh,
            "level": "admin",
            "parent_id": None,
        }
    )
    # hamlets (自然村): small, high; a few with incidence >= 50 %
    m = hxy.shape[0]
    hpop = rng.integers(35, 190, m)
    hhh = np.maximum(1, np.round(hpop / rng.normal(3.5, 0.2, m))).astype(int)
    hinc = np.where(rng.random(m) < 0.4, rng.uniform(0.5, 0.8, m), rng.uniform(0.05, 0.35, m))
    if m:
        hinc[0] = 0.62  # always at least one whole-hamlet relocation case
    hpoor = np.round(hpop * hinc).astype(int)
    hpoor_hh = np.minimum(hhh, np.maximum(1, np.round(hpoor / 3.0))).astype(int)
    hnames = _unique_names(rng, m, "寨", taken)
    hids, parents = [], []
    hseq = {i: 900 for i in range(len(tnames))}
    for j in range(m):
        t = htown[j]
        same = [i for i in range(n) if vtown[i] == t]
        cand = same or list(range(n))
        d = [(vxy[i, 0] - hxy[j, 0]) ** 2 + (vxy[i, 1] - hxy[j, 1]) ** 2 for i in cand]
        pi = cand[int(np.argmin(d))]
        parents.append(ids[pi])
        tt = vtown[pi]
        hseq[tt] += 1
        hids.append(f"{tcodes[tt]}{hseq[tt]:03d}")
        htown[j] = tt
    ham = pd.DataFrame(
        {
            "village_id": hids,
            "name": hnames,
            "township": [tnames[t] for t in htown],
            "population": hpop,
            "households": hhh,
            "poor_population": hpoor,
            "poor_households": hpoor_hh,
            "level": "hamlet",
            "parent_id": parents,
        }
    )
    df = pd.concat([admin, ham], ignore_index=True)
    xy = np.vstack([vxy, hxy])
    return gpd.GeoDataFrame(df, geometry=shapely.points(xy), crs=METRIC_CRS)


def _village_indicators(rng, villages, n_admin, clinics, in_service, leaf_surface) -> None:
    n = len(villages)
    hamlet = (villages["level"] == "hamlet").to_numpy()
    water_p = np.where(in_service, 0.93, np.where(hamlet, 0.35, 0.6))
    u = rng.random(n)
    sw = np.where(u < water_p, True, False).astype(object)
    sw[rng.random(n) < 0.07] = None
    villages["has_safe_water"] = pd.array(sw.tolist(), dtype="boolean")
    villages["has_electricity"] = _tri(rng, n, 0.965, 0.02)
    villages["has_broadband"] = _tri(rng, n, 0.66, 0.06)
    villages["has_culture_venue"] = _tri(rng, n, 0.72, 0.06)
    villages["has_tv"] = _tri(rng, n, 0.9, 0.04)
    villages["bus_service"] = _tri(rng, n, 0.55, 0.08)
    for col in ("has_broadband", "has_culture_venue", "bus_service"):
        v = villages[col].copy()
        v[hamlet & (rng.random(n) < 0.6)] = False
        villages[col] = v
    # clinic attributes follow the clinic layer (with a few unknowns)
    vc = clinics[clinics["level"] == "village_clinic"].set_index("village_id")
    std, doc = [], []
    for vid in villages["village_id"]:
        if vid in vc.index:
            std.append(vc.at[vid, "standard"])
            doc.append(vc.at[vid, "has_doctor"])
        else:
            std.append(False)
            doc.append(False)
    villages["clinic_standard"] = pd.array(std, dtype="boolean")
    villages["clinic_doctor"] = pd.array(doc, dtype="boolean")
    # claimed road hardening vs the road layer: planted disagreements for the cross-check
    claimed = []
    for i in range(n):
        s = leaf_surface.get(i)
        r = rng.random()
        if s is None and i not in leaf_surface:
            claimed.append(False if r < 0.7 else None)  # no road at all
        elif s in ("asphalt", "concrete"):
            claimed.append(True if r < 0.95 else None)
        elif s in ("gravel", "earth"):
            claimed.append(True if r < 0.4 else (False if r < 0.9 else None))  # 40 % claim falsely
        else:
            claimed.append(True if r < 0.7 else None)
    villages["road_hardened_claimed"] = pd.array(claimed, dtype="boolean")

    def frac(a: float, b: float, p_nan: float) -> np.ndarray:
        v = np.round(rng.beta(a, b, n), 3)
        v[rng.random(n) < p_nan] = np.nan
        return v

    villages["sanitary_toilet_frac"] = frac(5.0, 2.0, 0.08)  # 卫生厕所率
    villages["household_road_hardened_frac"] = frac(6.0, 1.2, 0.1)
    mi = np.round(np.clip(rng.normal(0.985, 0.02, n), 0.85, 1.0), 3)
    mi[rng.random(n) < 0.3] = 1.0
    mi[rng.random(n) < 0.05] = np.nan
    villages["medical_insurance_frac"] = mi
    villages["collective_income_cny"] = np.round(rng.lognormal(math.log(40000), 0.9, n), -2)


def _include_hamlets(villages: gpd.GeoDataFrame, n_admin: int) -> None:
    """Add each hamlet's people, households and poor to its administrative village.

    The convention of the registry (and of anju's villages layer): an administrative village
    (行政村) *includes* its hamlets (自然村), so the hamlet rows are parts of it and sums over the
    administrative villages count everyone once. ``_village_table`` drew each administrative
    village's own core settlement; this makes its figures the whole village's.
    """
    ham = villages.iloc[n_admin:]
    if not len(ham):
        return
    pos = {v: i for i, v in enumerate(villages["village_id"].iloc[:n_admin])}
    for col in ("population", "households", "poor_population", "poor_households"):
        add = ham.groupby("parent_id")[col].sum()
        vals = villages[col].to_numpy().copy()
        for parent, extra in add.items():
            vals[pos[parent]] += int(extra)
        villages[col] = vals


def _poverty_villages(aux, villages: gpd.GeoDataFrame, n_admin: int, forced: set[str]) -> None:
    """About a third of the administrative villages are registered poverty villages (贫困村).

    The list was drawn up in 2014 and the demo's figures are of 2017, so it holds both kinds:
    about a quarter of the list are villages whose incidence has since fallen under 3.5 % (the
    villages due to exit, picked at random among those), the rest the poorest villages after a
    random shake (so some poor villages are not on the list). The villages in ``forced`` (the
    planted register traps) are on it, so the village exit rule applies to them. Hamlets carry
    their administrative village's flag, or none (about one in four, left blank).
    """
    inc = (
        villages["poor_population"].to_numpy(float)[:n_admin]
        / villages["population"].to_numpy(float)[:n_admin]
    )
    ids = villages["village_id"].to_numpy()
    n_list = int(round(n_admin / 3))
    score = inc * np.exp(aux.normal(0.0, 0.6, n_admin))
    score[np.isin(ids[:n_admin], list(forced))] = np.inf
    low = np.flatnonzero((inc < 0.035) & ~np.isinf(score))
    due = aux.choice(low, size=min(low.size, n_list // 4), replace=False)
    score[due] = np.inf
    flag = np.zeros(n_admin, dtype=bool)
    flag[np.argsort(-score, kind="stable")[:n_list]] = True
    of = dict(zip(ids[:n_admin], flag, strict=True))
    ham = [
        None if aux.random() < 0.25 else bool(of[p_]) for p_ in villages["parent_id"].iloc[n_admin:]
    ]
    villages["poverty_village"] = pd.array([*flag.tolist(), *ham], dtype="boolean")


def _campaign(aux, villages: gpd.GeoDataFrame, n_admin: int) -> None:
    """Poverty villages due to exit (incidence under 3 %) got the campaign's investment first:
    power, water, broadband, radio/TV, a culture venue, a bus stop and full medical insurance,
    each with a high chance (some gaps remain: the demo must show villages blocked by one
    item). Clinics are left as the clinic layer says; roads as the road layer says.
    """
    inc = villages["poor_population"].to_numpy(float) / villages["population"].to_numpy(float)
    flag = villages["poverty_village"].fillna(False).to_numpy(dtype=bool)
    due = flag & (inc < 0.03) & (np.arange(len(villages)) < n_admin)
    for col, p in (
        ("has_electricity", 0.99),
        ("has_safe_water", 0.93),
        ("has_broadband", 0.92),
        ("has_tv", 0.96),
        ("has_culture_venue", 0.93),
        ("bus_service", 0.9),
    ):
        v = villages[col].copy()
        hit = due & (aux.random(len(villages)) < p)
        v[hit] = True
        villages[col] = v
    mi = villages["medical_insurance_frac"].to_numpy(float).copy()
    mi[due & (aux.random(len(villages)) < 0.92)] = 1.0
    villages["medical_insurance_frac"] = mi


def _flush_toilets(aux, villages: gpd.GeoDataFrame) -> None:
    """水冲式厕所率 (flush toilets), a separate figure below 卫生厕所率 (sanitary toilets).

    Most sanitary toilets in a mountain county are dry or septic types (三格化粪池, 双瓮),
    so flush toilets are 35-90 % of the sanitary share; unknown where the sanitary share is
    unknown and in a few more villages.
    """
    san = villages["sanitary_toilet_frac"].to_numpy(float)
    flush = np.round(san * aux.uniform(0.35, 0.9, san.size), 3)
    flush[aux.random(san.size) < 0.05] = np.nan
    villages["flush_toilet_frac"] = np.minimum(flush, san)


# --------------------------------------------------------------------------------------------
# roads
# --------------------------------------------------------------------------------------------


def _roads(
    rng,
    slope_c,
    inside_c,
    ctransform,
    seat_xy,
    villages,
    n_admin,
    outlet,
    acc,
    *,
    x0,
    y1,
    cc,
    wet=None,
    wet_cost=1.0,
):
    """Least-cost roads over a slope cost surface, noded on the coarse grid, then smoothed."""
    nrc = slope_c.shape[0]
    cost = 1.0 + (slope_c / 9.0) ** 2
    cost = np.where(inside_c, cost, 400.0)
    cost = np.where(acc >= 300.0, cost * 1.6, cost)  # bridging the big river costs a bit
    # cells whose centre is in or beside a river channel: roads keep to the bank, crossing on
    # bridges
    if wet is not None:
        cost = np.where(wet, cost * wet_cost, cost)

    def rc(x: float, y: float) -> tuple[int, int]:
        c = min(nrc - 1, max(0, int((x - x0) // cc)))
        r = min(nrc - 1, max(0, int((y1 - y) // cc)))
        return r, c

    edge_attr: dict[tuple[int, int], tuple[int, str | None]] = {}
    network: set[int] = set()

    def add_path(path: list[tuple[int, int]], cls: str, name: str | None) -> None:
        flat = [r * nrc + c for r, c in path]
        rank = _CLASS_RANK[cls]
        for a, b in zip(flat[:-1], flat[1:], strict=True):
            key = (a, b) if a < b else (b, a)
            old = edge_attr.get(key)
            if old is None or old[0] < rank:
                edge_attr[key] = (rank, name)
        network.update(flat)

    seat_rc = [rc(x, y) for x, y in seat_xy]
    # provincial trunk: outlet → county seat → the far side of the county
    edge = inside_c & ~ndimage.binary_erosion(inside_c)
    er, ec = np.nonzero(edge)
    d_out = np.hypot(er - outlet[0], ec - outlet[1])
    far = int(np.argmax(d_out - 0.02 * np.abs(ec - nrc / 2)))
    a_end = (outlet[0], outlet[1])
    b_end = (int(er[far]), int(ec[far]))
    mcp = MCP_Geometric(cost, fully_connected=True)
    mcp.find_costs([seat_rc[0]])
    add_path(mcp.traceback(a_end), "provincial", "S305")
    add_path(mcp.traceback(b_end), "provincial", "S305")
    # county roads: Prim-like, each township seat joined to the growing network
    remaining = list(range(1, len(seat_rc)))
    xno = 0
    while remaining:
        # Prim: the search stops at the first (cheapest) township seat it reaches
        starts = [divmod(i, nrc) for i in sorted(network)]
        mcp = MCP_Geometric(cost, fully_connected=True)
        costs, _ = mcp.find_costs(starts, ends=[seat_rc[i] for i in remaining], find_all_ends=False)
        best = min(remaining, key=lambda i: (costs[seat_rc[i]], i))
        remaining.remove(best)
        xno += 1
        add_path(mcp.traceback(seat_rc[best]), "county", f"X{xno:03d}")
    town_cells = set(network)

    # township roads to the larger villages, then village roads to all the rest
    pop = villages["population"].to_numpy()
    vxy = shapely.get_coordinates(villages.geometry)
    admin = np.arange(n_admin)
    big = admin[pop[:n_admin] >= np.percentile(pop[:n_admin], 70)]
    hamlets = np.arange(n_admin, len(villages))
    connected_h = hamlets[rng.random(hamlets.size) < 0.55]
    village_paths: dict[int, list[int]] = {}
    yno = cno = 0
    for group, cls in (
        (big, "township"),
        (np.setdiff1d(admin, big), "village"),
        (connected_h, "village"),
    ):
        starts = [divmod(i, nrc) for i in sorted(network)]
        mcp = MCP_Geometric(cost, fully_connected=True)
        mcp.find_costs(starts)
        paths = []
        for vi in group:
            path = mcp.traceback(rc(*vxy[vi]))
            paths.append((vi, path))
        for vi, path in paths:
            if cls == "township":
                yno += 1
                name = f"Y{yno:03d}"
            else:
                cno += 1
                name = f"C{cno:04d}" if rng.random() < 0.5 else None
            add_path(path, cls, name)
            village_paths[int(vi)] = [r * nrc + c for r, c in path]

    # decompose the cell graph into chains between nodes
    adj: dict[int, list[int]] = {}
    for a, b in edge_attr:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    vcell = {}
    for vi in village_paths:
        vcell.setdefault(village_paths[vi][-1], vi)
    anchor = set(vcell) | {r * nrc + c for r, c in seat_rc}

    def is_node(i: int) -> bool:
        nb = adj[i]
        if len(nb) != 2 or i in anchor:
            return True
        k1 = (min(i, nb[0]), max(i, nb[0]))
        k2 = (min(i, nb[1]), max(i, nb[1]))
        return edge_attr[k1] != edge_attr[k2]

    nodes = {i for i in adj if is_node(i)}
    seen: set[tuple[int, int]] = set()
    chains: list[list[int]] = []
    for s in sorted(nodes):
        for nb in sorted(adj[s]):
            key = (min(s, nb), max(s, nb))
            if key in seen:
                continue
            seen.add(key)
            chain = [s, nb]
            while chain[-1] not in nodes:
                cur, prev = chain[-1], chain[-2]
                nxt = adj[cur][0] if adj[cur][0] != prev else adj[cur][1]
                k = (min(cur, nxt), max(cur, nxt))
                if k in seen:
                    break
                seen.add(k)
                chain.append(nxt)
            chains.append(chain)
    for key in sorted(edge_attr):  # pure cycles (rare)
        if key not in seen:
            seen.add(key)
            chains.append([key[0], key[1]])

    inv_rank = {v: k for k, v in _CLASS_RANK.items()}
    rows = []
    leaf_surface: dict[int, str | None] = {}
    for chain in chains:
        a, b = chain[0], chain[1]
        rank, name = edge_attr[(min(a, b), max(a, b))]
        cls = inv_rank[rank]
        pts = np.array([[x0 + (i % nrc + 0.5) * cc, y1 - (i // nrc + 0.5) * cc] for i in chain])
        ends_at_village = None
        for end, pos in ((chain[-1], -1), (chain[0], 0)):
            if end in vcell and len(adj[end]) == 1:
                pts[pos] = vxy[vcell[end]]
                ends_at_village = vcell[end]
        u = rng.random()
        if cls == "provincial":
            surface = "asphalt"
        elif cls == "county":
            surface = "asphalt" if u < 0.75 else "concrete"
        elif cls == "township":
            surface = "concrete" if u < 0.8 else ("asphalt" if u < 0.93 else None)
        elif ends_at_village is not None:
            # the last link into a village: where unhardened roads remain
            hamlet = ends_at_village >= n_admin
            p_un = 0.6 if hamlet else 0.2
            surface = (
                ("gravel" if u < p_un * 0.65 else "earth")
                if u < p_un
                else ("concrete" if u < 0.88 else None)
            )
        else:
            surface = "concrete" if u < 0.85 else ("gravel" if u < 0.92 else None)
        if ends_at_village is not None:
            leaf_surface[ends_at_village] = surface
        line = LineString(_chaikin(pts, 2))
        line = shapely.simplify(line, 4.0)
        rows.append({"road_class": cls, "surface": surface, "name": name, "geometry": line})
    # villages whose cell lies inside the network (on a through road) take that road's surface
    for vi in village_paths:
        if vi not in leaf_surface:
            leaf_surface[vi] = "concrete"
    roads = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    order = roads["road_class"].map(_CLASS_RANK).to_numpy()
    roads = roads.iloc[np.argsort(-order, kind="stable")].reset_index(drop=True)
    roads.insert(0, "road_id", [f"R{i + 1:05d}" for i in range(len(roads))])
    return roads, leaf_surface, town_cells


# --------------------------------------------------------------------------------------------
# towns, clinics, schools, water, hazards, protected areas, sites
# --------------------------------------------------------------------------------------------


def _towns(rng, seat_xy, tnames, slope_c, valid_c, xy_c, town_cells, nrc) -> gpd.GeoDataFrame:
    rows = []
    for i, (x, y) in enumerate(seat_xy):
        nm = tnames[i]
        if i == 0:
            rows.append(
                {
                    "town_id": "T00",
                    "name": "青岩县城",
                    "kind": "county_seat",
                    "jobs": int(rng.integers(14000, 18000)),
                    "township": nm,
                    "geometry": Point(x, y),
                }
            )
        else:
            rows.append(
                {
                    "town_id": f"T{i:02d}",
                    "name": nm,
                    "kind": "township_seat",
                    "jobs": int(rng.integers(250, 1600)),
                    "township": nm,
                    "geometry": Point(x, y),
                }
            )
    # industrial park: a gentle trunk-road cell 3-8 km from the county seat
    d = np.hypot(xy_c[:, 0] - seat_xy[0, 0], xy_c[:, 1] - seat_xy[0, 1])
    on_road = np.zeros(nrc * nrc, dtype=bool)
    on_road[list(town_cells)] = True
    score = np.where(
        valid_c.ravel() & on_road & (d > 2500) & (d < 8000), np.exp(-slope_c.ravel() / 3.0), 0.0
    )
    if score.max() <= 0:
        score = np.where(
            valid_c.ravel() & (d > 1500), np.exp(-slope_c.ravel() / 3.0 - d / 5000.0), 0.0
        )
    k = int(np.argmax(score))
    rows.append(
        {
            "town_id": "P01",
            "name": "青岩工业园（合成）",
            "kind": "industrial_park",
            "jobs": 4200,
            "township": tnames[0],
            "geometry": Point(*xy_c[k]),
        }
    )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)


def _clinics_schools(rng, villages, n_admin, seat_xy, tnames):
    vxy = shapely.get_coordinates(villages.geometry)
    rows = [
        {
            "clinic_id": "H000",
            "name": "青岩县人民医院",
            "level": "county_hospital",
            "standard": True,
            "has_doctor": True,
            "village_id": None,
            "geometry": Point(seat_xy[0, 0] + 180, seat_xy[0, 1] - 120),
        }
    ]
    for i, (x, y) in enumerate(seat_xy):
        rows.append(
            {
                "clinic_id": f"H{i + 1:03d}",
                "name": f"{tnames[i]}卫生院",
                "level": "township_health_centre",
                "standard": True,
                "has_doctor": True,
                "village_id": None,
                "geometry": Point(x + 60, y + 40),
            }
        )
    k = 0
    for i in range(len(villages)):
        hamlet = i >= n_admin
        if hamlet or rng.random() < 0.1:  # ~10 % of villages (and all hamlets) have no clinic
            continue
        k += 1
        std = rng.choice([True, False, None], p=[0.74, 0.19, 0.07])
        doc = rng.choice([True, False, None], p=[0.8, 0.13, 0.07])
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(30, 150)
        rows.append(
            {
                "clinic_id": f"C{k:04d}",
                "name": f"{villages.at[i, 'name']}卫生室",
                "level": "village_clinic",
                "standard": std,
                "has_doctor": doc,
                "village_id": villages.at[i, "village_id"],
                "geometry": Point(
                    vxy[i, 0] + dist * math.cos(ang), vxy[i, 1] + dist * math.sin(ang)
                ),
            }
        )
    clinics = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    for col in ("standard", "has_doctor"):
        clinics[col] = pd.array(
            [None if v is None else bool(v) for v in clinics[col]], dtype="boolean"
        )

    srows = []
    for i, (x, y) in enumerate(seat_xy):
        srows.append(
            {
                "school_id": f"S{len(srows) + 1:03d}",
                "name": f"{tnames[i][:-1]}中心小学",
                "level": "primary",
                "geometry": Point(x - 150, y + 90),
            }
        )
    n_mid = 2 + len(seat_xy) // 8
    for i in range(min(n_mid, len(seat_xy))):
        x, y = seat_xy[i]
        nm = "青岩县第一中学" if i == 0 else f"{tnames[i][:-1]}中学"
        srows.append(
            {
                "school_id": f"S{len(srows) + 1:03d}",
                "name": nm,
                "level": "middle",
                "geometry": Point(x + 220, y - 200),
            }
        )
    pop = villages["population"].to_numpy()[:n_admin]
    central = np.argsort(-pop, kind="stable")[: max(3, n_admin // 10)]
    for i in central:
        srows.append(
            {
                "school_id": f"S{len(srows) + 1:03d}",
                "name": f"{villages.at[i, 'name']}小学",
                "level": "primary",
                "geometry": Point(vxy[i, 0] + 90, vxy[i, 1] - 60),
            }
        )
    remote = rng.choice(
        np.setdiff1d(np.arange(n_admin), central), size=max(2, n_admin // 40), replace=False
    )
    for i in sorted(remote):
        srows.append(
            {
                "school_id": f"S{len(srows) + 1:03d}",
                "name": f"{villages.at[i, 'name']}教学点",
                "level": "teaching_point",
                "geometry": Point(vxy[i, 0] - 70, vxy[i, 1] + 50),
            }
        )
    schools = gpd.GeoDataFrame(srows, geometry="geometry", crs=METRIC_CRS)
    return clinics, schools


def _water(rng, villages, seat_xy, tnames, county, zc, acc, xy_c, valid_c, slope_c):
    vxy = shapely.get_coordinates(villages.geometry)
    rows = []
    n = len(villages)
    zr = zc.ravel()
    # springs: mid-slope cells near villages
    n_spring = max(6, n // 6)
    w = np.where(valid_c.ravel() & (slope_c.ravel() > 8), 1.0, 0.0)
    pick = rng.choice(n, size=min(n, n_spring * 2), replace=False)
    d, _ = cKDTree(vxy[pick]).query(xy_c)
    near = np.exp(-d / 500.0) * (d > 250)
    sp = _poisson_pick(rng, xy_c, w * near, n_spring, 800.0)
    for k, i in enumerate(sp):
        safe = rng.choice([True, False, None], p=[0.78, 0.12, 0.1])
        rows.append(
            {
                "kind": "source",
                "name": f"泉水{k + 1}号",
                "safe": safe,
                "capacity_m3d": float(round(rng.uniform(20, 300))),
                "geometry": Point(*xy_c[i]),
            }
        )
    # reservoirs: on mid-sized tributaries above the county seat
    d_seat = np.hypot(xy_c[:, 0] - seat_xy[0, 0], xy_c[:, 1] - seat_xy[0, 1])
    rw = np.where(
        valid_c.ravel()
        & (acc.ravel() > 8)
        & (acc.ravel() < 150)
        & (d_seat > 4000)
        & (d_seat < 16000)
        & (zr > zr[np.argmin(d_seat)] + 40),
        1.0,
        0.0,
    )
    if rw.sum() == 0:
        rw = np.where(valid_c.ravel() & (acc.ravel() > 2), 1.0, 0.0)
    res = _poisson_pick(rng, xy_c, rw, 2, 5000.0)
    for k, i in enumerate(res):
        rows.append(
            {
                "kind": "source",
                "name": ["龙潭水库", "白水冲水库"][k],
                "safe": True,
                "capacity_m3d": float([30000, 12000][k]),
                "geometry": Point(*xy_c[i]),
            }
        )
    # plants and piped service areas around seats; a few village schemes
    areas = []
    for i, (x, y) in enumerate(seat_xy):
        r = 3800.0 if i == 0 else rng.uniform(1500, 2800)
        if i > 0 and rng.random() < 0.2:
            continue  # some township seats still without a piped network
        area = _blob(rng, x, y, r, elong=rng.uniform(1.0, 1.6)).intersection(county)
        areas.append(area)
        rows.append(
            {
                "kind": "service_area",
                "name": f"{tnames[i]}供水管网服务区",
                "safe": True,
                "capacity_m3d": None,
                "geometry": area,
            }
        )
        if i == 0 or rng.random() < 0.5:
            px, py = x + rng.uniform(-900, 900), y + rng.uniform(-900, 900)
            cap = 20000.0 if i == 0 else float(round(rng.uniform(800, 3000), -2))
            rows.append(
                {
                    "kind": "plant",
                    "name": f"{tnames[i]}水厂",
                    "safe": True,
                    "capacity_m3d": cap,
                    "geometry": Point(px, py),
                }
            )
            rows.append(
                {
                    "kind": "network",
                    "name": f"{tnames[i]}主供水管",
                    "safe": True,
                    "capacity_m3d": None,
                    "geometry": LineString([(px, py), (x, y)]),
                }
            )
    for i in rng.choice(n, size=max(2, n // 7), replace=False):
        area = _blob(rng, vxy[i, 0], vxy[i, 1], rng.uniform(500, 900)).intersection(county)
        areas.append(area)
        safe = rng.choice([True, None], p=[0.85, 0.15])
        rows.append(
            {
                "kind": "service_area",
                "name": f"{villages.at[i, 'name']}集中供水工程",
                "safe": safe,
                "capacity_m3d": None,
                "geometry": area,
            }
        )
    water = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    water.insert(0, "water_id", [f"W{i + 1:04d}" for i in range(len(water))])
    water["safe"] = pd.array(
        [None if v is None else bool(v) for v in water["safe"]], dtype="boolean"
    )
    union = shapely.union_all(areas)
    in_service = shapely.contains_xy(union, vxy[:, 0], vxy[:, 1])
    return water, in_service


def _hazards(rng, villages, n_admin, county, slope_c, valid_c, xy_c, acc, ter, ctransform):
    vxy = shapely.get_coordinates(villages.geometry)
    rows = []
    n = len(villages)
    steep = valid_c.ravel() & (slope_c.ravel() > np.percentile(slope_c[valid_c], 80))
    # near settlements (that is where hazards are surveyed), and some anywhere steep
    dmin, _ = cKDTree(vxy).query(xy_c)
    w = np.where(steep, 0.3 + np.exp(-dmin / 800.0), 0.0)
    n_poly = max(8, n // 6)
    sel = _poisson_pick(rng, xy_c, w, n_poly, 1200.0)
    for k, i in enumerate(sel):
        kind = ["landslide", "landslide", "collapse", "debris_flow"][k % 4]
        if kind == "debris_flow":
            # a tongue down the flow path
            par = ter["parent"].ravel()
            path = [int(i)]
            for _ in range(8):
                p = int(par[path[-1]])
                if p < 0:
                    break
                path.append(p)
            geom = (
                LineString(xy_c[path]).buffer(rng.uniform(60, 110))
                if len(path) > 1
                else Point(*xy_c[i]).buffer(150)
            )
        else:
            geom = _blob(rng, *xy_c[i], rng.uniform(120, 380), elong=rng.uniform(1.0, 2.0))
        rows.append({"kind": kind, "radius_m": None, "geometry": geom.intersection(county)})
    # hazard spots (隐患点) with a radius: a few right above villages and hamlets
    n_pt = max(6, n // 12)
    targets = np.concatenate(
        [
            np.arange(n_admin, n)[: max(1, (n - n_admin) // 2)],
            rng.choice(n_admin, size=n_pt, replace=False),
        ]
    )
    for i in targets:
        ang = rng.uniform(0, 2 * np.pi)
        dist = rng.uniform(40, 160)
        x, y = vxy[i, 0] + dist * math.cos(ang), vxy[i, 1] + dist * math.sin(ang)
        if not county.contains(Point(x, y)):
            x, y = vxy[i]
        rows.append(
            {
                "kind": rng.choice(["landslide", "collapse"]),
                "radius_m": float(round(rng.uniform(150, 300))),
                "geometry": Point(x, y),
            }
        )
    # flood zone along the main rivers
    cc = ctransform.a
    big = acc >= 250.0
    d = ndimage.distance_transform_edt(~big) * cc
    flood = (d <= 130.0) & valid_c & ter["floor"]
    flood = ndimage.binary_opening(flood, iterations=1) | (big & valid_c)
    for p in _mask_polygons(flood, ctransform, simplify_m=40.0, min_area_m2=2e5):
        rows.append({"kind": "flood", "radius_m": None, "geometry": p.intersection(county)})
    hz = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    hz = hz[~hz.geometry.is_empty].reset_index(drop=True)
    hz.insert(0, "hazard_id", [f"Z{i + 1:04d}" for i in range(len(hz))])
    return hz


def _protected(rng, villages, seat_xy, county, zc, slope_c, inside_c, ctransform, water):
    rows = []
    zin = zc[inside_c]
    ridge = inside_c & (zc > np.percentile(zin, 82)) & (slope_c > 15)
    ridge = ndimage.binary_closing(ridge, iterations=2) & inside_c
    ridge = ndimage.binary_opening(ridge, iterations=1)
    for p in _mask_polygons(ridge, ctransform, simplify_m=60.0, min_area_m2=1.5e6):
        rows.append({"kind": "ecological_redline", "geometry": p.intersection(county)})
    vxy = shapely.get_coordinates(villages.geometry)
    settled = shapely.union_all(shapely.buffer(shapely.points(np.vstack([vxy, seat_xy])), 150.0))
    near = shapely.union_all(shapely.buffer(shapely.points(vxy), 1500.0))
    farm = inside_c & (slope_c < 7) & (zc < np.percentile(zin, 45))
    farm = ndimage.binary_opening(farm, iterations=1)
    for p in _mask_polygons(farm, ctransform, simplify_m=30.0, min_area_m2=1.5e5):
        g = p.intersection(near).difference(settled).intersection(county)
        if not g.is_empty and g.area > 1e5:
            rows.append({"kind": "basic_farmland", "geometry": g})
    res = water[(water["kind"] == "source") & water["name"].str.endswith("水库")]
    for g in res.geometry:
        rows.append(
            {
                "kind": "water_source_protection",
                "geometry": _blob(rng, g.x, g.y, 1500.0, elong=1.4).intersection(county),
            }
        )
    pr = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)
    pr = pr[~pr.geometry.is_empty].reset_index(drop=True)
    pr["geometry"] = [shapely.make_valid(g) for g in pr.geometry]
    pr = pr.explode(index_parts=False)
    pr = pr[pr.geometry.geom_type == "Polygon"].reset_index(drop=True)
    pr.insert(0, "protected_id", [f"P{i + 1:04d}" for i in range(len(pr))])
    return pr


def _sites(rng, seat_xy, tnames, slope_c, valid_c, xy_c, keep_out) -> gpd.GeoDataFrame:
    rows = []
    spec = [
        (0, "县城安置点", 1800, True),
        (0, "县城二期安置点", 1200, False),
        (1, f"{tnames[1]}集镇安置点", 600, False),
    ]
    free = ~shapely.contains_xy(keep_out, xy_c[:, 0], xy_c[:, 1])
    for k, (ti, name, cap, locked) in enumerate(spec):
        d = np.hypot(xy_c[:, 0] - seat_xy[ti, 0], xy_c[:, 1] - seat_xy[ti, 1])
        score = np.where(
            valid_c.ravel() & free & (d > 700) & (d < 4500),
            np.exp(-slope_c.ravel() / 3.0 - d / 3000.0),
            0.0,
        )
        for r in rows:
            dd = np.hypot(
                xy_c[:, 0] - r["geometry"].centroid.x, xy_c[:, 1] - r["geometry"].centroid.y
            )
            score[dd < 1200] = 0.0
        i = int(np.argmax(score))
        geom = _blob(rng, *xy_c[i], math.sqrt(cap * 30.0 / math.pi), elong=1.3, n=12).difference(
            keep_out
        )
        if isinstance(geom, MultiPolygon):
            geom = max(geom.geoms, key=lambda g: g.area)
        rows.append(
            {
                "site_id": f"A{k + 1:02d}",
                "name": name,
                "capacity_people": cap,
                "locked": locked,
                "geometry": geom,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC_CRS)


# --------------------------------------------------------------------------------------------
# households
# --------------------------------------------------------------------------------------------


def _split(rng: np.random.Generator, total: int, count: int) -> np.ndarray:
    """``count`` household sizes >= 1 summing to ``total`` (total >= count)."""
    if count <= 0:
        return np.empty(0, dtype=int)
    extra = rng.multinomial(total - count, np.full(count, 1.0 / count))
    return 1 + extra


def _id_number(rng: np.random.Generator) -> str:
    y = int(rng.integers(1938, 2000))
    m = int(rng.integers(1, 13))
    d = int(rng.integers(1, 29))
    body = f"999999{y:04d}{m:02d}{d:02d}{int(rng.integers(0, 1000)):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _households(rng, villages, n_admin, cfg, scale, *, rank_by=None):
    """Households of some administrative villages: half of the highest incidence, half at random.

    ``rank_by`` is the incidence to rank by; ``generate`` passes that of the villages' own
    cores (before their hamlets were added), which picks the same villages as it did before the
    hamlets were included.
    """
    n_sel = min(n_admin, max(4, int(round(cfg.n_household_villages * scale))))
    inc = (
        rank_by
        if rank_by is not None
        else villages["poor_population"].to_numpy()[:n_admin]
        / villages["population"].to_numpy()[:n_admin]
    )
    order = np.argsort(-inc, kind="stable")
    hi = order[: n_sel // 2]
    rest = rng.choice(order[n_sel // 2 :], size=n_sel - hi.size, replace=False)
    chosen = sorted(int(i) for i in np.concatenate([hi, rest]))
    # planted disagreement: a village whose register attribute sits under the western 3 % exit line
    # while its household table holds about three times as many registered poor people
    parents = set(villages["parent_id"].dropna())
    mid = len(chosen) // 2
    planted_i = next(
        (vi for vi in chosen[mid:] + chosen[:mid] if villages.at[vi, "village_id"] not in parents),
        chosen[mid],
    )
    rows = []
    planted = {}
    for vi in chosen:
        vid = villages.at[vi, "village_id"]
        pop = int(villages.at[vi, "population"])
        hh = int(villages.at[vi, "households"])
        poor = int(villages.at[vi, "poor_population"])
        poor_hh = int(villages.at[vi, "poor_households"])
        if vi == planted_i:
            true_poor = max(12, int(round(pop * 0.085)))
            true_hh = max(4, int(round(true_poor / 3.0)))
            poor, poor_hh = true_poor, true_hh
            claimed = max(1, int(round(pop * 0.018)))
            villages.at[vi, "poor_population"] = claimed
            villages.at[vi, "poor_households"] = max(1, int(round(claimed / 3.0)))
            planted = {
                "village_id": vid,
                "name": villages.at[vi, "name"],
                "attribute_poor": claimed,
                "household_poor": true_poor,
                "population": pop,
            }
        poor_hh = min(poor_hh, poor, hh - 1)
        sizes_p = _split(rng, poor, poor_hh)
        sizes_n = _split(rng, pop - poor, hh - poor_hh)
        sizes = np.concatenate([sizes_p, sizes_n])
        is_poor = np.concatenate([np.ones(sizes_p.size, bool), np.zeros(sizes_n.size, bool)])
        perm = rng.permutation(sizes.size)
        sizes, is_poor = sizes[perm], is_poor[perm]
        for k in range(sizes.size):
            p = bool(is_poor[k])
            income = rng.lognormal(math.log(3900 if p else 9500), 0.35 if p else 0.45)

            def flag(p_false: float, poor: bool = p) -> bool | None:
                u = rng.random()
                if u < 0.02:
                    return None
                return not (u < 0.02 + (p_false if poor else 0.005))

            surname = _SURNAMES[rng.integers(len(_SURNAMES))]
            given = "".join(_GIVEN[j] for j in rng.integers(len(_GIVEN), size=rng.integers(1, 3)))
            rows.append(
                {
                    "household_id": f"{vid}{k + 1:04d}",
                    "village_id": vid,
                    "members": int(sizes[k]),
                    "registered_poor": p,
                    "income_per_capita_cny": float(round(income, -1)),
                    "food_ok": flag(0.03),
                    "clothing_ok": flag(0.03),
                    "education_ok": flag(0.08),
                    "medical_ok": flag(0.1),
                    "housing_ok": flag(0.2),
                    "safe_water_ok": flag(0.15),
                    "head_name": surname + given,
                    "id_number": _id_number(rng),
                    "phone": f"199-0000-{int(rng.integers(0, 10000)):04d}",
                }
            )
    hh = pd.DataFrame(rows)
    for col in (
        "food_ok",
        "clothing_ok",
        "education_ok",
        "medical_ok",
        "housing_ok",
        "safe_water_ok",
    ):
        hh[col] = pd.array(hh[col].tolist(), dtype="boolean")
    return hh, planted


def _register_status(aux, hh: pd.DataFrame) -> None:
    """脱贫状态 and 脱贫年份 of the registered poor households (the demo year is 2017).

    Most are not yet exited (未脱贫); about a quarter exited (已脱贫) in 2014-2017; a few
    returned to poverty (返贫: their 脱贫年份 is the year of the exit they fell back from);
    about 1.5 % have no status (unknown). Households not registered poor carry neither.
    """
    n = len(hh)
    poor = hh["registered_poor"].to_numpy(bool)
    u = aux.random(n)
    status = np.where(
        u < 0.015,
        None,
        np.where(u < 0.70, "not_exited", np.where(u < 0.94, "exited", "returned")),
    ).astype(object)
    year = aux.integers(2014, 2018, n)
    year = np.where(status == "returned", np.minimum(year, 2016), year)
    status[~poor] = None
    has_year = poor & np.isin(status, ["exited", "returned"])
    hh["register_status"] = status
    hh["exit_year"] = pd.array(
        [int(y) if h else None for y, h in zip(year, has_year, strict=True)], dtype="Int64"
    )


def _current_poor(villages, n_admin: int, hh: pd.DataFrame, planted: dict) -> None:
    """The village figures of the household villages become this year's: the poor not yet exited.

    贫困人口 (``poor_population``) and 贫困户数 (``poor_households``) count the registered poor
    households not yet exited (未脱贫 and 返贫; a household whose status the register lacks has
    not exited either) — the numerator of poverty incidence. So in every household village but
    the planted disagreement (whose figure is the planted under-report) the register and the
    village figures agree. A hamlet of such a village keeps the same share of its poor (rounded
    down), so its administrative village still counts at least as many as its hamlets.
    """
    poor = hh["registered_poor"].to_numpy(bool)
    current = poor & (hh["register_status"] != "exited").to_numpy(bool)
    people = hh["members"].where(current, 0).groupby(hh["village_id"]).sum()
    households = pd.Series(current.astype(int), index=hh.index).groupby(hh["village_id"]).sum()
    pos = {v: i for i, v in enumerate(villages["village_id"])}
    pop_, hh_ = (
        villages["poor_population"].to_numpy().copy(),
        villages["poor_households"].to_numpy().copy(),
    )
    ratio = {}
    for vid in people.index:
        i = pos[vid]
        if vid != planted["village_id"]:
            ratio[vid] = people[vid] / pop_[i] if pop_[i] else 1.0
            pop_[i], hh_[i] = int(people[vid]), int(households[vid])
    for j in range(n_admin, len(villages)):
        r = ratio.get(villages["parent_id"].iat[j])
        if r is not None:
            pop_[j] = int(math.floor(pop_[j] * r))
            hh_[j] = min(int(math.floor(hh_[j] * r)), pop_[j])
    villages["poor_population"], villages["poor_households"] = pop_, hh_
    vid = planted["village_id"]
    planted["household_poor_not_exited"] = int(people[vid])


def _pick_incomplete(villages, hh: pd.DataFrame, planted_id: str) -> str:
    """The village whose register will be incomplete (see :func:`_incomplete_register`).

    Among the household villages other than the planted disagreement (and without hamlets), the
    one whose attribute incidence is nearest 4.5 % within 3-6 % (else the least poor above 3 %),
    so that the register's figure alone would put it under the western 3 % exit line.
    """
    by_v = villages.set_index("village_id")
    parents = set(villages["parent_id"].dropna())
    cands = [v for v in dict.fromkeys(hh["village_id"]) if v != planted_id and v not in parents]
    inc = {v: by_v.at[v, "poor_population"] / by_v.at[v, "population"] for v in cands}
    near = [v for v in cands if 0.03 <= inc[v] < 0.06]
    above = [v for v in cands if inc[v] >= 0.03]
    if near or not above:
        return min(near or cands, key=lambda v: (abs(inc[v] - 0.045), v))
    return min(above, key=lambda v: (inc[v], v))


def _incomplete_register(aux, villages, hh: pd.DataFrame, vid: str):
    """Plant an incomplete register: half or more of one village's poor households are missing.

    The village figures (贫困户数, 贫困人口) stay whole; households.csv loses half (rounded up)
    of the village's registered poor households, and more if needed so that it lists fewer
    registered poor households than 贫困户数 says are not yet exited and fewer people not yet
    exited than 3 % of the village. Its other households stay, so its members no longer add up
    to the village population either.
    """
    by_v = villages.set_index("village_id")
    rows = aux.permutation(
        np.flatnonzero(((hh["village_id"] == vid) & hh["registered_poor"]).to_numpy())
    )
    n_drop = max(
        int(math.ceil(rows.size / 2)), rows.size - int(by_v.at[vid, "poor_households"]) + 1
    )
    # ... and more until the people it still lists as not exited are under 3 % of the village
    current = (hh["members"] * (hh["register_status"] != "exited")).to_numpy()
    line = 0.03 * float(by_v.at[vid, "population"])
    while n_drop < rows.size and current[rows[n_drop:]].sum() >= line:
        n_drop += 1
    drop = rows[: min(n_drop, rows.size)]
    kept = hh.drop(index=hh.index[np.sort(drop)]).reset_index(drop=True)
    listed = kept[(kept["village_id"] == vid) & kept["registered_poor"]]
    left = listed[listed["register_status"] != "exited"]
    return kept, {
        "village_id": vid,
        "name": by_v.at[vid, "name"],
        "attribute_poor_households": int(by_v.at[vid, "poor_households"]),
        "listed_poor_households": len(listed),
        "attribute_poor": int(by_v.at[vid, "poor_population"]),
        "listed_poor_not_exited": int(left["members"].sum()),
        "population": int(by_v.at[vid, "population"]),
    }


# --------------------------------------------------------------------------------------------
# the years: the same county followed from 2016 to 2020 (data/demo/years/<year>)
# --------------------------------------------------------------------------------------------

#: The years the demo follows, and the year the main workspace describes (its figures are of
#: 2017: the register's exits run 2014-2017). Each year is a small workspace in
#: ``years/<year>`` holding only the layers that change (villages, roads, clinics, sites,
#: the register of poor households) and naming the others of the main workspace by path.
DEMO_YEARS: tuple[int, ...] = (2016, 2017, 2018, 2019, 2020)
MAIN_YEAR = 2017
#: Files written into ``years/<year>`` for every year but :data:`MAIN_YEAR` (whose
#: ``workspace.toml`` names the main workspace's files).
YEAR_FILES = (
    "workspace.toml",
    "villages.shp",
    "villages.shx",
    "villages.dbf",
    "villages.prj",
    "villages.cpg",
    "roads.gpkg",
    "clinics.geojson",
    "sites.geojson",
    "households.csv",
)
# the register of the years: the registered poor households (建档立卡), not a census
_YEAR_HH_COLUMNS = (
    "household_id",
    "village_id",
    "members",
    "registered_poor",
    "register_status",
    "exit_year",
    "planned_exit_year",
    "income_per_capita_cny",
    "food_ok",
    "clothing_ok",
    "education_ok",
    "medical_ok",
    "housing_ok",
    "safe_water_ok",
    "head_name",
    "id_number",
    "phone",
)
# resettlement sites followed through, as the planners' table writes them (Chinese columns,
# read through the catalogue's common renames)
_SITE_COLUMNS_ZH = {
    "stage": "建设阶段",
    "selected_date": "选址时间",
    "building_date": "开工时间",
    "built_date": "竣工时间",
    "occupied_date": "入住时间",
    "planned_households": "计划安置户数",
    "planned_people": "计划安置人数",
    "actual_households": "实际入住户数",
    "actual_people": "实际入住人数",
    "jobs_found": "就业人数",
    "labour_people": "劳动力人数",
    "land_rights_kept": "保留承包地",
}
_STAGE_ZH = {"selected": "选址", "building": "在建", "built": "竣工", "occupied": "入住"}
# (stage, dates, planned hh/people, actual hh/people, jobs found, labour, land rights kept)
# by site and year; a site absent from a year's table did not exist yet
_SITE_STORY: dict[str, dict[int, dict]] = {
    "A01": {
        2016: {"stage": "building", "selected_date": "2015-10-12", "building_date": "2016-03"},
        2017: {
            "stage": "occupied",
            "built_date": "2017-04-28",
            "occupied_date": "2017-09-15",
            "actual_households": 210,
            "actual_people": 760,
            "jobs_found": 260,
            "labour_people": 430,
        },
        2018: {
            "actual_households": 410,
            "actual_people": 1490,
            "jobs_found": 610,
            "labour_people": 850,
        },
        2019: {
            "actual_households": 465,
            "actual_people": 1690,
            "jobs_found": 820,
            "labour_people": 960,
        },
        2020: {
            "actual_households": 472,
            "actual_people": 1720,
            "jobs_found": 905,
            "labour_people": 990,
        },
    },
    "A02": {
        2016: {"stage": "selected", "selected_date": "2016年8月20日"},
        2017: {"stage": "building", "building_date": "2017-03-15"},
        2018: {"stage": "built", "built_date": "2018-11-30"},
        2019: {
            "stage": "occupied",
            "occupied_date": "2019-04-10",
            "actual_households": 150,
            "actual_people": 540,
            "jobs_found": 150,
            "labour_people": 300,
        },
        2020: {
            "actual_households": 290,
            "actual_people": 1040,
            "jobs_found": 380,
            "labour_people": 590,
        },
    },
    "A03": {
        2017: {"stage": "selected", "selected_date": "2017-06-05"},
        2018: {"stage": "building", "building_date": "2018-03-20"},
        2019: {"stage": "built", "built_date": "2019-09"},
        # moved in, but the people are not yet reported: occupancy by people is unknown
        2020: {"stage": "occupied", "occupied_date": "2020-05-18", "actual_households": 45},
    },
}
_SITE_PLAN = {  # planned households, planned people, land-use rights of the old fields kept
    "A01": (480, 1750, True),
    "A02": (320, 1150, True),
    "A03": (160, None, None),
}


@dataclass
class _YearState:
    """The layers of one year that change (metric CRS, canonical columns)."""

    villages: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    clinics: gpd.GeoDataFrame
    households: pd.DataFrame
    sites: gpd.GeoDataFrame

    def copy(self) -> _YearState:
        return _YearState(
            self.villages.copy(),
            self.roads.copy(),
            self.clinics.copy(),
            self.households.copy(),
            self.sites.copy(),
        )


class _Evaluator:
    """Exit readiness of a year's villages, by the same validation, road network and
    indicators ``anju run`` uses (national profile, western province group). Every frame
    goes through the CRS it is stored in, as the loader reads it back."""

    def __init__(self, towns: gpd.GeoDataFrame):
        from layers.settings import load_settings

        self.settings = load_settings("national", province_group="west")
        self.towns = self._valid(towns, "towns", WEB_CRS)

    @staticmethod
    def _valid(frame, kind: str, stored_crs: str | None):
        from layers.validate import validate_layer

        if stored_crs is not None:
            frame = frame.to_crs(stored_crs).to_crs(METRIC_CRS)
        df, problems = validate_layer(frame, kind, file=f"<demo {kind}>")
        errors = [p.line() for p in problems if p.severity == "error"]
        if errors:  # a bug in the generator, never the user's input
            raise ValueError(f"demo {kind} layer is invalid: " + "; ".join(errors[:5]))
        return df

    def __call__(self, st: _YearState, *, clinics_crs: str) -> pd.DataFrame:
        from geo import indicators, network

        s = self.settings
        p = s.parameters
        v = self._valid(st.villages, "villages", STORAGE_CRS)
        r = self._valid(st.roads, "roads", STORAGE_CRS)
        c = self._valid(st.clinics, "clinics", clinics_crs)
        hh = self._valid(st.households, "households", None)
        net, gap = network.village_road_access(
            r,
            v,
            towns=self.towns,
            snap_tolerance_m=p.road_snap_tolerance_m,
            max_snap_m=s.road.max_snap_m,
            hardened_snap_m=s.road.snap_tolerance_m,
            connection_max_m=s.road.connection_max_m,
        )
        cols = ["road_snap_m", "road_access", "unhardened_km", "unknown_surface_km"]
        cols += ["connection_km", "inferred_km", "road_evidence", "gap_edge_ids"]
        v = v.join(gap[cols])
        v["hosts_health_centre"] = indicators.health_centre_hosts(
            v, c, radius_m=p.village_catchment_radius_m
        )
        ev = indicators.evaluate(
            v, s.profile, households=hh, province_group="west", evidence=s.evidence
        )
        road_of = dict(zip(net.edges["edge_id"], net.edges["road_id"], strict=True))
        ev["gap_road_ids"] = [sorted({str(road_of[e]) for e in ids}) for ids in v["gap_edge_ids"]]
        return ev


def _hamlet_rows(villages: gpd.GeoDataFrame) -> dict[str, list[int]]:
    kids: dict[str, list[int]] = {}
    for j, (lv, par) in enumerate(zip(villages["level"], villages["parent_id"], strict=True)):
        if lv == "hamlet" and isinstance(par, str):
            kids.setdefault(par, []).append(j)
    return kids


def _set_poor(villages: gpd.GeoDataFrame, i: int, poor: int, poor_hh: int, kids) -> None:
    """Set a village's poor figures; its hamlets keep their share (never more than it)."""
    pp = villages["poor_population"].to_numpy().copy()
    ph = villages["poor_households"].to_numpy().copy()
    old = pp[i]
    ratio = poor / old if old else 0.0
    pp[i], ph[i] = int(poor), int(poor_hh)
    if ratio < 1.0:
        for j in kids.get(villages["village_id"].iat[i], []):
            pp[j] = int(math.floor(pp[j] * ratio))
            ph[j] = min(int(math.floor(ph[j] * ratio)), int(pp[j]))
    villages["poor_population"], villages["poor_households"] = pp, ph


def _sync_register(villages, hh: pd.DataFrame, kids, skip: set[str]) -> None:
    """The figures of the household villages are the register's poor not yet exited
    (every village but the planted register traps, whose figures stay as they were)."""
    poor = hh["registered_poor"].to_numpy(bool)
    current = poor & (hh["register_status"] != "exited").to_numpy(bool)
    people = hh["members"].where(current, 0).groupby(hh["village_id"]).sum()
    count = pd.Series(current.astype(int), index=hh.index).groupby(hh["village_id"]).sum()
    pos = {v: i for i, v in enumerate(villages["village_id"])}
    for vid in people.index:
        if vid in skip or vid not in pos:
            continue
        _set_poor(villages, pos[vid], int(people[vid]), int(count[vid]), kids)


def _harden(roads: gpd.GeoDataFrame, road_ids, surface: str = "concrete") -> int:
    """Record the roads as hardened (a road already hardened keeps its surface)."""
    ids = set(map(str, road_ids))
    m = roads["road_id"].astype(str).isin(ids) & ~roads["surface"].isin(["asphalt", "concrete"])
    roads.loc[m, "surface"] = surface
    return int(m.sum())


def _append(frame: gpd.GeoDataFrame, row: dict) -> gpd.GeoDataFrame:
    new = gpd.GeoDataFrame([row], geometry="geometry", crs=frame.crs)
    out = pd.concat([frame, new.astype({c: frame[c].dtype for c in new.columns if c in frame})])
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=frame.crs)


def _connect(st: _YearState, village_pt: Point, vid: str) -> None:
    """A new concrete village road from the settlement to the nearest point of the network."""
    net = shapely.union_all(st.roads.geometry.to_numpy())
    _, q = nearest_points(village_pt, net)
    row = {
        "road_id": f"N{vid[-6:]}",
        "road_class": "village",
        "surface": "concrete",
        "name": None,
        "geometry": LineString([village_pt, q]),
    }
    st.roads = _append(st.roads, row)


def _exit_household(hh: pd.DataFrame, k, year: int, rng, line: float) -> None:
    """A household exits in ``year``: its income has risen above the line (a few only just)."""
    hh.at[k, "register_status"] = "exited"
    hh.at[k, "exit_year"] = year
    income = float(hh.at[k, "income_per_capita_cny"])
    if not income > line * 1.02:
        hh.at[k, "income_per_capita_cny"] = float(round(line * rng.uniform(1.03, 1.6), -1))


def _fix_village(
    st: _YearState, i: int, ev_row, year: int, rng, kids, traps, hh_villages, line: float
) -> None:
    """Everything a village still lacks for exit is done this year (the campaign's push)."""
    v = st.villages
    vid = v["village_id"].iat[i]
    status = {c[: -len("_status")]: ev_row[c] for c in ev_row.index if c.endswith("_status")}
    if status.get("incidence") != "met" and vid not in traps:
        pop = int(v["population"].iat[i])
        if vid in hh_villages:
            hh = st.households
            mine = hh.index[(hh["village_id"] == vid) & hh["registered_poor"]]
            todo = hh.loc[mine]
            todo = todo[todo["register_status"] != "exited"].sort_values(
                "income_per_capita_cny", ascending=False
            )
            left = int(todo["members"].sum())
            for k in todo.index:
                if left < 0.025 * pop:
                    break
                _exit_household(hh, k, year, rng, line)
                left -= int(hh.at[k, "members"])
        else:
            poor = int(math.floor(pop * rng.uniform(0.006, 0.024)))
            hhs = int(v["households"].iat[i])
            _set_poor(v, i, poor, min(hhs, max(int(poor > 0), round(poor / 3))), kids)
    for ind, col in (
        ("water", "has_safe_water"),
        ("power", "has_electricity"),
        ("culture", "has_culture_venue"),
        ("broadband", "has_broadband"),
        ("tv", "has_tv"),
        ("bus", "bus_service"),
    ):
        if status.get(ind) != "met":
            s = v[col].copy()
            s.iat[i] = True
            v[col] = s
    if status.get("medical_insurance") != "met":
        mi = v["medical_insurance_frac"].to_numpy(float).copy()
        mi[i] = 1.0
        v["medical_insurance_frac"] = mi
    if status.get("clinic") != "met":
        for col in ("clinic_standard", "clinic_doctor"):
            s = v[col].copy()
            s.iat[i] = True
            v[col] = s
        c = st.clinics
        own = (c["level"] == "village_clinic") & (c["village_id"] == vid)
        if own.any():
            c.loc[own, "standard"] = True
            c.loc[own, "has_doctor"] = True
        else:
            pt = v.geometry.iat[i]
            st.clinics = _append(
                c,
                {
                    "clinic_id": f"C{vid[-7:]}",
                    "name": f"{v['name'].iat[i]}卫生室",
                    "level": "village_clinic",
                    "standard": True,
                    "has_doctor": True,
                    "village_id": vid,
                    "geometry": Point(pt.x + 40.0, pt.y + 25.0),
                },
            )
    if status.get("road") != "met":
        _harden(st.roads, ev_row["gap_road_ids"])
        if float(ev_row.get("connection_km") or 0.0) > 0:
            _connect(st, v.geometry.iat[i], vid)


def _stage_columns(sites: gpd.GeoDataFrame, year: int) -> gpd.GeoDataFrame | None:
    """The planner sites as their table stands in ``year`` (None: no site yet)."""
    rows = []
    for _, s in sites.iterrows():
        story = _SITE_STORY.get(s["site_id"], {})
        seen = [y for y in sorted(story) if y <= year]
        if not seen:
            continue
        rec = s.to_dict()
        for y in seen:
            rec.update(story[y])
        ph, pp, land = _SITE_PLAN.get(s["site_id"], (None, None, None))
        rec.update(planned_households=ph, planned_people=pp)
        rec["land_rights_kept"] = land if rec.get("stage") == "occupied" else None
        rows.append(rec)
    if not rows:
        return None
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=sites.crs)
    for col in _SITE_COLUMNS_ZH:
        if col not in out.columns:
            out[col] = None
    for col in (
        "planned_households",
        "planned_people",
        "actual_households",
        "actual_people",
        "jobs_found",
        "labour_people",
    ):
        out[col] = pd.array([None if pd.isna(x) else int(x) for x in out[col]], dtype="Int64")
    out["land_rights_kept"] = pd.array(
        [None if x is None or pd.isna(x) else bool(x) for x in out["land_rights_kept"]],
        dtype="boolean",
    )
    out["stage"] = out["stage"].map(_STAGE_ZH)
    return out.rename(columns=_SITE_COLUMNS_ZH)


@dataclass
class _Story:
    """The county followed through the years (see :func:`_years_story`)."""

    states: dict[int, _YearState]
    planned: pd.Series  # planned exit year of each village (Int64, index of the villages)
    exit_year: pd.Series  # exit year of each village (Int64; <NA>: not exited by 2020)
    figures: dict[int, dict]


def _years_story(
    seed: int,
    villages: gpd.GeoDataFrame,
    n_admin: int,
    roads: gpd.GeoDataFrame,
    clinics: gpd.GeoDataFrame,
    households: pd.DataFrame,
    sites: gpd.GeoDataFrame,
    towns: gpd.GeoDataFrame,
    traps: set[str],
) -> _Story:
    """Follow the county from 2016 to 2020 around the main year (2017).

    The main workspace is 2017 as generated. Poverty villages get a planned exit year: the
    ones ready in 2017 were planned for 2016 or 2017, the register traps and about half of
    the villages blocked by one indicator for 2017 or 2018, the rest for 2018-2020 by how far
    they are from exit. 2016 is 2017 undone: some village roads not yet hardened, the 2017
    exits of the register not yet made, one item missing in each village that became ready
    in 2017. From 2018 on the campaign does, in each village's fix year, everything its
    last evaluation shows missing (incidence under the line, attributes, a clinic with a
    doctor, the road hardened and, where needed, connected), the rest of the county creeps
    on, county and township roads are surveyed (2018), incomes grow (3-12 % a year, a
    household exits with an income above the line) and a few exited households return to
    poverty. Some villages slip: a year late, or (a few planned for 2020) not at all. A
    village exits in the first year at or after its planned year in which the evaluation of
    that year's data — the same validation, network and indicators as ``anju run`` — finds it
    ready, so no village exits before its indicators are met; a few are ready a year early and
    wait for their year.
    """
    rng = np.random.default_rng([seed, 3])
    villages = villages.reset_index(drop=True)
    idx = villages.index
    evaluate = _Evaluator(towns)
    line = float(evaluate.settings.households.income_line_cny)
    kids = _hamlet_rows(villages)
    hh_villages = set(households["village_id"])
    st17 = _YearState(
        villages.copy(),
        roads.copy().reset_index(drop=True),
        clinics.copy().reset_index(drop=True),
        households[households["registered_poor"]].reset_index(drop=True),
        sites.copy(),
    )
    ev17 = evaluate(st17, clinics_crs=STORAGE_CRS)
    admin = np.arange(len(villages)) < n_admin
    flag = villages["poverty_village"].fillna(False).to_numpy(bool) & admin
    ids = villages["village_id"].to_numpy()
    bc = ev17["blocker_class"].to_numpy()

    # ---- the timetable (planned exit years) and who slips
    planned = pd.Series(pd.NA, index=idx, dtype="Int64")
    fix: dict[int, int | None] = {}
    ready17 = [i for i in np.flatnonzero(flag) if bc[i] == "ready"]
    ready17 = list(rng.permutation(ready17))
    r16 = set(ready17[: (len(ready17) + 1) // 2])
    for i in ready17:
        planned[i] = 2016 if i in r16 else 2017
    rest = [i for i in np.flatnonzero(flag) if bc[i] != "ready"]
    trap_rows = [i for i in rest if ids[i] in traps]
    for i in trap_rows:
        planned[i] = 2018
        fix[i] = None  # the register must be verified first: unknown, never counted ready
    one = [
        i for i in rest if bc[i] in ("blocked_one", "unknown", "unconfirmed") and i not in trap_rows
    ]
    one = list(rng.permutation(one))
    for k, i in enumerate(one):
        if k % 2 == 0:
            planned[i], fix[i] = 2017, 2018  # slipped in 2017, out a year late
        else:
            planned[i], fix[i] = 2018, 2018
    hard = [i for i in rest if i not in fix]
    inc = (villages["poor_population"] / villages["population"]).to_numpy(float)
    n_unmet = ev17["n_unmet"].to_numpy(int)
    hard.sort(key=lambda i: (n_unmet[i] + 20.0 * inc[i], ids[i]))
    thirds = np.array_split(np.array(hard, dtype=int), 3)
    for y, part in zip((2018, 2019, 2020), thirds, strict=True):
        for i in part:
            planned[int(i)], fix[int(i)] = y, y
    # slips: about one in eight of those planned for 2018 and 2019 a year late, of 2020 never
    for y in (2018, 2019, 2020):
        cand = [i for i in fix if planned[i] == y and fix[i] == y]
        n = max(1, round(len(cand) / 8)) if len(cand) >= 4 else 0
        for i in rng.choice(cand, size=n, replace=False) if n else []:
            fix[int(i)] = None if y == 2020 else y + 1
    # ... and about one in eight of those planned for 2019 and 2020 is ready a year early: it
    # waits for its year (ready, not yet due) and exits on time
    for y in (2019, 2020):
        cand = [i for i in fix if planned[i] == y and fix[i] == y]
        n = max(1, round(len(cand) / 8)) if len(cand) >= 4 else 0
        for i in rng.choice(cand, size=n, replace=False) if n else []:
            fix[int(i)] = y - 1

    # incomes grow by 3-12 % a year, each household at its own pace (a stream of its own)
    growth = np.random.default_rng([seed, 5]).uniform(1.03, 1.12, len(st17.households))

    # ---- 2016: 2017 undone
    st16 = st17.copy()
    hh = st16.households
    hh["income_per_capita_cny"] = np.round(hh["income_per_capita_cny"] / growth, -1)
    undo = (hh["register_status"] == "exited") & (hh["exit_year"] == 2017)
    hh.loc[undo, "register_status"] = "not_exited"
    hh.loc[undo, "exit_year"] = pd.NA
    back = (hh["register_status"] == "returned") & (hh["exit_year"] == 2016)
    hh.loc[back, "register_status"] = "exited"
    _sync_register(st16.villages, hh, kids, traps)
    v16 = st16.villages
    for i in [i for i in ready17 if i not in r16]:
        # one item came in 2017
        col = ("has_broadband", "bus_service", "has_culture_venue")[int(rng.integers(3))]
        s = v16[col].copy()
        s.iat[i] = False
        v16[col] = s
    for i in np.flatnonzero(flag):
        if bc[i] != "ready" and ids[i] not in hh_villages:
            pop = int(v16["population"].iat[i])
            poor = min(pop, int(round(v16["poor_population"].iat[i] * rng.uniform(1.05, 1.25))))
            pp = v16["poor_population"].to_numpy().copy()
            pp[i] = poor
            v16["poor_population"] = pp
    village_roads = st16.roads.index[
        (st16.roads["road_class"] == "village")
        & st16.roads["surface"].isin(["asphalt", "concrete"])
    ]
    k = int(round(0.15 * len(village_roads)))
    later = rng.choice(village_roads, size=k, replace=False) if k else []
    st16.roads.loc[later, "surface"] = "gravel"
    ev16 = evaluate(st16, clinics_crs=WEB_CRS)
    for _ in range(3):
        miss = [i for i in r16 if ev16.at[i, "blocker_class"] != "ready"]
        if not miss:
            break
        for i in miss:  # the roads of the 2016 exits were hardened already
            gone = set(ev16.at[i, "gap_road_ids"])
            back_ = st16.roads["road_id"].astype(str).isin(gone)
            st16.roads.loc[back_, "surface"] = st17.roads.loc[back_, "surface"]
        ev16 = evaluate(st16, clinics_crs=WEB_CRS)

    exit_year = pd.Series(pd.NA, index=idx, dtype="Int64")
    states = {2016: st16, 2017: st17}
    evals = {2016: ev16, 2017: ev17}

    def exits(year: int, ev: pd.DataFrame) -> None:
        for i in np.flatnonzero(flag):
            if (
                pd.isna(exit_year[i])
                and not pd.isna(planned[i])
                and planned[i] <= year
                and ev.at[i, "blocker_class"] == "ready"
            ):
                exit_year[i] = year

    exits(2016, ev16)
    exits(2017, ev17)

    # ---- 2018-2020: the campaign
    prev, prev_ev = st17, ev17
    for year in (2018, 2019, 2020):
        st = prev.copy()
        v = st.villages
        if year == 2018:  # the transport bureau records the surface of every main road
            unknown = st.roads["surface"].isna() & st.roads["road_class"].isin(
                ["provincial", "county", "township"]
            )
            st.roads.loc[unknown, "surface"] = "asphalt"
        # the county creeps on: incidence falls, some village roads are hardened
        for i in np.flatnonzero(flag):
            if not pd.isna(exit_year[i]) or ids[i] in hh_villages or fix.get(i) == year:
                continue
            pop = int(v["population"].iat[i])
            poor = int(v["poor_population"].iat[i])
            floor_ = int(math.ceil(0.032 * pop))
            if poor > floor_:
                new = max(floor_, int(round(poor * rng.uniform(0.78, 0.92))))
                hhs = int(v["households"].iat[i])
                _set_poor(v, i, new, min(hhs, max(int(new > 0), round(new / 3))), kids)
        gravel = st.roads.index[
            (st.roads["road_class"] == "village") & st.roads["surface"].isin(["gravel", "earth"])
        ]
        k = int(round(0.08 * len(gravel)))
        if k:
            st.roads.loc[rng.choice(gravel, size=k, replace=False), "surface"] = "concrete"
        # household registers outside the villages of this year's push: some exit, a few return
        hh = st.households
        hh["income_per_capita_cny"] = np.round(hh["income_per_capita_cny"] * growth, -1)
        for vid in sorted(hh_villages - traps):
            i = int(np.flatnonzero(ids == vid)[0])
            if flag[i] and fix.get(i) == year:
                continue
            if flag[i] and (fix.get(i) is None or fix[i] > year) and pd.isna(exit_year[i]):
                continue  # a poverty village's households go in its push
            mine = hh.index[(hh["village_id"] == vid) & (hh["register_status"] == "not_exited")]
            for k in mine[rng.random(len(mine)) < 0.3]:
                _exit_household(hh, k, year, rng, line)
        out_ = hh.index[
            (hh["register_status"] == "exited")
            & ~hh["village_id"].isin(traps)
            & ~hh["village_id"].isin([ids[i] for i in np.flatnonzero(flag)])
        ]
        n_ret = max(1, int(round(0.015 * len(out_)))) if len(out_) else 0
        if n_ret:  # illness, a failed harvest: back under the line (返贫)
            ret = rng.choice(out_, size=n_ret, replace=False)
            hh.loc[ret, "register_status"] = "returned"
            hh.loc[ret, "income_per_capita_cny"] = np.round(
                line * rng.uniform(0.6, 0.95, n_ret), -1
            )
        # the push: every village whose fix year this is gets what it still lacks
        push = [i for i, y in fix.items() if y == year and pd.isna(exit_year[i])]
        ev = prev_ev
        for _ in range(3):
            for i in push:
                if ev.at[i, "blocker_class"] != "ready":
                    _fix_village(st, i, ev.loc[i], year, rng, kids, traps, hh_villages, line)
            _sync_register(v, st.households, kids, traps)
            ev = evaluate(st, clinics_crs=WEB_CRS)
            if all(ev.at[i, "blocker_class"] == "ready" for i in push):
                break
        exits(year, ev)
        states[year], evals[year] = st, ev
        prev, prev_ev = st, ev

    # ---- the planner's sites, stage by stage; the figures of each year
    figures = {}
    for year in DEMO_YEARS:
        ev = evals[year]
        applicable = flag
        figures[year] = {
            "exited_by_year_end": int(((exit_year <= year).fillna(False).to_numpy() & flag).sum()),
            "exited_in_year": int(((exit_year == year).fillna(False).to_numpy() & flag).sum()),
            "ready": int(((ev["blocker_class"] == "ready").to_numpy() & applicable).sum()),
            "due_not_exited": int(
                (
                    (planned <= year).fillna(False).to_numpy()
                    & ~(exit_year <= year).fillna(False).to_numpy()
                    & flag
                ).sum()
            ),
            "km_unhardened_roads": round(
                float(
                    states[year]
                    .roads.loc[states[year].roads["surface"].isin(["gravel", "earth"])]
                    .length.sum()
                    / 1000.0
                ),
                1,
            ),
            "households_returned": int(
                (states[year].households["register_status"] == "returned").sum()
            ),
        }
    return _Story(states=states, planned=planned, exit_year=exit_year, figures=figures)


def _household_plan(story: _Story, villages: gpd.GeoDataFrame, hh: pd.DataFrame, rng) -> dict:
    """计划脱贫年份 of the registered poor (household id → year): their village's planned
    year in a poverty village, else the year they exited, else a year of 2017-2020."""
    plan_of = dict(zip(villages["village_id"], story.planned, strict=True))
    out: dict[str, int] = {}
    for hid, vid, poor, ey in zip(
        hh["household_id"], hh["village_id"], hh["registered_poor"], hh["exit_year"], strict=True
    ):
        if not poor:
            continue
        p = plan_of.get(vid)
        if p is not None and not pd.isna(p):
            out[hid] = int(p) if pd.isna(ey) else min(int(p), int(ey))
        elif not pd.isna(ey):
            out[hid] = int(ey)
        else:
            out[hid] = int(rng.integers(2017, 2021))
    return out


def _with_plan(hh: pd.DataFrame, plan: dict) -> pd.DataFrame:
    return hh.assign(
        planned_exit_year=pd.array([plan.get(h) for h in hh["household_id"]], dtype="Int64")
    )


def _write_year(
    folder: Path,
    year: int,
    st: _YearState,
    *,
    planned: pd.Series,
    exit_year: pd.Series,
    hh_plan: dict,
    seed: int,
    scale: float,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    v = st.villages.copy()
    v["planned_exit_year"] = planned.to_numpy()
    v["exit_year"] = exit_year.where((exit_year <= year).fillna(False)).to_numpy()
    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        (folder / f"villages.{ext}").unlink(missing_ok=True)
    vout = v.rename(columns={c: k for k, c in VILLAGE_RENAME.items()})
    vout = vout[[*VILLAGE_RENAME.keys(), "geometry"]].to_crs(STORAGE_CRS)
    vout.to_file(folder / "villages.shp", encoding="GB18030", driver="ESRI Shapefile")
    (folder / "villages.cpg").write_text("GB18030", encoding="ascii")
    (folder / "roads.gpkg").unlink(missing_ok=True)
    st.roads.to_crs(STORAGE_CRS).to_file(folder / "roads.gpkg", layer="roads", driver="GPKG")
    (folder / "clinics.geojson").unlink(missing_ok=True)
    st.clinics.to_crs(WEB_CRS).to_file(folder / "clinics.geojson", driver="GeoJSON")
    sites = _stage_columns(st.sites, year)
    (folder / "sites.geojson").unlink(missing_ok=True)
    if sites is not None:
        sites.to_crs(WEB_CRS).to_file(folder / "sites.geojson", driver="GeoJSON")
    hh = _with_plan(st.households, hh_plan)
    hh = hh[[c for c in _YEAR_HH_COLUMNS if c in hh.columns]]
    hh = hh.assign(register_status=hh["register_status"].map(_STATUS_ZH))
    hh.rename(columns={v_: k for k, v_ in HOUSEHOLD_RENAME.items()}).to_csv(
        folder / "households.csv", index=False, encoding="utf-8"
    )
    _write_year_toml(folder, year, seed=seed, scale=scale, sites=sites is not None, own=True)


def _write_year_toml(
    folder: Path, year: int, *, seed: int, scale: float, sites: bool, own: bool
) -> None:
    """``years/<year>/workspace.toml``: the year's own layers (``own``), the rest by path."""
    up = "../../"
    mine = "" if own else up
    rename = "\n".join(f'"{k}" = "{v}"' for k, v in VILLAGE_RENAME.items())
    hh_rename = "\n".join(f'"{k}" = "{v}"' for k, v in HOUSEHOLD_RENAME.items())
    clinics = (
        '[layers.clinics]\npath = "clinics.geojson"\n'
        if own
        else f'[layers.clinics]\npath = "{up}facilities.gpkg"\nlayer = "clinics"\n'
    )
    site_block = ""
    if sites:
        site_block = (
            '[layers.sites]\npath = "sites.geojson"\n'
            if own
            else f'[layers.sites]\npath = "{up}sites.gpkg"\nlayer = "sites"\n'
        )
    text = f"""# The synthetic demo county in {year}, written by scripts/make_demo.py (seed {seed}, scale {scale:g}).
# Only the layers that change from year to year are here; the others are the main workspace's.
[workspace]
name = "{_COUNTY_NAME} {year}年"
crs = "{METRIC_CRS}"
policy = "national"
province_group = "west"

[layers.dem]
path = "{up}dem.tif"

[layers.boundary]
path = "{up}county.gpkg"
layer = "boundary"

[layers.townships]
path = "{up}county.gpkg"
layer = "townships"

[layers.villages]
path = "{mine}villages.shp"
encoding = "GB18030"

[layers.villages.rename]
{rename}

[layers.roads]
path = "{mine}roads.gpkg"
layer = "roads"

[layers.towns]
path = "{up}towns.geojson"

{clinics}
[layers.schools]
path = "{up}facilities.gpkg"
layer = "schools"

[layers.water]
path = "{up}facilities.gpkg"
layer = "water"

[layers.hazards]
path = "{up}facilities.gpkg"
layer = "hazards"

[layers.protected]
path = "{up}facilities.gpkg"
layer = "protected"

{site_block}
[layers.households]
path = "{mine}households.csv"

[layers.households.rename]
{hh_rename}

[parameters]
infer_surface_from_class = true
village_catchment_radius_m = 3000
current_year = {year}
"""
    (folder / "workspace.toml").write_text(text, encoding="utf-8")


def _clean_years(out: Path) -> None:
    """Delete the year workspaces this generator writes (nothing else in ``years/``)."""
    root = out / "years"
    if not root.is_dir():
        return
    for year in DEMO_YEARS:
        d = root / str(year)
        for name in YEAR_FILES:
            (d / name).unlink(missing_ok=True)
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    if not any(root.iterdir()):
        root.rmdir()


# --------------------------------------------------------------------------------------------
# workspace.toml and a small record of the run
# --------------------------------------------------------------------------------------------


def _write_toml(out: Path, *, seed: int, scale: float) -> None:
    rename = "\n".join(f'"{k}" = "{v}"' for k, v in VILLAGE_RENAME.items())
    hh_rename = "\n".join(f'"{k}" = "{v}"' for k, v in HOUSEHOLD_RENAME.items())
    text = f"""# Synthetic demo workspace, written by scripts/make_demo.py (seed {seed}, scale {scale:g}).
# Everything here is invented; see README.md.
[workspace]
name = "{_COUNTY_NAME}"
crs = "{METRIC_CRS}"
policy = "national"
province_group = "west"

[layers.dem]
path = "dem.tif"

[layers.boundary]
path = "county.gpkg"
layer = "boundary"

[layers.townships]
path = "county.gpkg"
layer = "townships"

[layers.villages]
path = "villages.shp"
encoding = "GB18030"

[layers.villages.rename]
{rename}

[layers.roads]
path = "roads.gpkg"
layer = "roads"

[layers.towns]
path = "towns.geojson"

[layers.clinics]
path = "facilities.gpkg"
layer = "clinics"

[layers.schools]
path = "facilities.gpkg"
layer = "schools"

[layers.water]
path = "facilities.gpkg"
layer = "water"

[layers.hazards]
path = "facilities.gpkg"
layer = "hazards"

[layers.protected]
path = "facilities.gpkg"
layer = "protected"

[layers.sites]
path = "sites.gpkg"
layer = "sites"

[layers.households]
path = "households.csv"

[layers.households.rename]
{hh_rename}

[parameters]
infer_surface_from_class = true
village_catchment_radius_m = 3000
current_year = {MAIN_YEAR}  # the year the data describe (the exit timetable: who is due, at risk)
"""
    (out / "workspace.toml").write_text(text, encoding="utf-8")


def _write_stats(out: Path, stats: dict) -> None:
    lines = [f"{k}: {v}" for k, v in stats.items()]
    (out / "generated.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python scripts/make_demo.py --out data/demo --seed 2017 --scale 1``."""
    ap = argparse.ArgumentParser(description="Write the synthetic demo county workspace.")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "data" / "demo"))
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument(
        "--clean", action="store_true", help="delete previously generated files in OUT first"
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.clean:
        # only the files this generator writes; anything else in OUT is left alone
        _clean_years(out)
        for name in GENERATED_FILES:
            if name != "years":
                (out / name).unlink(missing_ok=True)
    path = generate(out, seed=args.seed, scale=args.scale)
    print((path / "generated.txt").read_text(encoding="utf-8"), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
