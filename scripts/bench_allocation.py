"""Benchmark: the allocation model, anju (exact and heuristic) vs spopt, PuLP + CBC, HiGHS.

Every tool solves the *same* model on the *same* instance, with the same time limit, and
every answer is re-evaluated here (objective, capacities, minimum occupancies, allowed
pairs) from the assignment it returns, so the objectives compare like for like:

* ``cflp``: capacitated facility location as :func:`geo.siting.allocate` states it (opening
  cost per generated site, minimum occupancy, whole villages, travel limit, no p);
* ``pmedian``: the capacitated p-median (no opening cost, no minimum occupancy, p sites
  with the locked ones among them), the closest model spopt offers (``PMedian`` with
  ``facility_capacities`` and ``predefined_facilities_arr``), so spopt enters here only.

Tools (run in turn, their order reversed on every other repetition so that a slow spell of
the machine does not always fall on the same tool; each run is timed from a cold start,
model building included):

* ``anju exact``: :func:`geo.siting.allocate` (HiGHS, local-search warm start), gap 0 asked;
* ``anju heuristic``: :func:`geo.siting.allocate_heuristic` (its own time budget, ~1 s);
* ``highs direct``: the same compact model written straight to highspy, HiGHS defaults;
* ``pulp cbc``: the same compact model in PuLP, solved by the CBC that ships with PuLP;
  PuLP calls a time-limited CBC run "Optimal": the status shown is CBC's own (read from
  PuLP's ``sol_status``) and the gap is read from CBC's log;
* ``spopt``: spopt's ``PMedian`` solved by CBC (pmedian only). spopt has no notion of a
  forbidden pair: those get a cost 10x the largest allowed one (flagged if used).

Instances: ``synthetic`` (3,000 villages x 60 sites, p = 40, planar, seeded) and ``demo``
(the committed demo workspace run through ``anju run``; the allocation call of the pipeline
is captured, so this is exactly the model the plan solves).

Timing follows :mod:`scripts.benchlib`: the tools alternate (order reversed every other
repetition), each runs ``--repeat`` times (at least 3 for the table), min / median wall and
CPU time (the worker process and its CBC children) are reported, and the time ratio is
anju exact / **HiGHS direct** (the same model handed straight to the same solver), with
PuLP + CBC as the second reference; anju's own heuristic is shown, never used as the baseline.
Every run is a fresh Python process (cold: imports and model building included).

Run (about 15 minutes with the defaults)::

    python -m scripts.bench_allocation --instances demo,synthetic --time-limit 60 --repeat 3

``--json`` prints one JSON object instead of the table; ``--cache FILE`` keeps the demo
instance between runs (the pipeline takes about half a minute).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import highspy
import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo import siting
from geo.siting import allocate, allocate_heuristic
from scripts import benchlib

ROOT = Path(__file__).resolve().parents[1]
#: Profile defaults (data/policies/national.toml [suitability]) used for the synthetic cflp.
OPENING_COST = 5000.0
MIN_OCCUPANCY = 50


def make_instance(
    n_villages: int, n_sites: int, p: int, *, cap_ratio: float, seed: int, side_km: float = 60.0
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Random planar capacitated p-median instance (demand, sites, cost minutes).

    Villages and sites scattered over a square county; minutes = straight-line km x 1.4 /
    a speed per site (20-40 km/h); village sizes log-normal (median 120, 10-900); site
    capacities varied so that an average set of ``p`` sites holds ``cap_ratio`` times the
    demand.
    """
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


@dataclass
class Instance:
    """An allocation problem as :func:`geo.siting.allocate` takes it."""

    name: str
    demand: pd.DataFrame
    sites: pd.DataFrame
    cost: np.ndarray
    model: dict = field(default_factory=dict)  # p, max_return_min, ... keyword arguments


