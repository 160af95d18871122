"""Evidence shown as it is: inferred as inferred, unknown apart from not met, villages the
exit rule does not assess apart from the others, unverified thresholds marked, km split.

Eight villages whose every count is worked out by hand:

====  ====  ===============  ================  ===============  ==========
id    tw    blocker_class    road              clinic           exit code
====  ====  ===============  ================  ===============  ==========
E1    A     ready            met, measured     met              m
E2    A     unconfirmed      met, inferred     met              i
E3    A     blocked_one      not met 1.65 km   met              n
E4    B     blocked_several  not met           not met          n
E5    B     unknown          unknown 3.38 km   met (hosts HC)   u
E6    B     unknown          met, measured     unknown          u
E7    A     not_registered   met, inferred     met              x
E8    B     hamlet           met, measured     not met          x
====  ====  ===============  ================  ===============  ==========
"""

from __future__ import annotations

import json
from datetime import date

import dash
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder
from shapely.geometry import LineString, Point

from dashboard import viewmodels as vm
from dashboard.i18n import t

NA = None
INDICATORS = [
    {
        "id": "road",
        "name_zh": "通硬化路",
        "name_en": "Hardened road",
        "rule": "road_access_hardened",
        "evidence": "road_access",
        "threshold": None,
        "unit": "km",
        "clause": "第3条",
        "verified": True,
    },
    {
        "id": "clinic",
        "name_zh": "标准化卫生室",
        "name_en": "Standard clinic",
        "rule": "clinic_in_village",
        "evidence": "clinic_standard, clinic_doctor, hosts_health_centre",
        "threshold": None,
        "unit": "bool",
        "clause": "第6条",
        "verified": True,
    },
    {
        "id": "bus",
        "name_zh": "通客车",
        "name_en": "Passenger bus",
        "rule": "is_true",
        "evidence": "bus_service",
        "threshold": None,
        "unit": "bool",
        "clause": "具备条件的建制村通客车",
        "verified": False,
    },
]
IDS = ["road", "clinic", "bus"]


