"""Benchmark geo.access.travel_time against skimage's MCP_Geometric (and xarray-spatial).

Builds a synthetic speed surface: a fractal (1/f) DEM, slope in degrees,
Tobler walking speed off road, ~40 random straight roads at 12-60 km/h, a
meandering river barrier 3 cells wide, and ~30 sources (clinics). Then times:

* ``travel_time`` (numba; JIT compile time is measured separately on a tiny grid
  first; ``cache=True`` makes later processes skip it),
* ``skimage.graph.MCP_Geometric(cost, fully_connected=True).find_costs``,
* ``xrspatial.cost_distance`` if xarray-spatial is installed (float32 output).

and prints wall times, speed-up, the maximum relative difference to MCP and the
peak resident memory increase of each run (VmHWM from /proc, reset before each
run on Linux).

Full-size run (the acceptance figure, 16 M cells)::

    python scripts/bench_access.py --size 4000

Smoke test (default, a few seconds)::

    python scripts/bench_access.py
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np

from geo.access import speed_surface, travel_time


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


def _reset_peak() -> int:
    """Reset the peak RSS counter (Linux) and return current RSS in bytes."""
    try:  # hand freed heap pages back to the OS so a run cannot reuse them unseen
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    return _status_kb("VmRSS") * 1024


def _status_kb(key: str) -> int:
    try:
        with open(f"/proc/{os.getpid()}/status") as fh:
            for ln in fh:
                if ln.startswith(key + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def measure(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, float, float]:
    """Run ``fn`` once: result, wall seconds, CPU seconds, peak RSS increase in MB.

    CPU time is the fairer figure on a shared machine (other processes inflate
    wall time); both are printed.
    """
    base = _reset_peak()
    t0 = time.perf_counter()
    c0 = time.process_time()
    out = fn()
    cpu = time.process_time() - c0
    dt = time.perf_counter() - t0
    peak = _status_kb("VmHWM") * 1024
    return out, dt, cpu, max(peak - base, 0) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=800, help="grid side in cells (4000 = 16 M cells)")
    ap.add_argument("--cellsize", type=float, default=30.0, help="cell size in metres")
    ap.add_argument("--no-mcp", action="store_true", help="skip MCP_Geometric")
    ap.add_argument("--no-xrspatial", action="store_true", help="skip xarray-spatial")
    args = ap.parse_args()
    n, cs = args.size, args.cellsize

    t0 = time.perf_counter()
    travel_time(np.ones((3, 3)), np.eye(3, dtype=bool), cellsize=1.0)
    print(f"numba JIT compile / cache load: {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    speed, src = build_surface(n, cellsize=cs)
    print(
        f"grid {n} x {n} = {n * n / 1e6:.1f} M cells, {int(src.sum())} sources, "
        f"{(speed <= 0).mean():.1%} barrier cells; built in {time.perf_counter() - t0:.1f} s"
    )

    ours, t_ours, c_ours, m_ours = measure(lambda: travel_time(speed, src, cellsize=cs))
    print(
        f"anju travel_time       : {t_ours:7.2f} s wall, {c_ours:7.2f} s CPU, peak +{m_ours:6.0f} MB"
    )

    if not args.no_mcp:
        from skimage.graph import MCP_Geometric

        def run_mcp() -> np.ndarray:
            with np.errstate(divide="ignore"):
                cost = 60.0 / (1000.0 * speed)
            cost[~(speed > 0)] = np.inf
            m = MCP_Geometric(cost, fully_connected=True, sampling=(cs, cs))
            d, _ = m.find_costs([tuple(p) for p in np.argwhere(src)])
            return d

        ref, t_mcp, c_mcp, m_mcp = measure(run_mcp)
        ref[np.isinf(ref)] = np.nan
        ok = np.isfinite(ref) & (ref > 0)
        rel = np.max(np.abs(ours[ok] - ref[ok]) / ref[ok]) if ok.any() else 0.0
        same_nan = np.array_equal(np.isnan(ours), np.isnan(ref))
        print(
            f"skimage MCP_Geometric  : {t_mcp:7.2f} s wall, {c_mcp:7.2f} s CPU, peak +{m_mcp:6.0f} MB"
        )
        print(
            f"speed-up vs MCP        : {t_mcp / t_ours:7.2f} x wall, {c_mcp / c_ours:.2f} x CPU; "
            f"max rel diff {rel:.2e}; same unreachable cells: {same_nan}"
        )
        del ref

    if not args.no_xrspatial:
        try:
            import xarray as xr
            from xrspatial import cost_distance
        except ImportError as exc:
            print(f"xarray-spatial not available ({exc}); skipped")
        else:

            def run_xrs(sp: np.ndarray, sr: np.ndarray) -> np.ndarray:
                k = sp.shape[0]
                ys = (np.arange(k)[::-1] + 0.5) * cs
                xs = (np.arange(k) + 0.5) * cs
                with np.errstate(divide="ignore"):
                    fr = np.where(sp > 0, 60.0 / (1000.0 * sp), np.nan)
                c = {"y": ys, "x": xs}
                ras = xr.DataArray(sr.astype(np.float64), coords=c, dims=("y", "x"))
                fri = xr.DataArray(fr, coords=c, dims=("y", "x"))
                return np.asarray(cost_distance(ras, fri).values, dtype=np.float64)

            t0 = time.perf_counter()
            run_xrs(np.ones((10, 10)), np.eye(10, dtype=bool))  # compile its numba kernels
            print(f"xrspatial warm-up: {time.perf_counter() - t0:.2f} s")
            xrs, t_xrs, c_xrs, m_xrs = measure(lambda: run_xrs(speed, src))
            ok = np.isfinite(xrs) & np.isfinite(ours) & (ours > 0)
            rel = np.max(np.abs(xrs[ok] - ours[ok]) / ours[ok]) if ok.any() else 0.0
            print(
                f"xrspatial cost_distance: {t_xrs:7.2f} s wall, {c_xrs:7.2f} s CPU, peak +{m_xrs:6.0f} MB"
            )
            print(
                f"speed-up vs xrspatial  : {t_xrs / t_ours:7.2f} x wall, {c_xrs / c_ours:.2f} x CPU; "
                f"max rel diff {rel:.2e} (its output is float32)"
            )


if __name__ == "__main__":
    main()
