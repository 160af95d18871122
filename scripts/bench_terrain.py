"""Benchmark slope against ``gdaldem slope`` (file in, file out).

Full size (the figures quoted in reports)::

    python scripts/bench_terrain.py --size 4000

Smoke test (seconds)::

    python scripts/bench_terrain.py --size 300

Builds a synthetic DEM (spectral 1/f noise plus ridges, float32, 30 m cells,
EPSG:4545) in a temporary GeoTIFF, then times, in the same run:

* ``gdaldem slope`` as a subprocess (default output: striped, uncompressed),
  and again with the same creation options as ``slope_file`` (tiled, ZSTD
  level 1, compression on all cores);
* :func:`geo.terrain.slope_file` (file in, file out, block-wise), warm;
* :func:`geo.terrain.slope` on the array already in memory;

and prints their ratios, the largest absolute difference on interior cells,
and peak memory of ``slope_file`` and ``gdaldem``, each run in a child process
(its ``VmHWM``; ``ru_maxrss`` of a forked child inherits the parent's peak),
beside this process's own ``ru_maxrss``.

The machine's load matters: the ratios compare runs made seconds apart in one
process, so they hold better than the absolute times.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.terrain import slope, slope_file  # noqa: E402


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


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def run_child(cmd: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, its peak RSS in MB).

    ``ru_maxrss`` of a forked child inherits the parent's high-water mark, so
    the child's own ``VmHWM`` is polled from /proc instead (every 10 ms).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0.0
    while proc.poll() is None:
        hwm = _vm_hwm_mb(proc.pid)
        if hwm is not None:
            peak = max(peak, hwm)
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return wall, peak


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--size", type=int, default=500, help="DEM edge in cells (full benchmark: 4000)"
    )
    ap.add_argument("--block", type=int, default=1024, help="slope_file block size")
    ap.add_argument("--repeat", type=int, default=2, help="repetitions (best time reported)")
    ap.add_argument("--polygons", type=int, default=0, help="unused; accepted for a uniform CLI")
    args = ap.parse_args(argv)

    import rasterio

    with tempfile.TemporaryDirectory(prefix="anju_bench_terrain_") as tmp:
        tmpd = Path(tmp)
        src = tmpd / "dem.tif"
        t0 = time.perf_counter()
        z = synthetic_dem(args.size)
        write_dem(src, z)
        print(
            f"DEM {args.size}x{args.size} float32, 30 m, EPSG:4545 built in {time.perf_counter() - t0:.1f} s"
        )

        # Warm the numba cache on a tiny file so compile time is not timed.
        warm = tmpd / "warm.tif"
        write_dem(warm, z[:64, :64].copy())
        slope_file(str(warm), str(tmpd / "warm_out.tif"))

        gd_plain = tmpd / "gdal_plain.tif"
        gd_zstd = tmpd / "gdal_zstd.tif"
        ours = tmpd / "ours.tif"
        t_gd = best_of(
            lambda: subprocess.run(["gdaldem", "slope", "-q", str(src), str(gd_plain)], check=True),
            args.repeat,
        )
        co = [
            "-co",
            "TILED=YES",
            "-co",
            "COMPRESS=ZSTD",
            "-co",
            "ZSTD_LEVEL=1",
            "-co",
            "NUM_THREADS=ALL_CPUS",
        ]
        t_gdz = best_of(
            lambda: subprocess.run(
                ["gdaldem", "slope", "-q", *co, str(src), str(gd_zstd)], check=True
            ),
            args.repeat,
        )
        t_file = best_of(lambda: slope_file(str(src), str(ours), block=args.block), args.repeat)
        t_mem = best_of(lambda: slope(z, cellsize=(30.0, 30.0)), max(args.repeat, 3))

        with rasterio.open(gd_plain) as ds:
            ref = ds.read(1, masked=True).filled(np.nan).astype(np.float64)
        with rasterio.open(ours) as ds:
            got = ds.read(1, masked=True).filled(np.nan).astype(np.float64)
        mem = slope(z, cellsize=(30.0, 30.0)).astype(np.float64)
        inner = (slice(1, -1), slice(1, -1))
        diff_file = np.nanmax(np.abs(got[inner] - ref[inner]))
        diff_mem = np.nanmax(np.abs(mem[inner] - ref[inner]))
        same = np.array_equal(np.isnan(got[inner]), np.isnan(ref[inner]))

        # Peak memory, each in its own child process.
        code = (
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); from geo.terrain import slope_file; "
            f"slope_file({str(src)!r}, {str(tmpd / 'child.tif')!r}, block={args.block})"
        )
        t_child, rss_ours = run_child([sys.executable, "-c", code])
        _, rss_gd = run_child(["gdaldem", "slope", "-q", str(src), str(tmpd / "child_gd.tif")])
        sizes = {p.name: p.stat().st_size / 1e6 for p in (gd_plain, gd_zstd, ours)}

    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print()
    print(f"{'kernel':44s} {'seconds':>9s} {'vs gdaldem':>11s}")
    print("-" * 66)
    print(f"{'gdaldem slope (striped, uncompressed out)':44s} {t_gd:9.3f} {1.0:10.2f}x")
    print(f"{'gdaldem slope (tiled ZSTD out)':44s} {t_gdz:9.3f} {t_gd / t_gdz:10.2f}x")
    print(f"{'geo.terrain.slope_file (tiled ZSTD out)':44s} {t_file:9.3f} {t_gd / t_file:10.2f}x")
    print(f"{'geo.terrain.slope (in memory)':44s} {t_mem:9.3f} {t_gd / t_mem:10.2f}x")
    print(
        f"{'slope_file in a fresh process (incl. start)':44s} {t_child:9.3f} {t_gd / t_child:10.2f}x"
    )
    print("-" * 66)
    print("(ratio = gdaldem seconds / kernel seconds; > 1 means faster than gdaldem)")
    print(f"slope_file vs tiled-ZSTD gdaldem: {t_gdz / t_file:.2f}x")
    print(
        f"max |diff| interior vs gdaldem: slope_file {diff_file:.2e} deg, slope {diff_mem:.2e} deg; NaN pattern equal: {same}"
    )
    print(f"output sizes MB: {', '.join(f'{k} {v:.1f}' for k, v in sizes.items())}")
    print(
        f"peak RSS MB: slope_file child {rss_ours:.0f}, gdaldem child {rss_gd:.0f}, this process {self_rss:.0f}"
    )
    print(
        f"numba threads: {os.environ.get('NUMBA_NUM_THREADS', 'default')}, cpus: {os.cpu_count()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
