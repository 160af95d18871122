"""Quick scenarios: the cached village grids, the heuristic answer and the exact one behind it.

Correctness, not timings (``scripts/bench_scenario.py`` times them): the village grids give
the matrix :func:`geo.resettlement.site_cost_matrix` gives, barriers and all; the quick
answer says it is a heuristic, is never better than the proven optimum and lies within the
gap it states; the exact answer replaces it on the page and says so; an unchanged plan
gives the plan's own allocation.
"""

from __future__ import annotations

import json
import sys

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import Point

from dashboard.scenario import (
    ExactJobs,
    QuickWorker,
    answer_line,
    exact_overrides,
    quick_overrides,
    read_plan_inputs,
    run_quick_scenario,
    run_quick_view,
    run_relocation_scenario,
)
from geo import resettlement
from geo.scenario_cache import PrepCache, VillageTravelCache, quick_resettlement
from layers.grid import Grid
from layers.plan import open_plan
from scripts.pipeline import run_pipeline

# --------------------------------------------------------------------------- village grids


def _surface(seed: int, shape=(37, 41)) -> tuple[np.ndarray, Grid]:
    rng = np.random.default_rng(seed)
    speed = rng.uniform(1.0, 60.0, shape)
    speed[rng.random(shape) < 0.12] = 0.0  # barriers (water, cliffs)
    speed[rng.random(shape) < 0.03] = np.nan  # outside the county
    speed[12:19, :30] = 0.0  # a river wide enough to stay a barrier on coarser grids
    grid = Grid(shape, Affine(30.0, 0, 500_000.0, 0, -30.0, 3_000_000.0), "EPSG:4545")
    return speed, grid


def _points(grid: Grid, rc: list[tuple[float, float]]) -> gpd.GeoSeries:
    t = grid.transform
    return gpd.GeoSeries([Point(*(t * (c, r))) for r, c in rc], crs=grid.crs)


@pytest.mark.parametrize(("seed", "factor"), [(0, 1), (1, 2), (2, 3), (3, 3)])
def test_village_grids_give_the_site_cost_matrix(seed, factor):
    speed, grid = _surface(seed)
    rng = np.random.default_rng(100 + seed)
    h, w = grid.shape
    vil = [(rng.uniform(0, h), rng.uniform(0, w)) for _ in range(25)]
    sites = [(rng.uniform(0, h), rng.uniform(0, w)) for _ in range(30)]
    sites += [vil[0], vil[3]]  # a site on a village's own cell: 0 minutes
    vil += [(-5.0, 3.0)]  # a village off the grid: NaN row
    sites += [(2.0, w + 9.0)]  # a site off the grid: NaN column
    coarse = resettlement._coarse(speed, factor)
    cg = grid.coarsened(factor) if factor > 1 else grid
    # a village and a site on barrier cells of the coarse grid (the asymmetric case)
    br, bc = np.argwhere(~(coarse > 0))[[0, -1]].T
    vil.append(((br[0] + 0.5) * factor, (bc[0] + 0.5) * factor))
    sites.append(((br[1] + 0.5) * factor, (bc[1] + 0.5) * factor))
    sites.append(vil[-1])  # a site on the barrier village's own cell
    assert (~(coarse > 0)).any() and cg.shape == coarse.shape
    vp, sp = _points(grid, vil), _points(grid, sites)
    ref = resettlement.site_cost_matrix(speed, grid, vp, sp, factor=factor)
    got = VillageTravelCache(speed, grid, factor=factor).cost_matrix(vp, sp)
    assert got.shape == ref.shape
    assert np.array_equal(np.isnan(got), np.isnan(ref))  # unreachable stays unreachable
    ok = ~np.isnan(ref)
    assert ok.sum() > 0.5 * ref.size
    np.testing.assert_allclose(got[ok], ref[ok], rtol=2e-7, atol=1e-9)
    assert np.isnan(got[-2]).all() and np.isnan(got[:, -3]).all()  # off the grid
    assert got[0, 30] == ref[0, 30] == 0.0 and got[3, 31] == 0.0  # a site on the village
    # the barrier village: unreachable from every site but the one on its own cell
    assert got[-1, -1] == ref[-1, -1] == 0.0


