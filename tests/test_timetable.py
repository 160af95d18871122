"""The exit timetable (geo.timetable): golden cases worked out by hand.

Twelve villages, the data of 2018 (``current_year``), target years 2016-2020::

    A  planned 2017, exited 2017, ready now                  → exited (on time in 2017)
    B  planned 2017, exited 2018, ready                      → exited (late: row 2017)
    C  planned 2018, not exited, blocked by the road         → at risk, due this year
    D  planned 2016, not exited, blocked by several          → at risk, 2 years overdue
    E  planned 2018, not exited, an indicator unknown        → unknown (never counted ready)
    F  planned 2019, not exited, blocked by the clinic       → in progress (not yet due)
    G  planned 2019, ready                                   → ready, not yet due
    H  no planned year, blocked                              → not planned
    I  a hamlet with a planned year                          → not assessed, never counted
    J  planned 2018, met only through inferred evidence      → unconfirmed (not ready)
    K  planned 2017, exited 2017, but blocked now            → exited; flagged (数字脱贫?)
    L  planned 2018, exit year 2020 (after the data's year)  → not exited; ready; warned

Road gaps: g1 serves C and F (1.0 km known, 0.5 km unknown surface) → counted in 2018, the
earliest planned year of the villages it serves; g2 serves F only (2.0 km) → 2019; g3
serves A (exited) and g4 serves H (no plan): not in any year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo import timetable as tt
from layers.errors import LayerSchemaError, PolicyError

YEARS = [2016, 2017, 2018, 2019, 2020]
CY = 2018
IDS = ["road", "clinic", "water"]

ROWS = [
    # id, applicable, blocker, planned, exit, road, clinic, water
    ("A", True, "ready", 2017, 2017, "met", "met", "met"),
    ("B", True, "ready", 2017, 2018, "met", "met", "met"),
    ("C", True, "blocked_one", 2018, None, "not_met", "met", "met"),
    ("D", True, "blocked_several", 2016, None, "not_met", "not_met", "met"),
    ("E", True, "unknown", 2018, None, "met", "unknown", "met"),
    ("F", True, "blocked_one", 2019, None, "met", "not_met", "met"),
    ("G", True, "ready", 2019, None, "met", "met", "met"),
    ("H", True, "blocked_one", None, None, "met", "met", "not_met"),
    ("I", False, "hamlet", 2018, None, "not_met", "unknown", "met"),
    ("J", True, "unconfirmed", 2018, None, "met", "met", "met"),
    ("K", True, "blocked_one", 2017, 2017, "met", "met", "not_met"),
    ("L", True, "ready", 2018, 2020, "met", "met", "met"),
]


def villages(planned: bool = True, exits: bool = True) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "village_id": [r[0] for r in ROWS],
            "name": [f"{r[0]}村" for r in ROWS],
            "township": ["甲乡"] * 6 + ["乙乡"] * 6,
            "population": 1000,
            "poor_population": 10,
            "exit_applicable": [r[1] for r in ROWS],
            "blocker_class": [r[2] for r in ROWS],
            "unmet": "",
            "unknown": "",
            "unconfirmed": "",
            "road_status": [r[5] for r in ROWS],
            "clinic_status": [r[6] for r in ROWS],
            "water_status": [r[7] for r in ROWS],
        }
    )
    # as the loader gives them: an optional column the file lacks is all blank
    df["planned_exit_year"] = pd.array([r[3] if planned else None for r in ROWS], dtype="Int64")
    df["exit_year"] = pd.array([r[4] if exits else None for r in ROWS], dtype="Int64")
    return df


GAPS = pd.DataFrame(
    {
        "villages_served": ["C,F", "F", "A", "H"],
        "known_unhardened_km": [1.0, 2.0, 4.0, 8.0],
        "unknown_surface_km": [0.5, 0.0, 1.0, 1.0],
    }
)

HOUSEHOLDS = pd.DataFrame(
    {
        "household_id": ["h1", "h2", "h3", "h4"],
        "village_id": ["A", "C", "C", "G"],
        "members": [3, 4, 2, 5],
        "registered_poor": pd.array([True, True, True, False], dtype="boolean"),
        "register_status": ["exited", "not_exited", "returned", None],
        "exit_year": pd.array([2017, None, 2016, None], dtype="Int64"),
        "planned_exit_year": pd.array([2017, 2018, 2016, None], dtype="Int64"),
    }
)


def joined(v: pd.DataFrame, *, current_year: int = CY) -> tuple[pd.DataFrame, pd.DataFrame]:
    t = tt.village_timetable(v, current_year=current_year)
    return v.drop(columns=[c for c in t.columns if c in v.columns]).join(t), t


def test_each_village_gets_its_status_by_hand():
    v, t = joined(villages())
    st = dict(zip(v["village_id"], v["timetable_status"], strict=True))
    assert st == {
        "A": "exited",
        "B": "exited",
        "C": "at_risk",
        "D": "at_risk",
        "E": "unknown",
        "F": "in_progress",
        "G": "ready",
        "H": "not_planned",
        "I": "not_assessed",
        "J": "unconfirmed",
        "K": "exited",
        "L": "ready",
    }
    overdue = dict(zip(v["village_id"], v["overdue_years"], strict=True))
    assert {k: int(x) for k, x in overdue.items() if not pd.isna(x)} == {
        "C": 0,
        "D": 2,
        "E": 0,
        "J": 0,
        "L": 0,
    }
    due = v.set_index("village_id")["due"]
    assert pd.isna(due["H"]) and bool(due["C"]) and not bool(due["F"])
    # an exit year after the data's year is not an exit
    assert not bool(v.set_index("village_id").at["L", "exited"])
    assert t.attrs["future_exit"] == ["L"]
    assert t.attrs["exited_not_ready"] == ["K"]
    assert t.attrs["no_plan"] == ["H"]


def test_the_year_table_by_hand():
    v, _ = joined(villages())
    by = tt.timetable_by_year(
        v, years=YEARS, current_year=CY, indicator_ids=IDS, gaps=GAPS, households=HOUSEHOLDS
    ).set_index("year")
    assert list(by.index) == YEARS
    assert list(by["phase"]) == ["past", "past", "current", "future", "future"]
    got = by[
        [
            "villages_due",
            "exited_on_time",
            "exited_late",
            "due_not_exited",
            "due_ready",
            "due_unconfirmed",
            "due_blocked",
            "due_unknown",
        ]
    ]
    assert got.loc[2016].tolist() == [1, 0, 0, 1, 0, 0, 1, 0]  # D
    assert got.loc[2017].tolist() == [3, 2, 1, 0, 0, 0, 0, 0]  # A, K on time; B late
    assert got.loc[2018].tolist() == [4, 0, 0, 4, 1, 1, 1, 1]  # C blocked, E, J, L ready
    assert got.loc[2019].tolist() == [2, 0, 0, 2, 1, 0, 1, 0]  # F blocked, G ready
    assert got.loc[2020].tolist() == [0, 0, 0, 0, 0, 0, 0, 0]
    # at risk: due and blocked, for the years up to the data's year; blank after
    assert by.loc[[2016, 2017, 2018], "at_risk"].tolist() == [1, 0, 1]
    assert by.loc[[2019, 2020], "at_risk"].isna().all()
    assert by.loc[[2016, 2017, 2018], "exited_in_year"].tolist() == [0, 2, 1]
    assert by.loc[[2016, 2017, 2018], "exited_by_year_end"].tolist() == [0, 2, 3]
    assert by.loc[[2016, 2017, 2018], "not_exited_by_year_end"].tolist() == [11, 9, 8]
    assert by.loc[[2019, 2020], ["exited_in_year", "exited_by_year_end"]].isna().all().all()
    # work by when: each gap section once, in the earliest year of the open villages it serves
    assert by["km_to_harden"].tolist() == [0.0, 0.0, 1.0, 2.0, 0.0]
    assert by["km_unknown_surface"].tolist() == [0.0, 0.0, 0.5, 0.0, 0.0]
    assert by.loc[2018, ["not_met_road", "not_met_clinic", "not_met_water"]].tolist() == [1, 0, 0]
    assert by.loc[2016, ["not_met_road", "not_met_clinic"]].tolist() == [1, 1]
    assert by.loc[2019, "not_met_clinic"] == 1
    # households: due by their planned year (returned counts as not exited), exits by year
    assert by["households_due"].tolist() == [1, 1, 1, 0, 0]
    assert by["households_due_not_exited"].tolist() == [1, 0, 1, 0, 0]
    assert by.loc[[2016, 2017, 2018], "households_exited_in_year"].tolist() == [1, 1, 0]


def test_counts_add_up():
    v, _ = joined(villages())
    by = tt.timetable_by_year(v, years=YEARS, current_year=CY, indicator_ids=IDS)
    parts = ["exited_on_time", "exited_late", "due_not_exited"]
    assert (by[parts].sum(axis=1) == by["villages_due"]).all()
    split = ["due_ready", "due_unconfirmed", "due_blocked", "due_unknown"]
    assert (by[split].sum(axis=1) == by["due_not_exited"]).all()
    applicable = int(v["exit_applicable"].sum())
    past = by[by["year"] <= CY]
    assert (past["exited_by_year_end"] + past["not_exited_by_year_end"] == applicable).all()
    assert past["exited_by_year_end"].tolist() == past["exited_in_year"].cumsum().tolist()


def test_at_risk_lists_the_villages_that_threaten_the_timetable():
    v, _ = joined(villages())
    risk = tt.at_risk(v, indicator_ids=IDS)
    assert list(zip(risk["village_id"], risk["risk"], strict=True)) == [
        ("K", "exited_not_ready"),
        ("D", "blocked"),
        ("C", "blocked"),
        ("E", "unknown"),
        ("J", "unconfirmed"),
    ]
    assert {"road_status", "clinic_status", "water_status", "overdue_years"} <= set(risk.columns)


def test_summary_by_hand():
    v, _ = joined(villages())
    by = tt.timetable_by_year(v, years=YEARS, current_year=CY, indicator_ids=IDS, gaps=GAPS)
    s = tt.summary(v, by, current_year=CY)
    assert s["timetable_assessed"] is True
    assert (s["timetable_planned"], s["timetable_exited"], s["timetable_due"]) == (10, 3, 8)
    assert (s["timetable_due_exited"], s["timetable_ready"], s["timetable_at_risk"]) == (3, 2, 2)
    assert (s["timetable_due_unknown"], s["timetable_due_unconfirmed"]) == (1, 1)
    assert (s["timetable_due_this_year"], s["timetable_due_this_year_not_exited"]) == (4, 4)
    assert s["timetable_km_to_harden_this_year"] == 1.0


def test_warnings_name_what_the_timetable_cannot_see():
    v = villages()
    _, t = joined(v)
    w = " | ".join(tt.timetable_warnings(t, years=YEARS, current_year_stated=False))
    assert "no planned exit year" in w and "H" in w
    assert "after the current year 2018" in w and "L" in w
    assert "数字脱贫" in w and "K" in w
    assert "does not state current_year" in w
    w2 = tt.timetable_warnings(t, years=[2016, 2017], current_year_stated=True)
    assert any("outside the timetable years" in x and "2018, 2019" in x for x in w2)


@pytest.mark.parametrize("blank", ["missing", "all_blank"])
def test_without_planned_years_the_timetable_is_not_assessed_never_zero(blank):
    v = villages(planned=False, exits=False)
    if blank == "missing":
        v = v.drop(columns=["planned_exit_year", "exit_year"])
    vj, t = joined(v)
    assert set(vj["timetable_status"]) <= {
        "ready",
        "unconfirmed",
        "unknown",
        "not_planned",
        "not_assessed",
    }
    by = tt.timetable_by_year(vj, years=YEARS, current_year=CY, indicator_ids=IDS, gaps=GAPS)
    for col in ("villages_due", "due_blocked", "at_risk", "exited_in_year", "km_to_harden"):
        assert by[col].isna().all(), col
    s = tt.summary(vj, by, current_year=CY)
    assert s["timetable_assessed"] is False
    assert s["timetable_due"] is None and s["timetable_at_risk"] is None
    assert s["timetable_exited"] is None
    w = tt.timetable_warnings(t, years=YEARS)
    assert any("not assessed" in x and "not zero" in x for x in w)


def test_planned_years_without_exit_years_count_none_exited_and_say_so():
    vj, t = joined(villages(exits=False))
    assert not vj["exited"].any()
    w = tt.timetable_warnings(t, years=YEARS)
    assert any("no village carries an exit year" in x for x in w)


def test_monitoring_lists_households_without_personal_fields():
    hh = pd.DataFrame(
        {
            "household_id": [f"m{k}" for k in range(1, 11)],
            "village_id": ["A"] * 5 + ["C"] * 5,
            "registered_poor": pd.array(
                [True, True, True, True, False, False, False, True, None, True], dtype="boolean"
            ),
            "register_status": [
                "returned",
                "exited",
                "exited",
                "exited",
                None,
                None,
                None,
                "not_exited",
                None,
                None,
            ],
            "income_per_capita_cny": [5000, 4000, 4400, 4401, 3000, 4200, np.nan, 3000, 3000, 4100],
            "head_name": ["张三"] * 10,
            "id_number": ["999999195001011234"] * 10,
            "phone": ["13800000000"] * 10,
        }
    )
    v = villages()
    m = tt.monitoring(hh, v, income_line_cny=4000, margin_frac=0.10)
    assert dict(zip(m["household_id"], m["reason"], strict=True)) == {
        "m1": "returned",
        "m2": "exited_below_line",  # exactly the line is not above it
        "m3": "exited_near_line",  # 10 % above the line is still close to it (inclusive)
        "m5": "not_registered_below_line",
        "m6": "not_registered_near_line",
    }
    assert list(m.columns) == [
        "household_id",
        "village_id",
        "village_name",
        "township",
        "reason",
        "reason_zh",
    ]
    assert m.attrs["income_unknown"] == 1 and m.attrs["registered_unknown"] == 1
    s = tt.summary(joined(v)[0], pd.DataFrame({"year": []}), current_year=CY, monitored=m)
    assert (s["households_returned"], s["households_near_line"]) == (1, 2)
    assert s["households_below_line_not_poor"] == 2
    zh = tt.chinese_headers(m)
    assert "户编号" in zh.columns and "监测原因" in zh.columns


def test_monitoring_without_status_or_income_says_so():
    hh = pd.DataFrame(
        {
            "household_id": ["a", "b"],
            "village_id": ["A", "A"],
            "registered_poor": [True, False],
            "register_status": [None, None],
            "income_per_capita_cny": [np.nan, np.nan],
        }
    )
    m = tt.monitoring(hh, None, income_line_cny=4000, margin_frac=0.1)
    assert m.empty
    _, t = joined(villages())
    w = " | ".join(tt.timetable_warnings(t, years=YEARS, households=hh, monitored=m))
    assert "返贫" in w and "no income" in w and "计划脱贫年份" in w
    s = tt.summary(joined(villages())[0], pd.DataFrame({"year": []}), current_year=CY, monitored=m)
    assert s["households_returned"] is None and s["households_near_line"] is None


def test_missing_inputs_are_refused():
    with pytest.raises(LayerSchemaError, match="blocker_class"):
        tt.village_timetable(
            pd.DataFrame({"village_id": ["A"], "exit_applicable": [True]}), current_year=2018
        )
    with pytest.raises(LayerSchemaError, match="registered_poor"):
        tt.monitoring(
            pd.DataFrame({"household_id": ["a"], "village_id": ["A"]}),
            income_line_cny=1,
            margin_frac=0.1,
        )


def test_chinese_headers_name_the_indicators():
    from layers.policy import load_policy

    v, _ = joined(villages())
    by = tt.timetable_by_year(v, years=YEARS, current_year=CY, indicator_ids=["road"])
    zh = tt.chinese_headers(by, profile=load_policy("national"))
    assert "未达标：通硬化路" in zh.columns and "有风险村数（到期未达标）" in zh.columns


@pytest.mark.parametrize(
    ("years", "match"),
    [([2016, 2016], "increasing"), ([2010, 2016], "2014..2030"), ([], "at least one")],
)
def test_timetable_years_are_validated(years, match):
    from layers.settings import load_settings

    with pytest.raises(PolicyError, match=match):
        load_settings("national", province_group="west", parameters={"timetable_years": years})
    with pytest.raises(PolicyError, match="current_year"):
        load_settings("national", province_group="west", parameters={"current_year": 1990})
