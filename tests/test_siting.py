"""Tests for geo.siting: candidate sites (patch splitting), exact facility location, the
heuristic and the greedy baseline (against brute force and the proven optimum), robustness."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.ndimage as ndi
import shapely
from affine import Affine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from geo.siting import (
    _label8,
    allocate,
    allocate_heuristic,
    greedy_allocate,
    match_sites,
    merge_planner_sites,
    robustness,
    site_selection_frequency,
    sites_from_suitability,
)
from layers.errors import LayerSchemaError, PolicyError

CRS = "EPSG:4547"
TR = Affine(100, 0, 500000, 0, -100, 3000000)  # 100 m cells = 1 ha


# --------------------------------------------------------------------------- sites


def _suit():
    s = np.full((8, 8), 0.2)
    s[0:2, 0:3] = 0.9  # patch A: 6 cells, mean 0.9
    s[2, 3] = 0.8  # touches A diagonally only -> same patch with 8-connectivity
    s[5:8, 5:8] = 0.7  # patch B: 9 cells
    s[7, 0] = 0.95  # single cell: below min area
    s[4, 4] = np.nan
    return s


def test_sites_from_suitability_patches():
    sites = sites_from_suitability(
        _suit(), transform=TR, crs=CRS, threshold=0.6, min_area_ha=2, people_per_ha=100
    )
    assert list(sites["site_id"]) == ["S001", "S002"]
    a, b = sites.iloc[0], sites.iloc[1]
    assert a["area_ha"] == pytest.approx(7.0)  # 6 + the diagonal cell
    assert a["suitability"] == pytest.approx((6 * 0.9 + 0.8) / 7)
    assert a["capacity_people"] == 700
    assert b["area_ha"] == pytest.approx(9.0) and b["capacity_people"] == 900
    assert b["suitability"] == pytest.approx(0.7)
    np.testing.assert_allclose(sites.geometry.area / 1e4, sites["area_ha"])
    assert (sites["source"] == "generated").all() and (~sites["locked"]).all()
    reps = shapely.points(sites["rep_x"], sites["rep_y"])
    assert shapely.within(reps, sites.geometry.values).all()
    assert sites.crs == CRS


def test_sites_max_sites_cap_and_empty():
    s = sites_from_suitability(
        _suit(), transform=TR, crs=CRS, threshold=0.6, min_area_ha=1, people_per_ha=10.5
    )
    assert len(s) == 3 and s.iloc[0]["area_ha"] == 1.0  # the 0.95 cell ranks first
    assert s.iloc[0]["capacity_people"] == 10  # floor(1 * 10.5)
    top = sites_from_suitability(
        _suit(),
        transform=TR,
        crs=CRS,
        threshold=0.6,
        min_area_ha=1,
        people_per_ha=100,
        max_sites=2,
        max_area_ha=8,
    )
    assert len(top) == 2
    assert top.iloc[1]["area_ha"] == 7.0 and top.iloc[1]["patch_area_ha"] == 7.0  # not cut
    none = sites_from_suitability(
        _suit(), transform=TR, crs=CRS, threshold=0.99, min_area_ha=1, people_per_ha=1
    )
    assert len(none) == 0 and "capacity_people" in none.columns
    with pytest.raises(PolicyError, match="people_per_ha must be >= 0, found -1"):
        sites_from_suitability(
            _suit(), transform=TR, crs=CRS, threshold=0.5, min_area_ha=1, people_per_ha=-1
        )
    with pytest.raises(PolicyError, match=r"max_area_ha must be > 0 and >= min_area_ha \(8\)"):
        sites_from_suitability(
            _suit(),
            transform=TR,
            crs=CRS,
            threshold=0.6,
            min_area_ha=8,
            people_per_ha=1,
            max_area_ha=5,
        )


def test_large_patches_are_cut_into_sites_within_the_cap():
    # patch A (7 ha) and patch B (9 ha) with a 5 ha cap: each cut in two, worked by hand
    sites = sites_from_suitability(
        _suit(),
        transform=TR,
        crs=CRS,
        threshold=0.6,
        min_area_ha=3,
        people_per_ha=100,
        max_area_ha=5,
    )
    got = sites[["area_ha", "capacity_people", "patch_id", "patch_area_ha"]].to_dict("records")
    assert got == [
        {"area_ha": 4.0, "capacity_people": 400, "patch_id": "P001", "patch_area_ha": 7.0},
        {"area_ha": 5.0, "capacity_people": 500, "patch_id": "P002", "patch_area_ha": 9.0},
        {"area_ha": 3.0, "capacity_people": 300, "patch_id": "P001", "patch_area_ha": 7.0},
        {"area_ha": 4.0, "capacity_people": 400, "patch_id": "P002", "patch_area_ha": 9.0},
    ]
    # every patch's best piece ranks before any second piece (a big valley floor does not
    # crowd out the other patches); the best piece of A is its four 0.9 cells
    assert sites["suitability"].iloc[0] == pytest.approx(0.9)
    assert sites["suitability"].iloc[2] == pytest.approx((2 * 0.9 + 0.8) / 3)
    np.testing.assert_allclose(sites.geometry.area / 1e4, sites["area_ha"])
    assert shapely.union_all(sites.geometry.values).area / 1e4 == pytest.approx(16.0)
    reps = shapely.points(sites["rep_x"], sites["rep_y"])
    assert shapely.within(reps, sites.geometry.values).all()


@st.composite
def blobs(draw):
    rows, cols = draw(st.integers(4, 24)), draw(st.integers(4, 24))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    s = ndi.gaussian_filter(rng.random((rows, cols)), draw(st.floats(0.5, 3.0)))
    s = (s - s.min()) / max(s.max() - s.min(), 1e-9)
    return s, draw(st.floats(0.2, 0.8)), draw(st.integers(1, 12))


@given(blobs(), st.sampled_from([0.0, 2.0]))
@settings(max_examples=60, deadline=None)
def test_patch_splitting_keeps_every_site_within_the_cap(blob, min_area):
    suit, threshold, cap_cells = blob
    max_area = float(cap_cells)  # 1 ha cells
    if max_area < min_area:
        max_area = min_area
    whole = sites_from_suitability(
        suit, transform=TR, crs=CRS, threshold=threshold, min_area_ha=min_area, people_per_ha=10
    )
    cut = sites_from_suitability(
        suit,
        transform=TR,
        crs=CRS,
        threshold=threshold,
        min_area_ha=min_area,
        people_per_ha=10,
        max_area_ha=max_area,
    )
    assert (cut["area_ha"] <= max_area + 1e-9).all()
    assert (cut["area_ha"] >= min_area - 1e-9).all()
    assert (cut["capacity_people"] == np.floor(cut["area_ha"] * 10 + 1e-9)).all()
    np.testing.assert_allclose(cut.geometry.area / 1e4, cut["area_ha"])
    assert set(cut["patch_id"]) == set(whole["patch_id"])
    # the pieces of a patch add up to it (leftover slivers are dropped only with a minimum)
    pieces = cut.groupby("patch_id")["area_ha"].sum()
    patches = whole.set_index("patch_id")["area_ha"]
    if min_area == 0:
        np.testing.assert_allclose(pieces.sort_index(), patches.sort_index())
    else:
        assert (pieces.sort_index() <= patches.sort_index() + 1e-9).all()
    # pieces never overlap
    if len(cut) > 1:
        union = shapely.union_all(cut.geometry.values).area
        assert union == pytest.approx(cut.geometry.area.sum())


def test_merge_planner_sites():
    gen = sites_from_suitability(
        _suit(), transform=TR, crs=CRS, threshold=0.6, min_area_ha=2, people_per_ha=100
    )
    b_geom = gen.geometry.iloc[1]
    planner = gpd.GeoDataFrame(
        {
            "site_id": ["S001", "P2"],
            "name": ["新村", "镇区"],
            "capacity_people": [300, None],
            "locked": [True, None],
        },
        geometry=[b_geom.centroid, shapely.box(501000, 2999000, 501200, 2999100)],
        crs=CRS,
    )
    merged = merge_planner_sites(gen, planner, people_per_ha=50)
    assert list(merged["source"]) == ["planner", "planner", "generated"]
    assert list(merged["site_id"]) == [
        "S001",
        "P2",
        "S001-gen",
    ]  # patch B dropped (overlaps), id clash renamed
    assert list(merged["capacity_people"]) == [300, 100, 700]
    assert list(merged["locked"]) == [True, False, False]
    with pytest.raises(LayerSchemaError, match="site 'S001': capacity_people missing"):
        merge_planner_sites(gen, planner.assign(capacity_people=[None, 5]))
    assert len(merge_planner_sites(gen, None)) == 2


def test_match_sites():
    base = gpd.GeoDataFrame(
        {"site_id": ["A", "B"]}, geometry=[shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10)]
    )
    other = gpd.GeoDataFrame(
        {"site_id": ["S001", "S002", "S003"]},
        geometry=[
            shapely.box(18, 0, 28, 10),
            shapely.box(5, 0, 21, 5),
            shapely.box(100, 100, 101, 101),
        ],
    )
    assert match_sites(base, other) == {"S001": "B", "S002": "A"}


# --------------------------------------------------------------------------- brute force reference


def brute_force(people, cap, cost, *, p=None, locked=None, allowed=None, fcost=None, minocc=None):
    """Lexicographic optimum (fewest people left out, then least cost) by enumeration.

    Every set of open sites is tried (the locked ones always among them; exactly p of them
    when p is given, at most p if no p sites can all reach their minimum occupancy). Each
    village goes whole to one open site or stays unplaced; an open site pays its opening
    cost and, unless locked, holds at least its minimum occupancy.
    """
    n, m = cost.shape
    locked = np.zeros(m, bool) if locked is None else np.asarray(locked, bool)
    allowed = np.isfinite(cost) if allowed is None else allowed
    fcost = np.zeros(m) if fcost is None else np.asarray(fcost, float)
    minocc = np.zeros(m) if minocc is None else np.where(locked, 0, minocc)
    must = set(np.flatnonzero(locked))

    def best_over(sizes):
        best = (np.inf, np.inf)
        for size in sizes:
            for open_set in itertools.combinations(range(m), size):
                if not must <= set(open_set):
                    continue
                choices = [[None] + [j for j in open_set if allowed[i, j]] for i in range(n)]
                fixed = sum(fcost[j] for j in open_set)
                for combo in itertools.product(*choices):
                    load = np.zeros(m)
                    left = 0
                    obj = fixed
                    for i, j in enumerate(combo):
                        if j is None:
                            left += people[i]
                        else:
                            load[j] += people[i]
                            obj += people[i] * cost[i, j]
                    if np.any(load > cap) or any(load[j] < minocc[j] for j in open_set):
                        continue
                    if (left, obj) < best:
                        best = (left, obj)
        return best

    if p is None:
        return best_over(range(m + 1))
    best = best_over([p])
    return best if np.isfinite(best[0]) else best_over(range(p + 1))


@st.composite
def instances(draw, max_n=5):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, 3))
    people = np.array(draw(st.lists(st.integers(0, 60), min_size=n, max_size=n)))
    cap = np.array(draw(st.lists(st.integers(0, 150), min_size=m, max_size=m)))
    raw = draw(st.lists(st.one_of(st.none(), st.integers(1, 120)), min_size=n * m, max_size=n * m))
    cost = np.array([np.nan if c is None else float(c) for c in raw]).reshape(n, m)
    p = draw(st.one_of(st.none(), st.integers(1, m)))
    locked = np.zeros(m, bool)
    if draw(st.booleans()):
        locked[draw(st.integers(0, m - 1))] = True
        if p is not None and p < 1:
            p = 1
    max_ret = draw(st.one_of(st.none(), st.integers(20, 120)))
    towns_v = draw(st.lists(st.sampled_from(["t1", "t2"]), min_size=n, max_size=n))
    towns_s = draw(st.lists(st.sampled_from(["t1", "t2"]), min_size=m, max_size=m))
    pen = draw(st.sampled_from([0.0, 15.0]))
    fcost = np.array(draw(st.lists(st.sampled_from([0.0, 500.0, 3000.0]), min_size=m, max_size=m)))
    minocc = np.array(draw(st.lists(st.sampled_from([0, 30, 70]), min_size=m, max_size=m)))
    return people, cap, cost, p, locked, max_ret, towns_v, towns_s, pen, fcost, minocc


def _frames(people, cap, towns_v=None, towns_s=None, locked=None):
    n, m = len(people), len(cap)
    demand = pd.DataFrame({"village_id": [f"V{i}" for i in range(n)], "people": people})
    sites = pd.DataFrame({"site_id": [f"S{j}" for j in range(m)], "capacity_people": cap})
    if towns_v is not None:
        demand["township"] = towns_v
        sites["township"] = towns_s
    if locked is not None:
        sites["locked"] = locked
    return demand, sites


def _check_feasible(res, people, cap, cost, max_ret, *, locked=None, minocc=None):
    a = res.assignments
    assert a["village_id"].is_unique
    idx = {f"V{i}": i for i in range(len(people))}
    sidx = {f"S{j}": j for j in range(len(cap))}
    for _, r in a.iterrows():
        i, j = idx[r.village_id], sidx[r.site_id]
        assert r.people == people[i]
        assert np.isfinite(cost[i, j]) and r.travel_min == cost[i, j]
        if max_ret is not None:
            assert cost[i, j] <= max_ret
    load = a.groupby("site_id")["people"].sum()
    for s, v in load.items():
        assert v <= cap[sidx[s]]
    placed = set(a["village_id"]) | set(res.unplaced["village_id"])
    assert placed == {f"V{i}" for i in range(len(people)) if people[i] > 0}
    assert a["people"].sum() + res.unplaced["people"].sum() == people.sum()
    assert set(a["site_id"]) <= set(res.open_sites)
    if minocc is not None:  # no open (unlocked) site below its minimum occupancy
        sl = res.site_load.set_index("site_id")
        for s in res.open_sites:
            j = sidx[s]
            if locked is None or not locked[j]:
                assert sl.loc[s, "assigned_people"] >= minocc[j], s
    if locked is not None:
        assert {f"S{j}" for j in np.flatnonzero(locked)} <= set(res.open_sites)


_EMPTY = {"nothing_to_place", "none_placeable", "no_sites"}


def _solve_all(inst):
    people, cap, cost, p, locked, max_ret, towns_v, towns_s, pen, fcost, minocc = inst
    demand, sites = _frames(people, cap, towns_v, towns_s, locked)
    kw = dict(
        p=p,
        max_return_min=max_ret,
        township_penalty_min=pen,
        opening_cost=fcost,
        min_occupancy=minocc,
    )
    res = allocate(demand, sites, cost, mip_gap=0.0, time_limit_s=20, **kw)
    heur = allocate_heuristic(demand, sites, cost, **kw)
    greedy = greedy_allocate(demand, sites, cost, **kw)
    eff = cost + np.where(np.array(towns_v)[:, None] != np.array(towns_s)[None, :], pen, 0.0)
    with np.errstate(invalid="ignore"):
        allowed = np.isfinite(cost) & ((cost <= max_ret) if max_ret is not None else True)
    return res, heur, greedy, eff, allowed


# found by Hypothesis on 2026-12-02: with p = 1 the local search swapped the feasible
# site S2 for S1, whose minimum occupancy (70) its one village (36) cannot reach, because a
# shortfall cost no more per person than a person left out; the heuristic answer opened S1
_SHORT_SITE = (
    np.array([36, 0, 1, 0]),
    np.array([0, 70, 37]),
    np.array([[np.nan, 1.0, np.nan], [np.nan] * 3, [np.nan, np.nan, 1.0], [np.nan] * 3]),
    1,
    np.array([False, False, False]),
    None,
    ["t1"] * 4,
    ["t1"] * 3,
    0.0,
    np.zeros(3),
    np.array([0, 70, 0]),
)


@given(instances())
@example(_SHORT_SITE)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_allocate_equals_brute_force(inst):
    people, cap, cost, p, locked, max_ret, towns_v, towns_s, pen, fcost, minocc = inst
    res, heur, greedy, eff, allowed = _solve_all(inst)
    left, obj = brute_force(
        people, cap, eff, p=p, locked=locked, allowed=allowed, fcost=fcost, minocc=minocc
    )
    # "optimal" only for a model actually solved and proven; an empty one says what it was
    before = {"no_site_reachable", "no_site_within_limit", "village_too_large"}
    before.add("sites_below_min_occupancy")
    if (people > 0).sum() > res.unplaced["reason_code"].isin(before).sum():
        assert res.status == "optimal" and res.mip_gap == 0.0
    else:
        assert res.status in _EMPTY
    for r in (res, heur, greedy):
        _check_feasible(r, people, cap, cost, max_ret, locked=locked, minocc=minocc)
    assert res.unplaced_people == left
    if res.status in _EMPTY:  # no model solved: only the locked sites are open
        assert res.objective == pytest.approx(fcost[locked].sum())
        return
    assert res.objective == pytest.approx(obj, abs=1e-6)
    fallback = any("at most" in n for n in res.notes)
    if p is not None and len(res.assignments) and not fallback:
        assert len(res.open_sites) == p
    assert res.opening_cost == pytest.approx(
        sum(fcost[int(s[1:])] for s in res.open_sites), abs=1e-9
    )
    for r in (heur, greedy):
        assert r.status in {"heuristic"} | _EMPTY
        assert r.unplaced_people >= res.unplaced_people
        if r.unplaced_people == res.unplaced_people and fallback == any(
            "at most" in n for n in r.notes
        ):
            assert r.objective >= res.objective - 1e-6


@given(instances())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_heuristic_within_its_stated_gap_of_the_optimum(inst):
    res, heur, _, _, _ = _solve_all(inst)
    if not np.isfinite(heur.mip_gap):
        return  # no bound claimed (people left out, or an empty model)
    assert heur.unplaced_people == res.unplaced_people
    # the bound is a true lower bound, and the answer is within the gap it states
    assert heur.lower_bound <= res.objective + 1e-6
    assert heur.objective - res.objective <= heur.mip_gap * heur.objective + 1e-6
    assert heur.mip_gap == pytest.approx(
        max(0.0, heur.objective - heur.lower_bound) / max(heur.objective, 1e-9)
    )


def test_solves_with_other_thread_counts_in_one_process_all_solve():
    # a batch or Dask worker gives each county its share of the cores: HiGHS, which sizes
    # its thread scheduler once per process, must not fail the county whose share differs
    demand, sites = _frames(np.array([10, 10]), np.array([100, 100]))
    cost = np.array([[1.0, 5.0], [5.0, 1.0]])
    for threads in (1, 2, 1, None, 2):
        res = allocate(demand, sites, cost, opening_cost=50.0, threads=threads)
        assert (res.status, res.objective) == ("optimal", 110.0), threads


def test_opening_cost_and_minimum_occupancy_worked_by_hand():
    # A (10 people) is 1 min from S0 and 5 from S1; B (10) the other way round
    demand, sites = _frames(np.array([10, 10]), np.array([100, 100]))
    cost = np.array([[1.0, 5.0], [5.0, 1.0]])
    both = allocate(demand, sites, cost, opening_cost=30.0)
    assert sorted(both.open_sites) == ["S0", "S1"]
    assert both.objective == 20 + 60 and both.opening_cost == 60
    assert both.travel_objective == 20
    one = allocate(demand, sites, cost, opening_cost=50.0)  # 2x50 + 20 > 50 + 10 + 50
    assert len(one.open_sites) == 1 and one.objective == 110 and one.status == "optimal"
    # a minimum occupancy of 15 cannot be met by one village of 10: both go together
    occ = allocate(demand, sites, cost, min_occupancy=15)
    assert len(occ.open_sites) == 1 and occ.objective == 60
    assert occ.site_load["min_occupancy"].tolist() == [15, 15]
    # a locked (planner) site is open whatever it receives: no minimum applies to it
    locked = allocate(demand, sites.assign(locked=[False, True]), cost, min_occupancy=15)
    assert locked.site_load.loc[1, "min_occupancy"] == 0
    assert locked.objective == 60 and "S1" in locked.open_sites
    for f in (allocate_heuristic, greedy_allocate):
        r = f(demand, sites, cost, opening_cost=50.0)
        assert r.objective >= 110 and r.status == "heuristic"
        r = f(demand, sites, cost, min_occupancy=15)
        assert (r.site_load.loc[r.site_load["open"], "assigned_people"] >= 15).all()
    with pytest.raises(
        LayerSchemaError, match=r"opening_cost must be a number or one value per site \(2\)"
    ):
        allocate(demand, sites, cost, opening_cost=[1.0, 2.0, 3.0])
    with pytest.raises(PolicyError, match="min_occupancy must be >= 0, found -1"):
        allocate(demand, sites, cost, min_occupancy=[0, -1])


def test_minimum_occupancy_that_cannot_be_met_is_explained():
    # each village can reach one site only; neither site can reach 15 people
    demand, sites = _frames(np.array([10, 10]), np.array([100, 100]))
    cost = np.array([[1.0, np.nan], [np.nan, 1.0]])
    for f in (allocate, allocate_heuristic, greedy_allocate):
        r = f(demand, sites, cost, min_occupancy=15)
        assert r.unplaced["reason_code"].tolist() == ["below_min_occupancy"] * 2, f.__name__
        assert "最低安置人数" in r.unplaced["reason_zh"].iloc[0]
        assert len(r.open_sites) == 0
    # a site smaller than its minimum occupancy never opens: said before solving
    small = allocate(demand, sites.assign(capacity_people=[12, 12]), cost, min_occupancy=15)
    assert small.unplaced["reason_code"].tolist() == ["sites_below_min_occupancy"] * 2
    assert small.status == "none_placeable"


def test_p_sites_that_cannot_all_be_filled_open_at_most_p():
    demand, sites = _frames(np.array([10, 10]), np.array([100, 100]))
    cost = np.array([[1.0, 5.0], [5.0, 1.0]])
    r = allocate(demand, sites, cost, p=2, min_occupancy=15)
    assert len(r.open_sites) == 1 and r.unplaced_people == 0 and r.objective == 60
    assert any("at most 2 open" in n for n in r.notes)
    h = allocate_heuristic(demand, sites, cost, p=2, min_occupancy=15)
    assert h.objective == 60 and any("at most 2 open" in n for n in h.notes)


def test_empty_models_are_never_called_optimal():
    demand, sites = _frames(np.array([0, 0]), np.array([10, 10]))
    nosites = pd.DataFrame({"site_id": pd.Series(dtype=str), "capacity_people": []})
    people, _ = _frames(np.array([5, 6]), np.array([10, 10]))
    for f in (allocate, allocate_heuristic, greedy_allocate):
        assert f(demand, sites, np.ones((2, 2))).status == "nothing_to_place"
        r = f(people, nosites, np.zeros((2, 0)))
        assert r.status == "no_sites" and r.unplaced_people == 11
        r = f(people, sites, np.full((2, 2), np.nan))
        assert r.status == "none_placeable"
        assert r.unplaced["reason_code"].tolist() == ["no_site_reachable"] * 2


def test_stopped_at_the_gap_is_not_called_optimal():
    rng = np.random.default_rng(3)
    n, m = 400, 40
    xy_v, xy_s = rng.uniform(0, 50, (n, 2)), rng.uniform(0, 50, (m, 2))
    cost = np.hypot(*(xy_v[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) * 2
    people = rng.integers(20, 300, n)
    cap = np.full(m, int(people.sum() * 1.3 / 12))
    demand, sites = _frames(people, cap)
    res = allocate(demand, sites, cost, p=12, mip_gap=0.5, time_limit_s=30)
    assert res.status in {"gap_limit", "optimal"}
    if res.status == "optimal":
        assert res.mip_gap == 0.0
    else:
        assert 0 < res.mip_gap <= 0.5
        assert res.lower_bound < res.objective


def test_unreachable_and_too_large_reported():
    demand, sites = _frames(np.array([10, 20, 520, 30]), np.array([100, 200]))
    cost = np.array([[np.nan, np.nan], [95.0, 120.0], [10.0, 10.0], [5.0, 50.0]])
    res = allocate(demand, sites, cost, max_return_min=90)
    assert res.status == "optimal"
    u = res.unplaced.set_index("village_id")
    assert u.loc["V0", "reason_code"] == "no_site_reachable"
    assert u.loc["V0", "reason_zh"] == "没有可达的安置点"
    assert u.loc["V1", "reason_code"] == "no_site_within_limit"
    assert u.loc["V1", "reason_en"] == "no site within 90 min (nearest 95 min)"
    assert u.loc["V2", "reason_code"] == "village_too_large"
    assert "村人口 520 人超过任何可达安置点的容量" in u.loc["V2", "reason_zh"]
    assert res.assignments.to_dict("records") == [
        {"village_id": "V3", "site_id": "S0", "people": 30, "travel_min": 5.0}
    ]
    assert res.objective == 150.0


def test_capacity_shortfall_reported():
    demand, sites = _frames(np.array([40, 30, 20]), np.array([50, 20]))
    cost = np.array([[1.0, 2.0], [1.0, 2.0], [3.0, 1.0]])
    res = allocate(demand, sites, cost)
    # 90 people, 70 places: best is 40+? -> place 30+20 at S0 (50) and 20 at S1, leave out 40?
    # or 40 at S0 and 20 at S1, leave out 30: fewest people left out wins (30 < 40).
    assert res.unplaced_people == 30
    u = res.unplaced.iloc[0]
    assert u["village_id"] == "V1" and u["reason_code"] == "capacity_shortfall"
    assert "缺口 20 人" in u["reason_zh"] and "short by 20" in u["reason_en"]
    assert res.objective == 40 * 1.0 + 20 * 1.0
    assert res.status == "optimal"
    assert any("phase 1" in n for n in res.notes)


def test_packing_infeasible_without_shortfall():
    # capacity 60 >= demand 60, but whole villages of 25 + 25 + 10 do not pack into 30 + 30
    demand, sites = _frames(np.array([25, 25, 10]), np.array([30, 30]))
    cost = np.ones((3, 2))
    res = allocate(demand, sites, cost)
    assert res.unplaced.to_dict("records")[0]["reason_code"] == "no_room"
    assert res.unplaced["village_id"].tolist() == ["V2"]  # fewest people left out: the 10
    assert res.unplaced_people == 10
    assert "剩余容量不足" in res.unplaced["reason_zh"].iloc[0]
    split = allocate(demand, sites, cost, split=True)
    assert split.unplaced_people == 0 and split.assignments["people"].sum() == 60
    assert split.site_load["assigned_people"].tolist() == [30, 30]


def test_split_brute_force_small():
    # splitting: costs per person; 50 people, sites 30 (cost 1) and 40 (cost 3)
    demand, sites = _frames(np.array([50]), np.array([30, 40]))
    res = allocate(demand, sites, np.array([[1.0, 3.0]]), split=True)
    assert res.objective == 30 * 1 + 20 * 3
    assert sorted(res.assignments["people"]) == [20, 30]
    g = greedy_allocate(demand, sites, np.array([[1.0, 3.0]]), split=True)
    assert g.objective == res.objective


def test_time_limited_answer_is_not_called_optimal():
    rng = np.random.default_rng(3)
    n, m = 400, 40
    xy_v, xy_s = rng.uniform(0, 50, (n, 2)), rng.uniform(0, 50, (m, 2))
    cost = np.hypot(*(xy_v[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1)) * 2
    people = rng.integers(20, 300, n)
    cap = np.full(m, int(people.sum() * 1.3 / 12))
    demand, sites = _frames(people, cap)
    res = allocate(demand, sites, cost, p=12, time_limit_s=0.05)
    assert res.status != "optimal"
    assert res.status == "time_limit"
    if len(res.assignments):
        assert res.mip_gap > 0
    else:
        assert (res.unplaced["reason_code"] == "solver_no_solution").all()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 4 deprecations inside spopt
def test_uncapacitated_p_median_matches_spopt():
    spopt_locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    rng = np.random.default_rng(7)
    n, m, p = 25, 8, 3
    cost = rng.uniform(1, 100, (n, m)).round(1)
    people = rng.integers(1, 50, n)
    model = spopt_locate.PMedian.from_cost_matrix(cost, people, p_facilities=p)
    model = model.solve(pulp.PULP_CBC_CMD(msg=False))
    demand, sites = _frames(people, np.full(m, people.sum()))
    res = allocate(demand, sites, cost, p=p, mip_gap=0.0)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(model.problem.objective.value(), rel=1e-9)


def test_uncapacitated_p_median_matches_brute_force():
    # Independent of spopt: enumerate the open sets, each village to its nearest open site.
    rng = np.random.default_rng(11)
    n, m, p = 15, 6, 2
    cost = rng.uniform(1, 60, (n, m))
    people = rng.integers(1, 40, n)
    best = min(
        (people * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(m), p)
    )
    demand, sites = _frames(people, np.full(m, 10_000))
    res = allocate(demand, sites, cost, p=p, mip_gap=0.0)
    assert res.objective == pytest.approx(best)


def test_allocate_input_errors():
    demand, sites = _frames(np.array([10, 20]), np.array([30, 30]))
    with pytest.raises(
        LayerSchemaError,
        match=r"cost_min must have shape \(villages, sites\) = \(2, 2\), found \(2, 3\)",
    ):
        allocate(demand, sites, np.ones((2, 3)))
    with pytest.raises(
        LayerSchemaError, match=r"village_id must be unique, found duplicates \['V0'\]"
    ):
        allocate(demand.assign(village_id="V0"), sites, np.ones((2, 2)))
    with pytest.raises(LayerSchemaError, match=r"demand: expected columns \['people'\]"):
        allocate(demand.drop(columns="people"), sites, np.ones((2, 2)))
    with pytest.raises(
        PolicyError, match=r"p must be an integer in 1..2 \(number of sites\), found 3"
    ):
        allocate(demand, sites, np.ones((2, 2)), p=3)
    with pytest.raises(PolicyError, match="2 sites are locked but only p=1 may open"):
        allocate(demand, sites.assign(locked=True), np.ones((2, 2)), p=1)
    with pytest.raises(LayerSchemaError, match="cost_min must be >= 0"):
        allocate(demand, sites, -np.ones((2, 2)))


def test_nobody_reachable_does_not_crash():
    demand, sites = _frames(np.array([10, 20]), np.array([30, 30]))
    for f in (allocate, greedy_allocate):
        res = f(demand, sites, np.full((2, 2), np.nan), p=1)
        assert len(res.assignments) == 0
        assert res.unplaced["reason_code"].tolist() == ["no_site_reachable"] * 2


# --------------------------------------------------------------------------- robustness


def test_site_selection_frequency():
    freq = site_selection_frequency(
        [{"A", "B"}, {"A"}, {"A", "C"}, ["A", "A"]], sites=["A", "B", "C", "D"]
    )
    assert freq.to_dict() == {"A": 1.0, "B": 0.25, "C": 0.25, "D": 0.0}
    assert list(freq.index) == ["A", "B", "C", "D"]
    assert freq.name == "frac"


def test_robustness_driver():
    draws = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    calls = []

    def run(w):
        return {"X"} if w[0] > 0.5 else {"Y"}

    freq = robustness(draws, run, sites=["X", "Y", "Z"], progress=lambda d, t: calls.append((d, t)))
    assert (
        freq["X"] == pytest.approx(2 / 3) and freq["Y"] == pytest.approx(1 / 3) and freq["Z"] == 0
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_lp_rounding_start_keeps_the_optimum():
    # > 5,000 village-site pairs with p: allocate first builds an LP-rounding incumbent.
    from scripts.bench_allocation import make_instance

    demand, sites, cost = make_instance(110, 50, 6, cap_ratio=1.15, seed=4)
    warm = allocate(demand, sites, cost, p=6, mip_gap=0.0, time_limit_s=30)
    cold = allocate(demand, sites, cost, p=6, mip_gap=0.0, time_limit_s=30, warm_start=False)
    assert warm.status == cold.status == "optimal"
    assert any(n.startswith("start: LP rounding") for n in warm.notes)
    assert warm.objective == pytest.approx(cold.objective)
    load = warm.site_load
    assert (load["assigned_people"] <= load["capacity_people"]).all()
    assert load["open"].sum() == 6 and warm.unplaced_people == 0
    greedy = greedy_allocate(demand, sites, cost, p=6)
    assert greedy.objective >= warm.objective


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP deprecations inside spopt
def test_bench_smoke(capsys):
    import json

    from scripts.bench_allocation import TOOLS, main

    assert main(["--instances", "small", "--time-limit", "20", "--json", "--in-process"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]
    assert {r["tool"] for r in rows} == set(TOOLS)
    assert {r["model"] for r in rows} == {"cflp", "pmedian"}
    assert all(r["feasible"] for r in rows), [r["problems"] for r in rows]
    for r in rows:
        if r["tool"] == "anju exact":
            assert r["status"] == "optimal" and r["obj_ratio"] == pytest.approx(1.0)
        elif r["tool"] != "anju heuristic" and r["status"].lower() == "optimal":
            # every exact tool that claims optimality agrees with anju's proven optimum
            assert r["obj_ratio"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.slow
def test_demo_proven_optimum_and_heuristic_within_one_percent():
    """The allocation the pipeline solves on the committed demo: HiGHS proves the optimum
    (gap 0) within 30 s, the dashboard's heuristic is within 1 % of it within 1 s."""
    from scripts.bench_allocation import demo_instance

    inst = demo_instance()
    assert {"opening_cost", "min_occupancy"} <= set(inst.model)  # the facility-location model
    args = (inst.demand, inst.sites, inst.cost)
    exact = allocate(*args, mip_gap=0.0, time_limit_s=60, **inst.model)
    assert exact.status == "optimal" and exact.mip_gap == 0.0
    assert exact.solve_s <= 30
    heur = allocate_heuristic(*args, **inst.model)
    assert heur.status == "heuristic" and heur.solve_s <= 1.0
    assert heur.unplaced_people == exact.unplaced_people
    assert heur.objective <= 1.01 * exact.objective
    assert heur.lower_bound <= exact.objective + 1e-6
    # no opened generated site below the minimum occupancy, in either answer
    mo = np.asarray(inst.model["min_occupancy"])
    for r in (exact, heur):
        sl = r.site_load
        used = sl["open"] & (mo > 0)
        assert (sl.loc[used, "assigned_people"] >= mo[used.to_numpy()]).all()


