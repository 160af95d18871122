"""Benchmark per-village zonal statistics against exactextract and rasterstats.

Full size (the figures quoted in reports)::

    python scripts/bench_zonal.py --size 4000 --polygons 3000

Smoke test (seconds)::

    python scripts/bench_zonal.py --size 400 --polygons 100

Builds the synthetic DEM of ``bench_terrain`` (float32, 30 m, EPSG:4545) and
village catchments (Voronoi cells of random points clipped to the raster
extent and a radius, via :func:`geo.zonal.catchments`), then times, in the
same run and on the same in-memory array:

* :func:`geo.zonal.zonal_stats` (mean, min, max; coverage weighted), warm;
* ``exactextract.exact_extract`` on a ``NumPyRasterSource`` (same stats);
* ``rasterstats.zonal_stats`` (pixel-centre) on a subset of
  ``--rasterstats-subset`` polygons, scaled linearly to all polygons (stated
  in the output; it is too slow to run on all);
* :func:`geo.zonal.village_terrain_stats` (DEM + slope + two thresholds).

Prints a table with ratios, the largest mean-elevation difference against
exactextract, and peak memory (``ru_maxrss``) of this process.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import shapely  # noqa: E402
from affine import Affine  # noqa: E402

from geo.terrain import slope  # noqa: E402
from geo.zonal import catchments, village_terrain_stats, zonal_stats  # noqa: E402
from scripts.bench_terrain import synthetic_dem  # noqa: E402

CELL = 30.0
X0, Y0 = 35_500_000.0, 3_100_000.0


def village_polygons(n: int, size: int, *, seed: int = 1) -> gpd.GeoDataFrame:
    """Catchments of ``n`` random villages over the raster extent."""
    rng = np.random.default_rng(seed)
    ext = size * CELL
    pts = shapely.points(rng.uniform(X0, X0 + ext, n), rng.uniform(Y0 - ext, Y0, n))
    v = gpd.GeoDataFrame({"village_id": np.arange(n)}, geometry=pts, crs="EPSG:4545")
    spacing = ext / np.sqrt(n)
    boundary = shapely.box(X0, Y0 - ext, X0 + ext, Y0)
    return catchments(v, boundary=boundary, radius_m=1.2 * spacing)


def timed(fn, repeat: int = 1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--size", type=int, default=400, help="DEM edge in cells (full benchmark: 4000)"
    )
    ap.add_argument(
        "--polygons", type=int, default=100, help="number of village polygons (full: 3000)"
    )
    ap.add_argument(
        "--rasterstats-subset", type=int, default=300, help="polygons given to rasterstats, scaled"
    )
    ap.add_argument(
        "--repeat", type=int, default=2, help="repetitions for our kernel (best reported)"
    )
    args = ap.parse_args(argv)

    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    t0 = time.perf_counter()
    z = synthetic_dem(args.size)
    transform = Affine(CELL, 0, X0, 0, -CELL, Y0)
    t_catch, polys = timed(lambda: village_polygons(args.polygons, args.size))
    print(
        f"DEM {args.size}x{args.size} float32 and {len(polys)} village catchments built in "
        f"{time.perf_counter() - t0:.1f} s (catchments() took {t_catch:.2f} s)"
    )
    mean_cells = float(np.mean(shapely.area(np.asarray(polys.geometry.values)))) / CELL**2
    print(f"mean polygon size: {mean_cells:.0f} cells")

    # Warm numba (compile or load cache) on a tiny problem.
    zonal_stats(polys.iloc[:2], z, transform=transform)

    stats = ("mean", "min", "max")
    t_ours, ours = timed(
        lambda: zonal_stats(polys, z, transform=transform, stats=stats), args.repeat
    )
    ext = args.size * CELL
    src = NumPyRasterSource(z, X0, Y0 - ext, X0 + ext, Y0, nodata=-9999.0)
    t_ee, ref = timed(lambda: exact_extract(src, polys, list(stats), output="pandas"))

    n_rs = min(args.rasterstats_subset, len(polys))
    try:
        import rasterstats

        sub = list(polys.geometry.values[:n_rs])
        t_rs_sub, _ = timed(
            lambda: rasterstats.zonal_stats(
                sub, z, affine=transform, stats=list(stats), nodata=-9999.0
            )
        )
        t_rs = t_rs_sub * len(polys) / n_rs
    except ImportError:
        t_rs = float("nan")

    s = slope(z, cellsize=CELL)
    village_terrain_stats(polys.iloc[:2], z, s, transform=transform)
    t_vts, vts = timed(lambda: village_terrain_stats(polys, z, s, transform=transform), args.repeat)

    d_mean = np.nanmax(np.abs(ours["mean"].to_numpy() - ref["mean"].to_numpy()))
    d_min = np.nanmax(np.abs(ours["min"].to_numpy() - ref["min"].to_numpy()))
    d_max = np.nanmax(np.abs(ours["max"].to_numpy() - ref["max"].to_numpy()))
    d_rel = np.nanmax(np.abs(ours["mean"].to_numpy() / ref["mean"].to_numpy() - 1.0))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    print()
    print(f"{'method':52s} {'seconds':>9s} {'speed-up':>9s}")
    print("-" * 72)
    print(f"{'geo.zonal.zonal_stats (coverage, mean/min/max)':52s} {t_ours:9.3f} {1.0:8.2f}x")
    print(
        f"{'exactextract (NumPyRasterSource, mean/min/max)':52s} {t_ee:9.3f} {t_ee / t_ours:8.2f}x"
    )
    label = f"rasterstats (centre; {n_rs} polygons x {len(polys) / n_rs:.1f})"
    print(f"{label:52s} {t_rs:9.3f} {t_rs / t_ours:8.2f}x")
    print(f"{'geo.zonal.village_terrain_stats (7 columns)':52s} {t_vts:9.3f} {'':>9s}")
    print("-" * 72)
    print("(speed-up = method seconds / zonal_stats seconds; rasterstats time is extrapolated)")
    print(
        f"vs exactextract: max |mean diff| {d_mean:.2e} m (max rel {d_rel:.1e}), "
        f"max |min diff| {d_min:.2e} m, max |max diff| {d_max:.2e} m"
    )
    print(f"village_terrain_stats columns: {list(vts.columns)}")
    print(f"peak RSS of this process: {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