def demo_instance(workspace: Path | None = None, *, cache: Path | None = None) -> Instance:
    """The allocation the pipeline solves on ``workspace`` (default: the committed demo).

    Runs ``anju run`` into a temporary directory and captures the arguments of its
    :func:`geo.siting.allocate` call.
    """
    if cache is not None and cache.exists():
        try:
            with open(cache, "rb") as fh:
                data = pickle.load(fh)
        except (OSError, EOFError, AttributeError, pickle.UnpicklingError):
            data = None  # unreadable or from another version: rebuilt below
        if isinstance(data, dict) and set(data) == {"demand", "sites", "cost", "model"}:
            return Instance("demo", **data)
    from scripts.pipeline import run_pipeline

    captured: dict = {}
    real = siting.allocate

    def spy(demand, sites, cost_min, **kw):
        captured.update(demand=demand.copy(), sites=sites.copy(), cost=np.array(cost_min), kw=kw)
        return real(demand, sites, cost_min, **kw)

    siting.allocate = spy  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_pipeline(workspace or ROOT / "data" / "demo", Path(tmp) / "plan", progress=False)
    finally:
        siting.allocate = real  # type: ignore[assignment]
    keys = ("p", "max_return_min", "township_penalty_min", "split", "opening_cost", "min_occupancy")
    model = {k: captured["kw"][k] for k in keys if k in captured["kw"]}
    inst = Instance("demo", captured["demand"], captured["sites"], captured["cost"], model)
    if cache is not None:  # plain data: readable whichever way this module was started
        with open(cache, "wb") as fh:
            pickle.dump({k: getattr(inst, k) for k in ("demand", "sites", "cost", "model")}, fh)
    return inst


def synthetic_instance(n_villages: int = 3000, n_sites: int = 60, p: int = 40) -> Instance:
    demand, sites, cost = make_instance(n_villages, n_sites, p, cap_ratio=1.2, seed=1)
    return Instance(f"synthetic {n_villages}x{n_sites}", demand, sites, cost, {"p": p})


@dataclass
class Reduced:
    """One model, in arrays every tool reads: the villages that enter the optimisation."""

    q: np.ndarray  # people (n,)
    c: np.ndarray  # per-person minutes incl. township penalty (n, m); inf = forbidden
    cap: np.ndarray
    f: np.ndarray  # opening cost
    mo: np.ndarray  # minimum occupancy (0 for locked)
    locked: np.ndarray
    p: int | None
    vid: np.ndarray
    sid: np.ndarray

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict]:
        """The same model as inputs of :func:`geo.siting.allocate`."""
        demand = pd.DataFrame({"village_id": self.vid, "people": self.q})
        sites = pd.DataFrame(
            {"site_id": self.sid, "capacity_people": self.cap, "locked": self.locked}
        )
        cost = np.where(np.isfinite(self.c), self.c, np.nan)
        kw = {"p": self.p, "opening_cost": self.f, "min_occupancy": self.mo}
        return demand, sites, cost, kw


def reduce(inst: Instance, variant: str, *, p: int | None = None) -> Reduced:
    """The ``cflp`` or ``pmedian`` model of an instance, villages excluded up front removed."""
    kw = dict(inst.model)
    if variant == "pmedian":
        kw.update(opening_cost=0.0, min_occupancy=0.0, p=p if p is not None else kw.get("p"))
    else:
        kw.setdefault("opening_cost", OPENING_COST)
        kw.setdefault("min_occupancy", MIN_OCCUPANCY)
        kw["p"] = None
    kw.pop("split", None)
    kw.setdefault("max_return_min", None)
    kw.setdefault("township_penalty_min", 0.0)
    # the model exactly as allocate prepares it (exclusions, township penalty, limits)
    pb = siting._prepare(inst.demand, inst.sites, inst.cost, split=False, **kw)
    act = np.flatnonzero(pb.active)
    c = np.where(pb.allowed[act], pb.cost[act], np.inf)
    return Reduced(
        q=pb.people[act].astype(np.int64),
        c=c,
        cap=pb.cap.astype(np.int64),
        f=pb.fcost.copy(),
        mo=np.where(pb.can_open, pb.minocc, pb.cap + 1).astype(np.int64),
        locked=pb.locked.copy(),
        p=pb.p,
        vid=pb.vid[act],
        sid=pb.sid,
    )