def evidence_villages() -> gpd.GeoDataFrame:
    n = 8
    return gpd.GeoDataFrame(
        {
            "village_id": [f"E{i}" for i in range(1, n + 1)],
            "name": [f"{i}村" for i in "一二三四五六七八"],
            "township": ["A", "A", "A", "B", "B", "B", "A", "B"],
            "population": [100, 200, 300, 400, 500, 600, 700, 800],
            "blocker_class": [
                "ready",
                "unconfirmed",
                "blocked_one",
                "blocked_several",
                "unknown",
                "unknown",
                "not_registered",
                "hamlet",
            ],
            "exit_applicable": [True] * 6 + [False] * 2,
            "exit_ready": [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.nan, np.nan],  # as read back
            "unmet": ["", "", "road", "road,clinic", "", "", "", "clinic"],
            "unknown": ["", "", "", "", "road", "clinic", "", ""],
            "unconfirmed": ["", "road", "", "", "", "", "road", ""],
            "road_access": [
                "hardened",
                "hardened",
                "gap",
                "gap",
                "unknown",
                "hardened",
                "hardened",
                "hardened",
            ],
            "road_status": ["met", "met", "not_met", "not_met", "unknown", "met", "met", "met"],
            "road_quality": [
                "measured",
                "inferred",
                "measured",
                "measured",
                "missing",
                "measured",
                "inferred",
                "measured",
            ],
            "road_value": [0.0, 0.0, 1.65, 2.0, 3.38, 0.0, 0.0, 0.0],
            "road_threshold": [0.0] * n,
            "road_note_zh": [
                "",
                "其中 2.10 km 路面按道路等级推定，待核实",
                "未硬化 1.20 km；需新建连接路 0.45 km",
                "未硬化 2.00 km",
                "路面未知 3.38 km",
                "",
                "其中 1.00 km 路面按道路等级推定，待核实",
                "",
            ],
            "road_note_en": [
                "",
                "2.10 km inferred",
                "",
                "",
                "3.38 km of unknown surface",
                "",
                "",
                "",
            ],
            "unhardened_km": [0.0, 0.0, 1.2, 2.0, 0.0, 0.0, 0.0, 0.0],
            "unknown_surface_km": [0.0, 0.0, 0.0, 0.0, 3.38, 0.0, 0.0, 0.0],
            "connection_km": [0.0, 0.0, 0.45, 0.0, 0.0, 0.0, 0.0, 0.0],
            "inferred_km": [0.0, 2.1, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            "clinic_status": ["met", "met", "met", "not_met", "met", "unknown", "met", "not_met"],
            "clinic_quality": [
                "attribute",
                "attribute",
                "attribute",
                "attribute",
                "measured",
                "missing",
                "attribute",
                "attribute",
            ],
            "clinic_note_zh": ["", "", "", "", "乡镇卫生院所在村", "卫生室是否达标未知", "", ""],
            "clinic_note_en": ["", "", "", "", "hosts the township health centre", "", "", ""],
            # E5 has no standard clinic but hosts the health centre: met, never "a gap"
            "clinic_standard": pd.array(
                [True, True, True, False, False, NA, True, False], dtype="boolean"
            ),
            "clinic_doctor": pd.array([True] * n, dtype="boolean"),
            "travel_min_health_centre": [10.0, 20.0, 40.0, 50.0, 0.0, np.nan, 30.0, 70.0],
            "bus_status": ["met"] * n,
            "bus_quality": ["attribute"] * n,
            "bus_value": [True] * n,
        },
        geometry=[Point(107 + i / 10, 26 + i / 10) for i in range(n)],
        crs="EPSG:4326",
    )


def gaps(*, split: bool = True) -> gpd.GeoDataFrame:
    data = {
        "gap_id": ["G1", "G2", "G3"],
        "township": ["A", "B", "A"],
        "length_km": [2.0, 1.0, 0.45],
        "people_served": [300, 100, 200],
    }
    if split:
        data |= {
            "kind": ["harden", "harden", "connection"],
            "known_unhardened_km": [1.5, 1.0, 0.0],
            "unknown_surface_km": [0.5, 0.0, 0.0],
        }
    return gpd.GeoDataFrame(data, geometry=[LineString([(0, 0), (1, 0)])] * 3, crs="EPSG:4326")


# --------------------------------------------------------------------------- map codes


def test_status_codes_inferred_and_not_assessed():
    codes = vm.status_codes(evidence_villages(), IDS)
    assert codes["exit_ready"].tolist() == ["m", "i", "n", "n", "u", "u", "x", "x"]
    assert codes["road"].tolist() == ["m", "i", "n", "n", "u", "m", "i", "m"]
    assert codes["clinic"].tolist() == ["m", "m", "m", "n", "m", "u", "m", "n"]
    gj = vm.villages_geojson(evidence_villages(), IDS)
    assert [f["properties"]["st"] for f in gj["features"]][:2] == ["mmmm", "iimm"]


def test_exit_codes_without_blocker_class_use_exit_applicable():
    v = evidence_villages().drop(columns="blocker_class")
    assert vm.exit_codes(v).tolist() == ["m", "n", "n", "n", "n", "n", "x", "x"]


def test_every_code_has_its_own_colour_and_a_legend_label():
    colours = [vm.STATUS_COLORS[c] for c in vm.EXIT_CODES]
    assert len(set(colours)) == len(colours) == 5
    assert set(vm.code_labels("exit", "zh")) == set(vm.EXIT_CODES)
    assert vm.code_labels("indicator", "zh") == {
        "m": "达标",
        "i": "达标（推定）",
        "n": "未达标",
        "u": "未知",
    }
    assert vm.code_labels("exit", "en")["x"] == "not assessed (not registered, hamlet)"


def test_hideout_status_codes_for_the_new_classes():
    h = vm.coverage_hideout(IDS, indicator="road", status="met_inferred")
    assert h["idx"] == 1 and h["status"] == "i"
    assert vm.coverage_hideout(IDS, status="not_assessed")["status"] == "x"
    assert h["colors"] == vm.STATUS_COLORS


def test_filter_counts_hand_computed_add_up_to_the_villages_shown():
    v = evidence_villages()
    codes = vm.status_codes(v, IDS)
    c = vm.filter_counts(codes, v["township"])
    assert c == {
        "n": 8,
        "total": 8,
        "met": 1,
        "met_inferred": 1,
        "not_met": 2,
        "unknown": 2,
        "not_assessed": 2,
    }
    road = vm.filter_counts(codes, v["township"], indicator="road")
    assert [road[k] for k in ("met", "met_inferred", "not_met", "unknown", "not_assessed")] == [
        3,
        2,
        2,
        1,
        0,
    ]
    b = vm.filter_counts(codes, v["township"], township="B", status="unknown")
    assert b["n"] == 2 and b["total"] == 4
    assert [b[k] for k in ("met", "met_inferred", "not_met", "unknown", "not_assessed")] == [
        0,
        0,
        1,
        2,
        1,
    ]


def test_counts_text_lists_every_class_of_the_view():
    v = evidence_villages()
    codes = vm.status_codes(v, IDS)
    c = vm.filter_counts(codes, v["township"])
    assert vm.counts_text(c, "zh", view="exit") == (
        "显示 8 个村：\n具备退出条件 1\n待确认（仅推定达标） 1\n有未达标项 2\n未知 2\n"
        "不评估（非贫困村、自然村） 2"
    )
    road = vm.filter_counts(codes, v["township"], indicator="road", status="met_inferred")
    assert vm.counts_text(road, "zh", view="indicator") == (
        "显示 2 个村（共 8 个）：\n达标 3\n达标（推定） 2\n未达标 2\n未知 1"
    )
    assert vm.counts_text(road, "en", view="indicator") == (
        "2 villages shown of 8:\n3 met\n2 met (inferred)\n2 not met\n1 unknown"
    )
    assert [o["value"] for o in vm.status_options("exit", "zh")] == [
        "",
        "met",
        "met_inferred",
        "not_met",
        "unknown",
        "not_assessed",
    ]
    assert "not_assessed" not in [o["value"] for o in vm.status_options("indicator", "zh")]


# --------------------------------------------------------------------------- panel


def test_panel_shows_inferred_quality_note_and_unverified_mark():
    p = vm.village_panel(evidence_villages().iloc[1], INDICATORS, "zh")
    road, clinic, bus = p["rows"]
    assert road["status"] == "met_inferred" and road["status_label"] == "达标（推定）"
    assert road["quality"] == "inferred" and road["quality_label"] == "推定"
    assert road["note"] == "其中 2.10 km 路面按道路等级推定，待核实"
    assert road["threshold"] == "≤ 0 km" and road["verified"] is True
    assert clinic["quality_label"] == "属性" and clinic["threshold"] == "是"
    assert bus["verified"] is False and bus["status"] == "met"
    assert p["exit_class"] == "unconfirmed" and p["exit_status"] == "met_inferred"
    assert p["exit"] == "待确认：仅推定达标，确认前不计入"
    assert p["exit_detail"] == ["待确认：通硬化路"]
    en = vm.village_panel(evidence_villages().iloc[1], INDICATORS, "en")
    assert en["rows"][0]["status_label"] == "met (inferred)"
    assert en["rows"][0]["quality_label"] == "inferred"
    assert en["rows"][0]["note"] == "2.10 km inferred"


def test_panel_unknown_road_shows_its_unknown_km_and_missing_evidence():
    p = vm.village_panel(evidence_villages().iloc[4], INDICATORS, "zh")
    road = p["rows"][0]
    assert road["status"] == "unknown" and road["quality_label"] == "缺失"
    assert road["value"] == "3.38 km" and road["note"] == "路面未知 3.38 km"
    assert p["exit_detail"] == ["未知：通硬化路"]


def test_panel_of_villages_not_assessed():
    for i, label in ((6, "不评估：非建档立卡贫困村"), (7, "不评估：自然村（随所属行政村评估）")):
        p = vm.village_panel(evidence_villages().iloc[i], INDICATORS, "zh")
        assert p["exit_status"] == "not_assessed" and p["exit"] == label
        assert p["exit_detail"] == []  # nothing blocks a village that is not assessed
    blocked = vm.village_panel(evidence_villages().iloc[3], INDICATORS, "zh")
    assert blocked["exit"] == "差多项" and blocked["exit_detail"] == [
        "未达标：通硬化路、标准化卫生室"
    ]


def test_unverified_indicators_are_marked_in_names_and_lists():
    assert vm.indicator_label(INDICATORS[2], "zh") == "通客车（待核实）"
    assert vm.indicator_label(INDICATORS[2], "en") == "Passenger bus (unverified)"
    assert vm.indicator_label(INDICATORS[0], "zh") == "通硬化路"
    assert vm.unverified_indicators(INDICATORS, "zh") == ["通客车 · 具备条件的建制村通客车"]
    assert vm.profile_line("国家标准", {"verified": False}, "zh") == "国家标准（标准待核实）"
    assert vm.profile_line("N", {"inferred_counts_as_met": True}, "en") == (
        "N · inferred evidence counted as met"
    )


# --------------------------------------------------------------------------- health


def test_health_counts_clinics_from_the_indicator_unknown_apart():
    v = evidence_villages()
    cs = vm.clinic_status(v)
    assert cs.tolist() == ["met", "met", "met", "not_met", "met", "unknown", "met", "not_met"]
    hv = vm.health_villages(v)
    # not met first (longest trip first), then unknown; E5 hosts the health centre: not listed
    assert hv["village_id"].tolist() == ["E8", "E4", "E6"]
    assert hv["clinic_status"].tolist() == ["not_met", "not_met", "unknown"]
    assert hv.set_index("village_id").loc["E6", "clinic_note_zh"] == "卫生室是否达标未知"
    tw = vm.health_townships(v).set_index("township")
    cols = ["clinic_met", "clinic_not_met", "clinic_unknown"]
    assert tw.loc["A", cols].tolist() == [4, 0, 0]
    assert tw.loc["B", cols].tolist() == [1, 2, 1]
    assert tw.loc["全县/County", cols].tolist() == [5, 2, 1]
    head = vm.headline_numbers({"no_standard_clinic": 99}, v)
    assert head["no_standard_clinic"] == 2 and head["clinic_unknown"] == 1  # the map's count
    health_map = vm.status_codes(v, ["clinic"])["clinic"]
    assert int((health_map == "n").sum()) == 2 and int((health_map == "u").sum()) == 1


# --------------------------------------------------------------------------- transport


def test_transport_villages_list_inferred_and_keep_unknown_km():
    tv = vm.transport_villages(evidence_villages()).set_index("village_id")
    # not hardened (E3, E4, E5) and hardened only by inference (E2, E7)
    assert set(tv.index) == {"E2", "E3", "E4", "E5", "E7"}
    assert tv.loc["E5", "road_status"] == "unknown"
    assert tv.loc["E5", "unknown_surface_km"] == 3.38  # never "0 km"
    assert tv.loc["E2", "road_status"] == "met_inferred"
    assert tv.loc["E2", "road_quality"] == "inferred"
    assert tv.loc["E3", ["unhardened_km", "connection_km"]].tolist() == [1.2, 0.45]
    assert tv.index.tolist() == ["E7", "E5", "E4", "E3", "E2"]  # biggest first


def test_gap_km_split_known_unknown_connection():
    s = vm.gap_km_split(gaps())
    assert s["known_unhardened_km"].tolist() == [1.5, 1.0, 0.0]
    assert s["unknown_surface_km"].tolist() == [0.5, 0.0, 0.0]
    assert s["connection_km"].tolist() == [0.0, 0.0, 0.45]
    assert vm.road_km(gaps()) == {
        "known_unhardened_km": 2.5,
        "unknown_surface_km": 0.5,
        "connection_km": 0.45,
        "total_km": 3.45,
    }
    k = vm.km_per_township(gaps()).set_index("township")
    assert k.loc["A", ["length_km", "known_unhardened_km", "unknown_surface_km"]].tolist() == [
        2.45,
        1.5,
        0.5,
    ]
    assert k.loc["A", "connection_km"] == 0.45 and k.loc["B", "known_unhardened_km"] == 1.0


def test_gap_km_split_of_older_plans():
    # only the unknown part recorded: the known part is the rest
    g = gaps(split=False).assign(unknown_surface_km=[0.5, 0.0, 0.0])
    assert vm.road_km(g)["known_unhardened_km"] == 2.95
    # nothing recorded: the split is unknown (None), not 0 km
    km = vm.road_km(gaps(split=False))
    assert km["known_unhardened_km"] is None and km["unknown_surface_km"] is None
    assert km["total_km"] == 3.45 and km["connection_km"] == 0.0
    k = vm.km_per_township(gaps(split=False)).set_index("township")
    assert np.isnan(k.loc["A", "unknown_surface_km"]) and k.loc["A", "length_km"] == 2.45
    ranked = vm.ranked_road_gaps(gaps(split=False))
    assert ranked["kind"].tolist() == ["harden"] * 3


# --------------------------------------------------------------------------- briefing


def test_township_ranking_by_blocker_class():
    r = vm.township_ranking(evidence_villages()).set_index("township")
    cols = ["villages", "assessed", "ready", "unconfirmed", "blocked", "unknown", "not_assessed"]
    assert r.loc["A", cols].tolist() == [4, 3, 1, 1, 1, 0, 1]
    assert r.loc["B", cols].tolist() == [4, 3, 0, 0, 1, 2, 1]
    assert r.loc["A", "ready_frac"] == pytest.approx(0.3333)  # of the assessed, not of all
    assert r.loc["B", "ready_frac"] == 0.0


def test_headline_numbers_by_blocker_class_and_km_split():
    h = vm.headline_numbers(
        {"exit_ready": 99, "km_to_harden": 12.5, "people_to_relocate": 7},
        evidence_villages(),
        gaps(),
    )
    assert [h[k] for k in ("exit_ready", "unconfirmed", "blocked_one", "blocked_several")] == [
        1,
        1,
        1,
        1,
    ]
    assert [h[k] for k in ("unknown", "not_registered", "hamlet", "not_assessed")] == [2, 1, 1, 2]
    assert h["villages_assessed"] == 6 and h["villages"] == 8
    parts = ("exit_ready", "unconfirmed", "blocked_one", "blocked_several", "unknown")
    assert sum(h[k] for k in parts) == h["villages_assessed"]
    assert h["km_to_harden"] == 2.5 and h["km_unknown_surface"] == 0.5
    assert h["km_to_connect"] == 0.45 and h["people_to_relocate"] == 7
    older = vm.headline_numbers({"km_to_harden": 12.5}, evidence_villages(), gaps(split=False))
    assert older["km_to_harden"] == 12.5  # the manifest's figure when the gaps cannot say


# --------------------------------------------------------------------------- pages


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    from tests.sample_plan import write_sample_plan

    return write_sample_plan(tmp_path_factory.mktemp("evidence") / "plan", n_villages=15)


def test_sample_plan_has_every_class(sample):
    from dashboard.plan import load_plan

    v = load_plan(sample).villages
    assert set(v["blocker_class"]) >= {
        "ready",
        "unconfirmed",
        "blocked_one",
        "blocked_several",
        "unknown",
        "not_registered",
        "hamlet",
    }
    assert v.loc[v["village_id"] == "520123000001", "road_value"].item() == 3.38
    codes = vm.status_codes(v, ["road"])
    assert set(codes["road"]) >= {"m", "i", "n", "u"}
    assert set(codes["exit_ready"]) == set(vm.EXIT_CODES)


def _render(plan_dir, page, lang="zh"):
    from dashboard.app import create_app

    app = create_app(plan_dir, config={"osm": False})
    with app.server.test_request_context("/", headers={"Cookie": f"anju_lang={lang}"}):
        layout = dash.page_registry[f"pages.{page}"]["layout"]()
    return json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)


