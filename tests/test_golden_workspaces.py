"""Golden workspaces: tiny counties built in code, run through `anju run`, whose right answer
for every village was worked out by hand (below, next to each village).

Layout (EPSG:4545 metres from the north-west corner X0, Y0; flat terrain at 1,000 m)::

    R1 county road, asphalt (recorded)     y = -300, x 100 → 1700   (the main hardened network)
    R2 township road, surface not recorded x = 900,  y -300 → -900   (0.6 km, inferred hardened)
    R3 village road, gravel (recorded)     x = 1500, y -300 → -1000  (0.7 km, unhardened)
    R4 village road, surface not recorded  x = 300,  y -300 → -1100  (0.8 km, stays unknown)

    甲村 A (600, -300)   on R1                         → road met (measured); everything met → ready
    乙村 B (900, -900)   end of R2                      → road met only by inference → unconfirmed
    丙村 C (1500, -1000) end of R3                      → road not met, 0.7 km known unhardened;
                         hosts the township health centre (no clinic of its own) → clinic met;
                         register lists 1 poor household where the village says 25 → incidence unknown
                                                        → blocked_one (road)
    丁寨 D (1200, -1500) hamlet of A, 583 m from R3's end (√(300² + 500²))
                                                        → not connected: gap of 0.58 km; not assessed
    戊村 E (300, -1100)  end of R4                      → road unknown, 0.8 km of unknown surface;
                         clinic standard unknown       → unknown
    己村 F (1650, -300)  on R1, not a poverty village   → not assessed (not_registered)

Totals: km to harden (known) = 0.7 (R3) + 0.583 (D's connection) = 1.283 km; unknown surface
0.8 km (R4); R2's 0.6 km is hardened by inference, not a gap.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, box

from scripts.pipeline import run_pipeline

X0, Y0, CELL, N = 598_000.0, 3_133_000.0, 30.0, 70
CRS = "EPSG:4545"


def P(x: float, y: float) -> Point:
    return Point(X0 + x, Y0 + y)


def L(*xy: tuple[float, float]) -> LineString:
    return LineString([(X0 + x, Y0 + y) for x, y in xy])


def write_golden(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        root / "dem.tif", "w", driver="GTiff", width=N, height=N, count=1, dtype="float32",
        crs=CRS, transform=from_origin(X0, Y0, CELL, CELL), nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(np.full((N, N), 1000.0, "float32"), 1)
    gpd.GeoDataFrame(
        {"name": ["金县"]}, geometry=[box(X0 + 30, Y0 - N * CELL + 30, X0 + N * CELL - 30, Y0 - 30)],
        crs=CRS,
    ).to_file(root / "county.gpkg", layer="boundary")  # fmt: skip
    names = ["甲村", "乙村", "丙村", "丁寨", "戊村", "己村"]
    villages = gpd.GeoDataFrame(
        {
            "village_id": ["A", "B", "C", "D", "E", "F"],
            "name": names,
            "township": ["金镇"] * 6,
            "level": ["admin", "admin", "admin", "hamlet", "admin", "admin"],
            "parent_id": [None, None, None, "A", None, None],
            "poverty_village": [True, True, True, None, True, False],
            "population": [300, 200, 1000, 60, 150, 400],
            "households": [90, 60, 300, 18, 45, 120],
            "poor_population": [1, 1, 100, 0, 1, 2],
            "poor_households": [1, 1, 25, 0, 1, 1],
            "has_safe_water": [True, True, True, True, True, True],
            "has_electricity": [True] * 6,
            "has_broadband": [True] * 6,
            "has_culture_venue": [True] * 6,
            "has_tv": [True] * 6,
            "bus_service": [True] * 6,
            "medical_insurance_frac": [1.0] * 6,
            "clinic_standard": [True, True, False, True, None, True],
            "clinic_doctor": [True, True, False, True, True, True],
        },
        geometry=[P(600, -300), P(900, -900), P(1500, -1000), P(1200, -1500), P(300, -1100), P(1650, -300)],
        crs=CRS,
    )  # fmt: skip
    villages.to_file(root / "villages.gpkg", layer="villages")
    gpd.GeoDataFrame(
        {
            "road_id": ["R1", "R2", "R3", "R4"],
            "road_class": ["county", "township", "village", "village"],
            "surface": ["asphalt", None, "gravel", None],
        },
        geometry=[L((100, -300), (1700, -300)), L((900, -300), (900, -900)),
                  L((1500, -300), (1500, -1000)), L((300, -300), (300, -1100))],
        crs=CRS,
    ).to_file(root / "roads.gpkg", layer="roads")  # fmt: skip
    gpd.GeoDataFrame(
        {"town_id": ["T0"], "name": ["金城"], "kind": ["county_seat"], "jobs": [0]},
        geometry=[P(150, -300)],
        crs=CRS,
    ).to_file(root / "towns.gpkg", layer="towns")
    f = root / "facilities.gpkg"
    gpd.GeoDataFrame(
        {
            "clinic_id": ["HC"],
            "name": ["金镇卫生院"],
            "level": ["township_health_centre"],
            "standard": [True],
            "has_doctor": [True],
            "village_id": ["C"],
        },
        geometry=[P(1480, -980)],
        crs=CRS,
    ).to_file(f, layer="clinics")
    gpd.GeoDataFrame(
        {"water_id": ["W0", "W1"], "kind": ["source", "source"], "safe": [True, None]},
        geometry=[P(600, -400), P(320, -1100)],
        crs=CRS,
    ).to_file(f, layer="water")
    pd.DataFrame(
        {
            "household_id": ["a1", "b1", "c1", "e1"],
            "village_id": ["A", "B", "C", "E"],
            "members": [1, 1, 4, 1],
            "registered_poor": [True, True, True, True],
            "register_status": ["not_exited", "not_exited", "not_exited", "not_exited"],
        }
    ).to_csv(root / "households.csv", index=False)
    (root / "workspace.toml").write_text(
        '[workspace]\nname = "金县"\npolicy = "national"\nprovince_group = "west"\n\n'
        '[layers.dem]\npath = "dem.tif"\n\n'
        '[layers.boundary]\npath = "county.gpkg"\nlayer = "boundary"\n\n'
        '[layers.villages]\npath = "villages.gpkg"\nlayer = "villages"\n\n'
        '[layers.roads]\npath = "roads.gpkg"\nlayer = "roads"\n\n'
        '[layers.towns]\npath = "towns.gpkg"\nlayer = "towns"\n\n'
        '[layers.clinics]\npath = "facilities.gpkg"\nlayer = "clinics"\n\n'
        '[layers.water]\npath = "facilities.gpkg"\nlayer = "water"\n\n'
        '[layers.households]\npath = "households.csv"\n',
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    ws = write_golden(root / "ws")
    manifest = run_pipeline(ws, root / "plan", progress=False)
    v = gpd.read_file(root / "plan" / "plan.gpkg", layer="villages").set_index("village_id")
    gaps = gpd.read_file(root / "plan" / "plan.gpkg", layer="road_gaps")
    return v, gaps, manifest


def test_road_access_is_measured(golden):
    v, _, _ = golden
    assert v["road_access"].to_dict() == {
        "A": "hardened", "B": "hardened", "C": "gap", "D": "gap", "E": "unknown", "F": "hardened",
    }  # fmt: skip
    assert v["road_status"].to_dict() == {
        "A": "met", "B": "met", "C": "not_met", "D": "not_met", "E": "unknown", "F": "met",
    }  # fmt: skip
    assert v["road_quality"].to_dict()["B"] == "inferred"
    assert v["road_quality"].to_dict()["A"] == "measured"
    assert v.loc["C", "road_value"] == pytest.approx(0.7, abs=0.01)
    assert v.loc["D", "connection_km"] == pytest.approx(0.583, abs=0.01)
    assert v.loc["E", "road_value"] == pytest.approx(0.8, abs=0.01)  # km of unknown surface


def test_clinic_by_the_national_rule(golden):
    v, _, _ = golden
    assert v["hosts_health_centre"].astype(bool).to_dict()["C"] is True
    assert v["clinic_status"].to_dict() == {
        "A": "met", "B": "met", "C": "met", "D": "met", "E": "unknown", "F": "met",
    }  # fmt: skip
    assert v.loc["C", "clinic_quality"] == "measured"


def test_incidence_from_the_register(golden):
    v, _, _ = golden
    assert v.loc["A", "incidence_status"] == "met"
    assert v.loc["C", "incidence_status"] == "unknown"  # register lists 1 of 25 poor households
    assert v.loc["C", "incidence_source"] == "conflict"


def test_readiness_by_hand(golden):
    v, _, manifest = golden
    assert v["blocker_class"].to_dict() == {
        "A": "ready", "B": "unconfirmed", "C": "blocked_one", "D": "hamlet", "E": "unknown",
        "F": "not_registered",
    }  # fmt: skip
    s = manifest["summary"]
    assert (s["ready"], s["unconfirmed"], s["blocked_one"], s["unknown"]) == (1, 1, 1, 1)
    assert s["villages_assessed"] == 4
    # populations are never counted twice: D's 60 people are inside A's 300
    assert s["population"] == 300 + 200 + 1000 + 150 + 400
    assert any("inferred evidence" in w for w in manifest["warnings"])


def test_km_to_harden_known_and_unknown(golden):
    _, gaps, manifest = golden
    s = manifest["summary"]
    assert s["km_to_harden"] == pytest.approx(0.7 + 0.583, abs=0.02)
    assert s["km_unknown_surface"] == pytest.approx(0.8, abs=0.02)
    assert set(gaps["kind"]) == {"harden", "connection"}


def test_a_source_of_unknown_safety_is_not_safe_water(golden):
    v, _, _ = golden
    # E is 20 m from W1 (safety unknown) and about 750 m from W0 (safe)
    assert v.loc["E", "nearest_water_id"] == "W0"
    assert v.loc["E", "water_dist_m"] > 700
