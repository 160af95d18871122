"""Peak memory of block-wise slope and travel time against raster size (issue 18).

Usage::

    python -m scripts.bench_blocks --sizes 4096 8192 16384 --json /tmp/bench_blocks.json
    python -m scripts.bench_blocks --quick          # 1024 and 2048, seconds

For every size N it writes, tile by tile (the generator holds one 1024 x 1024 tile), an
N x N float32 DEM (a smooth random field: a sum of random plane waves, 30 m cells,
EPSG:4545) and an N x N speed raster (walking speed with winding roads and rivers with
fords), then runs, each in its own child process:

* ``slope``: :func:`geo.blocks.slope_blocks` (block 1024);
* ``travel``: :func:`geo.blocks.travel_time_blocks` (tile 1024) to 16 random sources;
* with ``--in-memory-max N``, for sizes up to N, the in-memory :func:`geo.terrain.slope`
  and :func:`geo.access.travel_time` on the same files, for contrast.

Each child's peak resident memory (``ru_maxrss`` from ``os.wait4``), wall time and CPU
time (user + system) are reported; block-wise peak memory must stay flat as N grows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CELL = 30.0
X0, Y0 = 500_000.0, 3_500_000.0
GEN_TILE = 1024


def _waves(rng: np.random.Generator, n: int, lmin: float, lmax: float) -> np.ndarray:
    """``n`` plane waves: (kx, ky, phase, amplitude) with wavelengths in [lmin, lmax] m."""
    lam = np.exp(rng.uniform(np.log(lmin), np.log(lmax), n))
    ang = rng.uniform(0, 2 * np.pi, n)
    k = 2 * np.pi / lam
    amp = lam / lam.max()  # longer waves higher: a smooth, red spectrum
    return np.stack([k * np.cos(ang), k * np.sin(ang), rng.uniform(0, 2 * np.pi, n), amp], 1)


def _field(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape))
    for kx, ky, ph, a in w:
        out += a * np.sin(kx * x + ky * y + ph)
    return out


def generate(folder: Path, n: int, seed: int = 18) -> tuple[Path, Path]:
    """Write ``dem.tif`` and ``speed.tif`` (n x n) tile by tile; return their paths."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    relief = _waves(rng, 10, 600.0, 40_000.0)
    roads = _waves(rng, 4, 8_000.0, 30_000.0)
    rivers = _waves(rng, 4, 10_000.0, 50_000.0)
    prof = {
        "driver": "GTiff",
        "height": n,
        "width": n,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4545",
        "transform": from_origin(X0, Y0, CELL, CELL),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "zstd",
        "zstd_level": 1,
        "BIGTIFF": "IF_SAFER",
        "nodata": -9999.0,
    }
    dem_p, spd_p = folder / "dem.tif", folder / "speed.tif"
    with rasterio.open(dem_p, "w", **prof) as dem, rasterio.open(spd_p, "w", **prof) as spd:
        for r0 in range(0, n, GEN_TILE):
            r1 = min(r0 + GEN_TILE, n)
            y = (Y0 - (np.arange(r0, r1) + 0.5) * CELL)[:, None]
            for c0 in range(0, n, GEN_TILE):
                c1 = min(c0 + GEN_TILE, n)
                x = (X0 + (np.arange(c0, c1) + 0.5) * CELL)[None, :]
                z = 1500.0 + 400.0 * _field(relief, x, y)
                walk = 2.0 + 3.0 * (0.5 + 0.5 * np.sin(z / 97.0))  # 2..5 km/h
                road = np.abs(_field(roads, x, y)) < 0.02
                river = np.abs(_field(rivers, x, y)) < 0.015
                ford = (np.floor(x / 3000.0) % 4 == 0) & (np.floor(y / 3000.0) % 4 == 0)
                speed = np.where(road, 40.0, walk)
                speed[river & ~ford & ~road] = 0.0
                win = Window(c0, r0, c1 - c0, r1 - r0)
                dem.write(z.astype("float32"), 1, window=win)
                spd.write(speed.astype("float32"), 1, window=win)
    return dem_p, spd_p


def _sources(n: int, seed: int = 5, k: int = 16) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(k, 2)).tolist()


