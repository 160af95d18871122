"""Benchmark: capacitated p-median, exact HiGHS (geo.siting.allocate) vs greedy vs spopt.

A random planar instance: villages and candidate sites scattered over a square county,
travel minutes = straight-line km x detour factor / speed; village sizes log-normal;
site capacities varied so that an average set of ``p`` sites holds ``--cap-ratio`` times
the demand (with capacities summing to 1.2 x demand over *all* 60 sites and p = 40, most
40-site sets could not hold everyone -- that instance would only measure the shortfall
path; the ratio is therefore stated per opened set).

Run (full size as in issue 6)::

    python -m scripts.bench_allocation --villages 3000 --sites 60 --p 40 --time-limit 120

Defaults are a small smoke run. spopt's ``PMedian`` supports facility capacities with
whole-client assignment, the same model as ours, so it is compared on the identical
capacitated instance (solved through PuLP with HiGHS, or CBC with ``--spopt-solver cbc``).
PuLP reports "Optimal" even when a solver stopped at its time limit: its status is
printed as PuLP gives it, not trusted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

from geo.siting import allocate, greedy_allocate


def make_instance(
    n_villages: int, n_sites: int, p: int, *, cap_ratio: float, seed: int, side_km: float = 60.0
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Random planar capacitated p-median instance (demand, sites, cost minutes)."""
    rng = np.random.default_rng(seed)
    xy_v = rng.uniform(0, side_km, (n_villages, 2))
    xy_s = rng.uniform(0, side_km, (n_sites, 2))
    dist_km = np.hypot(xy_v[:, None, 0] - xy_s[None, :, 0], xy_v[:, None, 1] - xy_s[None, :, 1])
    speed_kmh = rng.uniform(20, 40, n_sites)  # site on a better or worse road
    cost = np.round(dist_km * 1.4 / speed_kmh[None, :] * 60.0, 1)
    people = np.clip(np.round(rng.lognormal(np.log(120), 0.6, n_villages)), 10, 900).astype(
        np.int64
    )
    w = rng.uniform(0.6, 1.4, n_sites)
    cap = np.floor(w / w.mean() * people.sum() * cap_ratio / p).astype(np.int64)
    cap = np.maximum(cap, people.max())
    demand = pd.DataFrame(
        {"village_id": [f"V{i:05d}" for i in range(n_villages)], "people": people}
    )
    sites = pd.DataFrame({"site_id": [f"S{j:03d}" for j in range(n_sites)], "capacity_people": cap})
    return demand, sites, cost


def run_spopt(demand, sites, cost, p, *, time_limit, solver_name):
    """Solve the same capacitated instance with spopt's PMedian; None if spopt is missing."""
    try:
        import pulp
        from spopt.locate import PMedian
    except ImportError:
        return None
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = PMedian.from_cost_matrix(
            cost,
            demand["people"].to_numpy(),
            p_facilities=p,
            facility_capacities=sites["capacity_people"].to_numpy(),
        )
        t_build = time.perf_counter() - t0
        if solver_name == "cbc":
            solver = pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit)
        else:
            solver = pulp.HiGHS(msg=False, timeLimit=time_limit)
        try:
            model.solve(solver, results=False)
            status = pulp.LpStatus[model.problem.status]
        except RuntimeError as exc:  # spopt raises when PuLP's status is not "Optimal"
            status = f"not solved: {exc}"
    obj = model.problem.objective.value()
    return {
        "solver": f"spopt PMedian + PuLP {solver_name}",
        "build_s": round(t_build, 2),
        "time_s": round(time.perf_counter() - t0, 2),
        "pulp_status": status,
        "objective": None if obj is None else float(obj),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--villages", type=int, default=300)
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--p", type=int, default=12)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per solver")
    ap.add_argument("--mip-gap", type=float, default=1e-4)
    ap.add_argument(
        "--cap-ratio", type=float, default=1.2, help="capacity of an average p-site set / demand"
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-spopt", action="store_true")
    ap.add_argument("--spopt-solver", choices=["highs", "cbc"], default="highs")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    a = ap.parse_args(argv)

    demand, sites, cost = make_instance(
        a.villages, a.sites, a.p, cap_ratio=a.cap_ratio, seed=a.seed
    )
    out: dict = {
        "instance": {
            "villages": a.villages,
            "sites": a.sites,
            "p": a.p,
            "people": int(demand["people"].sum()),
            "capacity_total": int(sites["capacity_people"].sum()),
            "cap_ratio_per_p_sites": a.cap_ratio,
            "seed": a.seed,
        }
    }
    exact = allocate(demand, sites, cost, p=a.p, time_limit_s=a.time_limit, mip_gap=a.mip_gap)
    out["highs"] = {
        "time_s": round(exact.solve_s, 2),
        "status": exact.status,
        "mip_gap": exact.mip_gap,
        "objective": exact.objective,
        "unplaced_people": exact.unplaced_people,
        "open_sites": len(exact.open_sites),
    }
    greedy = greedy_allocate(demand, sites, cost, p=a.p)
    out["greedy"] = {
        "time_s": round(greedy.solve_s, 3),
        "objective": greedy.objective,
        "unplaced_people": greedy.unplaced_people,
        "worse_pct": round(100 * (greedy.objective / exact.objective - 1), 2)
        if exact.objective
        else None,
    }
    if not a.no_spopt:
        sp = run_spopt(
            demand, sites, cost, a.p, time_limit=a.time_limit, solver_name=a.spopt_solver
        )
        if sp is None:
            out["spopt"] = "not installed"
        else:
            if sp["objective"] and exact.objective:
                sp["vs_highs_pct"] = round(100 * (sp["objective"] / exact.objective - 1), 3)
            out["spopt"] = sp
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            print(f"{k:9s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
