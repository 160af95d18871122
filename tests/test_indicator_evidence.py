"""Figures a leader can trust: golden cases for each indicator rule's evidence, and the
properties that keep a blank from ever reading as "met"."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo.indicators import evaluate, health_centre_hosts
from layers.errors import PolicyError
from layers.policy import load_policy
from tests.conftest import national_settings

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE = national_settings().evidence
NATIONAL = load_policy("national")


def village(**over) -> dict:
    """A poverty village that meets every national indicator on recorded evidence."""
    row = {
        "village_id": "v",
        "level": "admin",
        "poverty_village": True,
        "population": 100,
        "poor_population": 1,
        "road_access": "hardened",
        "road_evidence": "measured",
        "unhardened_km": 0.0,
        "unknown_surface_km": 0.0,
        "connection_km": 0.0,
        "inferred_km": 0.0,
        "has_safe_water": True,
        "has_electricity": True,
        "clinic_standard": True,
        "clinic_doctor": True,
        "hosts_health_centre": False,
        "has_culture_venue": True,
        "has_broadband": True,
        "has_tv": True,
        "bus_service": True,
        "medical_insurance_frac": 1.0,
    }
    row.update(over)
    return row


def ev(rows: list[dict], **kw) -> pd.DataFrame:
    kw.setdefault("province_group", "west")
    kw.setdefault("evidence", EVIDENCE)
    return evaluate(pd.DataFrame(rows), NATIONAL, **kw)


def test_a_complete_village_is_ready_on_recorded_evidence():
    r = ev([village()])
    assert r["blocker_class"].tolist() == ["ready"]
    assert bool(r["exit_ready"].iloc[0]) is True
    assert r["road_quality"].iloc[0] == "measured"
    assert r["water_quality"].iloc[0] == "attribute"


def test_clinic_by_the_national_rule():
    # standard clinic + qualified doctor: met (attribute)
    # no standard clinic, but the township health centre stands in the village: met (measured)
    # a standard clinic without a doctor, 5 minutes from the health centre: NOT met
    # a clinic of unknown standard: unknown, never met
    rows = [
        village(village_id="own"),
        village(village_id="host", clinic_standard=False, hosts_health_centre=True),
        village(village_id="nodoc", clinic_doctor=False, travel_min_health_centre=5.0),
        village(village_id="unk", clinic_standard=None),
    ]
    r = ev(rows)
    assert r["clinic_status"].tolist() == ["met", "met", "not_met", "unknown"]
    assert r["clinic_quality"].tolist() == ["attribute", "measured", "attribute", "missing"]
    assert r["clinic_note_zh"].iloc[1] == "乡镇卫生院所在村"
    assert r["blocker_class"].tolist() == ["ready", "ready", "blocked_one", "unknown"]


def test_health_centre_hosts_by_id_polygon_or_nearest_point():
    crs = "EPSG:4545"
    vil = gpd.GeoDataFrame(
        {"village_id": ["a", "b", "c"]},
        geometry=[Point(0, 0), Point(5000, 0), Point(10000, 0)],
        crs=crs,
    )
    clinics = gpd.GeoDataFrame(
        {
            "clinic_id": ["H1", "H2", "C1"],
            "level": ["township_health_centre", "township_health_centre", "village_clinic"],
            "village_id": ["a", None, "c"],
        },
        geometry=[Point(3000, 0), Point(5200, 0), Point(10000, 0)],
        crs=crs,
    )
    # H1 names village a (though it lies nearer b); H2 has no id: the nearest village
    # within 1 km is b; C1 is a village clinic, not a health centre
    hosts = health_centre_hosts(vil, clinics, radius_m=1000)
    assert hosts.tolist() == [True, True, False]
    polys = vil.set_geometry(
        [box(-100, -100, 100, 100), box(4900, -100, 5300, 100), box(9900, -1, 10100, 1)]
    )
    assert health_centre_hosts(polys, clinics, radius_m=1).tolist() == [True, True, False]
    assert health_centre_hosts(vil, None, radius_m=1000).isna().all()  # no layer: unknown


def test_road_connection_unknown_surface_and_inference():
    rows = [
        # 400 m from the nearest road: not connected, the gap is the connection's 0.4 km
        village(village_id="far", road_access="gap", connection_km=0.4, road_snap_m=400.0),
        # only unknown surface between it and the network: unknown, value = the 3.38 km to survey
        village(
            village_id="unk",
            road_access="unknown",
            unknown_surface_km=3.38,
            road_evidence="missing",
        ),
        # hardened only through 1.5 km whose surface was inferred from the road class
        village(village_id="inf", road_evidence="inferred", inferred_km=1.5),
    ]
    r = ev(rows)
    assert r["road_status"].tolist() == ["not_met", "unknown", "met"]
    assert r["road_value"].tolist() == pytest.approx([0.4, 3.38, 0.0])
    assert r["road_quality"].tolist() == ["measured", "missing", "inferred"]
    assert "0.40 km of connection to build" in r["road_note_en"].iloc[0]
    assert "3.38 km of unknown surface" in r["road_note_en"].iloc[1]
    assert "inferred from the road class" in r["road_note_en"].iloc[2]
    # met only by inference: not ready until someone confirms it
    assert r["blocker_class"].tolist() == ["blocked_one", "unknown", "unconfirmed"]
    assert r["unconfirmed"].tolist() == ["", "", "road"]
    assert not r["exit_ready"].fillna(False).any()
    # a profile that lets inferred evidence count
    allow = EVIDENCE.__class__(inferred_counts_as_met=True, incidence_tolerance_frac=0.005)
    r2 = ev(rows, evidence=allow)
    assert r2["blocker_class"].tolist()[2] == "ready"


def test_only_registered_poverty_villages_are_assessed_and_hamlets_never_alone():
    rows = [
        village(village_id="p"),
        village(village_id="np", poverty_village=False),
        village(village_id="h", level="hamlet", parent_id="p", poverty_village=None),
        village(village_id="blank", poverty_village=None),
    ]
    r = ev(rows)
    assert r["exit_applicable"].tolist() == [True, False, False, True]
    assert r["blocker_class"].tolist() == ["ready", "not_registered", "hamlet", "ready"]
    assert r["exit_ready"].isna().tolist() == [False, True, True, False]
    # every indicator is still evaluated for every row (the bureaus need them)
    assert (r["road_status"] == "met").all()


def test_a_missing_province_group_is_an_error_not_the_western_threshold():
    with pytest.raises(PolicyError, match="province_group is required"):
        ev([village()], province_group=None)


# --------------------------------------------------------------------------- missing is never met

#: For each national indicator, the input columns its rule reads.
READS = {
    "incidence": ["population", "poor_population"],
    "road": ["road_access"],
    "water": ["has_safe_water"],
    "power": ["has_electricity"],
    "clinic": ["clinic_standard", "clinic_doctor", "hosts_health_centre"],
    "culture": ["has_culture_venue"],
    "broadband": ["has_broadband"],
    "tv": ["has_tv"],
    "bus": ["bus_service"],
    "medical_insurance": ["medical_insurance_frac"],
}


def test_every_national_indicator_has_its_inputs_listed():
    assert set(READS) == set(NATIONAL.ids)


@settings(max_examples=80, deadline=None)
@given(
    ind=st.sampled_from(sorted(READS)),
    how=st.sampled_from(["blank", "absent"]),
    base=st.fixed_dictionaries(
        {
            "poor_population": st.integers(0, 10),
            "road_access": st.sampled_from(["hardened", "gap", "unknown", "no_road"]),
            "has_safe_water": st.booleans(),
            "clinic_standard": st.booleans(),
            "clinic_doctor": st.booleans(),
            "hosts_health_centre": st.booleans(),
            "medical_insurance_frac": st.floats(0, 1),
        }
    ),
)
def test_blanking_what_a_rule_reads_never_leaves_it_met(ind, how, base):
    row = village(**base)
    df = pd.DataFrame([row])
    for col in READS[ind]:
        if how == "absent":
            df = df.drop(columns=col)
        else:
            df[col] = pd.Series([None], dtype=object)
    r = evaluate(df, NATIONAL, province_group="west", evidence=EVIDENCE)
    assert r[f"{ind}_status"].iloc[0] != "met"
    assert r["blocker_class"].iloc[0] != "ready"
    if ind != "clinic":  # a clinic can still be decided "not met" by its known parts
        assert r[f"{ind}_status"].iloc[0] == "unknown"
        assert r[f"{ind}_quality"].iloc[0] == "missing"


@settings(max_examples=60, deadline=None)
@given(
    members=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    blank=st.sampled_from(["registered_poor", "members", "register_status"]),
)
def test_blanking_the_register_never_makes_incidence_met(members, blank):
    # a village whose register says it is well above the threshold: 10 of 100 poor
    v = pd.DataFrame([village(poor_population=None, poor_households=None)])
    hh = pd.DataFrame(
        {
            "village_id": "v",
            "members": [10] + members,
            "registered_poor": [True] + [False] * len(members),
            "register_status": ["not_exited"] + [None] * len(members),
        }
    )
    assert (
        ev([village(poor_population=None)], households=hh)["incidence_status"].iloc[0] == "not_met"
    )
    hh[blank] = hh[blank].astype(object)
    hh.loc[0, blank] = None
    r = evaluate(v, NATIONAL, households=hh, province_group="west", evidence=EVIDENCE)
    assert r["incidence_status"].iloc[0] != "met"


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            yield node


def test_no_analysis_code_turns_a_blank_into_a_pass():
    """Repository-wide: no fillna(True) (or fillna with a truthy default) in geo/ and layers/,
    where a blank would become a met indicator, a safe source or a hardened road."""
    offenders = []
    for path in sorted([*(ROOT / "geo").glob("*.py"), *(ROOT / "layers").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree):
            if call.func.attr not in ("fillna", "where", "replace"):
                continue
            args = [*call.args, *(k.value for k in call.keywords if k.arg in ("value", "other"))]
            if call.func.attr == "fillna" and any(
                isinstance(a, ast.Constant) and a.value is True for a in args
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno} fillna(True)")
    assert offenders == []
    # and the pattern the reviewer found is gone for good
    text = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "geo").glob("*.py"))
    assert not re.search(r"\.fillna\(\s*True\s*\)", text)


def test_the_national_profile_covers_the_opinion_and_marks_placeholders():
    ids = set(NATIONAL.ids)
    assert {"tv", "bus", "medical_insurance", "clinic"} <= ids
    assert NATIONAL.indicator("clinic").rule == "clinic_in_village"
    assert NATIONAL.indicator("medical_insurance").threshold == 1.0
    # the 2016 opinion is cited by its usual number everywhere
    for name in ("national", "nanchang-2017", "guangdong-scored"):
        text = (ROOT / "data" / "policies" / f"{name}.toml").read_text(encoding="utf-8")
        assert "中办发〔2016〕16号" not in text
    assert "厅字〔2016〕16号" in NATIONAL.source
    assert NATIONAL.indicator("bus").verified is False


def test_tables_never_mix_sanitary_and_flush_toilets():
    nanchang = load_policy("nanchang-2017")
    toilets = [i for i in nanchang.indicators if "toilet" in i.evidence]
    assert toilets and all(i.evidence == "flush_toilet_frac" for i in toilets)
    assert all("水冲" in i.name_zh or "水冲" in i.clause for i in toilets)


def test_unknown_values_stay_unknown_through_nullable_columns():
    r = ev([village(has_safe_water=np.nan)])
    assert r["water_status"].iloc[0] == "unknown"
    assert pd.isna(r["water"].iloc[0])


def test_unverified_indicators_are_marked_in_the_exported_headers():
    from geo.coverage import chinese_headers

    df = pd.DataFrame({"bus": [True], "bus_status": ["met"], "water_quality": ["attribute"]})
    zh = chinese_headers(df, "villages", profile=NATIONAL)
    assert "通客车（具备条件的建制村）（待核实）" in zh.columns
    assert "饮水安全（证据质量）" in zh.columns