def test_suitability_to_sites_respects_exclusions():
    from geo.suitability import ahp_weights, exclusion_mask, suitability

    shape = (40, 40)
    tr = Affine(50, 0, 500000, 0, -50, 3002000)  # 50 m cells = 0.25 ha
    rows, cols = np.indices(shape)
    travel = (cols * 2.0).astype(float)  # minutes to the township seat grow eastward
    slope = np.where(rows > 30, 20.0, 5.0)  # the south is steep
    hazard = shapely.Point(500000 + 10 * 50, 3002000 - 10 * 50)
    excl = exclusion_mask(
        shape=shape,
        transform=tr,
        slope_deg=slope,
        slope_limit_deg=14.04,
        hazard_geoms=[hazard],
        hazard_radius_m=[100.0],
        hazard_buffer_m=200.0,
    )
    w, cr, _ = ahp_weights([[1, 3], [1 / 3, 1]])
    suit = suitability(
        {"travel": travel, "slope": slope},
        weights={"travel": w[0], "slope": w[1]},
        directions={"travel": "cost", "slope": "cost"},
        ranges={"travel": (0, 60), "slope": (0, 15)},
        exclusion=excl,
    )
    sites = sites_from_suitability(
        suit, transform=tr, crs=CRS, threshold=0.6, min_area_ha=5, people_per_ha=80
    )
    assert len(sites) >= 1
    zone = hazard.buffer(300.0)
    for g in sites.geometry:
        assert g.intersection(zone).area == pytest.approx(0.0, abs=1e-6)
        # nothing in the steep south (rows > 30 -> y below 3002000 - 31 * 50)
        assert g.bounds[1] >= 3002000 - 31 * 50 - 1e-6
    assert (sites["suitability"] >= 0.6).all()
    assert (sites["capacity_people"] == np.floor(sites["area_ha"] * 80)).all()