def test_village_grids_are_bounded_and_reused():
    speed, grid = _surface(7)
    rng = np.random.default_rng(7)
    h, w = grid.shape
    vp = _points(grid, [(rng.uniform(0, h), rng.uniform(0, w)) for _ in range(12)])
    sp = _points(grid, [(rng.uniform(0, h), rng.uniform(0, w)) for _ in range(9)])
    one = 2 * grid.shape[0] * grid.shape[1] * 4  # two float32 grids
    small = VillageTravelCache(speed, grid, factor=1, max_bytes=one)
    ref = resettlement.site_cost_matrix(speed, grid, vp, sp, factor=1)
    for _ in range(2):
        got = small.cost_matrix(vp, sp)
        np.testing.assert_allclose(got, ref, rtol=2e-7, equal_nan=True)
        assert len(small) <= 2 and small.nbytes <= one
    big = VillageTravelCache(speed, grid, factor=1)
    big.cost_matrix(vp, sp)
    n = big.computed
    big.cost_matrix(vp, sp[:3])  # other sites, the same villages: nothing computed
    assert big.computed == n and n <= len(vp)


# --------------------------------------------------------------------------- on a plan


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    from tests.conftest import write_full_tiny_workspace

    base = tmp_path_factory.mktemp("quick")
    ws = write_full_tiny_workspace(base / "ws")
    out = base / "out"
    run_pipeline(ws, out, progress=False)
    return out


@pytest.fixture(scope="module")
def inputs(plan):
    return read_plan_inputs(plan)


def _pairs(frame) -> set[tuple[str, str, int]]:
    return {
        (str(v), str(s), int(p))
        for v, s, p in zip(frame["village_id"], frame["site_id"], frame["people"], strict=True)
    }


def test_unchanged_plan_reproduces_the_plans_allocation(plan, inputs):
    """The quick chain with the plan's own settings and solver gives the plan's allocation;
    the background (exact) run of an untouched panel does too."""
    written = open_plan(plan).read_layer("allocation")
    s = inputs.settings
    factors = resettlement.factor_rasters(inputs.rasters, inputs.layers, inputs.grid)
    res = quick_resettlement(
        inputs.villages,
        inputs.layers,
        inputs.grid,
        inputs.rasters,
        inputs.outside,
        rules=s.relocation,
        sites=s.sites,
        factors=factors,
        prep_cache=PrepCache(),
        travel=inputs.travel_cache(s.sites.cost_grid_factor),
    )
    assert len(written) and _pairs(res.allocation.assignments) == _pairs(written)
    summary = json.loads((plan / "manifest.json").read_text(encoding="utf-8"))["summary"]
    exact = run_relocation_scenario(plan, overrides=exact_overrides({}))
    assert _pairs(exact.allocation) == _pairs(written)
    # the same minutes as the background run (which rebuilds the speed surface the same way)
    assert res.summary()["exact_objective"] == pytest.approx(
        exact.summary["exact_objective"], rel=1e-6
    )
    # the quick answer on an untouched panel places the same people at the same cost
    quick = run_quick_scenario(inputs, overrides={})
    assert quick.summary["allocation_status"] == "heuristic"
    assert quick.summary["people_placed"] == summary["people_placed"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"suitability": {"site_threshold": 0.4}},
        {"relocation": {"min_score": 0.0}},
        {"suitability": {"ahp": [[1.0] * 8 for _ in range(8)], "capacity_factor": 0.6}},
    ],
)
def test_heuristic_answer_is_labelled_and_within_its_gap(plan, inputs, overrides):
    quick = run_quick_scenario(inputs, overrides=overrides)
    exact = run_relocation_scenario(plan, overrides=exact_overrides(overrides))
    q, e = quick.summary, exact.summary
    assert q["allocation_status"] == "heuristic" and e["allocation_status"] == "optimal"
    assert any("fast heuristic, not proven optimal" in n for n in quick.notes)
    assert any("robustness" in n and "not computed" in n for n in quick.notes)
    assert quick.sites["robustness_frac"].isna().all()  # not computed: never 0
    assert q["mean_robustness_opened"] is None
    # the same model: same people, same sites; the heuristic never beats the optimum and
    # stays within the gap it states
    assert q["people_to_relocate"] == e["people_to_relocate"]
    assert q["sites_candidate"] == e["sites_candidate"]
    if q["people_to_relocate"]:
        qo, eo = q["exact_objective"], e["exact_objective"]
        assert qo >= eo * (1 - 1e-6)
        assert q["allocation_gap"] is not None
        assert (qo - eo) / qo <= q["allocation_gap"] + 1e-6


