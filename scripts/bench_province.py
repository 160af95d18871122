"""Benchmark a province run: wall time per number of counties, --jobs 1 vs 2, peak memory.

Usage::

    python -m scripts.bench_province --counties 1,2,3 --jobs 1,2 --json OUT.json
    python -m scripts.bench_province --counties 3 --jobs 1,2 --runner batch --scale 1

One synthetic province (``scripts.make_province``) with the largest number of counties is
generated once; each measurement runs the first ``k`` counties through the real command line
(``anju province run``, or ``anju batch`` with ``--runner batch``) in a subprocess (the
fastest of ``--repeat`` runs counts), with
``--no-history``, while psutil samples the resident memory of every process of that
subprocess's tree (client, nanny and worker processes) every 0.1 s; the workers' own peak
(``ru_maxrss``, from ``run.json``) is folded in where the runner reports it.

Reported (stdout, and ``--json``): wall seconds for every (jobs, counties); per jobs the
least-squares slope (seconds per county) and intercept (start-up) of wall time against the
number of counties; the speed-up ``wall(jobs=1) / wall(jobs=J)`` at each count; the peak RSS
of every process (MB) and the largest; the load average before and after each run (the
machine may be shared: a busy machine slows the parallel runs most).
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
import psutil

from scripts.make_province import generate_province

__all__ = ["main", "measure"]

ROOT = Path(__file__).resolve().parent.parent


def _ints(text: str) -> list[int]:
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 1,2,3, found {text!r}"
        ) from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, found {text!r}")
    return vals


def _subset(manifest: Path, k: int, work: Path, runner: str) -> Path:
    """A manifest (province) or a folder of workspaces (batch) with the first ``k`` counties."""
    import tomllib

    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    counties = data["counties"][:k]
    if runner == "batch":
        folder = work / f"batch_{k}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for c in counties:
            (folder / c["adcode"]).symlink_to((manifest.parent / c["workspace"]).resolve())
        return folder
    p = manifest.parent / f"province_{k}.toml"
    lines = [
        "[province]",
        f'name = "{data["province"]["name"]}"',
        f'adcode = "{data["province"]["adcode"]}"',
        "",
    ]
    for c in counties:
        lines += [
            "[[counties]]",
            f'name = "{c["name"]}"',
            f'adcode = "{c["adcode"]}"',
            f'workspace = "{c["workspace"]}"',
            "",
        ]
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def measure(cmd: list[str], *, interval_s: float = 0.1) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, exit code and the peak RSS of every process of its tree.

    Parameters
    ----------
    cmd
        The command.
    interval_s
        Sampling interval of the memory of the process tree.

    Returns
    -------
    dict
        ``wall_s``, ``returncode``, ``processes`` (pid → {name, peak_rss_mb}), ``stdout``,
        ``stderr`` and the load averages ``load_before`` / ``load_after``.
    """
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peaks: dict[int, dict[str, Any]] = {}
    top = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            procs = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                rss = p.memory_info().rss / 2**20
                name = " ".join(p.cmdline()[:4])[-80:]
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            cur = peaks.setdefault(p.pid, {"name": name, "peak_rss_mb": 0.0})
            cur["peak_rss_mb"] = round(max(cur["peak_rss_mb"], rss), 1)
        time.sleep(interval_s)
    out, err = proc.communicate()
    return {
        "wall_s": round(time.perf_counter() - t0, 3),
        "returncode": proc.returncode,
        "processes": peaks,
        "stdout": out,
        "stderr": err,
        "load_before": [round(v, 2) for v in load0],
        "load_after": [round(v, 2) for v in os.getloadavg()],
    }


