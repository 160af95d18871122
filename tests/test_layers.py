"""Readers, validation rules and the workspace loader."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point, Polygon

from layers.catalogue import COMMON_RENAMES
from layers.errors import CRSError, LayerNotFoundError, LayerSchemaError
from layers.readers import gdal_path, osm_roads, read_dem, read_vector
from layers.validate import parse_bool, validate_layer
from layers.workspace import load_workspace, read_workspace

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "andorra"


def _villages(n=3, crs="EPSG:4490"):
    return gpd.GeoDataFrame(
        {
            "village_id": [f"43120000000{i}" for i in range(n)],
            "name": [f"村{i}" for i in range(n)],
            "township": ["龙潭镇"] * n,
            "population": [1000 + i for i in range(n)],
            "households": [300] * n,
            "poor_population": [10] * n,
        },
        geometry=[Point(109 + i * 0.01, 28.3) for i in range(n)],
        crs=crs,
    )


# ----------------------------------------------------------------- readers


def test_read_geopackage_layer_and_missing_layer(tmp_path):
    g = _villages()
    g.to_file(tmp_path / "a.gpkg", layer="villages")
    frame, _ = read_vector(tmp_path / "a.gpkg", layer="villages")
    assert len(frame) == 3 and frame.crs.to_epsg() == 4490
    with pytest.raises(LayerNotFoundError, match=r"no layer 'roads'; layers present: villages"):
        read_vector(tmp_path / "a.gpkg", layer="roads")


def test_missing_file_is_layer_not_found(tmp_path):
    with pytest.raises(LayerNotFoundError, match="file not found"):
        read_vector(tmp_path / "nope.gpkg")
    with pytest.raises(FileNotFoundError):  # also the builtin it resembles
        read_vector(tmp_path / "nope.shp")


def test_shapefile_with_cpg_and_gb18030_without(tmp_path):
    g = _villages().rename(columns={"name": "村名"})
    g.to_file(tmp_path / "v.shp", encoding="GB18030", engine="pyogrio")
    frame, info = read_vector(tmp_path / "v.shp")
    assert "村名" in frame.columns and frame["村名"].iloc[1] == "村1"
    (tmp_path / "v.cpg").unlink()
    frame, info = read_vector(tmp_path / "v.shp")
    assert "村名" in frame.columns and info.encoding == "GB18030" and "GB18030" in info.note
    frame, _ = read_vector(tmp_path / "v.shp", encoding="GB18030")
    assert frame["村名"].tolist() == ["村0", "村1", "村2"]


def test_geojson_and_geoparquet(tmp_path):
    g = _villages()
    g.to_file(tmp_path / "v.geojson", driver="GeoJSON")
    g.to_parquet(tmp_path / "v.parquet")
    for name in ("v.geojson", "v.parquet"):
        frame, _ = read_vector(tmp_path / name)
        assert len(frame) == 3 and frame.crs.to_epsg() == 4490
        assert frame.geometry.x.round(6).tolist() == [109.0, 109.01, 109.02]


def test_csv_lon_lat_needs_crs_and_gb18030_fallback(tmp_path):
    df = pd.DataFrame({"村名": ["甲", "乙"], "lon": [109.0, 109.1], "lat": [28.3, 28.4]})
    df.to_csv(tmp_path / "p.csv", index=False, encoding="gb18030")
    frame, info = read_vector(tmp_path / "p.csv", x="lon", y="lat", crs="EPSG:4490")
    assert (
        frame.crs.to_epsg() == 4490
        and frame["村名"].tolist() == ["甲", "乙"]
        and info.encoding == "gb18030"
    )
    with pytest.raises(CRSError, match="need a declared crs"):
        read_vector(tmp_path / "p.csv", x="lon", y="lat")
    with pytest.raises(LayerSchemaError, match=r"coordinate column\(s\) 'x' not found"):
        read_vector(tmp_path / "p.csv", x="x", y="lat", crs="EPSG:4490")
    plain, _ = read_vector(tmp_path / "p.csv")
    assert not isinstance(plain, gpd.GeoDataFrame) and len(plain) == 2


def _write_tif(path, z, *, crs="EPSG:4545", nodata=-9999.0, transform=None):
    h, w = z.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform or from_origin(598000, 3133000, 30, 30),
        nodata=nodata,
    ) as dst:
        dst.write(z.astype("float32"), 1)


def test_geotiff_nodata_becomes_nan(tmp_path):
    z = np.arange(100, dtype=float).reshape(10, 10)
    z[0, 0] = -9999
    _write_tif(tmp_path / "d.tif", z)
    dem = read_dem(tmp_path / "d.tif")
    assert np.isnan(dem.z[0, 0]) and dem.z[9, 9] == 99 and dem.cellsize == (30.0, 30.0)
    assert dem.crs.to_epsg() == 4545


def test_dem_errors(tmp_path):
    _write_tif(tmp_path / "nocrs.tif", np.ones((5, 5)), crs=None)
    with pytest.raises(CRSError, match="no CRS"):
        read_dem(tmp_path / "nocrs.tif")
    _write_tif(tmp_path / "allnd.tif", np.full((5, 5), -9999.0))
    with pytest.raises(LayerSchemaError, match="all cells are nodata"):
        read_dem(tmp_path / "allnd.tif")
    _write_tif(tmp_path / "t.tif", np.random.default_rng(0).random((200, 200)))
    data = (tmp_path / "t.tif").read_bytes()
    (tmp_path / "trunc.tif").write_bytes(data[: len(data) // 3])
    with pytest.raises(LayerSchemaError, match="cannot read the raster"):
        read_dem(tmp_path / "trunc.tif")


def test_srtm_hgt_and_zip_and_warp(tmp_path):
    # A real-format SRTM3 tile (1201 x 1201 int16, -32768 voids) made with GDAL's SRTMHGT driver.
    z = (np.add.outer(np.arange(1201), np.arange(1201)) % 3000).astype("int16")
    z[600, 600] = -32768
    mem = tmp_path / "src.tif"
    with rasterio.open(
        mem,
        "w",
        driver="GTiff",
        width=1201,
        height=1201,
        count=1,
        dtype="int16",
        crs="EPSG:4326",
        transform=from_origin(108.99958333, 29.00041667, 1 / 1200, 1 / 1200),
        nodata=-32768,
    ) as dst:
        dst.write(z, 1)
    with rasterio.open(mem) as src:
        profile = src.profile
        data = src.read(1)
    hgt = tmp_path / "N28E109.hgt"
    profile.update(driver="SRTMHGT")
    with rasterio.open(
        hgt,
        "w",
        **{
            k: v
            for k, v in profile.items()
            if k in ("driver", "width", "height", "count", "dtype", "crs", "transform", "nodata")
        },
    ) as dst:
        dst.write(data, 1)
    import zipfile

    with zipfile.ZipFile(tmp_path / "N28E109.hgt.zip", "w") as zf:
        zf.write(hgt, "N28E109.hgt")
    assert gdal_path(tmp_path / "N28E109.hgt.zip").startswith("/vsizip/")
    for p in (hgt, tmp_path / "N28E109.hgt.zip"):
        with pytest.raises(CRSError, match="geographic"):
            read_dem(p)
        dem = read_dem(p, metric_crs="EPSG:4545")
        assert dem.crs.to_epsg() == 4545 and dem.warped
        assert 85 <= dem.cellsize[0] <= 95  # 3 arc-seconds ~ 92.6 m
        assert np.isnan(dem.z).sum() > 0 and np.nanmax(dem.z) <= 3000


def test_osm_roads_lifts_tags():
    frame = gpd.GeoDataFrame(
        {
            "osm_id": ["1", "2", "3", "4"],
            "highway": ["primary", "track", None, "construction"],
            "other_tags": ['"surface"=>"asphalt"', '"tracktype"=>"grade1"', None, None],
            "name": [None] * 4,
        },
        geometry=[LineString([(0, 0), (1, 1)])] * 4,
        crs=4326,
    )
    r = osm_roads(frame)
    assert (
        r["road_id"].tolist() == ["1", "2"]
        and r["surface"].iloc[0] == "asphalt"
        and pd.isna(r["surface"].iloc[1])
    )
    clean, probs = validate_layer(r, "roads", file="x.pbf", layer="lines")
    assert not [p for p in probs if p.severity == "error"]
    assert clean["hardened"].tolist() == [True, True]
    assert clean["hardened_inferred"].tolist() == [False, True]  # grade1 track inferred


# ----------------------------------------------------------------- validation rules


def _errors(probs):
    return [p for p in probs if p.severity == "error"]


def test_clean_villages_pass():
    clean, probs = validate_layer(_villages(), "villages", file="v.gpkg")
    assert probs == [] and str(clean["population"].dtype) == "Int64"


def test_missing_column_names_the_column_and_what_is_present():
    g = _villages().drop(columns=["poor_population"])
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    (p,) = _errors(probs)
    assert (
        p.column == "poor_population"
        and "columns present" in p.message
        and "population" in p.message
    )


def test_wrong_type_out_of_range_and_poor_above_population_all_reported_at_once():
    g = _villages(4)
    g["population"] = ["1000", "abc", "-5", "900"]
    g["poor_population"] = [10, 10, 0, 950]
    g.loc[3, "village_id"] = g.loc[0, "village_id"]
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    msgs = [p.line() for p in _errors(probs)]
    assert any(
        "not numbers" in m and "'abc'" in m and "row 2" not in m and "rows 2" in m for m in msgs
    ), msgs
    assert any("below 0" in m and "-5" in m for m in msgs), msgs
    assert any(
        "more registered poor than people" in m and "4 (village_id 431200000000)" in m for m in msgs
    ), msgs
    assert any("duplicate ids" in m and "431200000000" in m for m in msgs), msgs
    assert any("more households than people" in m for m in msgs), msgs
    assert len(msgs) == 5


def test_chinese_renames_apply_and_explicit_rename_wins():
    g = _villages().rename(
        columns={
            "name": "村名",
            "population": "人口",
            "poor_population": "贫困人口",
            "township": "XZ",
        }
    )
    clean, probs = validate_layer(g, "villages", file="v.shp", renames={"XZ": "township"})
    assert not _errors(probs) and {"name", "population", "poor_population", "township"} <= set(
        clean.columns
    )
    _, probs = validate_layer(
        g, "villages", file="v.shp", renames={"XZ": "township", "乡": "township"}
    )
    assert any("no column '乡'" in p.message and p.severity == "warning" for p in probs)


def test_bool_parsing_keeps_unknown_unknown():
    parsed, bad = parse_bool(pd.Series(["是", "否", "", None, "yes", 0, "maybe"]))
    assert parsed.tolist()[:2] == [True, False] and parsed.isna().tolist()[2:4] == [True, True]
    assert bad.tolist() == [False] * 6 + [True]


def test_empty_layer_and_no_crs_and_out_of_range_coordinates():
    _, probs = validate_layer(_villages().iloc[:0], "villages", file="v.gpkg")
    assert "empty" in _errors(probs)[0].message
    g = _villages().set_crs(None, allow_override=True)
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    assert any("no CRS" in p.message for p in _errors(probs))
    g = _villages()
    g.geometry = [Point(598000, 3133000)] * 3  # metres declared as degrees
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    assert any("outside longitude/latitude range" in p.message for p in _errors(probs))


def test_geometry_type_and_invalid_geometry_repair_or_refusal():
    g = _villages()
    g.geometry = [LineString([(109, 28), (109.1, 28.1)]), Point(109, 28), Point(109, 28.1)]
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    assert any(
        "geometry type LineString" in p.message and "Point or Polygon" in p.message
        for p in _errors(probs)
    )
    # bow-tie: the two standard repairs disagree → refused
    bowtie = Polygon([(109, 28), (109.1, 28.1), (109.1, 28), (109, 28.1)])
    # a ring with a spike-free self-touch that make_valid and buffer(0) repair the same way
    dup = Polygon(
        [
            (109, 28),
            (109.1, 28),
            (109.1, 28.1),
            (109.05, 28.1),
            (109.05, 28.1),
            (109.05, 28.05),
            (109.05, 28.1),
            (109, 28.1),
        ]
    )
    p = gpd.GeoDataFrame(
        {"protected_id": ["P1", "P2"], "kind": ["basic_farmland"] * 2},
        geometry=[bowtie, dup],
        crs=4490,
    )
    clean, probs = validate_layer(p, "protected", file="p.geojson")
    errs = _errors(probs)
    assert len(errs) == 1 and "P1" in errs[0].message and "cannot be repaired" in errs[0].message
    warns = [q for q in probs if q.severity == "warning"]
    assert len(warns) == 1 and "P2" in warns[0].message and "repaired 1" in warns[0].message
    assert clean.geometry.iloc[1].is_valid


# ----------------------------------------------------------------- the registry's units


def _with_hamlets(**over) -> gpd.GeoDataFrame:
    """Two administrative villages (A1, A2) and three hamlets (H1, H2 of A1; H3 of A2).

    Hand-worked: A1 holds 1000 people including H1 (120) and H2 (80), so its own core has
    800; A2 holds 500 including H3 (60). Every rule below holds for this table as built.
    """
    g = gpd.GeoDataFrame(
        {
            "village_id": ["A1", "A2", "H1", "H2", "H3"],
            "name": ["甲村", "乙村", "上寨", "下寨", "中寨"],
            "township": ["龙潭镇"] * 5,
            "population": [1000, 500, 120, 80, 60],
            "households": [300, 150, 30, 20, 15],
            "poor_population": [60, 20, 40, 10, 5],
            "poor_households": [20, 7, 12, 3, 2],
            "level": ["admin", "admin", "hamlet", "hamlet", "hamlet"],
            "parent_id": [None, None, "A1", "A1", "A2"],
            "poverty_village": ["是", "否", "是", None, "否"],
        },
        geometry=[Point(109 + i * 0.01, 28.3) for i in range(5)],
        crs=4490,
    )
    for k, v in over.items():
        g[k] = v
    return g


def _where(probs, column):
    return [(p.row, p.severity, p.message) for p in probs if p.column == column]


def test_hamlets_with_good_parents_pass():
    clean, probs = validate_layer(_with_hamlets(), "villages", file="v.gpkg")
    assert probs == []
    assert clean["poverty_village"].tolist()[:3] == [True, False, True]
    assert clean["poverty_village"].isna().tolist() == [False, False, False, True, False]


def test_hamlet_without_parent_or_with_a_bad_parent_one_problem_per_row():
    # H1: no parent; H2: a parent not in the layer; H3: a parent that is itself a hamlet
    g = _with_hamlets(parent_id=[None, None, None, "X9", "H1"])
    _, probs = validate_layer(g, "villages", file="v.gpkg", layer="villages")
    got = _where(probs, "parent_id")
    assert [(row, sev) for row, sev, _ in got] == [
        ("3 (village_id H1)", "error"),
        ("4 (village_id H2)", "error"),
        ("5 (village_id H3)", "error"),
    ]
    assert "without parent_id" in got[0][2] and "found empty" in got[0][2]
    assert "not in the layer" in got[1][2] and "found 'X9'" in got[1][2]
    assert "names another hamlet" in got[2][2] and "found 'H1'" in got[2][2]
    for _, _, msg in got:
        assert "expected the village_id of its administrative village" in msg
    line = next(p for p in probs if p.row == "4 (village_id H2)").line()
    assert line.startswith(
        "ERROR: v.gpkg, layer villages, row 4 (village_id H2), column 'parent_id'"
    )
    # no parent was good, so no population rule could be checked
    assert _where(probs, "population") == []


def test_hamlet_parent_without_level_is_a_warning():
    g = _with_hamlets(level=["admin", None, "hamlet", "hamlet", "hamlet"])
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    ((row, sev, msg),) = _where(probs, "parent_id")
    assert row == "5 (village_id H3)" and sev == "warning" and "with level empty" in msg


def test_admin_population_includes_its_hamlets():
    # A1 says 150 people, but its hamlets H1 + H2 hold 120 + 80 = 200: the layer adds hamlets
    # on top of the village instead of inside it. A2 (500 >= 60) is fine.
    g = _with_hamlets(population=[150, 500, 120, 80, 60], households=[40, 150, 30, 20, 15])
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    ((row, sev, msg),) = _where(probs, "population")
    assert row == "1 (village_id A1)" and sev == "error"
    assert "sum over its 2 hamlet(s)" in msg
    assert "expected at least 200" in msg and "found 150" in msg
    # poor counts follow the same rule (A1 poor 60 >= 40 + 10 holds); exactly equal is fine
    g = _with_hamlets(poor_population=[50, 20, 40, 10, 5])
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    assert _where(probs, "poor_population") == []
    g = _with_hamlets(poor_population=[49, 20, 40, 10, 5])
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    ((row, _, msg),) = _where(probs, "poor_population")
    assert row == "1 (village_id A1)" and "expected at least 50" in msg and "found 49" in msg


def test_hamlet_poverty_flag_differs_from_its_parent_warns():
    # H3 says poverty village, its parent A2 says not; H2 has no flag (allowed)
    g = _with_hamlets(poverty_village=["是", "否", "是", None, "是"])
    _, probs = validate_layer(g, "villages", file="v.gpkg")
    ((row, sev, msg),) = _where(probs, "poverty_village")
    assert row == "5 (village_id H3)" and sev == "warning"
    assert "expected False" in msg and "found True" in msg


def test_chinese_registry_columns_are_renamed_and_toilets_kept_apart():
    g = _with_hamlets().rename(columns={"poverty_village": "贫困村"})
    g["卫生厕所率"] = [0.9, 0.8, 0.5, 0.4, 0.3]
    g["水冲式厕所率"] = [0.3, 0.2, 0.1, 0.0, 0.0]
    clean, probs = validate_layer(g, "villages", file="v.shp")
    assert probs == []
    assert clean["sanitary_toilet_frac"].tolist() == [0.9, 0.8, 0.5, 0.4, 0.3]
    assert clean["flush_toilet_frac"].tolist() == [0.3, 0.2, 0.1, 0.0, 0.0]
    assert clean["poverty_village"].tolist()[:2] == [True, False]
    # without the flush column, flush toilets are unknown: never the sanitary share
    clean, _ = validate_layer(g.drop(columns="水冲式厕所率"), "villages", file="v.shp")
    assert clean["flush_toilet_frac"].isna().all()
    assert COMMON_RENAMES["水冲厕所率"] == "flush_toilet_frac"  # the 10-byte DBF spelling


def _register(**over) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "household_id": ["h1", "h2", "h3", "h4", "h5"],
            "village_id": ["A1"] * 5,
            "members": [3, 4, 2, 5, 1],
            "registered_poor": ["是", "是", "是", "是", "否"],
            "register_status": ["未脱贫", "已脱贫", "返贫", None, None],
            "exit_year": [None, 2016, 2015, None, None],
        }
    )
    for k, v in over.items():
        df[k] = v
    return df


def test_register_status_chinese_values_are_mapped():
    raw = _register(register_status=["未脱贫", " 已脱贫 ", "返贫", "未知", "Exited"])
    raw["registered_poor"] = ["是", "是", "是", "是", "是"]
    clean, probs = validate_layer(raw, "households", file="h.csv")
    assert probs == []
    status = clean["register_status"]
    assert status.isna().tolist() == [False, False, False, True, False]  # 未知 is unknown
    assert status.dropna().tolist() == ["not_exited", "exited", "returned", "exited"]
    assert str(clean["exit_year"].dtype) == "Int64"
    assert clean["exit_year"].tolist()[1:3] == [2016, 2015]


def test_bad_register_status_one_problem_per_row():
    raw = _register(register_status=["未脱贫", "脱贫中", "返贫", "gone", "脱贫中"])
    raw["registered_poor"] = ["是"] * 5
    _, probs = validate_layer(raw, "households", file="h.csv", layer="households")
    got = _where(probs, "register_status")
    assert [(row, sev) for row, sev, _ in got] == [
        ("2 (household_id h2)", "error"),
        ("4 (household_id h4)", "error"),
        ("5 (household_id h5)", "error"),
    ]
    assert "found '脱贫中'" in got[0][2] and "found 'gone'" in got[1][2]
    assert "expected one of not_exited, exited, returned" in got[0][2]
    assert "未脱贫 = not_exited" in got[0][2]


def test_exit_year_out_of_range_or_not_a_year_one_problem_per_row():
    raw = _register(exit_year=[2013, 2016, 2031, "2015.5", "去年"])
    raw["registered_poor"] = ["是"] * 5
    _, probs = validate_layer(raw, "households", file="h.csv")
    got = _where(probs, "exit_year")
    rows = sorted((row, msg) for row, _, msg in got)
    assert rows == [
        ("1 (household_id h1)", "expected 2014..2030, found 2013"),
        ("3 (household_id h3)", "expected 2014..2030, found 2031"),
        ("4 (household_id h4)", "expected a whole number, found 2015.5"),
        ("5 (household_id h5)", "expected a number (int), found '去年'"),
    ]
    assert all(sev == "error" for _, sev, _ in got)


def test_register_status_on_a_household_not_registered_poor_warns():
    # h5 is not registered poor but carries a status and a year; h4's registered_poor is
    # unknown: no warning (it may well be poor)
    raw = _register(
        registered_poor=["是", "是", "是", "", "否"],
        register_status=["未脱贫", "已脱贫", "返贫", "未脱贫", "已脱贫"],
        exit_year=[None, 2016, 2015, None, 2017],
    )
    _, probs = validate_layer(raw, "households", file="h.csv")
    assert not _errors(probs)
    assert [(p.row, p.column) for p in probs] == [
        ("5 (household_id h5)", "register_status"),
        ("5 (household_id h5)", "exit_year"),
    ]
    assert all(p.severity == "warning" and "not registered poor" in p.message for p in probs)


def test_point_hazard_needs_radius():
    h = gpd.GeoDataFrame(
        {"hazard_id": ["H1", "H2"], "kind": ["landslide", "flood"], "radius_m": [200.0, None]},
        geometry=[Point(109, 28), Point(109.1, 28)],
        crs=4490,
    )
    _, probs = validate_layer(h, "hazards", file="h.gpkg")
    assert any("without radius_m" in p.message and "H2" in p.message for p in _errors(probs))


def test_road_surface_rule_and_switch_off():
    r = gpd.GeoDataFrame(
        {
            "road_id": ["a", "b", "c", "d"],
            "road_class": ["国道", "村道", "track", "county"],
            "surface": ["", "水泥", None, None],
        },
        geometry=[LineString([(109, 28), (109.1, 28)])] * 4,
        crs=4490,
    )
    clean, _ = validate_layer(r, "roads", file="r.gpkg")
    assert clean["hardened"].tolist() == [True, True, False, True]
    assert clean["hardened_inferred"].tolist() == [True, False, True, True]
    clean, _ = validate_layer(r, "roads", file="r.gpkg", infer_surface_from_class=False)
    assert clean["hardened"].isna().tolist() == [True, False, True, True]
    # a village road with unknown surface is never inferred: the transport bureau must verify it
    r2 = r.assign(surface=None)
    clean, _ = validate_layer(r2, "roads", file="r.gpkg")
    assert pd.isna(clean["hardened"].iloc[1])


# ----------------------------------------------------------------- workspace


def test_tiny_workspace_loads_in_dem_crs(tiny_workspace):
    lw = load_workspace(tiny_workspace)
    assert lw.errors == []
    assert lw.metric_crs.to_epsg() == 4545
    v = lw.layers["villages"]
    assert v.crs.to_epsg() == 4545 and v["name"].tolist() == ["龙潭村", "白岩村", "高坡村"]
    assert v["has_safe_water"].tolist()[:2] == [True, False] and pd.isna(
        v["has_safe_water"].iloc[2]
    )
    assert np.isnan(lw.dem.z[0, 0]) and lw.dem.z[5, 5] == pytest.approx(800 + 10 + 5)


def test_workspace_toml_typos_are_reported(tiny_workspace):
    t = tiny_workspace / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8")
        .replace("[layers.roads]", "[layers.raods]")
        .replace("policy", "polcy"),
        encoding="utf-8",
    )
    ws, probs = read_workspace(tiny_workspace)
    text = "\n".join(p.line() for p in probs)
    assert "did you mean 'roads'" in text and "did you mean 'policy'" in text
    assert "required layer 'roads' is not declared" in text


def test_workspace_crs_must_be_projected(tiny_workspace):
    t = tiny_workspace / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'policy = "national"', 'policy = "national"\ncrs = "EPSG:4490"'
        ),
        encoding="utf-8",
    )
    lw = load_workspace(tiny_workspace)
    assert any("geographic" in p.message for p in lw.errors)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/realdata not present")
def test_real_srtm_tile_and_osm_extract():
    from layers.crs import choose_metric_crs

    dem = read_dem(SHARED / "N42E001.hgt.zip", metric_crs=choose_metric_crs(1.5, 42.5))
    assert (
        dem.crs.to_epsg() == 32631 and 349 - 5 <= np.nanmin(dem.z) and np.nanmax(dem.z) <= 3100 + 5
    )
    with rasterio.open(gdal_path(SHARED / "N42E001.hgt.zip")) as src:
        raw = src.read(1)
    assert (raw == -32768).sum() == 7652  # the documented voids are seen as nodata
    from geo.terrain import fill_voids, slope

    z = np.where(raw == -32768, np.nan, raw.astype(float))
    filled, n = fill_voids(z)
    assert n == 7652 and np.isfinite(filled).all()
    assert (
        349 <= filled.min() and filled.max() <= 3100
    )  # the harmonic fill never leaves the rim's range
    s = slope(filled, cellsize=(92.6 * np.cos(np.radians(42.5)), 92.6))
    assert 10 < np.median(s) < 35  # steep Pyrenean terrain, as VERIFY.txt describes
    lines, _ = read_vector(SHARED / "andorra.osm.pbf", layer="lines")
    roads = osm_roads(lines)
    clean, probs = validate_layer(roads, "roads", file="andorra.osm.pbf", layer="lines")
    assert not _errors(probs)
    share_tagged = (clean["surface"] != "unknown").mean()
    assert share_tagged < 0.2  # sparse surface tags, as the README says
    assert clean["hardened_inferred"].sum() > 0 and clean["hardened"].isna().sum() > 0


def test_shutil_which_is_available():
    assert shutil.which("python") or shutil.which("python3")


def test_declared_crs_fills_a_missing_prj(tiny_workspace):
    g = gpd.GeoDataFrame(
        {"school_id": ["S1"], "level": ["primary"]}, geometry=[Point(598300, 3132700)]
    )
    g.to_file(tiny_workspace / "schools.shp")
    t = tiny_workspace / "workspace.toml"
    base = t.read_text(encoding="utf-8")
    t.write_text(base + '\n[layers.schools]\npath = "schools.shp"\n', encoding="utf-8")
    assert any("no CRS" in p.message for p in load_workspace(tiny_workspace).errors)
    t.write_text(
        base + '\n[layers.schools]\npath = "schools.shp"\ncrs = "EPSG:4545"\n', encoding="utf-8"
    )
    lw = load_workspace(tiny_workspace)
    assert lw.errors == [] and lw.layers["schools"].crs.to_epsg() == 4545


def test_declared_gcj02_converts_a_file_without_prj_and_one_with_a_crs(tiny_workspace, tmp_path):
    from layers.chinacoords import from_cgcs2000, offset_m

    g = gpd.GeoDataFrame(
        {"school_id": ["S1"], "level": ["primary"]}, geometry=[Point(598300, 3132700)], crs=4545
    )
    gcj = from_cgcs2000(g, "GCJ-02")  # lon/lat as Amap shows them
    gcj.set_crs(None, allow_override=True).to_file(tiny_workspace / "schools.shp")
    t = tiny_workspace / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8")
        + '\n[layers.schools]\npath = "schools.shp"\ncrs = "GCJ-02"\n',
        encoding="utf-8",
    )
    lw = load_workspace(tiny_workspace)
    assert lw.errors == [], [p.line() for p in lw.errors]
    assert lw.layers["schools"].geometry.iloc[0].distance(Point(598300, 3132700)) < 1e-3
    # read_vector alone: any file, any spelling; the result is CGCS2000
    from_cgcs2000(g, "BD-09").to_file(tmp_path / "s.geojson", driver="GeoJSON")
    frame, info = read_vector(tmp_path / "s.geojson", crs="bd09")
    assert info.datum == "BD-09" and frame.crs.to_epsg() == 4490
    assert frame.to_crs(4545).geometry.iloc[0].distance(Point(598300, 3132700)) < 1e-3
    assert 300 < offset_m(109.0, 28.3) < 700