CHILD = {
    "slope_blocks": (
        "from geo.blocks import slope_blocks; slope_blocks(a.dem, a.out, block=a.block)"
    ),
    "travel_blocks": (
        "import numpy as np; from geo.blocks import travel_time_blocks; "
        "print(json.dumps(travel_time_blocks(a.speed, np.array(a.sources), a.out, tile=a.block)))"
    ),
    "slope_in_memory": (
        "import rasterio; from geo.terrain import slope\n"
        "with rasterio.open(a.dem) as s: z = s.read(1, masked=True).filled(np.nan)\n"
        "r = slope(z, cellsize=30.0)"
    ),
    "travel_in_memory": (
        "import rasterio; from geo.access import travel_time\n"
        "with rasterio.open(a.speed) as s: v = s.read(1)\n"
        "m = np.zeros(v.shape, bool); src = np.array(a.sources); m[src[:, 0], src[:, 1]] = True\n"
        "r = travel_time(v, m, cellsize=30.0)"
    ),
}


def run_child(job: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run ``job`` in a fresh Python process; its peak RSS, wall and CPU time."""
    code = (
        f"import json, sys, types; import numpy as np; sys.path.insert(0, {str(ROOT)!r})\n"
        "a = types.SimpleNamespace(**json.loads(sys.argv[1]))\n"
    ) + CHILD[job]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = "", ""
    # read the pipes before reaping the child with wait4 (its rusage is the child's own)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    row: dict[str, Any] = {
        "job": job,
        "ok": proc.returncode == 0,
        "peak_rss_mb": round(ru.ru_maxrss / 1024.0, 1),  # Linux: kilobytes
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
    }
    if proc.returncode != 0:
        row["error"] = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
    elif out.strip():
        row["info"] = json.loads(out.strip().splitlines()[-1])
    return row


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; print one line per run; return (and optionally write) the report."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192, 16384])
    ap.add_argument("--quick", action="store_true", help="sizes 1024 and 2048")
    ap.add_argument("--block", type=int, default=1024, help="block / tile edge in cells")
    ap.add_argument("--jobs", nargs="+", default=["slope_blocks", "travel_blocks"])
    ap.add_argument("--in-memory-max", type=int, default=0, help="also run in memory up to N")
    ap.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temp)")
    ap.add_argument("--keep", action="store_true", help="keep the generated rasters")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    a = ap.parse_args(argv)
    sizes = [1024, 2048] if a.quick else a.sizes
    scratch = Path(tempfile.mkdtemp(prefix="bench_blocks_", dir=a.dir))
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "command": " ".join(
            [Path(sys.executable).name, "-m", "scripts.bench_blocks", *sys.argv[1:]]
        )
        if argv is None
        else "main(" + repr(argv) + ")",
        "cpus": os.cpu_count(),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS"),
        "block": a.block,
        "rows": rows,
    }
    try:
        for n in sizes:
            folder = scratch / str(n)
            folder.mkdir()
            t0 = time.perf_counter()
            dem, speed = generate(folder, n)
            gen_s = round(time.perf_counter() - t0, 1)
            size_mb = round((dem.stat().st_size + speed.stat().st_size) / 1e6, 1)
            print(f"{n} x {n}: inputs generated in {gen_s} s ({size_mb} MB on disk)", flush=True)
            jobs = list(a.jobs)
            if n <= a.in_memory_max:
                jobs += ["slope_in_memory", "travel_in_memory"]
            for job in jobs:
                args = {
                    "dem": str(dem),
                    "speed": str(speed),
                    "out": str(folder / f"{job}.tif"),
                    "block": a.block,
                    "sources": _sources(n),
                }
                row = {"size": n, "cells": n * n, **run_child(job, args)}
                rows.append(row)
                extra = f" {row['info']}" if "info" in row else ""
                print(
                    f"{n:>6} {job:<17} peak {row['peak_rss_mb']:>8.1f} MB  wall "
                    f"{row['wall_s']:>8.1f} s  cpu {row['cpu_s']:>8.1f} s"
                    + ("" if row["ok"] else f"  FAILED: {row.get('error')}")
                    + extra,
                    flush=True,
                )
                out = folder / f"{job}.tif"
                if out.exists():
                    out.unlink()
            if not a.keep:
                shutil.rmtree(folder)
            if a.json:
                a.json.write_text(json.dumps(report, indent=1))
    finally:
        if not a.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    if a.json:
        a.json.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