# --------------------------------------------------------------------------- robustness draws


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_site_pieces_are_the_cells_of_the_site_polygons(seed):
    """The robustness draws use cells, the plan uses polygons: the same sites, cell for cell
    (reference: the polygons rasterized back onto the grid)."""
    from rasterio.features import rasterize

    from geo.siting import site_pieces

    rng = np.random.default_rng(seed)
    s = ndi.gaussian_filter(rng.random((80, 90)), 3)
    s = (s - s.min()) / (s.max() - s.min())
    s[rng.random(s.shape) < 0.01] = np.nan
    kw = dict(threshold=0.55, min_area_ha=3.0, max_sites=25, max_area_ha=40.0)
    sites = sites_from_suitability(s, transform=TR, crs=CRS, people_per_ha=100, **kw)
    pieces = site_pieces(s, cell_ha=1.0, xres=100.0, yres=100.0, **kw)
    assert len(sites) == len(pieces.cells) > 3
    ref = rasterize(
        ((g, k + 1) for k, g in enumerate(sites.geometry)),
        out_shape=s.shape,
        transform=TR,
        dtype="int32",
    )
    np.testing.assert_array_equal(pieces.label_raster(), ref)
    np.testing.assert_allclose(pieces.suitability, sites["suitability"])
    assert [f"P{r + 1:03d}" for r in pieces.patch_rank] == list(sites["patch_id"])