def test_quick_overrides_replace_the_solver_only():
    ov = {"suitability": {"solver": "exact", "capacity_factor": 1.2}, "relocation": {"x": 1}}
    q = quick_overrides(ov)
    assert q["suitability"]["solver"] == "heuristic" and q["suitability"]["capacity_factor"] == 1.2
    assert q["relocation"] == {"x": 1} and ov["suitability"]["solver"] == "exact"
    assert (
        quick_overrides({"suitability": {"heuristic_time_s": 2.0}})["suitability"][
            "heuristic_time_s"
        ]
        == 2.0
    )
    assert exact_overrides(q)["suitability"]["solver"] == "exact"


def test_the_exact_answer_replaces_the_heuristic_on_the_page(plan, tmp_path):
    """The whole path the page takes: the quick worker's labelled answer, the exact job in
    the background, the poll that swaps the exact view in, labelled."""
    from dashboard.app import create_app

    create_app(plan, config={"osm": False})
    page = sys.modules["pages.relocation"]
    jobs = ExactJobs(folder=tmp_path)
    worker = QuickWorker()
    ov = {"suitability": {"site_threshold": 0.4}}
    try:
        view = run_quick_view(plan, overrides=quick_overrides(ov), settings={}, worker=worker)
    finally:
        worker.close()
    assert view["answer"]["kind"] == "heuristic" and view["answer"]["gap"] is not None
    job = jobs.start(plan, overrides=ov, settings={}, lang="en")
    view["exact_job"] = job.status()
    assert "fast heuristic answer (not proven optimal), within" in answer_line(view, "en")
    assert "running in the background" in answer_line(view, "en")
    jobs.wait(job.key, 300)
    assert job.state == "done", job.error
    page_jobs = page.exact_jobs
    try:
        page.exact_jobs = lambda: jobs
        store, line, poll_off, cancel_off = page.exact_update(view, "en")
    finally:
        page.exact_jobs = page_jobs
    assert poll_off and cancel_off and line == ""
    assert store["answer"]["kind"] == "exact" and store["exact_job"]["state"] == "done"
    assert answer_line(store, "en") == ("Shown: the exact result, proven optimal by HiGHS (gap 0).")
    assert store["figures"]["people_total"] == view["figures"]["people_total"]


def test_the_dashboards_grid_budget_is_the_caches():
    """dashboard.scenario names the village grids' budget without importing the chain: the
    same number as geo.scenario_cache's."""
    from dashboard.scenario import _MAX_BYTES
    from geo.scenario_cache import DEFAULT_MAX_BYTES

    assert _MAX_BYTES == DEFAULT_MAX_BYTES


def test_a_fresh_server_imports_no_relocation_chain_before_its_first_page(tmp_path):
    """The app and its pages load without numba, HiGHS or the relocation chain (half a
    second of a fresh server's start); scenarios import them on first use."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from dashboard.app import create_app\n"
        f"create_app({str(tmp_path / 'no_plan_yet')!r})\n"
        "print(sorted(m for m in ('numba', 'highspy', 'geo.resettlement', 'geo.access')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
