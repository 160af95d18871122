"""Benchmark per-village zonal statistics, by the rules of :mod:`scripts.benchlib`.

Full size::

    python -m scripts.bench_zonal --size 4000 --polygons 3000 --runs 5

Quick::

    python -m scripts.bench_zonal --quick

Builds the synthetic DEM of ``bench_terrain`` (float32, 30 m, EPSG:4545) and village
catchments (Voronoi cells of random points, :func:`geo.zonal.catchments`), then compares
on the same in-memory array and the *same polygons for every tool* (all of them, or the
first ``--subset`` for every tool), alternating the tools, each run the same number of times:

* **headline** — coverage-weighted mean/min/max: :func:`geo.zonal.zonal_stats` vs
  ``exactextract.exact_extract`` (``NumPyRasterSource``);
* pixel-centre mean/min/max: ``zonal_stats(weights="centre")`` vs ``rasterstats.zonal_stats``.

Every tool's output is compared with the other's (mean, min, max per polygon). Cold = each
tool's first call in the process (imports done, numba cache loaded from disk for anju).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import geopandas as gpd  # noqa: E402
import shapely  # noqa: E402
from affine import Affine  # noqa: E402

from geo.zonal import catchments, zonal_stats  # noqa: E402
from scripts import benchlib  # noqa: E402
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


STATS = ("mean", "min", "max")


def _frame(df) -> dict:
    return {k: np.asarray(df[k], dtype=np.float64) for k in STATS}


def compare_stats(a: dict, b: dict) -> tuple[bool, str]:
    notes, ok = [], True
    for k in STATS:
        good, note = benchlib.close_arrays(rtol=1e-5, atol=1e-3)(a[k], b[k])
        ok &= good
        notes.append(f"{k} {note}")
    return ok, ", ".join(notes)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, help="DEM edge in cells (full: 4000)")
    ap.add_argument("--polygons", type=int, help="village polygons (full: 3000)")
    ap.add_argument("--subset", type=int, help="give only the first N polygons to every tool")
    ap.add_argument("--runs", type=int, help="warm runs per tool (full: 5)")
    ap.add_argument("--quick", action="store_true", help="400 x 400, 100 polygons, 2 runs")
    ap.add_argument("--rows", type=Path, help="write the rows as JSON (for bench_all)")
    args = ap.parse_args(argv)
    size = args.size or (400 if args.quick else 4000)
    npoly = args.polygons or (100 if args.quick else 3000)
    runs = args.runs or (2 if args.quick else 5)

    def progress(msg: str) -> None:
        print(f"... {msg}", file=sys.stderr, flush=True)

    z = synthetic_dem(size)
    transform = Affine(CELL, 0, X0, 0, -CELL, Y0)
    polys = village_polygons(npoly, size)
    if args.subset:
        polys = polys.iloc[: args.subset]
    mean_cells = float(np.mean(shapely.area(np.asarray(polys.geometry.values)))) / CELL**2
    desc = f"{len(polys)} village catchments (mean {mean_cells:.0f} cells) on a {size} x {size} float32 DEM"
    progress(desc)
    rows = []

    ext = size * CELL

    def ee():
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource

        src = NumPyRasterSource(z, X0, Y0 - ext, X0 + ext, Y0, nodata=-9999.0)
        return _frame(exact_extract(src, polys, list(STATS), output="pandas"))

    cov = [
        benchlib.Tool(
            "anju zonal_stats (coverage)",
            lambda: _frame(zonal_stats(polys, z, transform=transform, stats=STATS)),
        ),
        benchlib.Tool("exactextract", ee),
    ]
    geoms = list(polys.geometry.values)

    def rs():
        import rasterstats

        out = rasterstats.zonal_stats(geoms, z, affine=transform, stats=list(STATS), nodata=-9999.0)
        return {k: np.array([np.nan if o[k] is None else o[k] for o in out], float) for k in STATS}

    cen = [
        benchlib.Tool(
            "anju zonal_stats (centre)",
            lambda: _frame(
                zonal_stats(polys, z, transform=transform, stats=STATS, weights="centre")
            ),
        ),
        benchlib.Tool("rasterstats", rs),
    ]
    for label, tools, headline in (
        ("zonal stats, coverage-weighted", cov, True),
        ("zonal stats, pixel centre", cen, False),
    ):
        samples = benchlib.measure(tools, runs=runs, cold_runs=1, progress=progress)
        check = benchlib.check_outputs(samples, compare_stats)
        # cold = first call in this process: only the first comparison's is a real one
        for mode in ("warm", "cold") if headline else ("warm",):
            row = benchlib.make_row(
                label,
                f"mean/min/max per polygon, same polygons for both: {desc}",
                samples,
                mode=mode,
                anju=tools[0].name,
                reference=tools[1].name,
                check=check,
                headline=headline and mode == "warm",
            )
            rows.append(row)
    benchlib.dump_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