def test_draw_suitability_is_the_overlay_bit_for_bit():
    """The draws' overlay on the scoring cells only equals combine_suitability exactly."""
    from geo.resettlement import SuitabilityInputs, _DrawSuitability, combine_suitability

    rng = np.random.default_rng(3)
    rescaled = [rng.random((30, 40)).astype("float32") for _ in range(3)]
    rescaled[1][5, 5] = np.nan  # a blank factor cell is NaN whatever the weights
    excl = rng.random((30, 40)) < 0.2
    prep = SuitabilityInputs(
        names=["a", "b", "c"],
        rescaled=rescaled,
        exclusion=excl,
        matrix=np.ones((4, 4)),
        keep=[0, 2, 3],
    )
    draw = _DrawSuitability(prep)
    for w in rng.random((5, 4)) + 0.1:
        np.testing.assert_array_equal(draw(w), combine_suitability(prep, w)[0])


def test_heuristic_from_a_start_reaches_the_optimum():
    """A start from a known answer: the search keeps or improves it."""
    demand = pd.DataFrame(
        {"village_id": [f"V{i}" for i in range(6)], "people": [60] * 6, "township": ["T"] * 6}
    )
    sites = pd.DataFrame(
        {
            "site_id": ["A", "B", "C"],
            "capacity_people": [400, 400, 400],
            "township": ["T"] * 3,
            "locked": [False] * 3,
        }
    )
    cost = np.array([[1, 9, 20], [2, 8, 20], [3, 7, 20], [9, 1, 20], [8, 2, 20], [7, 3, 20.0]])
    kw = dict(opening_cost=100.0, rounds=0, bound=False)
    best = allocate(demand, sites, cost, opening_cost=100.0)
    warm = allocate_heuristic(demand, sites, cost, start_open=["C"], **kw)
    assert warm.objective <= allocate_heuristic(demand, sites, cost, **kw).objective + 1e-6
    assert warm.objective == pytest.approx(best.objective)


