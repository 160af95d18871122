"""Resettlement sites followed through (geo.site_progress): golden cases by hand.

Five sites, the data of 2019 (limits: school 30 min, health centre 30 min, jobs 45 min)::

    P1 planner, occupied since 2018-06-01: planned 100 households / 400 people, moved in 80 / 300
       → occupancy 0.8 / 0.75; services for its 300 actual people; school 25 min (ok), health
       centre 31 min (not ok); jobs of town T1 (1000, 10 min) and of T2 (unknown, 20 min): 1000,
       a lower bound; T3 (500 jobs) is 50 min away; 120 jobs found of 200 labour → 0.6
    P2 planner, building: planned 50 households, people not given → occupancy unknown;
       services for the 120 people the allocation sends (40 min and 10 min back: 100 people at
       30 min and 20 at 10 min → mean 26.7 min)
    P3 planner, stage not given, actual 10 but planned 0 → occupancy unknown (never 0 or 1)
    G1 generated, opened by the plan: 500 people allocated, no town within 45 min → no jobs
    G2 generated, not opened: not followed
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from geo import site_progress as sp
from layers.errors import LayerSchemaError

CY = 2019


def sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": ["P1", "P2", "P3", "G1", "G2"],
            "name": ["一号", "二号", "三号", "G1", "G2"],
            "source": ["planner"] * 3 + ["generated"] * 2,
            "opened": [True, True, False, True, False],
            "capacity_people": [400, 200, 100, 600, 300],
            "assigned_people": [0, 120, 0, 500, 0],
            "stage": ["occupied", "building", None, None, None],
            "selected_date": ["2016-05", "2018年3月", None, None, None],
            "building_date": ["2016-09-01", "2019-02-01", None, None, None],
            "built_date": ["2018-01-15", None, None, None, None],
            "occupied_date": ["2018-06-01 00:00:00", None, None, None, None],
            "planned_households": pd.array([100, 50, 0, None, None], dtype="Int64"),
            "planned_people": pd.array([400, None, 0, None, None], dtype="Int64"),
            "actual_households": pd.array([80, None, 3, None, None], dtype="Int64"),
            "actual_people": pd.array([300, None, 10, None, None], dtype="Int64"),
            "jobs_found": pd.array([120, None, None, None, None], dtype="Int64"),
            "labour_people": pd.array([200, None, None, None, None], dtype="Int64"),
            "land_rights_kept": pd.array([True, False, None, None, None], dtype="boolean"),
            "travel_min_school": [25.0, 30.0, np.nan, 12.0, 5.0],
            "travel_min_health_centre": [31.0, 8.0, 5.0, 12.0, 5.0],
        }
    )


TOWNS = pd.DataFrame({"town_id": ["T1", "T2", "T3"], "jobs": [1000, np.nan, 500]})
# minutes town x site, for the sites followed (P1, P2, P3, G1)
MINUTES = np.array(
    [
        [10.0, 40.0, 44.0, 60.0],
        [20.0, 50.0, 46.0, 70.0],
        [50.0, 45.0, np.nan, 80.0],
    ]
)
ALLOCATION = pd.DataFrame(
    {
        "village_id": ["v1", "v2", "v3"],
        "site_id": ["P2", "P2", "G1"],
        "people": [100.0, 20.0, 500.0],
        "travel_min": [30.0, 10.0, 55.0],
    }
)


def follow(**kw) -> pd.DataFrame:
    s = sites()
    out = sp.follow_sites(
        s,
        allocation=kw.get("allocation", ALLOCATION),
        current_year=CY,
        school_max_min=30.0,
        health_max_min=30.0,
        jobs_max_min=45.0,
        towns=TOWNS,
        town_minutes=MINUTES,
        town_site_ids=["P1", "P2", "P3", "G1"],
    )
    return (
        s.drop(columns=[c for c in out.columns if c in s.columns])
        .join(out)
        .set_index("site_id", drop=False)
    )


def test_occupancy_is_actual_over_planned_and_unknown_when_either_is_missing():
    f = follow()
    assert f.at["P1", "occupancy_households_frac"] == 0.8
    assert f.at["P1", "occupancy_people_frac"] == 0.75
    assert np.isnan(f.at["P2", "occupancy_people_frac"])  # planned people not given
    assert np.isnan(f.at["P2", "occupancy_households_frac"])  # nobody reported moved in
    assert np.isnan(f.at["P3", "occupancy_people_frac"])  # planned 0: not a rate
    assert np.isnan(f.at["G1", "occupancy_people_frac"])


def test_stage_dates_and_time_in_stage():
    f = follow()
    assert list(f["stage"].iloc[:2]) == ["occupied", "building"]
    assert f.at["P1", "stage_zh"] == "入住" and f.at["P2", "stage_zh"] == "在建"
    assert f.at["P1", "stage_date"] == "2018-06-01" and f.at["P1", "years_in_stage"] == 1
    assert f.at["P2", "selected_date"] == "2018-03-01"  # 2018年3月 read as its first day
    assert f.at["P1", "occupied_date"] == "2018-06-01"
    assert f.at["P2", "years_in_stage"] == 0
    assert f["stage"].iloc[2] is None and np.isnan(f.at["P3", "years_in_stage"])


def test_services_against_the_people_the_site_houses():
    f = follow()
    assert (f.at["P1", "people_basis"], f.at["P1", "people_basis_kind"]) == (300, "actual")
    assert (f.at["P2", "people_basis"], f.at["P2", "people_basis_kind"]) == (120, "allocated")
    assert (f.at["G1", "people_basis"], f.at["G1", "people_basis_kind"]) == (500, "allocated")
    assert bool(f.at["P1", "school_ok"]) and not bool(f.at["P1", "health_ok"])
    assert bool(f.at["P2", "school_ok"])  # exactly the limit is within it
    assert f["school_ok"].isna()["P3"]  # no travel time: unknown, never ok
    # jobs within 45 min: T1's 1000; T2 is in reach but its jobs are unknown → a lower bound
    assert f.at["P1", "jobs_in_reach"] == 1000 and f.at["P1", "jobs_unknown_towns"] == 1
    assert f.at["P1", "jobs_in_reach_per_person"] == pytest.approx(1000 / 300, abs=0.01)
    assert f.at["P2", "jobs_in_reach"] == 1000 + 500  # 40 and 45 min (inclusive)
    assert f.at["G1", "jobs_in_reach"] == 0 and f.at["G1", "jobs_unknown_towns"] == 0
    assert np.isnan(f.at["G2", "jobs_in_reach"])  # not followed: no minutes computed


def test_follow_up_support():
    f = follow()
    assert f.at["P1", "jobs_found_frac"] == 0.6
    assert np.isnan(f.at["P2", "jobs_found_frac"])
    assert f.at["P2", "return_min_mean"] == pytest.approx((100 * 30 + 20 * 10) / 120, abs=0.05)
    assert f.at["P2", "return_min_max"] == 30.0
    assert np.isnan(f.at["P1", "return_min_mean"])  # nobody allocated: no trip back known
    assert f.at["P1", "followup_gaps"] == "health"
    assert f.at["P2", "followup_gaps"] == "land_rights"
    assert f.at["G1", "followup_gaps"] == "jobs"
    assert "land_rights" in f.at["G1", "followup_unknown"]
    assert "school" in f.at["P3", "followup_unknown"]


def test_problems_are_reported_not_hidden():
    s = sites()
    s.loc[1, "building_date"] = "2015-01-01"  # before it was selected
    s.loc[1, "actual_people"] = 5  # people in a site still being built
    s.loc[0, "actual_households"] = 120  # more than planned
    s.loc[0, "built_date"] = "sometime"
    out = sp.follow_sites(
        s,
        allocation=None,
        current_year=CY,
        school_max_min=30,
        health_max_min=30,
        jobs_max_min=45,
    )
    text = " | ".join(out.attrs["problems"])
    assert "P2: stage dates out of order" in text
    assert "P2: people recorded as moved in while the site is not built" in text
    assert "P1: more households or people moved in than planned" in text
    assert "P1: built_date 'sometime' is not a date" in text
    assert out.at[0, "built_date"] == "sometime"  # shown as given
    w = " | ".join(sp.site_warnings(out, has_planner_sites=True))
    assert "problem(s)" in w and "P3" in w  # P3 has no stage


def test_planner_sites_without_stages_are_not_followed_and_say_so():
    s = sites().assign(stage=None)
    out = sp.follow_sites(
        s, allocation=None, current_year=CY, school_max_min=30, health_max_min=30, jobs_max_min=45
    )
    w = sp.site_warnings(out, has_planner_sites=True)
    assert any("not followed through" in x for x in w)
    summ = sp.summary(s.join(out.drop(columns=[c for c in out.columns if c in s.columns])))
    assert summ["sites_occupied"] is None and summ["sites_selected"] is None


def test_table_and_summary():
    f = follow().reset_index(drop=True)
    table = sp.progress_table(f)
    assert list(table["site_id"]) == ["P1", "P2", "P3", "G1"]  # planner first, by stage
    assert "geometry" not in table.columns
    s = sp.summary(f)
    assert s["sites_followed"] == 4
    assert (s["sites_occupied"], s["sites_building"], s["sites_selected"]) == (1, 1, 0)
    assert s["sites_occupancy_people_frac"] == 0.75  # only where both figures are known
    assert s["sites_occupancy_unknown"] == 0
    assert s["sites_followup_gaps"] == 3
    zh = sp.chinese_headers(table)
    assert {"入住率（人）", "建设阶段", "回原村平均时间（分钟）"} <= set(zh.columns)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2017-05-20", dt.date(2017, 5, 20)),
        ("2017/5/20", dt.date(2017, 5, 20)),
        ("2017年5月20日", dt.date(2017, 5, 20)),
        ("2017年5月", dt.date(2017, 5, 1)),
        ("2017.05", dt.date(2017, 5, 1)),
        ("2017", dt.date(2017, 1, 1)),
        ("2017-05-20 00:00:00", dt.date(2017, 5, 20)),
        (pd.Timestamp("2017-05-20"), dt.date(2017, 5, 20)),
    ],
)
def test_stage_dates_as_counties_write_them(text, expected):
    assert sp.parse_stage_date(text) == (expected, True)


@pytest.mark.parametrize("text", ["soon", "2017-13-01", "20170520x"])
def test_what_is_not_a_date_is_said(text):
    assert sp.parse_stage_date(text) == (None, False)
    assert sp.parse_stage_date("") == (None, True) and sp.parse_stage_date(None) == (None, True)


def test_stage_aliases_and_bad_stages_at_load():
    import geopandas as gpd
    from shapely.geometry import Point

    from layers.validate import validate_layer

    raw = gpd.GeoDataFrame(
        {
            "site_id": ["A", "B", "C"],
            "建设阶段": ["在建", "已入住", "盖房中"],
            "计划安置人数": [100, 200, 300],
            "实际入住人数": ["", "150", "x"],
        },
        geometry=[Point(109.0, 28.3), Point(109.01, 28.3), Point(109.02, 28.3)],
        crs="EPSG:4490",
    )
    df, problems = validate_layer(raw, "sites", file="sites.geojson")
    assert list(df["stage"][:2]) == ["building", "occupied"]
    lines = [p.line() for p in problems if p.severity == "error"]
    assert any("stage" in x and "盖房中" in x for x in lines)
    assert any("actual_people" in x for x in lines)
    assert df["planned_people"].tolist() == [100, 200, 300]


def test_bad_inputs_are_refused():
    with pytest.raises(LayerSchemaError, match="site_id"):
        sp.follow_sites(
            pd.DataFrame({"name": ["x"]}),
            allocation=None,
            current_year=CY,
            school_max_min=30,
            health_max_min=30,
            jobs_max_min=45,
        )
    with pytest.raises(LayerSchemaError, match="town_minutes"):
        sp.follow_sites(
            sites(),
            allocation=None,
            current_year=CY,
            school_max_min=30,
            health_max_min=30,
            jobs_max_min=45,
            towns=TOWNS,
            town_minutes=MINUTES[:, :2],
            town_site_ids=["P1", "P2", "P3"],
        )