def test_coverage_page_legend_filter_and_warnings(sample):
    from dashboard.plan import load_plan

    plan = load_plan(sample)
    text = _render(sample, "coverage")
    for label in vm.code_labels("exit", "zh").values():
        assert label in text  # legend rows and status options of the exit view
    assert "达标（推定）" in text  # the indicator view's rows, toggled by the indicator
    assert "通客车（待核实）" in text
    assert "数据提示 (2)" in text and plan.manifest["warnings"][0] in text
    c = vm.filter_counts(
        vm.status_codes(plan.villages, plan.indicator_ids), plan.villages["township"]
    )
    assert json.dumps(vm.counts_text(c, "zh", view="exit"), ensure_ascii=False)[1:-1] in text


def test_health_page_counts_the_map_s_clinic_statuses(sample):
    from dashboard.plan import load_plan

    v = load_plan(sample).villages
    cs = vm.clinic_status(v)
    text = _render(sample, "health")
    want = t(
        "clinic_summary",
        "zh",
        met=int((cs == "met").sum()),
        not_met=int((cs == "not_met").sum()),
        unknown=int((cs == "unknown").sum()),
    )
    assert want in text
    assert f"({int((cs != 'met').sum())})" in text  # the table's title counts the same rows


def test_transport_page_splits_the_km(sample):
    from dashboard.plan import load_plan

    plan = load_plan(sample)
    text = _render(sample, "transport")
    km = vm.road_km(plan.layer("road_gaps"))
    assert f"需新建连接 {km['connection_km']:.1f} km" in text
    assert "路面未知（公里）" in text and "达标（推定）" in text and "推定" in text