@pytest.mark.parametrize("seed", range(6))
def test_sparse_labels_number_components_like_scipy(seed):
    """The draws label only the suitable cells: the same components and numbers as
    scipy.ndimage.label with 8-connectivity on the whole raster (edges and row ends too)."""
    from geo.siting import _label_cells8

    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 40, size=2)
    b = ndi.gaussian_filter(rng.random((h, w)), 1.0) > rng.uniform(0.4, 0.6)
    b[:, -1] |= rng.random(h) < 0.5  # cells on the last column next to the next row's first
    b[:, 0] |= rng.random(h) < 0.5
    ref, n_ref = ndi.label(b, structure=np.ones((3, 3), dtype=bool))
    idx = np.flatnonzero(b)
    lab, n = _label_cells8(idx, int(w))
    assert n == n_ref
    np.testing.assert_array_equal(lab, ref.ravel()[idx])


@pytest.mark.parametrize("seed", range(4))
def test_site_pieces_at_the_scoring_cells_equal_the_whole_raster(seed):
    """The robustness draws cut their sites from the non-excluded cells only: the same
    pieces, cell for cell and in the same order, as from the whole raster."""
    from geo.siting import site_pieces, site_pieces_at

    rng = np.random.default_rng(seed)
    s = ndi.gaussian_filter(rng.random((90, 80)), 2.5).astype("float32")
    s = (s - s.min()) / (s.max() - s.min())
    s[rng.random(s.shape) < 0.05] = np.nan
    kw = dict(cell_ha=1.0, xres=100.0, yres=100.0, threshold=0.5, min_area_ha=3.0)
    kw |= dict(max_sites=30, max_area_ha=25.0)
    whole = site_pieces(s, **kw)
    cells = np.flatnonzero(~np.isnan(s))
    part = site_pieces_at(cells, s.ravel()[cells], s.shape, **kw)
    assert len(whole.cells) > 3 and len(part.cells) == len(whole.cells)
    for a, b in zip(whole.cells, part.cells, strict=True):
        np.testing.assert_array_equal(a, b)
    assert part.suitability == whole.suitability and part.patch_rank == whole.patch_rank