def evaluate(rm: Reduced, site_of: np.ndarray, open_mask: np.ndarray | None = None) -> dict:
    """Objective and feasibility of an assignment (site column per village, -1 = none)."""
    n, m = rm.c.shape
    placed = site_of >= 0
    load = np.bincount(site_of[placed], weights=rm.q[placed], minlength=m)
    is_open = (load > 0) | rm.locked
    if open_mask is not None:
        is_open |= open_mask
    travel = float((rm.q[placed] * rm.c[np.flatnonzero(placed), site_of[placed]]).sum())
    problems = []
    if not np.all(placed):
        problems.append(f"{int((~placed).sum())} villages not placed")
    if not np.isfinite(travel):
        problems.append("a forbidden pair is used")
    if np.any(load > rm.cap + 1e-6):
        problems.append("capacity exceeded")
    short = is_open & ~rm.locked & (load < rm.mo - 1e-6)
    if np.any(short):
        problems.append(f"{int(short.sum())} open sites below minimum occupancy")
    if rm.p is not None and int(is_open.sum()) != rm.p:
        problems.append(f"{int(is_open.sum())} sites open, p = {rm.p}")
    return {
        "objective": travel + float(rm.f[is_open].sum()),
        "open_sites": int(is_open.sum()),
        "feasible": not problems,
        "problems": "; ".join(problems),
    }


def _site_of(rm: Reduced, res: siting.AllocationResult) -> np.ndarray:
    col = {s: j for j, s in enumerate(rm.sid)}
    row = {v: i for i, v in enumerate(rm.vid)}
    out = -np.ones(len(rm.vid), dtype=np.int64)
    for v, s in zip(res.assignments["village_id"], res.assignments["site_id"], strict=True):
        out[row[v]] = col[s]
    return out


def run_anju_exact(rm: Reduced, time_limit: float) -> dict:
    t0 = time.perf_counter()
    demand, sites, cost, kw = rm.frames()
    res = allocate(demand, sites, cost, time_limit_s=time_limit, mip_gap=0.0, **kw)
    wall = time.perf_counter() - t0
    ev = evaluate(rm, _site_of(rm, res), res.site_load["open"].to_numpy())
    return {**ev, "status": res.status, "gap": res.mip_gap, "wall_s": wall}


def run_anju_heuristic(rm: Reduced, time_limit: float) -> dict:
    t0 = time.perf_counter()
    demand, sites, cost, kw = rm.frames()
    res = allocate_heuristic(demand, sites, cost, **kw)
    wall = time.perf_counter() - t0
    ev = evaluate(rm, _site_of(rm, res), res.site_load["open"].to_numpy())
    return {**ev, "status": res.status, "gap": res.mip_gap, "wall_s": wall}


def _pairs(rm: Reduced) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(rm.c) & (rm.q[:, None] <= rm.cap[None, :])
    return np.nonzero(ok)


def run_highs_direct(rm: Reduced, time_limit: float) -> dict:
    """The compact model straight into highspy: x binary per allowed pair, y per site."""
    t0 = time.perf_counter()
    ii, jj = _pairs(rm)
    n, m = rm.c.shape
    k = len(ii)
    q = rm.q.astype(float)
    cost = np.concatenate([q[ii] * rm.c[ii, jj], rm.f])
    lower = np.concatenate([np.zeros(k), rm.locked.astype(float)])
    upper = np.concatenate([np.ones(k), np.where(rm.locked | (rm.mo <= rm.cap), 1.0, 0.0)])
    blocks = [
        # each village once
        (ii, np.arange(k), np.ones(k), np.ones(n), np.ones(n)),
        # capacity: sum q x - cap y <= 0
        (
            np.concatenate([jj, np.arange(m)]),
            np.concatenate([np.arange(k), k + np.arange(m)]),
            np.concatenate([q[ii], -rm.cap.astype(float)]),
            np.full(m, -np.inf),
            np.zeros(m),
        ),
        # minimum occupancy: sum q x - mo y >= 0
        (
            np.concatenate([jj, np.arange(m)]),
            np.concatenate([np.arange(k), k + np.arange(m)]),
            np.concatenate([q[ii], -np.where(rm.locked, 0, rm.mo).astype(float)]),
            np.zeros(m),
            np.full(m, np.inf),
        ),
        # x <= y
        (
            np.concatenate([np.arange(k), np.arange(k)]),
            np.concatenate([np.arange(k), k + jj]),
            np.concatenate([np.ones(k), -np.ones(k)]),
            np.full(k, -np.inf),
            np.zeros(k),
        ),
    ]
    if rm.p is not None:
        blocks.append(
            (np.zeros(m, int), k + np.arange(m), np.ones(m), np.array([rm.p]), np.array([rm.p]))
        )
    rows, cols, vals, lo, hi = [], [], [], [], []
    r0 = 0
    for r, c, v, lo_b, hi_b in blocks:
        rows.append(r + r0)
        cols.append(c)
        vals.append(v)
        lo.append(lo_b)
        hi.append(hi_b)
        r0 += len(lo_b)
    a = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, k + m)
    )
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    inf = highspy.kHighsInf
    h.addVars(k + m, lower, upper)
    h.changeColsCost(k + m, np.arange(k + m, dtype=np.int32), cost)
    h.changeColsIntegrality(
        k + m,
        np.arange(k + m, dtype=np.int32),
        np.array([highspy.HighsVarType.kInteger] * (k + m)),
    )
    ar = a.tocsr()
    h.addRows(
        r0,
        np.where(np.isinf(np.concatenate(lo)), -inf, np.concatenate(lo)),
        np.where(np.isinf(np.concatenate(hi)), inf, np.concatenate(hi)),
        ar.nnz,
        ar.indptr[:-1].astype(np.int32),
        ar.indices.astype(np.int32),
        ar.data,
    )
    h.run()
    wall = time.perf_counter() - t0
    info = h.getInfo()
    status = h.modelStatusToString(h.getModelStatus())
    if info.primal_solution_status != 2:
        return {
            "objective": math.nan,
            "feasible": False,
            "status": status,
            "gap": math.inf,
            "wall_s": wall,
            "problems": "no solution",
            "open_sites": 0,
        }
    x = np.asarray(h.getSolution().col_value)
    site_of = -np.ones(n, dtype=np.int64)
    on = x[:k] > 0.5
    site_of[ii[on]] = jj[on]
    ev = evaluate(rm, site_of, x[k:] > 0.5)
    return {**ev, "status": status, "gap": float(info.mip_gap), "wall_s": wall}


