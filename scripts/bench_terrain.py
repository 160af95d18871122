"""Benchmark slope against ``gdaldem slope``, by the rules of :mod:`scripts.benchlib`.

Full size::

    python -m scripts.bench_terrain --size 4000 --runs 5

Quick (seconds)::

    python -m scripts.bench_terrain --quick

Builds a synthetic DEM (spectral 1/f noise plus ridges, float32, 30 m cells, EPSG:4545)
in a temporary tiled GeoTIFF, then compares, alternating the tools and running each the
same number of times:

* **headline** — one-shot commands, file to file, process start included, the same output
  options on both sides (tiled 256 x 256, ZSTD level 1, compression on all cores):
  ``python -c "slope_file(...)"`` vs ``gdaldem slope -co TILED=YES -co COMPRESS=ZSTD ...``;
  cold = anju's first process with an empty numba cache (``NUMBA_CACHE_DIR`` pointed at a
  new folder), warm = later processes with that cache filled (gdaldem has no such cache:
  its cold and warm runs are the same kind of run);
* the same with both outputs tiled and uncompressed;
* :func:`geo.terrain.slope` on an array in memory (anju only: no reference, no ratio).

Every output is read back and compared on interior cells (gdaldem leaves the edge empty).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import benchlib  # noqa: E402


def synthetic_dem(size: int, *, seed: int = 0) -> np.ndarray:
    """Mountain-like DEM: 1/f^beta spectral noise plus a few sharp ridges (metres)."""
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    spec = (rng.normal(size=k.shape) + 1j * rng.normal(size=k.shape)) / k**1.6
    spec[0, 0] = 0
    z = np.fft.irfft2(spec, s=(size, size))
    z = (z - z.min()) / (z.max() - z.min()) * 2500.0 + 600.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for _ in range(4):
        a, b, c = rng.normal(size=3)
        d = np.abs(a * xx + b * yy + c) / np.hypot(a, b)
        z += 400.0 * np.exp(-d / 0.02)
    return z.astype(np.float32)


def write_dem(path: Path, z: np.ndarray, cell: float = 30.0) -> None:
    import rasterio
    from rasterio.transform import from_origin

    prof = {
        "driver": "GTiff",
        "height": z.shape[0],
        "width": z.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4545",
        "transform": from_origin(35_500_000.0, 3_100_000.0, cell, cell),
        "nodata": -9999.0,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(z, 1)


#: creation options that match what slope_file writes (tiled 256, ZSTD level 1, all cores)
GDAL_ZSTD = [
    "-co", "TILED=YES", "-co", "BLOCKXSIZE=256", "-co", "BLOCKYSIZE=256",
    "-co", "COMPRESS=ZSTD", "-co", "ZSTD_LEVEL=1", "-co", "NUM_THREADS=ALL_CPUS",
]  # fmt: skip
GDAL_PLAIN = ["-co", "TILED=YES", "-co", "BLOCKXSIZE=256", "-co", "BLOCKYSIZE=256"]


def read_interior(path: Path):
    import rasterio

    with rasterio.open(path) as ds:
        a = ds.read(1, masked=True).filled(np.nan).astype(np.float64)
        info = (ds.profile.get("compress"), ds.profile.get("tiled"), ds.block_shapes[0])
    return {"slope": a[1:-1, 1:-1], "layout": info}


def compare_slopes(a: Path, b: Path) -> tuple[bool, str]:
    """The two output files: interior cells within 1e-3 degrees, same NaN cells, same layout."""
    a, b = read_interior(a), read_interior(b)
    ok, note = benchlib.close_arrays(rtol=0.0, atol=1e-3)(a["slope"], b["slope"])
    same_layout = a["layout"] == b["layout"]
    if not same_layout:
        note += f"; output layouts differ: {a['layout']} vs {b['layout']}"
    return ok and same_layout, note


def one_shot_rows(src: Path, tmpd: Path, runs: int, cold_runs: int, progress=None) -> list[dict]:
    rows = []
    warm_cache = tmpd / "numba_cache"
    cold_dirs = iter(range(10**6))
    for label, compress, co, headline in (
        ("tiled ZSTD level 1", "zstd", GDAL_ZSTD, True),
        ("tiled uncompressed", "none", GDAL_PLAIN, False),
    ):
        ours, ref = tmpd / f"anju_{compress}.tif", tmpd / f"gdal_{compress}.tif"
        env = {"NUMBA_CACHE_DIR": str(warm_cache)}
        code = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from geo.terrain import slope_file; "
            f"slope_file(sys.argv[1], sys.argv[2], compress={compress!r})"
        )

        def anju(code=code, ours=ours, env=env):
            benchlib.run_cmd([sys.executable, "-c", code, str(src), str(ours)], env=env, cwd=ROOT)
            return ours  # read back by the check, untimed

        def gdal(co=co, ref=ref):
            benchlib.run_cmd(["gdaldem", "slope", "-q", *co, str(src), str(ref)])
            return ref

        def cold_cache(env=env):
            # a new, empty numba cache: this run compiles everything
            env["NUMBA_CACHE_DIR"] = str(tmpd / f"numba_cold_{next(cold_dirs)}")

        def warm_cache_on(env=env):
            env["NUMBA_CACHE_DIR"] = str(warm_cache)

        tools = [
            benchlib.Tool(
                "anju slope_file (one-shot process)",
                anju,
                prepare_cold=cold_cache,
                prepare_warm=warm_cache_on,
            ),
            benchlib.Tool("gdaldem slope (one-shot process)", gdal),
        ]
        # fill the warm cache once, untimed, so every warm run finds it whatever the order
        warm_cache_on()
        try:
            anju()
        except benchlib.CommandFailed:
            pass  # the timed runs fail the same way and the table says so
        samples = benchlib.measure(tools, runs=runs, cold_runs=cold_runs, progress=progress)
        check = benchlib.check_outputs(samples, compare_slopes)
        what = f"slope, file to file, {label} output on both sides, process start included"
        for mode in ("warm", "cold"):
            if mode == "cold" and not cold_runs:
                continue
            rows.append(
                benchlib.make_row(
                    f"slope one-shot, {label}",
                    what,
                    samples,
                    mode=mode,
                    anju=tools[0].name,
                    reference=tools[1].name,
                    check=check,
                    headline=headline and mode == "warm",
                    target="anju ≤ gdaldem (ratio ≤ 1)" if headline else None,
                    met=_met_ratio(samples, tools, mode) if headline else None,
                )
            )
    return rows


def _met_ratio(samples, tools, mode: str) -> bool | None:
    a, r = (benchlib.stats(s.cold_wall if mode == "cold" else s.wall)["median_s"]
            for s in (samples[tools[0].name], samples[tools[1].name]))  # fmt: skip
    if a is None or r is None:
        return None
    return a <= r


def in_memory_row(z: np.ndarray, runs: int, progress=None) -> dict:
    from geo.terrain import slope

    tools = [benchlib.Tool("anju slope (array in memory)", lambda: slope(z, cellsize=(30.0, 30.0)))]
    samples = benchlib.measure(tools, runs=runs, cold_runs=1, progress=progress)
    return benchlib.make_row(
        "slope in memory",
        "geo.terrain.slope on an array already in memory (no file, no reference tool; cold = "
        "first call in the process, numba cache load included)",
        samples,
        notes="not comparable with gdaldem (no I/O): no ratio",
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=None, help="DEM edge in cells (full: 4000)")
    ap.add_argument("--runs", type=int, default=None, help="warm runs per tool (full: 5)")
    ap.add_argument("--cold-runs", type=int, default=None, help="cold runs per tool")
    ap.add_argument("--quick", action="store_true", help="500 x 500, 2 runs, 1 cold run")
    ap.add_argument("--rows", type=Path, help="write the rows as JSON (for bench_all)")
    args = ap.parse_args(argv)
    size = args.size or (500 if args.quick else 4000)
    runs = args.runs or (2 if args.quick else 5)
    cold_runs = args.cold_runs if args.cold_runs is not None else (1 if args.quick else 2)

    def progress(msg: str) -> None:
        print(f"... {msg}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="anju_bench_terrain_") as tmp:
        tmpd = Path(tmp)
        src = tmpd / "dem.tif"
        z = synthetic_dem(size)
        write_dem(src, z)
        progress(f"DEM {size}x{size} float32, 30 m, EPSG:4545")
        rows = one_shot_rows(src, tmpd, runs, cold_runs, progress)
        rows.append(in_memory_row(z, runs, progress))
    for r in rows:
        r["what"] += f" ({size} x {size} float32 DEM)"
    benchlib.dump_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