def _repartition_states_reference(w, q, cap, rest, save, cur, max_states, tol):
    """The NumPy enumeration :func:`geo.siting._repartition_states` replaced (its oracle)."""
    kk = w.shape[1]
    loads, cost, eye, back = np.zeros((1, kk)), np.zeros(1), np.eye(kk), []
    for u in range(len(q)):
        nl = (loads[:, None, :] + q[u] * eye[None, :, :]).reshape(-1, kk)
        nc = (cost[:, None] + w[u][None, :]).reshape(-1)
        keep = np.flatnonzero(
            (nl <= cap[None, :] + tol).all(axis=1) & (nc + rest[u + 1] - save < cur - tol)
        )
        back.append(keep)
        if not len(keep):
            return False, loads, cost, back
        loads, cost = nl[keep], nc[keep]
        if len(cost) > max_states:
            return False, loads, cost, back
    return True, loads, cost, back


@pytest.mark.parametrize("seed", range(8))
def test_repartition_states_equal_the_numpy_enumeration(seed):
    from geo.siting import _repartition_states

    rng = np.random.default_rng(seed)
    n_units, kk = int(rng.integers(2, 12)), int(rng.integers(2, 4))
    w = rng.random((n_units, kk)) * 100
    w[rng.random(w.shape) < 0.1] = np.inf  # a site out of reach
    q = np.sort(rng.integers(50, 900, n_units).astype(float))[::-1].copy()
    cap = rng.uniform(0.3, 0.8, kk) * q.sum()
    finite_min = np.where(np.isfinite(w), w, 1e9).min(axis=1)
    rest = np.append(np.cumsum(finite_min[::-1])[::-1], 0.0)
    cur = float(w[np.isfinite(w)].mean() * n_units)
    args = (w, q, cap, rest, float(rng.uniform(0, 50)), cur, int(rng.choice([5, 100_000])), 1e-9)
    got = _repartition_states(*args)
    want = _repartition_states_reference(*args)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert len(got[3]) == len(want[3])
    for a, b in zip(got[3], want[3], strict=True):
        np.testing.assert_array_equal(a, b)


