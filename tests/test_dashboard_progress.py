"""The progress page's view models: a village's state in the year shown (hand-worked),
counts that add up, townships against the timetable, the villages at risk, sites by stage."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from dashboard.progress import (
    YEAR_STATES,
    at_risk_rows,
    has_timetable,
    progress_geojson,
    site_rows,
    stage_counts,
    timetable_years,
    township_rows,
    year_counts,
    year_states,
)


def villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "village_id": ["V1", "V2", "V3", "V4", "V5", "V6", "V7"],
            "name": ["甲村", "乙村", "丙村", "丁村", "戊村", "己村", "庚寨"],
            "township": ["A", "A", "A", "B", "B", "B", "B"],
            # V1 exited 2016; V2 planned 2017, blocked; V3 planned 2018, ready;
            # V4 planned 2017, unknown; V5 no planned year; V6 planned 2019, blocked; V7 hamlet
            "blocker_class": [
                "ready",
                "blocked_several",
                "ready",
                "unknown",
                "blocked_one",
                "blocked_one",
                "hamlet",
            ],
            "planned_exit_year": [2016, 2017, 2018, 2017, np.nan, 2019, np.nan],
            "exit_year": [2016, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
            "unmet": ["", "road,water", "", "", "clinic", "road", ""],
        },
        geometry=[Point(107 + i / 10, 26) for i in range(7)],
        crs="EPSG:4326",
    )


def test_states_by_year_hand_worked():
    v = villages()
    assert year_states(v, 2016).tolist() == [
        "exited",
        "later",
        "later",
        "later",
        "not_planned",
        "later",
        "not_assessed",
    ]
    assert year_states(v, 2017).tolist() == [
        "exited",
        "at_risk",
        "later",
        "unknown",  # due and unknown: never counted ready
        "not_planned",
        "later",
        "not_assessed",
    ]
    assert year_states(v, 2019).tolist() == [
        "exited",
        "at_risk",
        "ready",
        "unknown",
        "not_planned",
        "at_risk",
        "not_assessed",
    ]


def test_counts_add_up_every_year_and_township():
    v = villages()
    for y in timetable_years(v):
        c = year_counts(v, y)
        assert set(c) == set(YEAR_STATES) and sum(c.values()) == len(v)
        for tw in ("A", "B"):
            assert sum(year_counts(v, y, tw).values()) == int((v["township"] == tw).sum())
    assert timetable_years(v) == [2016, 2017, 2018, 2019]
    assert timetable_years(v, current_year=2020)[-1] == 2020


def test_townships_and_at_risk_and_the_map():
    v = villages()
    rows = {r["township"]: r for r in township_rows(v, 2019)}
    assert rows["A"] == {
        "township": "A",
        "assessed": 3,
        "due": 3,
        "exited": 1,
        "at_risk": 1,
        "ready": 1,
        "unknown": 0,
        "exited_frac": 0.333,
    }
    assert rows["B"]["due"] == 2 and rows["B"]["at_risk"] == 1 and rows["B"]["unknown"] == 1
    risk = at_risk_rows(v, 2019, {"road": "通硬化路", "water": "饮水安全"}, "zh")
    assert [r["village_id"] for r in risk] == ["V2", "V6"]  # most overdue first
    assert risk[0]["overdue_years"] == 2 and risk[0]["blockers"] == "通硬化路、饮水安全"
    gj = progress_geojson(v)
    props = [f["properties"] for f in gj["features"]]
    assert props[0]["ey"] == 2016 and props[4]["py"] is None and props[6]["cs"] == "not_assessed"


def test_without_a_timetable_nothing_is_due():
    v = villages().drop(columns=["planned_exit_year", "exit_year"])
    assert not has_timetable(v)
    c = year_counts(v, 2017)
    assert c["at_risk"] == 0 and c["exited"] == 0 and c["not_planned"] == 6
    assert timetable_years(v) == []


def test_sites_by_stage():
    s = pd.DataFrame(
        {
            "site_id": ["A1", "A2", "A3", "S1"],
            "name": ["县城", "乡镇", "村", "生成"],
            "stage": ["occupied", "building", "selected", None],
            "planned_people": [1750.0, 1150.0, 600.0, np.nan],
            "actual_people": [760.0, np.nan, np.nan, np.nan],
            "occupancy_people_frac": [0.434, np.nan, np.nan, np.nan],
        }
    )
    assert stage_counts(s) == {"selected": 1, "building": 1, "built": 0, "occupied": 1}
    rows = site_rows(s, "zh")
    assert [r["site_id"] for r in rows] == ["A1", "A2", "A3"]  # furthest stage first
    assert rows[0]["stage"] == "入住" and rows[0]["occupancy_people_frac"] == 0.434
    assert rows[1]["occupancy_people_frac"] is None  # unknown, never 0


def test_versions_read_from_the_history_store(tmp_path):
    """The progress page's version lines come from a real history store."""
    from dashboard.progress import version_fields, versions_rows
    from layers.history import open_history
    from scripts.pipeline import run_pipeline
    from tests.conftest import write_tiny_workspace

    ws = write_tiny_workspace(tmp_path / "ws")
    run_pipeline(ws, tmp_path / "plan", progress=False)
    open_history(ws, create=True).record(tmp_path / "plan")
    rows = versions_rows([v.to_dict() for v in open_history(ws).versions()])
    assert len(rows) == 1 and rows[0]["version_id"] == 1
    f = version_fields(rows[0])
    assert f["id"] == 1 and f["date"][:4].isdigit() and f["ready"] != "—" and f["km"] != "—"
