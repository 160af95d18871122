"""Relocation page view models: figures of a plan, the comparison, the lines that explain it.

Every expectation is worked out by hand from the tiny frames below (no browser).
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box

from dashboard.viewmodels import (
    bypass_line,
    candidate_features,
    candidate_table,
    change_summary,
    comparison_rows,
    decisive_codes,
    flow_features,
    relocation_figures,
    relocation_view,
    rule_name,
    site_features,
    site_rows,
    status_text,
    unplaced_rows,
)

SETTINGS = {
    "min_score": 30.0,
    "hazard_decisive": True,
    "seismic_decisive": True,
    "protected_decisive": True,
    "steep_decisive": False,
    "relocation_cny_per_person": 60000.0,
}


def _cands() -> gpd.GeoDataFrame:
    """A moves on its score; B (hazard) and C (protected) move below the threshold by a
    decisive rule; D is steep only (not decisive, below the threshold); E may qualify once
    its missing data are known."""
    return gpd.GeoDataFrame(
        {
            "village_id": ["A", "B", "C", "D", "E"],
            "name": ["甲村", "乙村", "<b>丙村</b>", "丁村", "戊村"],
            "township": ["一镇", "一镇", "二乡", "二乡", "二乡"],
            "eligible": [True, True, True, False, False],
            "score": [50.0, 20.0, 10.0, 15.0, 25.0],
            "rank": pd.array([1, 2, 3, pd.NA, pd.NA], dtype="Int64"),
            "reasons_zh": ["地灾；陡坡", "地灾", "红线", "陡坡", ""],
            "reasons_en": ["hazard; steep", "hazard", "redline", "steep", ""],
            "reason_codes": ["HAZARD,STEEP", "HAZARD", "PROTECTED", "STEEP", ""],
            "people_to_move": pd.array([100, 200, 30, 0, 0], dtype="Int64"),
            "people_to_move_poor": pd.array([40, 50, 30, 0, 0], dtype="Int64"),
            "people_to_move_other": pd.array([60, 150, 0, 0, 0], dtype="Int64"),
            "move_scope": ["registered_poor", "whole_settlement", "whole_settlement", None, None],
            "needs_review": [False, False, False, False, True],
        },
        geometry=[Point(106.0 + i / 100, 26.0) for i in range(5)],
        crs="EPSG:4326",
    )


def _sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": ["s1", "s2", "s3"],
            "name": ["县城安置点", "S002", "S003"],
            "source": ["planner", "generated", "generated"],
            "capacity_people": [300, 500, 60],
            "assigned_people": [250, 0, 50],
            "opened": [True, False, True],
            "robustness_frac": [0.8, 0.2, 0.4],
            "rep_x": [1.0, 2.0, 3.0],
        },
        geometry=[box(106.1, 26.1, 106.11, 26.11), box(106.2, 26.2, 106.21, 26.21),
                  box(106.3, 26.3, 106.31, 26.31)],
        crs="EPSG:4326",
    )  # fmt: skip


def _alloc() -> gpd.GeoDataFrame:
    """A → s1 (100 people, 10 min); B → s1 (150, 20 min) and s3 (50, 40 min)."""
    return gpd.GeoDataFrame(
        {
            "village_id": ["A", "B", "B"],
            "site_id": ["s1", "s1", "s3"],
            "people": [100.0, 150.0, 50.0],
            "travel_min": [10.0, 20.0, 40.0],
        },
        geometry=[LineString([(106.0, 26.0), (106.1, 26.1)])] * 3,
        crs="EPSG:4326",
    )


def _unplaced() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "village_id": ["C"],
            "people": [30],
            "reason_code": ["no_site_within_limit"],
            "reason_en": ["no site within 120 min (nearest 167 min)"],
            "reason_zh": ["120 分钟内没有安置点（最近 167 分钟）"],
        }
    )


def _figures(summary=None, **kw):
    return relocation_figures(
        summary, _cands(), _sites(), _alloc(), _unplaced(), settings={**SETTINGS, **kw}
    )


def test_figures_from_the_layers_hand_computed():
    f = _figures()
    assert f["min_score"] == 30
    assert f["candidates"] == 3  # A, B, C
    assert (f["people_total"], f["people_poor"], f["people_other"]) == (330, 120, 210)
    # B (20) and C (10) score below 30 and move by HAZARD and PROTECTED; D is not eligible
    assert f["decisive_bypass"] == 2 and f["bypass_people"] == 230
    assert f["bypass_rules"] == {"HAZARD": 1, "PROTECTED": 1}
    assert f["needs_review"] == 1
    assert (f["sites_candidate"], f["sites_opened"]) == (3, 2)
    assert (f["people_placed"], f["people_unplaced"], f["unplaced_villages"]) == (300, 30, 1)
    assert f["mean_travel_min"] == pytest.approx((100 * 10 + 150 * 20 + 50 * 40) / 300)  # 20
    assert f["robustness"] == pytest.approx((0.8 + 0.4) / 2)
    assert f["relocation_cost_cny"] == 330 * 60000
    assert f["allocation_status"] is None and f["allocation_gap"] is None
    json.dumps(f, allow_nan=False)  # JSON-safe: unknown is None, never NaN


def test_summary_figures_win_and_the_threshold_decides_the_bypass():
    f = _figures(
        {"people_to_relocate": 999, "decisive_bypass": 5, "allocation_status": "time_limit",
         "allocation_gap": 0.02, "people_unplaced": None},
    )  # fmt: skip
    assert f["people_total"] == 999 and f["decisive_bypass"] == 5
    assert f["relocation_cost_cny"] == 999 * 60000
    assert f["allocation_status"] == "time_limit" and f["allocation_gap"] == 0.02
    assert f["people_unplaced"] == 30  # a None in the summary does not hide the layer's figure
    # at threshold 15 only C (10) is below it; at 60, A (50) is below too but moves by HAZARD
    assert _figures(min_score=15)["decisive_bypass"] == 1
    assert _figures(min_score=60)["bypass_rules"] == {"HAZARD": 2, "PROTECTED": 1}
    # HAZARD no longer decisive: B is still counted (it is eligible in the layer) but not named
    assert _figures(hazard_decisive=False)["bypass_rules"] == {"PROTECTED": 1}


def test_figures_without_layers_are_unknown_not_zero():
    f = relocation_figures({}, None, None, None, None, settings={})
    for key in ("candidates", "people_total", "decisive_bypass", "sites_opened", "people_placed",
                "people_unplaced", "mean_travel_min", "robustness", "relocation_cost_cny",
                "min_score"):  # fmt: skip
        assert f[key] is None, key


def test_decisive_codes_and_rule_names():
    assert decisive_codes(SETTINGS) == ["HAZARD", "SEISMIC", "PROTECTED"]
    # absent, or a value that is not a boolean: not decisive (missing is never met)
    assert decisive_codes({"hazard_decisive": "perhaps", "flood_decisive": None}) == []
    assert decisive_codes({"repair_decisive": "true"}) == ["REPAIR_COSTLIER"]
    assert rule_name("HAZARD") == "地质灾害" and rule_name("SEISMIC", "en") == "seismic zone"
    assert rule_name("NEW_RULE") == "NEW_RULE"


def test_comparison_rows_numbers_beside_the_baseline():
    base = {"min_score": 30.0, "candidates": 41, "decisive_bypass": 17, "people_total": 38808,
            "people_poor": 3382, "people_other": 35426, "sites_candidate": 62,
            "sites_opened": 18, "people_placed": 38738, "people_unplaced": 70,
            "mean_travel_min": 45.6, "robustness": 0.998, "allocation_status": "optimal",
            "allocation_gap": 0.0015, "needs_review": 0, "cost_per_person": 60000.0,
            "relocation_cost_cny": 38808 * 60000.0}  # fmt: skip
    scen = {**base, "min_score": 100.0, "candidates": 40, "decisive_bypass": 40,
            "people_total": 38702, "sites_opened": 19, "mean_travel_min": 45.4,
            "allocation_status": "time_limit", "relocation_cost_cny": 38702 * 60000.0}  # fmt: skip
    rows = {r["key"]: r for r in comparison_rows(base, scen, "zh")}
    assert "needs_review" not in rows  # 0 on both sides: not shown
    assert (rows["min_score"]["base"], rows["min_score"]["scen"]) == ("30 分", "100 分")
    assert rows["min_score"]["delta"] == "+70"
    r = rows["people_total"]
    assert (r["base"], r["scen"], r["delta"]) == ("38,808", "38,702", "−106")
    assert rows["decisive_bypass"]["delta"] == "+23" and rows["decisive_bypass"]["sub"]
    assert rows["people_unplaced"]["delta"] == "0"
    assert rows["mean_travel_min"]["delta"] == "−0.2"
    assert rows["allocation_status"]["scen"] == "达到时限（非最优）"
    # "optimal" with a gap above 0 (a plan from before the solver told them apart) is not proven
    assert rows["allocation_status"]["base"] == "在允许间隙内（未证明最优）"
    assert rows["allocation_status"]["delta"] == ""
    assert status_text("optimal", 0.0, "en") == "Proven optimal"
    assert status_text("gap_limit", 0.004, "en") == "Within the allowed gap (not proven optimal)"
    assert status_text("something_new") == "something_new" and status_text(None) == "—"
    assert rows["allocation_gap"]["base"] == "0.15%"
    cost = rows["relocation_cost_cny"]
    assert "6 万元" in cost["label"] and "待核实" in cost["label"]
    # 38,808 × 60,000 = 2,328,480,000; 106 fewer people: −6,360,000
    assert (cost["base"], cost["scen"], cost["delta"]) == ("23.28 亿元", "23.22 亿元", "−636 万元")
    en = {r["key"]: r for r in comparison_rows(base, scen, "en")}
    assert en["relocation_cost_cny"]["base"] == "CNY 2,328.5 M"
    assert en["relocation_cost_cny"]["delta"] == "−CNY 6.4 M"
    assert "CNY 60,000 per person" in en["relocation_cost_cny"]["label"]
    assert "unverified" in en["relocation_cost_cny"]["label"]
    alone = comparison_rows(base, None, "zh")
    assert all(r["scen"] == "" and r["delta"] == "" for r in alone)
    shown = {r["key"] for r in comparison_rows({**base, "needs_review": 2}, None)}
    assert "needs_review" in shown


def test_change_summary_one_line():
    base = {"candidates": 41, "people_total": 38808, "sites_opened": 18, "people_unplaced": 70}
    scen = {"candidates": 40, "people_total": 38702, "sites_opened": 19, "people_unplaced": 70}
    assert change_summary(base, None, "zh") == (
        "基准方案：搬迁 41 个村、38,808 人；启用 18 个安置点；未能安置 70 人。"
    )
    assert change_summary(base, scen, "zh") == (
        "新情景（括号内为较基准方案的变化）：搬迁 40 个村（−1）、38,702 人（−106）；"
        "启用 19 个安置点（+1）；未能安置 70 人（持平）。"
    )
    assert change_summary(base, scen, "en") == (
        "Scenario (change from the baseline in brackets): 40 villages (−1), 38,702 people "
        "(−106) move; 19 sites open (+1); 70 people not placed (no change)."
    )
    assert "—" in change_summary(base, {**scen, "sites_opened": None}, "zh")


def test_bypass_line_names_the_decisive_rules():
    f = _figures()
    assert bypass_line(f, "zh") == (
        "2 个村（230 人）得分低于门槛 30 分，但触发了决定性规则，不论门槛都须搬迁："
        "地质灾害 1 个村、生态红线/保护区 1 个村。"
    )
    assert bypass_line(f, "en") == (
        "2 villages (230 people) score below the threshold of 30 pts but move regardless, "
        "because a decisive rule applies: geological hazard (1), protected zone (1)."
    )
    assert bypass_line(_figures(min_score=5)) is None  # nobody below the threshold
    assert bypass_line({"decisive_bypass": None}) is None


def test_unplaced_rows_with_names_and_reasons():
    rows = unplaced_rows(_unplaced(), _cands(), "zh")
    assert rows == [
        {"village_id": "C", "name": "<b>丙村</b>", "township": "二乡", "people": 30,
         "reason": "120 分钟内没有安置点（最近 167 分钟）"}
    ]  # fmt: skip
    assert unplaced_rows(_unplaced(), _cands(), "en")[0]["reason"].startswith("no site within")
    # no text in the language: the code; an unknown village keeps its id
    u = pd.DataFrame({"village_id": ["Z", "A"], "people": [5, 9], "reason_code": ["x", "y"]})
    rows = unplaced_rows(u, _cands(), "zh")
    assert [(r["name"], r["reason"]) for r in rows] == [("甲村", "y"), ("Z", "x")]  # most first
    assert unplaced_rows(None, _cands()) == [] and unplaced_rows(u.iloc[:0], None) == []


def test_candidate_table_says_why_each_village_moves():
    tab = candidate_table(_cands(), settings=SETTINGS, lang="zh")
    assert list(tab["village_id"]) == ["A", "B", "C"]  # eligible, by rank
    assert list(tab["basis"]) == [
        "评分达到门槛",
        "决定性规则：地质灾害（低于门槛）",
        "决定性规则：生态红线/保护区（低于门槛）",
    ]
    assert list(tab["bypass"]) == [False, True, True]
    assert list(tab["move_scope"]) == ["仅建档立卡贫困人口", "整村同步搬迁", "整村同步搬迁"]
    assert list(tab["people_to_move_poor"]) == [40, 50, 30]
    en = candidate_table(_cands(), settings=SETTINGS, lang="en")
    assert en["basis"].iloc[1] == "decisive rule: geological hazard (below threshold)"
    empty = candidate_table(_cands().iloc[:0], settings=SETTINGS)
    assert empty.empty and "basis" in empty.columns


def test_candidate_and_flow_features_label_in_text():
    tab = candidate_table(_cands(), settings=SETTINGS, lang="zh")
    gj = candidate_features(tab, unplaced_rows(_unplaced(), _cands()), "zh")
    props = {f["properties"]["label"].split(" · ")[0]: f["properties"] for f in gj["features"]}
    assert (props["甲村"]["b"], props["甲村"]["u"]) == (0, 0)
    assert (props["乙村"]["b"], props["乙村"]["u"]) == (1, 0)
    c = props["<b>丙村</b>"]  # the name stays as it is: the browser shows it as text
    assert c["u"] == 1 and c["label"] == (
        "<b>丙村</b> · 二乡 · 得分 10 · 搬迁 30 人 · 决定性规则：生态红线/保护区（低于门槛）"
        " · 未能安置：120 分钟内没有安置点（最近 167 分钟）"
    )
    flows = flow_features(_alloc(), _cands(), _sites(), "zh")
    assert [f["properties"]["label"] for f in flows["features"]] == [
        "甲村 → 县城安置点：100 人，10 分钟",
        "乙村 → 县城安置点：150 人，20 分钟",
        "乙村 → S003：50 人，40 分钟",
    ]
    assert flow_features(_alloc().iloc[:0], None, None)["features"] == []


def test_site_features_draw_opened_and_idle_apart():
    geo = site_features(_sites(), "zh")
    assert len(geo["open"]["features"]) == 2 and len(geo["idle"]["features"]) == 1
    assert len(geo["open_points"]["features"]) == 2 and len(geo["idle_points"]["features"]) == 1
    assert geo["open"]["features"][0]["properties"]["label"] == (
        "县城安置点 · 规划提供 · 已分配 250 / 容量 300 人"
    )
    assert geo["open_points"]["features"][0]["properties"] == {
        "label": "县城安置点 · 规划提供 · 已分配 250 / 容量 300 人",
        "src": "planner",
        "sid": "s1",  # a click on the map selects the site's row
    }
    assert geo["open"]["features"][0]["properties"]["sid"] == "s1"
    # without an ``opened`` column: the sites people were assigned to
    geo2 = site_features(_sites().drop(columns="opened"), "en")
    assert len(geo2["open"]["features"]) == 2
    rows = site_rows(_sites(), "zh")
    assert [r["site_id"] for r in rows] == ["s1", "s3", "s2"]  # opened first, most people first
    assert [r["opened"] for r in rows] == ["是", "是", "否"]
    assert all(isinstance(r["_lat"], float) and isinstance(r["_lon"], float) for r in rows)
    assert "rep_x" not in rows[0]  # only the grid's columns travel to the browser


def test_relocation_view_is_json_safe_and_complete():
    v = relocation_view(
        candidates=_cands(),
        sites=_sites(),
        allocation=_alloc(),
        unplaced=_unplaced(),
        summary={"allocation_status": "optimal"},
        notes=["a suitability factor left out", " "],
        settings=SETTINGS,
        lang="zh",
    )
    json.dumps(v, allow_nan=False)
    assert set(v) == {"figures", "cand_rows", "site_rows", "unplaced_rows", "notes", "geo"}
    assert set(v["geo"]) == {"cands", "flows", "open", "idle", "open_points", "idle_points"}
    assert v["notes"] == ["a suitability factor left out"]
    assert [r["name"] for r in v["cand_rows"]] == ["甲村", "乙村", "<b>丙村</b>"]
    assert "bypass" not in v["cand_rows"][0] and v["cand_rows"][1]["basis"].endswith("（低于门槛）")
    assert v["figures"]["candidates"] == 3 and np.isclose(v["figures"]["robustness"], 0.6)