def test_label8_numbers_components_like_scipy():
    """The patch cutter's labelling equals scipy.ndimage.label with 8-connectivity."""
    from geo.siting import _label8

    rng = np.random.default_rng(0)
    for _ in range(200):
        b = rng.random((rng.integers(1, 30), rng.integers(1, 30))) < rng.random()
        ref, n_ref = ndi.label(b, structure=np.ones((3, 3), dtype=bool))
        lab, n = _label8(b)
        assert n == n_ref
        np.testing.assert_array_equal(lab, ref)


# --------------------------------------------------------------------------- patch cutting oracle


def _split_patch_reference(
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    max_cells: int,
    min_cells: int,
    xres: float,
    yres: float,
) -> list[np.ndarray]:
    """geo.siting._split_patch as it was in NumPy before its numba kernel (the oracle;
    what it does: that function's docstring)."""
    n = len(rows)
    if n <= max_cells:
        return [np.arange(n)]
    r0, c0 = rows.min(), cols.min()
    rr, cc = rows - r0, cols - c0
    eight = np.ones((3, 3), dtype=bool)
    done: list[np.ndarray] = []
    stack = [np.arange(n)]
    while stack:
        idx = stack.pop()
        if len(idx) <= max_cells:
            done.append(idx)
            continue
        k = -(-len(idx) // max_cells)
        r, c = rr[idx], cc[idx]
        wide = (c.max() - c.min() + 1) * xres >= (r.max() - r.min() + 1) * yres
        order = np.lexsort((r, c)) if wide else np.lexsort((c, r))
        cut = min(max(round(len(idx) * (k // 2) / k), 1), len(idx) - 1)
        for part in (idx[order[:cut]], idx[order[cut:]]):
            pr, pc = rr[part], cc[part]
            box = np.zeros((pr.max() - pr.min() + 1, pc.max() - pc.min() + 1), dtype=bool)
            box[pr - pr.min(), pc - pc.min()] = True
            lab, nl = _label8(box)
            comp = lab[pr - pr.min(), pc - pc.min()]
            if nl == 1:
                stack.append(part)
                continue
            # the part's cells grouped by component (stable: each keeps its order)
            by = np.argsort(comp, kind="stable")
            ends = np.searchsorted(comp[by], np.arange(1, nl + 1), side="right")
            for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True):
                stack.append(part[by[a:b]])
    if min_cells <= 1:
        return done
    # small leftovers join a touching piece with room, smallest first
    owner = -np.ones((rr.max() + 1, cc.max() + 1), dtype=np.int64)
    for p, idx in enumerate(done):
        owner[rr[idx], cc[idx]] = p
    sizes = np.array([len(i) for i in done])
    alive = np.ones(len(done), dtype=bool)
    for p in np.argsort(sizes, kind="stable"):
        if sizes[p] >= min_cells:
            continue
        # the piece's bounding box grown by one cell holds its whole 8-neighbourhood ring
        pr, pc = rr[done[p]], cc[done[p]]
        r0_, r1_ = max(int(pr.min()) - 1, 0), int(pr.max()) + 2
        c0_, c1_ = max(int(pc.min()) - 1, 0), int(pc.max()) + 2
        win = owner[r0_:r1_, c0_:c1_]  # a view: writes below update ``owner``
        mask = win == p
        ring = ndi.binary_dilation(mask, structure=eight) & ~mask
        nbrs = [int(x) for x in np.unique(win[ring]) if x >= 0 and alive[x]]
        fits = [x for x in nbrs if sizes[x] + sizes[p] <= max_cells]
        alive[p] = False
        if fits:
            to = min(fits, key=lambda x: (sizes[x], x))
            done[to] = np.concatenate([done[to], done[p]])
            sizes[to] += sizes[p]
            win[mask] = to
        else:
            win[mask] = -1
    return [done[p] for p in range(len(done)) if alive[p] and sizes[p] >= min_cells]


def _patch_cells(rng: np.random.Generator, h: int, w: int, fill: float) -> tuple:
    """The cells of the largest 8-connected patch of a random field (rows, cols)."""
    field = ndi.gaussian_filter(rng.random((h, w)), 2.0)
    ok = field > np.quantile(field, 1.0 - fill)
    lab, n = ndi.label(ok, structure=np.ones((3, 3), bool))
    big = np.argmax(np.bincount(lab.ravel())[1:]) + 1
    return np.nonzero(lab == big)


@pytest.mark.parametrize("seed", range(12))
def test_split_patch_kernel_cuts_as_the_numpy_original(seed):
    """Same pieces, same cells, same order as the NumPy version, on random patches with
    leftovers to merge or drop, wide and tall cells."""
    from geo.siting import _split_patch

    rng = np.random.default_rng(seed)
    h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
    rows, cols = _patch_cells(rng, h, w, float(rng.uniform(0.3, 0.7)))
    rows, cols = rows + int(rng.integers(0, 500)), cols + int(rng.integers(0, 500))
    for max_cells, min_cells in [(40, 12), (150, 1), (97, 30), (len(rows) + 1, 5), (25, 25)]:
        for xres, yres in [(30.0, 30.0), (10.0, 45.0)]:
            kw = dict(max_cells=max_cells, min_cells=min_cells, xres=xres, yres=yres)
            got = _split_patch(rows, cols, **kw)
            want = _split_patch_reference(rows, cols, **kw)
            assert len(got) == len(want), kw
            for a, b in zip(got, want, strict=True):
                np.testing.assert_array_equal(a, b)