def test_briefing_page_and_pdf_list_classes_warnings_and_unverified(sample):
    from dashboard import briefing
    from dashboard.plan import load_plan

    plan = load_plan(sample)
    text = _render(sample, "briefing")
    for key in ("unconfirmed", "not_assessed", "km_unknown_surface", "clinic_unknown"):
        assert f'"data-key": "{key}"' in text
    assert "待核实的标准" in text and "通客车" in text
    assert plan.manifest["warnings"][1] in text
    notes = briefing.notes_lines(plan, "en")
    assert [h for h, _ in notes] == [
        "Data warnings",
        "Unverified thresholds (placeholders to confirm)",
    ]
    # a test profile without clause_en: the Chinese source, said to be so
    assert notes[1][1] == [
        "Passenger bus · (Chinese original) 省级贫困村退出标准：具备条件的建制村通客车（待核实）"
    ]
    numeric = {**INDICATORS[0], "threshold": 2, "unit": "km", "verified": False}
    assert vm.unverified_indicators([numeric], "zh") == ["通硬化路：≤ 2 km · 第3条"]
    pdf = briefing.render_briefing_pdf(plan, "en", today=date(2026, 1, 2))
    assert pdf.startswith(b"%PDF")


def test_filter_counts_add_up_in_every_combination():
    """Property: whatever the codes, township, indicator and status filter, the status
    counts add up to the villages of the township, the number shown is the count of the
    chosen status (or all of them), and the counter's text says both."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    letters = sorted(set(vm.STATUS_CODES.values())) + ["?"]  # "?" stands for junk
    towns = ["甲镇", "乙镇", "丙镇"]

    @given(
        rows=st.lists(
            st.tuples(st.sampled_from(towns), st.sampled_from(letters), st.sampled_from(letters)),
            max_size=40,
        ),
        township=st.sampled_from([None, *towns, "不存在镇"]),
        indicator=st.sampled_from([vm.EXIT_READY, "road", "missing_indicator"]),
        status=st.sampled_from([None, *vm.STATUS_CODES]),
    )
    @settings(max_examples=300, deadline=None)
    def check(rows, township, indicator, status):
        tw = pd.Series([r[0] for r in rows], dtype=object)
        codes = pd.DataFrame(
            {vm.EXIT_READY: [r[1] for r in rows], "road": [r[2] for r in rows]}, index=tw.index
        )
        c = vm.filter_counts(codes, tw, indicator=indicator, township=township, status=status)
        total = int((tw == township).sum()) if township else len(rows)
        assert c["total"] == total
        assert sum(c[k] for k in vm.STATUS_CODES) == total
        assert c["n"] == (c[status] if status else total) and c["n"] <= total
        for lang in ("zh", "en"):
            text = vm.counts_text(c, lang, view="indicator")
            assert str(c["n"]) in text
            if c["n"] != total:
                assert str(total) in text

    check()
