"""Tests for geo.relocation: each rule on hand-built villages, score, rank, costs."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.relocation import RULE_CODES, RelocationRules, rules_table, screen
from layers.errors import LayerSchemaError, PolicyError
from tests.conftest import national_rules

NA = pd.NA
# whole villages move in these hand-built cases; the seismic and flood rules weigh 0 here so the
# hand-worked scores of the original seven rules stay as they were (they have tests of their own)
RULES = national_rules(admin_village_people="all", seismic_weight=0.0, flood_weight=0.0)

# A village that triggers no rule and has every input known.
QUIET = {
    "village_id": "v0",
    "population": 500,
    "households": 150,
    "poor_population": 10,
    "elev_mean_m": 800.0,
    "slope_gt25_frac": 0.05,
    "geological_hazard_dist_m": 5000.0,
    "geological_hazard_frac": 0.0,
    "seismic_hazard_dist_m": np.inf,
    "seismic_hazard_frac": 0.0,
    "flood_hazard_dist_m": 5000.0,
    "flood_hazard_frac": 0.0,
    "in_protected": False,
    "protected_kind": None,
    "travel_min_township_seat": 20.0,
    "travel_min_health_centre": 20.0,
    "unhardened_km": 0.0,
    "unknown_surface_km": 0.0,
    "road_access": "hardened",
    "road_snap_m": 10.0,
    "has_safe_water": True,
    "water_dist_m": 100.0,
    "clinic_standard": True,
}
_BOOL = ("in_protected", "has_safe_water", "clinic_standard")


def frame(*rows: dict, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    """Villages from QUIET with overrides; ids v0, v1, ... unless given."""
    recs = []
    for i, over in enumerate(rows):
        rec = {**QUIET, "village_id": f"v{i}", **over}
        recs.append(rec)
    df = pd.DataFrame(recs)
    for col in _BOOL:
        df[col] = pd.array(df[col].tolist(), dtype="boolean")
    return df.drop(columns=list(drop))


def one(rules: RelocationRules = RULES, drop: tuple[str, ...] = (), **over) -> pd.Series:
    return screen(frame(over, drop=drop), rules=rules).iloc[0]


def state(row: pd.Series, code: str) -> str:
    codes = row["reason_codes"].split(",") if row["reason_codes"] else []
    unknown = row["unknown_rules"].split(",") if row["unknown_rules"] else []
    assert not (code in codes and code in unknown)
    return "triggered" if code in codes else "unknown" if code in unknown else "passed"


# ----------------------------------------------------------------------------- quiet
def test_quiet_village_triggers_nothing_and_knows_everything():
    row = one()
    assert not row["eligible"]
    assert row["score"] == 0
    assert pd.isna(row["rank"])
    assert row["reasons_zh"] == row["reasons_en"] == row["reason_codes"] == ""
    assert row["unknown_rules"] == ""
    assert row["people_to_move"] == 0
    assert row["repair_cny_per_person"] == 0
    assert row["relocation_cny_per_person"] == 60_000
    assert not row["needs_review"]


# ----------------------------------------------------------------------------- HAZARD
@pytest.mark.parametrize(
    ("dist", "frac", "expected"),
    [
        (150.0, 0.0, "triggered"),
        (200.0, 0.0, "triggered"),  # within the buffer includes the buffer (<=)
        (200.5, 0.0, "passed"),
        (0.0, 0.25, "triggered"),
        (np.nan, 0.25, "triggered"),  # a share inside a zone means distance 0
        (np.nan, 0.0, "unknown"),  # outside the zone, but how far?
        (np.nan, np.nan, "unknown"),
    ],
)
def test_hazard_rule(dist, frac, expected):
    row = one(geological_hazard_dist_m=dist, geological_hazard_frac=frac)
    assert state(row, "HAZARD") == expected


def test_hazard_reason_names_distance_and_buffer_and_is_decisive():
    rules = national_rules(
        min_score=90, admin_village_people="all", seismic_weight=0.0, flood_weight=0.0
    )
    row = one(rules, geological_hazard_dist_m=150.0)
    assert row["reasons_zh"] == "距地质灾害隐患区 150 m，不超过 200 m（地质灾害威胁）"
    assert row["reasons_en"] == "150 m from a geological hazard zone, within 200 m (hazard threat)"
    assert row["score"] == pytest.approx(30)
    assert row["eligible"]  # decisive although 30 < 90
    inside = one(rules, geological_hazard_dist_m=0.0, geological_hazard_frac=0.25)
    assert "25%" in inside["reasons_zh"] and "25%" in inside["reasons_en"]
    not_decisive = national_rules(min_score=90, hazard_decisive=False, admin_village_people="all")
    assert not one(not_decisive, geological_hazard_dist_m=150.0)["eligible"]


def test_hazard_columns_absent_are_unknown():
    row = one(drop=("geological_hazard_dist_m", "geological_hazard_frac"))
    assert state(row, "HAZARD") == "unknown"


# ----------------------------------------------------------------------------- HIGH_COLD
@pytest.mark.parametrize(
    ("elev", "expected"),
    [(1950.0, "triggered"), (1800.0, "passed"), (1800.4, "triggered"), (np.nan, "unknown")],
)
def test_high_cold_rule_is_strictly_above(elev, expected):
    assert state(one(elev_mean_m=elev), "HIGH_COLD") == expected


def test_high_cold_reason_matches_the_brief():
    row = one(elev_mean_m=1950.0)
    assert row["reasons_zh"] == "海拔 1,950 m 高于 1,800 m（高寒）"
    assert row["reasons_en"] == "mean elevation 1,950 m above 1,800 m (high and cold)"
    # a value just above the threshold never prints equal to it
    close = one(elev_mean_m=1800.4)
    assert "1,800.4 m" in close["reasons_zh"] and "1,800.0 m" in close["reasons_zh"]


# ----------------------------------------------------------------------------- STEEP
@pytest.mark.parametrize(
    ("frac", "expected"),
    [(0.45, "triggered"), (0.30, "triggered"), (0.29, "passed"), (np.nan, "unknown")],
)
def test_steep_rule_is_at_least(frac, expected):
    assert state(one(slope_gt25_frac=frac), "STEEP") == expected


def test_steep_reason_has_percentages():
    row = one(slope_gt25_frac=0.45)
    assert "45%" in row["reasons_zh"] and "30%" in row["reasons_zh"]
    assert row["reasons_en"] == "45% of the land steeper than 25°, at least 30% (steep)"


# ----------------------------------------------------------------------------- REMOTE
@pytest.mark.parametrize(
    ("town", "centre", "expected"),
    [
        (61.0, 20.0, "triggered"),
        (20.0, 75.0, "triggered"),
        (60.0, 60.0, "passed"),  # "above" is strict
        # a blank travel time is unknown (no destination on the grid, or a cell cut off by
        # the data), never "cannot be reached"
        (np.nan, 20.0, "unknown"),
        (20.0, np.nan, "unknown"),
        (np.nan, 75.0, "triggered"),  # decided by the time we have
    ],
)
def test_remote_rule(town, centre, expected):
    row = one(travel_min_township_seat=town, travel_min_health_centre=centre)
    assert state(row, "REMOTE") == expected


def test_remote_reasons_show_minutes_and_never_claim_unreachable():
    far = one(travel_min_township_seat=60.4)
    assert "60.4 min" in far["reasons_en"] and "60.0 min" in far["reasons_en"]
    assert "到乡镇驻地 60.4 min，超过 60.0 min" in far["reasons_zh"]
    cut = one(travel_min_township_seat=np.nan)
    assert not cut["eligible"] and "REMOTE" in cut["unknown_rules"]
    assert "unreachable" not in cut["reasons_en"] and "无法通达" not in cut["reasons_zh"]
    both = one(travel_min_township_seat=np.nan, travel_min_health_centre=90.0)
    assert both["reasons_en"] == "90 min to the township health centre, above 60 min (remote)"


def test_remote_with_absent_columns():
    assert state(one(drop=("travel_min_township_seat",)), "REMOTE") == "unknown"
    row = one(drop=("travel_min_township_seat",), travel_min_health_centre=90.0)
    assert state(row, "REMOTE") == "triggered"  # decided by the column we have
    both = one(drop=("travel_min_township_seat", "travel_min_health_centre"))
    assert state(both, "REMOTE") == "unknown"


# ----------------------------------------------------------------------------- SMALL_POOR
@pytest.mark.parametrize(
    ("households", "population", "poor", "expected"),
    [
        (30, 100, 60, "triggered"),
        (50, 100, 50, "triggered"),  # both bounds inclusive
        (51, 100, 50, "passed"),
        (50, 100, 49, "passed"),
        (80, 100, np.nan, "passed"),  # too big whatever the incidence
        (30, 100, np.nan, "unknown"),
        (np.nan, 100, 10, "passed"),  # incidence 10% settles it
        (np.nan, 100, 90, "unknown"),
        (30, 0, 0, "unknown"),  # incidence undefined
    ],
)
def test_small_poor_rule(households, population, poor, expected):
    row = one(households=households, population=population, poor_population=poor)
    assert state(row, "SMALL_POOR") == expected


def test_small_poor_reason():
    row = one(households=32, population=100, poor_population=62)
    assert row["reasons_zh"] == ("32 户、贫困发生率 62%：不超过 50 户且不低于 50%（小规模高贫困）")
    assert "32 households and poverty incidence 62%" in row["reasons_en"]


# ----------------------------------------------------------------------------- PROTECTED
@pytest.mark.parametrize(
    ("inside", "kind", "expected"),
    [
        (True, "ecological_redline", "triggered"),
        (True, "water_source_protection", "triggered"),
        (True, "basic_farmland", "passed"),
        (True, "basic_farmland,ecological_redline", "triggered"),
        (True, None, "unknown"),
        (False, None, "passed"),
        (NA, None, "unknown"),
    ],
)
def test_protected_rule(inside, kind, expected):
    assert state(one(in_protected=inside, protected_kind=kind), "PROTECTED") == expected


def test_protected_reason_and_decisive():
    row = one(national_rules(min_score=100), in_protected=True, protected_kind="ecological_redline")
    assert row["eligible"]
    assert "生态保护红线" in row["reasons_zh"]
    assert "ecological redline" in row["reasons_en"]
    kinds = national_rules(protected_kinds=("basic_farmland",))
    assert state(one(kinds, in_protected=True, protected_kind="basic_farmland"), "PROTECTED") == (
        "triggered"
    )


# ----------------------------------------------------------------------------- REPAIR
def test_repair_cost_by_hand():
    # road 1.2 km * 800,000 = 960,000; water 150,000 + 200,000 * 1.5 km = 450,000;
    # clinic 300,000 (75 min > 60 and no standard clinic); total 1,710,000 / 20 = 85,500
    row = one(
        population=20,
        unhardened_km=1.2,
        has_safe_water=False,
        water_dist_m=1500.0,
        travel_min_health_centre=75.0,
        clinic_standard=False,
    )
    assert row["repair_cny_per_person"] == pytest.approx(85_500)
    assert state(row, "REPAIR_COSTLIER") == "triggered"
    assert "就地改善人均 85,500 元，高于搬迁人均 60,000 元" in row["reasons_zh"]
    assert "repair in place 85,500 CNY per person, above relocation 60,000 CNY" in row["reasons_en"]


def test_repair_cost_parts_not_needed_are_free():
    # safe water and a standard clinic: only the road counts; 0.5 km * 800,000 / 10
    row = one(population=10, unhardened_km=0.5, travel_min_health_centre=90.0)
    assert row["repair_cny_per_person"] == pytest.approx(40_000)
    assert state(row, "REPAIR_COSTLIER") == "passed"
    # near health centre: no clinic cost even without a standard clinic
    near = one(population=10, clinic_standard=False, travel_min_health_centre=30.0)
    assert near["repair_cny_per_person"] == 0


def test_repair_equal_cost_does_not_trigger():
    # 1.5 km * 800,000 / 20 = 60,000 exactly: moving is not cheaper
    row = one(population=20, unhardened_km=1.5)
    assert row["repair_cny_per_person"] == pytest.approx(60_000)
    assert state(row, "REPAIR_COSTLIER") == "passed"


def test_repair_no_road_builds_new_road():
    # 2 km of new road * 1,200,000 / 20 = 120,000
    row = one(population=20, road_access="no_road", road_snap_m=2000.0)
    assert row["repair_cny_per_person"] == pytest.approx(120_000)
    assert state(row, "REPAIR_COSTLIER") == "triggered"


def test_repair_lower_bound_decides_despite_unknown_water():
    # water unknown, but 5 km of road alone is 4,000,000 / 20 = 200,000 > 60,000
    row = one(population=20, unhardened_km=5.0, has_safe_water=NA)
    assert state(row, "REPAIR_COSTLIER") == "triggered"
    assert np.isnan(row["repair_cny_per_person"])  # not fully determined
    assert "至少 200,000 元" in row["reasons_zh"]
    assert "at least 200,000 CNY" in row["reasons_en"]


@pytest.mark.parametrize(
    "over",
    [
        {"has_safe_water": NA, "population": 2},  # a connection may cost 85,000 each
        {"unknown_surface_km": 2.0, "population": 20},  # may need 1.6 M of hardening
        {"unhardened_km": np.nan},
        {"population": np.nan},
        {"clinic_standard": NA, "travel_min_health_centre": 90.0, "population": 4},
        {"has_safe_water": False, "water_dist_m": np.nan, "population": 20},
    ],
)
def test_repair_unknown_inputs(over):
    row = one(**over)
    assert state(row, "REPAIR_COSTLIER") == "unknown"
    assert np.isnan(row["repair_cny_per_person"])


def test_repair_unknown_input_that_cannot_matter_is_passed():
    # water status unknown, but even the dearest connection (170,000 / 500 = 340) is cheap
    row = one(has_safe_water=NA)
    assert state(row, "REPAIR_COSTLIER") == "passed"
    # unknown clinic standard does not matter when the health centre is near
    assert state(one(clinic_standard=NA), "REPAIR_COSTLIER") == "passed"


# ----------------------------------------------------------------------------- score, rank
def test_score_and_reason_weights_default():
    row = one(geological_hazard_dist_m=100.0, slope_gt25_frac=0.5, elev_mean_m=2000.0)
    assert row["score"] == pytest.approx(55)  # 30 + 15 + 10 of 100
    assert row["reason_codes"] == "HAZARD,STEEP,HIGH_COLD"  # heaviest first
    assert row["reason_weights"] == "HAZARD:30,STEEP:15,HIGH_COLD:10"
    assert row["reasons_zh"].count("；") == 2 and row["reasons_en"].count("; ") == 2
    assert row["reason_clauses"].count("易地扶贫搬迁规划") == 3


def test_score_is_scaled_to_100():
    # weights 2,1,1,1,1,1,1 -> total 8; STEEP alone = 100 * 1 / 8 = 12.5
    rules = national_rules(
        hazard_weight=2, high_cold_weight=1, steep_weight=1, remote_weight=1,
        small_poor_weight=1, protected_weight=1, repair_weight=1, min_score=25,
        seismic_weight=0, flood_weight=0,
    )  # fmt: skip
    steep = one(rules, slope_gt25_frac=0.5)
    assert steep["score"] == pytest.approx(12.5)
    assert steep["reason_weights"] == "STEEP:12.5"
    assert not steep["eligible"]
    two = one(rules, slope_gt25_frac=0.5, elev_mean_m=2000.0)
    assert two["score"] == pytest.approx(25)
    assert two["eligible"]  # score >= min_score, inclusive


def test_rank_by_score_then_people_then_id():
    df = frame(
        {"village_id": "c", "slope_gt25_frac": 0.5, "travel_min_township_seat": 90.0},  # 30
        {"village_id": "a", "geological_hazard_dist_m": 50.0, "population": 100},  # 30
        {"village_id": "b", "geological_hazard_dist_m": 50.0, "population": 100},  # 30
        {"village_id": "d", "geological_hazard_dist_m": 50.0, "elev_mean_m": 1900.0},  # 40
        {"village_id": "e", "elev_mean_m": 1900.0},  # 10: not eligible
    )
    out = screen(df, rules=RULES).set_index("village_id")
    assert out.loc["d", "rank"] == 1
    # c, a, b tie on 30: c has 500 people, a and b 100 each, then by id
    assert [out.loc[v, "rank"] for v in "cab"] == [2, 3, 4]
    assert pd.isna(out.loc["e", "rank"]) and not out.loc["e", "eligible"]
    assert out.loc["e", "people_to_move"] == 0
    assert out["people_to_move"].sum() == 500 + 100 + 100 + 500


def test_needs_review_when_unknown_could_make_eligible():
    row = one(geological_hazard_dist_m=np.nan, geological_hazard_frac=np.nan)
    assert not row["eligible"] and row["needs_review"]
    assert row["unknown_rules"] == "HAZARD"
    # unknown high-cold (10 points) alone could not reach 30
    assert not one(elev_mean_m=np.nan)["needs_review"]


def test_output_keeps_index_order_and_accepts_geodataframe():
    df = frame({"elev_mean_m": 2000.0, "geological_hazard_dist_m": 0.0}, {}).set_index(
        pd.Index([7, 3])
    )
    gdf = gpd.GeoDataFrame(df, geometry=[Point(0, 0), Point(1, 1)], crs=3857)
    out = screen(gdf, rules=RULES)
    assert list(out.index) == [7, 3]
    assert list(out["village_id"]) == ["v0", "v1"]
    assert "geometry" not in out.columns
    assert list(out["eligible"]) == [True, False]


# ----------------------------------------------------------------------------- hamlets
def test_hamlets_screened_individually_without_double_counting():
    df = frame(
        {"village_id": "A", "level": "admin", "parent_id": None, "population": 300},
        {"village_id": "A1", "level": "hamlet", "parent_id": "A", "population": 100,
         "geological_hazard_dist_m": 20.0},
        {"village_id": "A2", "level": "hamlet", "parent_id": "A", "population": 80},
        {"village_id": "B", "level": "admin", "parent_id": None, "population": 250,
         "geological_hazard_dist_m": 20.0},
    )  # fmt: skip
    out = screen(df, rules=RULES).set_index("village_id")
    assert list(out["level"]) == ["admin", "hamlet", "hamlet", "admin"]
    assert out.loc["A1", "parent_id"] == "A"
    assert out.loc["A1", "eligible"] and out.loc["A1", "people_to_move"] == 100
    assert not out.loc["A2", "eligible"] and out.loc["A2", "people_to_move"] == 0
    assert out.loc["B", "people_to_move"] == 250  # no hamlets listed: the whole village
    # if A itself were eligible it would count only the 120 people outside A1, A2
    df.loc[0, "geological_hazard_dist_m"] = 0.0
    out = screen(df, rules=RULES).set_index("village_id")
    assert out.loc["A", "people_to_move"] == 120
    assert out["people_to_move"].sum() == 120 + 100 + 250


# ----------------------------------------------------------------------------- errors
def test_missing_or_duplicate_village_id():
    with pytest.raises(LayerSchemaError, match="expected a 'village_id' column"):
        screen(frame({}).drop(columns="village_id"), rules=RULES)
    with pytest.raises(LayerSchemaError, match=r"unique.*'x'"):
        screen(frame({"village_id": "x"}, {"village_id": "x"}), rules=RULES)


def test_boolean_column_with_garbage_text():
    df = frame({})
    df["has_safe_water"] = ["maybe"]
    with pytest.raises(LayerSchemaError, match=r"has_safe_water.*'maybe'"):
        screen(df, rules=RULES)


# ----------------------------------------------------------------------------- settings
def test_from_dict_refuses_unknown_keys_and_lists_valid_ones():
    with pytest.raises(PolicyError, match=r"'hazard_bufer_m'.*valid keys.*hazard_buffer_m"):
        RelocationRules.from_dict({**national_rules().to_dict(), "hazard_bufer_m": 300})
    with pytest.raises(PolicyError, match=r"missing key 'min_score'"):
        RelocationRules.from_dict({"hazard_buffer_m": 300})  # no default in code


def test_from_dict_accepts_toml_types_and_round_trips():
    rules = RelocationRules.from_dict(
        {
            **national_rules().to_dict(),
            "hazard_buffer_m": 300,
            "protected_kinds": ["ecological_redline"],
            "steep_decisive": True,
        }
    )
    assert rules.hazard_buffer_m == 300.0 and isinstance(rules.hazard_buffer_m, float)
    assert rules.protected_kinds == ("ecological_redline",)
    assert rules.rule("STEEP").decisive
    assert RelocationRules.from_dict(rules.to_dict()) == rules
    assert RelocationRules.from_dict(national_rules().to_dict()) == national_rules()


@pytest.mark.parametrize(
    ("d", "match"),
    [
        ({"hazard_buffer_m": -1}, r"hazard_buffer_m: expected a number >= 0, found -1"),
        ({"steep_frac": 1.5}, r"steep_frac: expected a fraction in \[0, 1\]"),
        ({"min_score": 120}, r"min_score: expected a score in \[0, 100\]"),
        ({"hazard_weight": "heavy"}, r"hazard_weight: expected a number, found 'heavy'"),
        ({"hazard_decisive": "yes"}, r"hazard_decisive: expected true or false"),
        ({"protected_kinds": "ecological_redline"}, r"protected_kinds: expected a list"),
        (
            {f"{p}_weight": 0 for p in ("hazard", "seismic", "flood", "protected", "high_cold",
                                       "steep", "remote", "small_poor", "repair")},
            "all weights 0",
        ),
    ],
)  # fmt: skip
def test_bad_settings_are_refused(d, match):
    with pytest.raises(PolicyError, match=match):
        RelocationRules.from_dict({**national_rules().to_dict(), **d})


def test_rule_lookup_and_table():
    with pytest.raises(PolicyError, match="unknown relocation rule 'FIRE'"):
        RULES.rule("FIRE")
    table = rules_table(RULES)
    assert list(table["code"]) == list(RULE_CODES)
    assert table["points"].sum() == pytest.approx(100)
    assert set(table.loc[table["decisive"], "code"]) == {"HAZARD", "SEISMIC", "PROTECTED"}


# ----------------------------------------------------------------------------- invariants
_maybe = st.one_of(st.none(), st.floats(0, 1))
village = st.fixed_dictionaries(
    {
        "geological_hazard_dist_m": st.one_of(st.none(), st.floats(0, 2000)),
        "elev_mean_m": st.one_of(st.none(), st.floats(0, 4000)),
        "slope_gt25_frac": _maybe,
        "travel_min_township_seat": st.one_of(st.none(), st.floats(0, 200)),
        "households": st.one_of(st.none(), st.integers(1, 200)),
        "poor_population": st.integers(0, 50),
        "population": st.integers(50, 800),
        "unhardened_km": st.one_of(st.none(), st.floats(0, 20)),
        "has_safe_water": st.sampled_from([True, False, NA]),
        "in_protected": st.sampled_from([True, False, NA]),
        "protected_kind": st.sampled_from([None, "ecological_redline", "basic_farmland"]),
    }
)
weights = st.lists(st.integers(0, 10), min_size=9, max_size=9).filter(lambda w: sum(w) > 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(village, min_size=1, max_size=12), weights, st.floats(0, 100))
def test_invariants(rows, w, min_score):
    rows = [{k: (np.nan if v is None and k != "protected_kind" else v) for k, v in r.items()}
            for r in rows]  # fmt: skip
    prefixes = ("hazard", "seismic", "flood", "protected", "high_cold", "steep", "remote",
                "small_poor", "repair")  # fmt: skip
    rules = national_rules(
        min_score=min_score, **{f"{p}_weight": float(x) for p, x in zip(prefixes, w, strict=True)}
    )
    out = screen(frame(*rows), rules=rules)
    total = sum(w)
    for _, row in out.iterrows():
        codes = row["reason_codes"].split(",") if row["reason_codes"] else []
        unknown = row["unknown_rules"].split(",") if row["unknown_rules"] else []
        assert not set(codes) & set(unknown)
        # score recomputed independently from the codes and the raw weights
        expected = 100 * sum(rules.rule(c).weight for c in codes) / total
        assert row["score"] == pytest.approx(expected)
        assert 0 <= row["score"] <= 100
        assert len(row["reasons_zh"].split("；")) == len(codes) or not codes
        if row["eligible"]:
            assert codes
            decisive = any(rules.rule(c).decisive for c in codes)
            assert row["score"] >= min_score - 1e-6 or decisive
        else:
            assert row["people_to_move"] == 0 and pd.isna(row["rank"])
    ranks = out.loc[out["eligible"], "rank"].astype(int).sort_values()
    assert list(ranks) == list(range(1, len(ranks) + 1))
    ordered = out[out["eligible"]].sort_values("rank")
    assert ordered["score"].is_monotonic_decreasing


def test_default_moves_registered_poor_of_admin_villages_and_whole_hamlets():
    """易地扶贫搬迁 targets 建档立卡 people: an eligible administrative village moves its
    registered poor by default; a hamlet (自然村) row moves whole."""
    rules = national_rules()
    df = frame(
        {
            "village_id": "adm",
            "geological_hazard_dist_m": 0.0,
            "population": 1200,
            "poor_population": 90,
        },
        {
            "village_id": "ham",
            "geological_hazard_dist_m": 0.0,
            "population": 80,
            "poor_population": 30,
            "level": "hamlet",
            "parent_id": "adm",
        },
    )
    df.loc[0, "level"] = "admin"
    # a decisive hazard moves the whole settlement (同步搬迁) by default; without that
    # setting an administrative village moves its registered poor
    poor_only = national_rules(whole_settlement_when_decisive=False)
    out = screen(df, rules=poor_only).set_index("village_id")
    assert out.loc["adm", "people_to_move"] == 90 - 30  # the hamlet's 30 poor move with it
    assert out.loc["ham", "people_to_move"] == 80
    assert out.loc["adm", "move_scope"] == "registered_poor"
    whole = screen(df, rules=rules).set_index("village_id")
    assert whole.loc["adm", "people_to_move"] == 1200 - 80
    assert whole.loc["adm", "people_to_move_poor"] == 90 - 30
    assert whole.loc["adm", "people_to_move_other"] == 1200 - 80 - 60
    assert whole.loc["ham", "people_to_move_poor"] == 30
    assert whole.loc["ham", "people_to_move_other"] == 50
    assert whole.loc["adm", "move_scope"] == "whole_settlement"
    everyone = screen(df, rules=national_rules(admin_village_people="all")).set_index("village_id")
    assert everyone.loc["adm", "people_to_move"] == 1200 - 80  # hamlet people are counted once
    with pytest.raises(PolicyError, match="admin_village_people"):
        national_rules(admin_village_people="some")


# ----------------------------------------------------------------------------- hazards by kind
def test_hazards_by_kind_have_their_own_reasons_and_clauses():
    rules = national_rules()
    # inside a flood zone only: the flood rule, its clause; never "geological hazard"
    flood = one(rules, flood_hazard_dist_m=0.0, flood_hazard_frac=0.4)
    assert state(flood, "FLOOD") == "triggered" and state(flood, "HAZARD") == "passed"
    assert "洪涝灾害区" in flood["reasons_zh"] and "地质灾害" not in flood["reasons_zh"]
    assert "flood zone" in flood["reasons_en"] and "geological" not in flood["reasons_en"]
    assert flood["reason_clauses"] == rules.flood_clause
    assert not flood["eligible"]  # flood is not decisive, and 10 of 120 points is below 30
    # an active fault zone: seismic, decisive
    seis = one(rules, seismic_hazard_dist_m=300.0)
    assert state(seis, "SEISMIC") == "triggered" and seis["eligible"]
    assert "地震活跃带" in seis["reasons_zh"] and seis["reason_clauses"] == rules.seismic_clause
    # no hazards layer at all: every hazard rule unknown, never "safe"
    blank = one(
        rules,
        geological_hazard_dist_m=np.nan,
        geological_hazard_frac=np.nan,
        seismic_hazard_dist_m=np.nan,
        seismic_hazard_frac=np.nan,
        flood_hazard_dist_m=np.nan,
        flood_hazard_frac=np.nan,
    )
    for code in ("HAZARD", "SEISMIC", "FLOOD"):
        assert state(blank, code) == "unknown"
    assert blank["needs_review"]  # a decisive rule could still move it


def test_repair_comparison_moves_the_whole_settlement_like_for_like():
    # 2 km of unhardened road (1.6 M CNY) for 20 people = 80,000 per person > 60,000: moving
    # everyone is cheaper than repairing for everyone, so everyone moves (poor and others apart)
    row = one(
        national_rules(min_score=5),
        population=20,
        poor_population=5,
        unhardened_km=2.0,
        households=6,
    )
    assert state(row, "REPAIR_COSTLIER") == "triggered"
    assert row["move_scope"] == "whole_settlement"
    assert (row["people_to_move"], row["people_to_move_poor"], row["people_to_move_other"]) == (
        20,
        5,
        15,
    )
