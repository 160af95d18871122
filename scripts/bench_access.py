"""Benchmark geo.access.travel_time against skimage's MCP_Geometric (and xarray-spatial).

Builds a synthetic speed surface: a fractal (1/f) DEM, slope in degrees,
Tobler walking speed off road, ~40 random straight roads at 12-60 km/h, a
meandering river barrier 3 cells wide, and ~30 sources (clinics). Then compares:

* ``travel_time`` (numba, ``cache=True``),
* ``skimage.graph.MCP_Geometric(cost, fully_connected=True).find_costs``,
* ``xrspatial.cost_distance`` if xarray-spatial is installed (float32 output).

by the rules of :mod:`scripts.benchlib`: the tools alternate, each runs the same number
of times on the same surface and sources, min / median / CPU time are reported, and every
tool's minutes are compared with every other's (max relative difference, same unreachable
cells). Cold = each tool's first call in this process (numba cache loaded from disk for
anju, its kernels compiled for xarray-spatial).

Full size (16 M cells)::

    python -m scripts.bench_access --size 4000 --runs 5

Quick::

    python -m scripts.bench_access --quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from geo.access import speed_surface, travel_time
from scripts import benchlib


def fractal_dem(n: int, *, seed: int, beta: float = 3.0, relief_m: float = 1500.0) -> np.ndarray:
    """Spectral-synthesis fractal surface, rescaled to ``relief_m`` of relief."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(n)[:, None]
    fx = np.fft.rfftfreq(n)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0
    amp = f ** (-beta / 2.0)
    amp[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, amp.shape)
    z = np.fft.irfft2(amp * np.exp(1j * phase), s=(n, n))
    z -= z.min()
    return z / z.max() * relief_m


def build_surface(n: int, *, cellsize: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Speed surface (km/h) and source mask for an ``n x n`` grid."""
    from skimage.draw import line

    rng = np.random.default_rng(seed)
    # relief grows with extent: 1500 m over 120 km (4000 cells of 30 m), median slope ~16 deg
    dem = fractal_dem(n, seed=seed, relief_m=1500.0 * (n / 4000) ** 0.5)
    gy, gx = np.gradient(dem, cellsize)
    slope_deg = np.degrees(np.arctan(np.hypot(gx, gy)))
    del gx, gy, dem
    road = np.zeros((n, n))
    for _ in range(40):
        r0, c0, r1, c1 = rng.integers(0, n, 4)
        rr, cc = line(r0, c0, r1, c1)
        road[rr, cc] = np.maximum(road[rr, cc], rng.choice([12.0, 20.0, 25.0, 40.0, 60.0]))
    rows = np.arange(n)
    river_c = (n / 2 + n / 6 * np.sin(rows / n * 6 * np.pi)).astype(int)
    barriers = np.zeros((n, n), dtype=bool)
    for w in (-1, 0, 1):
        barriers[rows, np.clip(river_c + w, 0, n - 1)] = True
    speed = speed_surface(
        slope_deg=slope_deg, road_raster_speed=road, barriers=barriers, cliff_slope_deg=60.0
    )
    src = np.zeros((n, n), dtype=bool)
    src[rng.integers(0, n, 30), rng.integers(0, n, 30)] = True
    speed[src] = np.where(speed[src] > 0, speed[src], 5.0)  # MCP cannot start on a barrier
    return speed, src


def compare_minutes(a, b) -> tuple[bool, str]:
    """Same unreachable cells, minutes within 1e-4 relative (xarray-spatial is float32)."""
    a = np.where(np.isinf(a), np.nan, np.asarray(a, np.float64))
    b = np.where(np.isinf(b), np.nan, np.asarray(b, np.float64))
    same_nan = np.array_equal(np.isnan(a), np.isnan(b))
    ok = np.isfinite(a) & np.isfinite(b) & (b > 0)
    rel = float(np.max(np.abs(a[ok] - b[ok]) / b[ok])) if ok.any() else 0.0
    note = f"max rel diff {rel:.2e}" + ("" if same_nan else "; unreachable cells differ")
    return bool(same_nan and rel <= 1e-4), note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, help="grid side in cells (full: 4000 = 16 M cells)")
    ap.add_argument("--cellsize", type=float, default=30.0, help="cell size in metres")
    ap.add_argument("--runs", type=int, help="warm runs per tool (full: 3)")
    ap.add_argument("--no-xrspatial", action="store_true", help="leave xarray-spatial out")
    ap.add_argument("--quick", action="store_true", help="600 x 600, 2 runs")
    ap.add_argument("--rows", type=Path, help="write the rows as JSON (for bench_all)")
    args = ap.parse_args(argv)
    n = args.size or (600 if args.quick else 4000)
    runs = args.runs or (2 if args.quick else 3)
    cs = args.cellsize

    def progress(msg: str) -> None:
        print(f"... {msg}", file=sys.stderr, flush=True)

    speed, src = build_surface(n, cellsize=cs)
    desc = (
        f"{n} x {n} = {n * n / 1e6:.1f} M cells, {int(src.sum())} sources, "
        f"{(speed <= 0).mean():.1%} barrier cells"
    )
    progress(desc)

    def run_mcp() -> np.ndarray:
        from skimage.graph import MCP_Geometric

        with np.errstate(divide="ignore"):
            cost = 60.0 / (1000.0 * speed)
        cost[~(speed > 0)] = np.inf
        m = MCP_Geometric(cost, fully_connected=True, sampling=(cs, cs))
        d, _ = m.find_costs([tuple(p) for p in np.argwhere(src)])
        return d

    def run_xrs() -> np.ndarray:
        import xarray as xr
        from xrspatial import cost_distance

        ys = (np.arange(n)[::-1] + 0.5) * cs
        xs = (np.arange(n) + 0.5) * cs
        with np.errstate(divide="ignore"):
            fr = np.where(speed > 0, 60.0 / (1000.0 * speed), np.nan)
        c = {"y": ys, "x": xs}
        ras = xr.DataArray(src.astype(np.float64), coords=c, dims=("y", "x"))
        fri = xr.DataArray(fr, coords=c, dims=("y", "x"))
        return np.asarray(cost_distance(ras, fri).values, dtype=np.float64)

    tools = [
        benchlib.Tool("anju travel_time", lambda: travel_time(speed, src, cellsize=cs)),
        benchlib.Tool("skimage MCP_Geometric", run_mcp),
    ]
    if not args.no_xrspatial:
        tools.append(benchlib.Tool("xarray-spatial cost_distance", run_xrs))
    samples = benchlib.measure(tools, runs=runs, cold_runs=1, progress=progress)
    check = benchlib.check_outputs(samples, compare_minutes)
    rows = []
    for ref, headline in (("skimage MCP_Geometric", True), ("xarray-spatial cost_distance", False)):
        if ref not in samples:
            continue
        pair = {k: samples[k] for k in ("anju travel_time", ref)}
        for mode in ("warm", "cold") if samples[ref].ok else ("warm",):
            rows.append(
                benchlib.make_row(
                    f"travel time vs {ref.split()[0]}",
                    f"minutes to the nearest source, 8-connected, in memory: {desc}",
                    pair,
                    mode=mode,
                    anju="anju travel_time",
                    reference=ref,
                    check=check,
                    headline=headline and mode == "warm",
                    notes="the three tools ran alternately in one schedule",
                )
            )
    benchlib.dump_rows(rows, args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