_CBC_GAP = re.compile(r"Gap:\s+([-+0-9.eE]+)")


def _cbc_gap(log: Path) -> float:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return math.nan
    m = _CBC_GAP.findall(text)
    if m:
        return float(m[-1])
    return 0.0 if "Result - Optimal solution found" in text else math.nan


def _cbc(time_limit: float, log: Path):
    import pulp

    return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit, gapRel=0.0, logPath=str(log))


def _pulp_status(prob) -> str:
    import pulp

    # PuLP's status says "Optimal" for a time-limited CBC run; sol_status does not
    return {
        pulp.LpSolutionOptimal: "optimal",
        pulp.LpSolutionIntegerFeasible: "feasible (stopped)",
        pulp.LpSolutionInfeasible: "infeasible",
        pulp.LpSolutionNoSolutionFound: "no solution",
    }.get(prob.sol_status, f"sol_status {prob.sol_status}")


def run_pulp_cbc(rm: Reduced, time_limit: float) -> dict:
    """The compact model in PuLP, CBC."""
    import pulp

    t0 = time.perf_counter()
    ii, jj = _pairs(rm)
    n, m = rm.c.shape
    prob = pulp.LpProblem("cflp", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{k}", cat="Binary") for k in range(len(ii))]
    can = rm.locked | (rm.mo <= rm.cap)
    y = [
        # "Integer" with 0/1 bounds: PuLP resets the bounds of a "Binary" to 0..1, which
        # would free the locked sites
        pulp.LpVariable(f"y{j}", lowBound=int(rm.locked[j]), upBound=int(can[j]), cat="Integer")
        for j in range(m)
    ]
    q = rm.q.astype(float)
    prob += pulp.lpSum(
        [float(q[i] * rm.c[i, j]) * x[k] for k, (i, j) in enumerate(zip(ii, jj, strict=True))]
        + [float(rm.f[j]) * y[j] for j in range(m)]
    )
    by_i: list[list[int]] = [[] for _ in range(n)]
    by_j: list[list[int]] = [[] for _ in range(m)]
    for k, (i, j) in enumerate(zip(ii, jj, strict=True)):
        by_i[i].append(k)
        by_j[j].append(k)
    for i in range(n):
        prob += pulp.lpSum(x[k] for k in by_i[i]) == 1
    for j in range(m):
        load = pulp.lpSum(float(q[ii[k]]) * x[k] for k in by_j[j])
        prob += load <= float(rm.cap[j]) * y[j]
        if rm.mo[j] > 0 and not rm.locked[j]:
            prob += load >= float(rm.mo[j]) * y[j]
        for k in by_j[j]:
            prob += x[k] <= y[j]
    if rm.p is not None:
        prob += pulp.lpSum(y) == rm.p
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cbc.log"
        prob.solve(_cbc(time_limit, log))
        gap = _cbc_gap(log)
    wall = time.perf_counter() - t0
    site_of = -np.ones(n, dtype=np.int64)
    for k, (i, j) in enumerate(zip(ii, jj, strict=True)):
        if (x[k].value() or 0.0) > 0.5:
            site_of[i] = j
    ev = evaluate(rm, site_of, np.array([(v.value() or 0.0) > 0.5 for v in y]))
    return {**ev, "status": _pulp_status(prob), "gap": gap, "wall_s": wall}


def run_spopt(rm: Reduced, time_limit: float) -> dict:
    """spopt's capacitated PMedian (pmedian only); forbidden pairs at 10x the largest cost."""
    try:
        from spopt.locate import PMedian
    except ImportError:
        return {
            "status": "spopt not installed",
            "objective": math.nan,
            "feasible": False,
            "gap": math.nan,
            "wall_s": math.nan,
            "problems": "",
            "open_sites": 0,
        }
    assert rm.p is not None
    t0 = time.perf_counter()
    fin = rm.c[np.isfinite(rm.c)]
    c = np.where(np.isfinite(rm.c), rm.c, 10.0 * fin.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = PMedian.from_cost_matrix(
            c,
            rm.q.astype(float),
            p_facilities=rm.p,
            facility_capacities=rm.cap.astype(float),
            predefined_facilities_arr=np.flatnonzero(rm.locked) if rm.locked.any() else None,
        )
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "cbc.log"
            try:
                model.solve(_cbc(time_limit, log), results=False)
            except RuntimeError as exc:  # spopt raises when PuLP's status is not "Optimal"
                return {
                    "status": f"not solved: {exc}",
                    "objective": math.nan,
                    "feasible": False,
                    "gap": math.nan,
                    "problems": "",
                    "wall_s": time.perf_counter() - t0,
                    "open_sites": 0,
                }
            gap = _cbc_gap(log)
    wall = time.perf_counter() - t0
    z = np.vectorize(lambda v: (v.value() or 0.0) > 0.5)(model.cli_assgn_vars)
    site_of = np.where(z.any(axis=1), z.argmax(axis=1), -1)
    y = np.array([(v.value() or 0.0) > 0.5 for v in model.fac_vars])
    ev = evaluate(rm, site_of, y)
    return {**ev, "status": _pulp_status(model.problem), "gap": gap, "wall_s": wall}


TOOLS = {
    "anju exact": run_anju_exact,
    "anju heuristic": run_anju_heuristic,
    "highs direct": run_highs_direct,
    "pulp cbc": run_pulp_cbc,
    "spopt": run_spopt,
}


def _failed(status: str, wall: float) -> dict:
    return {"objective": math.nan, "feasible": False, "status": status, "gap": math.nan,
            "wall_s": wall, "problems": "no answer", "open_sites": 0}  # fmt: skip


def run_isolated(tool: str, rm: Reduced, time_limit: float, hard_limit: float) -> dict:
    """One run in a fresh Python process (a cold start: nothing cached from other runs),
    killed with its solver child processes if it outlives ``hard_limit`` seconds (CBC does
    not check its time limit while it works on the root node of a large model)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.pkl", Path(tmp) / "out.json"
        with open(src, "wb") as fh:
            pickle.dump((tool, rm, time_limit), fh)
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "scripts.bench_allocation", "--worker", str(src), str(dst)],
            cwd=ROOT,
            start_new_session=True,  # its own process group, so CBC goes with it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _, err = proc.communicate(timeout=hard_limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return _failed(f"killed after {hard_limit:.0f} s", time.perf_counter() - t0)
        if proc.returncode != 0 or not dst.exists():
            tail = err.decode(errors="replace").strip().splitlines()[-1:] if err else []
            return _failed(f"crashed: {' '.join(tail)}", time.perf_counter() - t0)
        return json.loads(dst.read_text())


def _worker(src: Path, dst: Path) -> int:
    with open(src, "rb") as fh:
        tool, rm, time_limit = pickle.load(fh)
    for mod in ("pulp", "spopt.locate"):  # imported before the clock starts, as highspy is
        try:
            __import__(mod)
        except ImportError:
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, cpu, r = benchlib.timed(lambda: TOOLS[tool](rm, time_limit))
    r["cpu_s"] = cpu
    dst.write_text(json.dumps(r, default=float))
    return 0


def bench(
    instances: list[Instance],
    *,
    time_limit: float,
    repeat: int = 1,
    tools: list[str] | None = None,
    progress=None,
    isolate: bool = True,
) -> list[dict]:
    rows = []
    names = tools or list(TOOLS)
    for inst in instances:
        cflp = reduce(inst, "cflp")
        # the p-median opens as many sites as the facility-location optimum (or the
        # instance's own p): same size of answer, the closest like-for-like for spopt
        p = inst.model.get("p")
        if p is None:
            p = run_anju_heuristic(cflp, time_limit)["open_sites"]
        models = {"cflp": cflp, "pmedian": reduce(inst, "pmedian", p=p)}
        for variant, rm in models.items():
            order = [t for t in names if variant == "pmedian" or t != "spopt"]
            for rep, tool in benchlib.schedule(order, repeat):
                if progress:
                    progress(f"{inst.name} {variant} {tool} (run {rep + 1})")
                if isolate:
                    r = run_isolated(tool, rm, time_limit, 3 * time_limit + 120)
                else:
                    _, cpu, r = benchlib.timed(lambda t=tool, m=rm: TOOLS[t](m, time_limit))
                    r["cpu_s"] = cpu
                if progress:
                    progress(
                        f"   -> {r['status']}, objective {r['objective']:,.1f}, "
                        f"gap {r['gap']}, {r['wall_s']:.1f} s {r.get('problems', '')}"
                    )
                rows.append(
                    {
                        "instance": inst.name,
                        "model": variant,
                        "villages": len(rm.q),
                        "sites": len(rm.sid),
                        "p": rm.p,
                        "tool": tool,
                        "run": rep + 1,
                        **r,
                    }
                )
    df = pd.DataFrame(rows)
    if len(df):
        ok = df["feasible"].astype(bool)
        best = df[ok].groupby(["instance", "model"])["objective"].min()
        # baseline: the same model straight into HiGHS (not anju's own heuristic)
        ref_t = df[df["tool"] == "highs direct"].groupby(["instance", "model"])["wall_s"].median()
        keys = list(zip(df["instance"], df["model"], strict=True))
        df["obj_ratio"] = [
            o / best.get(k, math.nan) if f else math.nan
            for o, k, f in zip(df["objective"], keys, ok, strict=True)
        ]
        df["time_ratio"] = [
            w / ref_t.get(k, math.nan) for w, k in zip(df["wall_s"], keys, strict=True)
        ]
    return df.to_dict("records")


def compare_answers(a: dict, b: dict) -> tuple[bool | None, str]:
    """Two tools' answers to one model: both feasible; two proven optima agree; an answer
    proved optimal is no worse than any other feasible one."""
    if not (a["feasible"] and b["feasible"]):
        bad = [x["tool"] for x in (a, b) if not x["feasible"]]
        return False, f"no feasible answer from {', '.join(bad)}"
    oa, ob = a["objective"], b["objective"]
    tol = 1e-6 * max(abs(oa), abs(ob), 1.0)
    opt_a, opt_b = a["status"].lower() == "optimal", b["status"].lower() == "optimal"
    if opt_a and opt_b:
        return abs(oa - ob) <= tol, f"both optimal, objectives {oa:,.1f} / {ob:,.1f}"
    if opt_a and ob < oa - tol:
        return False, f"{b['tool']} beats the proven optimum ({ob:,.1f} < {oa:,.1f})"
    if opt_b and oa < ob - tol:
        return False, f"{a['tool']} beats the proven optimum ({oa:,.1f} < {ob:,.1f})"
    return True, f"objectives {oa:,.1f} ({a['status']}) / {ob:,.1f} ({b['status']})"


def table_rows(rows: list[dict], *, time_limit: float) -> list[dict]:
    """One benchlib row per instance and model: every tool's runs, ratio anju exact / HiGHS
    direct, every pair of answers checked (:func:`compare_answers`)."""
    df = pd.DataFrame(rows)
    out = []
    if not len(df):
        return out
    for (inst, model), g in df.groupby(["instance", "model"], sort=False):
        samples: dict[str, benchlib.Samples] = {}
        for tool, gt in g.groupby("tool", sort=False):
            s = benchlib.Samples(tool)
            s.wall = [float(x) for x in gt["wall_s"]]
            s.cpu = [float(x) for x in gt.get("cpu_s", pd.Series([math.nan] * len(gt)))]
            last = gt.iloc[-1].to_dict()
            s.output = {**last, "tool": tool}
            bad = gt["status"].astype(str).str.match(r"(crashed|killed|spopt not installed)")
            if bad.any():
                s.error = str(gt["status"][bad].iloc[0])
                s.wall, s.cpu = [], []
            samples[tool] = s
        check = benchlib.check_outputs(samples, compare_answers)
        first = g.iloc[0]
        p = "-" if first["p"] is None or first["p"] != first["p"] else int(first["p"])
        notes = "; ".join(
            f"{t}: {s.output['status']}, objective {s.output['objective']:,.1f}"
            for t, s in samples.items()
            if s.output
        )
        out.append(
            benchlib.make_row(
                f"allocation {inst} {model}",
                f"{int(first['villages'])} villages x {int(first['sites'])} sites, p {p}, "
                f"time limit {time_limit:g} s, every run a fresh process, model building included",
                samples,
                mode="process",
                anju="anju exact",
                reference="highs direct",
                check=check,
                headline=True,
                notes=notes,
            )
        )
    return out


def _fmt(rows: list[dict]) -> str:
    df = pd.DataFrame(rows)
    if not len(df):
        return "(no runs)"
    cols = [
        "instance",
        "model",
        "villages",
        "sites",
        "p",
        "tool",
        "run",
        "objective",
        "status",
        "gap",
        "wall_s",
        "obj_ratio",
        "time_ratio",
        "open_sites",
        "problems",
    ]
    out = df[[c for c in cols if c in df.columns]].copy()
    out["objective"] = out["objective"].map(lambda v: f"{v:,.1f}")
    out["gap"] = out["gap"].map(lambda v: "n/a" if not np.isfinite(v) else f"{100 * v:.3f}%")
    out["wall_s"] = out["wall_s"].map(lambda v: f"{v:.2f}")
    out["obj_ratio"] = out["obj_ratio"].map(lambda v: f"{v:.5f}")
    out["time_ratio"] = out["time_ratio"].map(lambda v: f"{v:.2f}")
    out["p"] = out["p"].map(lambda v: "-" if v is None or v != v else str(int(v)))
    return out.to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--instances", default="demo,synthetic", help="demo, synthetic, small")
    ap.add_argument("--villages", type=int, default=3000, help="synthetic instance size")
    ap.add_argument("--sites", type=int, default=60)
    ap.add_argument("--p", type=int, default=40)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per tool and run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool (alternated)")
    ap.add_argument("--quick", action="store_true", help="the small instance, 20 s limit")
    ap.add_argument("--rows", type=Path, help="write benchlib rows as JSON (for bench_all)")
    ap.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated, of: " + ", ".join(TOOLS)
    )
    ap.add_argument("--cache", type=Path, help="pickle of the demo instance (made if missing)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument(
        "--in-process", action="store_true", help="run the tools in this process (no hard limit)"
    )
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return _worker(*a.worker)
    if a.quick:
        a.instances, a.time_limit = "small", min(a.time_limit, 20.0)

    insts: list[Instance] = []
    for name in [s.strip() for s in a.instances.split(",") if s.strip()]:
        if name == "demo":
            insts.append(demo_instance(cache=a.cache))
        elif name == "synthetic":
            insts.append(synthetic_instance(a.villages, a.sites, a.p))
        elif name == "small":
            insts.append(synthetic_instance(40, 8, 3))
        else:
            ap.error(f"unknown instance {name!r}")
    tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    bad = [t for t in tools if t not in TOOLS]
    if bad:
        ap.error(f"unknown tool(s) {bad}")

    def progress(msg: str) -> None:
        if not a.json:
            print(f"... {msg}", file=sys.stderr, flush=True)

    rows = bench(
        insts,
        time_limit=a.time_limit,
        repeat=a.repeat,
        tools=tools,
        progress=progress,
        isolate=not a.in_process,
    )
    if a.rows:
        benchlib.dump_rows(table_rows(rows, time_limit=a.time_limit), a.rows)
    elif a.json:
        print(json.dumps({"rows": rows}, default=float, ensure_ascii=False))
    else:
        print(_fmt(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