def _fit(xs: list[int], ys: list[float]) -> dict[str, float | None]:
    if len(set(xs)) < 2:
        return {"slope_s_per_county": None, "intercept_s": None}
    slope, intercept = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return {"slope_s_per_county": round(float(slope), 3), "intercept_s": round(float(intercept), 3)}


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description="Benchmark anju province runs.")
    ap.add_argument("--counties", type=_ints, default=[1, 2, 3], help="e.g. 1,2,3")
    ap.add_argument("--jobs", type=_ints, default=[1, 2], help="e.g. 1,2")
    ap.add_argument("--json", dest="json_out", default=None, help="write the results here")
    ap.add_argument("--scale", type=float, default=0.25, help="size of each county (1 = demo)")
    ap.add_argument("--runner", choices=("province", "batch"), default="province")
    ap.add_argument("--workdir", default=None, help="keep the generated province here")
    ap.add_argument("--seed", type=int, default=2017)
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each (jobs, counties); the fastest counts (a shared machine is noisy)",
    )
    args = ap.parse_args(argv)

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="anju_prov_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest = generate_province(
        work / "province",
        counties=max(args.counties),
        scale=args.scale,
        seed=args.seed,
        jobs=min(2, max(args.jobs)),
    )
    gen_s = round(time.perf_counter() - t0, 2)
    print(
        f"generated {max(args.counties)} counties (scale {args.scale:g}) in {gen_s} s: {manifest}"
    )
    anju = [sys.executable, "-m", "scripts.cli"]
    # warm-up: numba's on-disk cache and the OS file cache, so the first measurement is fair
    warm = _subset(manifest, 1, work, args.runner)
    warm_cmd = (
        [*anju, "province", "run", str(warm), "--out", str(work / "warm"), "--no-history"]
        if args.runner == "province"
        else [*anju, "batch", str(warm), "--out", str(work / "warm"), "--no-history"]
    )
    measure(warm_cmd)
    runs = []
    failed = False
    for jobs in args.jobs:
        for k in args.counties:
            src = _subset(manifest, k, work, args.runner)
            out = work / f"out_j{jobs}_k{k}"
            shutil.rmtree(out, ignore_errors=True)
            sub = "province" if args.runner == "province" else "batch"
            cmd = [*anju, *([sub, "run"] if sub == "province" else [sub])]
            cmd += [str(src), "--out", str(out), "--jobs", str(jobs), "--no-history"]
            tries = [measure(cmd) for _ in range(max(1, args.repeat))]
            r = min(tries, key=lambda t: (t["returncode"] != 0, t["wall_s"]))
            r["all_wall_s"] = [t["wall_s"] for t in tries]
            worker_peaks = {}
            run_json = out / "province" / "run.json"
            if run_json.is_file():
                info = json.loads(run_json.read_text(encoding="utf-8"))
                worker_peaks = {
                    str(c["pid"]): c.get("peak_rss_mb")
                    for c in info["counties"]
                    if c.get("pid") is not None
                }
            peak = max(
                [p["peak_rss_mb"] for p in r["processes"].values()]
                + [v for v in worker_peaks.values() if v is not None],
                default=0.0,
            )
            rec = {
                "runner": args.runner,
                "jobs": jobs,
                "counties": k,
                "wall_s": r["wall_s"],
                "all_wall_s": r["all_wall_s"],
                "returncode": r["returncode"],
                "peak_rss_mb_max": round(peak, 1),
                "processes": {str(pid): v for pid, v in r["processes"].items()},
                "worker_peak_rss_mb": worker_peaks,
                "load_before": r["load_before"],
                "load_after": r["load_after"],
            }
            if r["returncode"] != 0:
                failed = True
                rec["stderr"] = r["stderr"][-2000:]
            runs.append(rec)
            print(
                f"jobs {jobs} counties {k}: {r['wall_s']:.1f} s, exit {r['returncode']}, "
                f"peak RSS of any process {peak:.0f} MB, load {r['load_before'][0]:.1f}"
                f"→{r['load_after'][0]:.1f}"
            )
    fits = {}
    for jobs in args.jobs:
        pts = [(r["counties"], r["wall_s"]) for r in runs if r["jobs"] == jobs]
        fits[str(jobs)] = _fit([p[0] for p in pts], [p[1] for p in pts])
    speedup = {}
    base = {r["counties"]: r["wall_s"] for r in runs if r["jobs"] == 1}
    for r in runs:
        if r["jobs"] != 1 and r["counties"] in base:
            speedup[f"jobs{r['jobs']}_counties{r['counties']}"] = round(
                base[r["counties"]] / r["wall_s"], 3
            )
    result = {
        "runner": args.runner,
        "scale": args.scale,
        "cores": psutil.cpu_count(logical=True),
        "generate_s": gen_s,
        "runs": runs,
        "fit": fits,
        "speedup_vs_jobs1": speedup,
        "peak_rss_mb_any_process": max((r["peak_rss_mb_max"] for r in runs), default=None),
    }
    for jobs, f in fits.items():
        if f["slope_s_per_county"] is not None:
            print(
                f"jobs {jobs}: {f['slope_s_per_county']:.2f} s per county "
                f"(+ {f['intercept_s']:.1f} s start-up)"
            )
    for k, v in speedup.items():
        print(f"speed-up {k}: {v:.2f}x")
    print(f"peak RSS of any process: {result['peak_rss_mb_any_process']} MB")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
