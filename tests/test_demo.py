"""Invariants of the synthetic demo county generator (scripts/make_demo.py).

The generator runs once at a small scale into a temporary folder (module fixture); a second
run checks determinism. The committed ``data/demo`` is only checked for completeness: rebuilding
it at scale 1 is too slow for the test suite.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import rasterio.features
import shapely
from scipy import ndimage

from scripts.make_demo import (
    GENERATED_FILES,
    HOUSEHOLD_RENAME,
    NODATA,
    VILLAGE_RENAME,
    DemoConfig,
    _channel_width_m,
    _push_out,
    _river_streams,
    generate,
    main,
)

SCALE = 0.25
SEED = int(os.environ.get("ANJU_DEMO_TEST_SEED", "7"))  # other seeds: set the variable
DEMO = Path(__file__).resolve().parent.parent / "data" / "demo"


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("demo_a"), seed=SEED, scale=SCALE)


@pytest.fixture(scope="module")
def dem(ws):
    with rasterio.open(ws / "dem.tif") as src:
        return src.read(1), src.profile, src.transform


@pytest.fixture(scope="module")
def county(ws) -> gpd.GeoDataFrame:
    return gpd.read_file(ws / "county.gpkg", layer="boundary")


@pytest.fixture(scope="module")
def villages(ws) -> gpd.GeoDataFrame:
    gdf = pyogrio.read_dataframe(ws / "villages.shp", encoding="GB18030")
    return gdf.rename(columns=VILLAGE_RENAME)


def test_dem_format_and_crs(dem):
    arr, profile, transform = dem
    assert arr.dtype == np.int16
    assert profile["crs"].to_epsg() == 4545
    assert profile["nodata"] == NODATA
    assert profile["tiled"] and profile["compress"] == "deflate"
    assert transform.a == 30.0 and transform.e == -30.0
    # centred near 109.0E 28.3N: GK CM 108E puts that near x 598 km, y 3132 km
    cx = transform.c + transform.a * arr.shape[1] / 2
    cy = transform.f + transform.e * arr.shape[0] / 2
    assert abs(cx - 598_091) < 2_000 and abs(cy - 3_132_094) < 2_000


def test_dem_void_free_inside_nodata_outside_and_relief(dem, county):
    arr, _, transform = dem
    geom = county.to_crs(4545).geometry.iloc[0]
    inside = rasterio.features.rasterize(
        [(geom, 1)], out_shape=arr.shape, transform=transform
    ).astype(bool)
    assert (arr[inside] != NODATA).all(), "voids inside the county"
    assert (arr[~inside] == NODATA).all(), "data outside the county"
    z = arr[inside].astype(float)
    relief = z.max() - z.min()
    assert 300 <= relief <= 2500
    assert 100 < z.min() < 800  # valley floors of the region
    # the county's area scales with `scale` (about 2,200 km² at scale 1)
    area_km2 = inside.sum() * 900 / 1e6
    assert 0.7 * 2200 * SCALE < area_km2 < 1.3 * 2200 * SCALE
    # mountainous: a sizeable share of slopes above 25 degrees, but not a wall
    gy, gx = np.gradient(np.where(inside, arr, np.nan).astype(float), 30.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    mean = np.nanmean(slope)
    assert 10 < mean < 30


def test_villages_inside_county_and_on_dem(villages, county, dem):
    arr, _, transform = dem
    assert villages.crs.to_epsg() == 4490
    v = villages.to_crs(4545)
    geom = county.to_crs(4545).geometry.iloc[0]
    assert v.within(geom).all()
    rows, cols = rasterio.transform.rowcol(
        transform, v.geometry.x.to_numpy(), v.geometry.y.to_numpy()
    )
    assert (arr[np.asarray(rows), np.asarray(cols)] != NODATA).all()


def test_village_attributes(villages):
    assert villages["village_id"].is_unique
    assert villages["village_id"].str.fullmatch(r"\d{12}").all()
    assert (villages["population"] > 0).all()
    assert (villages["households"] > 0).all()
    assert (villages["households"] <= villages["population"]).all()
    assert (villages["poor_population"] >= 0).all()
    assert (villages["poor_population"] <= villages["population"]).all()
    admin = villages[villages["level"] == "admin"]
    ham = villages[villages["level"] == "hamlet"]
    assert len(admin) == round(250 * SCALE)
    assert len(ham) >= 3
    assert ham["parent_id"].isin(admin["village_id"]).all()
    # an administrative village includes its hamlets: its own core is 300-3000 people and
    # each of its counts is its core's plus its hamlets'
    sums = ham.groupby("parent_id")[["population", "households", "poor_population"]].sum()
    core = admin.set_index("village_id")[["population", "households", "poor_population"]]
    core = core.sub(sums.reindex(core.index, fill_value=0))
    assert (core >= 0).all().all()
    assert core["population"].between(300, 3000).all()
    inc = villages["poor_population"] / villages["population"]
    assert (inc[ham.index] >= 0.5).any(), "no high-incidence hamlet"
    assert ((inc[admin.index] > 0.01) & (inc[admin.index] < 0.15)).mean() > 0.5
    assert (inc[admin.index] < 0.03).any() and (inc[admin.index] > 0.03).any()
    # deliberate unknowns so that "unknown" shows on the map
    for col in ("has_safe_water", "has_broadband", "clinic_standard", "road_hardened_claimed"):
        assert villages[col].isna().any(), col
        assert (villages[col] == 0).any(), col
    for col in ("sanitary_toilet_frac", "flush_toilet_frac", "household_road_hardened_frac"):
        vals = villages[col]
        assert vals.isna().any()
        assert vals.dropna().between(0, 1).all()
    _assert_registry_units(villages)


def _assert_registry_units(villages: pd.DataFrame) -> None:
    """Poverty villages, hamlets' flags and the two toilet measures (any generated workspace)."""
    admin = villages[villages["level"] == "admin"]
    ham = villages[villages["level"] == "hamlet"]
    # every administrative village says whether it is a poverty village; about a third are
    flag = admin["poverty_village"]
    assert flag.notna().all()
    assert 0.25 < flag.astype(bool).mean() < 0.42
    # a hamlet carries its administrative village's flag, or none
    parent_flag = ham["parent_id"].map(admin.set_index("village_id")["poverty_village"])
    known = ham["poverty_village"].notna()
    assert (ham.loc[known, "poverty_village"] == parent_flag[known]).all()
    # sanitary (卫生厕所) and flush (水冲式厕所) toilets are two columns with different figures;
    # flush toilets are the smaller share here
    both = villages[["sanitary_toilet_frac", "flush_toilet_frac"]].dropna()
    assert len(both) > 0.8 * len(villages)
    assert (both["flush_toilet_frac"] <= both["sanitary_toilet_frac"]).all()
    assert (both["flush_toilet_frac"] < both["sanitary_toilet_frac"]).mean() > 0.95


def test_chinese_columns_round_trip(ws, villages):
    assert (ws / "villages.cpg").read_text().strip().upper() == "GB18030"
    raw = pyogrio.read_dataframe(ws / "villages.shp")  # encoding taken from the .cpg
    assert list(raw.columns[:-1]) == list(VILLAGE_RENAME)
    for name in VILLAGE_RENAME:
        assert len(name.encode("gb18030")) <= 10
    assert raw["村名"].str.endswith(("村", "寨")).all()
    assert raw["乡镇"].str.endswith(("乡", "镇")).all()


def test_every_township_has_villages_and_townships_partition(ws, villages, county):
    tw = gpd.read_file(ws / "county.gpkg", layer="townships").to_crs(4545)
    assert tw["township_id"].is_unique and len(tw) == round(15 * SCALE)
    assert tw["name"].str.endswith(("乡", "镇")).all()
    boundary = county.to_crs(4545).geometry.iloc[0]
    assert abs(tw.area.sum() - boundary.area) / boundary.area < 1e-6
    assert abs(shapely.union_all(tw.geometry).area - boundary.area) / boundary.area < 1e-6
    v = villages.to_crs(4545)
    joined = gpd.sjoin(v, tw, predicate="within")
    assert len(joined) == len(v)
    assert (joined["township"] == joined["name_right"]).all(), (
        "township attribute disagrees with polygon"
    )
    counts = joined[joined["level"] == "admin"].groupby("name_right").size()
    assert set(counts.index) == set(tw["name"]) and (counts >= 3).all()


def test_roads_connected_and_classified(ws, villages):
    roads = gpd.read_file(ws / "roads.gpkg", layer="roads")
    assert roads.crs.to_epsg() == 4490
    assert roads["road_id"].is_unique
    assert set(roads["road_class"]) == {"provincial", "county", "township", "village"}
    surf = roads["surface"]
    assert set(surf.dropna()) <= {"asphalt", "concrete", "gravel", "earth"}
    assert surf.isna().any(), "no road with unknown surface"
    assert surf.isin(["gravel", "earth"]).any(), "no unhardened road"
    assert (roads.geometry.geom_type == "LineString").all()
    g = nx.Graph()
    for line in roads.geometry:
        c = shapely.get_coordinates(line)
        a, b = tuple(np.round(c[0], 7)), tuple(np.round(c[-1], 7))
        g.add_edge(a, b)
    assert nx.number_connected_components(g) == 1
    # every administrative village is reached: on a road end or within a coarse cell of a road
    v = villages[villages["level"] == "admin"].to_crs(4545)
    r = roads.to_crs(4545)
    d = v.geometry.apply(lambda p: r.distance(p).min())
    assert (d < 200).all()


def test_towns_and_facilities(ws):
    towns = gpd.read_file(ws / "towns.geojson")
    assert towns.crs.to_epsg() == 4326
    kinds = towns["kind"].value_counts()
    assert kinds["county_seat"] == 1 and kinds["industrial_park"] == 1
    assert kinds["township_seat"] == round(15 * SCALE) - 1
    layers = {name for name, _ in pyogrio.list_layers(ws / "facilities.gpkg")}
    assert layers == {"clinics", "schools", "water", "hazards", "protected"}
    clinics = gpd.read_file(ws / "facilities.gpkg", layer="clinics")
    assert (clinics["level"] == "township_health_centre").sum() == round(15 * SCALE)
    assert set(gpd.read_file(ws / "facilities.gpkg", layer="water")["kind"]) == {
        "source",
        "plant",
        "network",
        "service_area",
        "water_body",
    }
    hz = gpd.read_file(ws / "facilities.gpkg", layer="hazards")
    pts = hz[hz.geometry.geom_type == "Point"]
    assert (pts["radius_m"] > 0).all() and "flood" in set(hz["kind"])
    pr = gpd.read_file(ws / "facilities.gpkg", layer="protected")
    assert set(pr["kind"]) == {"ecological_redline", "basic_farmland", "water_source_protection"}
    assert pr.is_valid.all() and hz.is_valid.all()
    sites = gpd.read_file(ws / "sites.gpkg", layer="sites")
    assert 2 <= len(sites) <= 3 and sites["locked"].sum() == 1


def _read_households(folder: Path) -> pd.DataFrame:
    hh = pd.read_csv(
        folder / "households.csv",
        dtype={"village_id": str, "household_id": str, "id_number": str},
    )
    return hh.rename(columns=HOUSEHOLD_RENAME)


def _assert_register_traps(
    hh: pd.DataFrame, villages: pd.DataFrame, *, crossing: bool = False
) -> tuple[str, str]:
    """The two planted register traps; returns (disagreement village, incomplete village).

    The village figures 贫困人口 / 贫困户数 count the registered poor not yet exited (未脱贫,
    返贫, or no status in the register); everywhere else they agree with the register.
    """
    by_v = villages.set_index("village_id")
    reg = hh[hh["registered_poor"]]
    current = reg[reg["register_status"] != "已脱贫"]
    poor = current.groupby("village_id")["members"].sum()
    poor_hh = current.groupby("village_id").size()
    listed_hh = reg.groupby("village_id").size()
    members = hh.groupby("village_id")["members"].sum()
    mismatch = [vid for vid in members.index if poor.get(vid, 0) != by_v.at[vid, "poor_population"]]
    assert len(mismatch) == 2, mismatch
    # the disagreement: the register holds far more poor than the village attribute says
    (more,) = [v for v in mismatch if poor[v] > 2 * by_v.at[v, "poor_population"]]
    # the incomplete register: it lists fewer poor households (of any status) and people than
    # the village figures say are not yet exited
    (fewer,) = [v for v in mismatch if v != more]
    assert listed_hh[fewer] < by_v.at[fewer, "poor_households"]
    assert poor[fewer] < by_v.at[fewer, "poor_population"]
    assert members[fewer] < by_v.at[fewer, "population"]
    # ... and would put the village under the western 3 % line on its own figure
    assert poor[fewer] / by_v.at[fewer, "population"] < 0.03
    if crossing:  # where the village figure is above the line (not every seed has one)
        assert by_v.at[fewer, "poor_population"] / by_v.at[fewer, "population"] >= 0.03
    # both traps are poverty villages, so the village exit rule applies to them
    assert by_v.loc[[more, fewer], "poverty_village"].astype(bool).all()
    # every other household village's register adds up to its figures
    others = [v for v in members.index if v not in (more, fewer)]
    assert (members[others] == by_v.loc[others, "population"]).all()
    assert (poor_hh.reindex(others, fill_value=0) == by_v.loc[others, "poor_households"]).all()
    return more, fewer


def _assert_register_status(hh: pd.DataFrame) -> None:
    """脱贫状态 in Chinese on registered poor households only; 脱贫年份 on exits."""
    poor = hh["registered_poor"].astype(bool)
    status = hh["register_status"]
    assert status[~poor].isna().all() and hh.loc[~poor, "exit_year"].isna().all()
    counts = status[poor].value_counts(dropna=False)
    assert set(counts.index.dropna()) == {"未脱贫", "已脱贫", "返贫"}
    assert counts["未脱贫"] > counts["已脱贫"] > counts["返贫"] > 0  # most not exited
    left = status.isin(["已脱贫", "返贫"])
    assert hh.loc[left, "exit_year"].between(2014, 2017).all()
    assert hh.loc[status == "未脱贫", "exit_year"].isna().all()


def test_households_synthetic_and_planted_disagreement(ws, villages):
    hh = _read_households(ws)
    assert hh["household_id"].is_unique
    assert hh["village_id"].isin(villages["village_id"]).all()
    assert hh["id_number"].str.fullmatch(r"999999\d{11}[\dX]").all()
    assert hh["phone"].str.fullmatch(r"199-0000-\d{4}").all()
    assert hh["safe_water_ok"].isna().any()
    _assert_register_traps(hh, villages)
    _assert_register_status(hh)
    text = (ws / "generated.txt").read_text(encoding="utf-8")
    assert "planted" in text and "incomplete_register" in text


def test_deterministic_for_a_seed(ws, tmp_path):
    again = generate(tmp_path / "b", seed=SEED, scale=SCALE)
    assert (ws / "dem.tif").read_bytes() == (again / "dem.tif").read_bytes()
    a = pyogrio.read_dataframe(ws / "villages.shp")
    b = pyogrio.read_dataframe(again / "villages.shp")
    pd.testing.assert_frame_equal(pd.DataFrame(a), pd.DataFrame(b))
    ra = gpd.read_file(ws / "roads.gpkg")
    rb = gpd.read_file(again / "roads.gpkg")
    assert ra.geometry.geom_equals_exact(rb.geometry, tolerance=0).all()
    wa = gpd.read_file(ws / "facilities.gpkg", layer="water")
    wb = gpd.read_file(again / "facilities.gpkg", layer="water")
    assert list(wa["water_id"]) == list(wb["water_id"])
    assert wa.geometry.geom_equals_exact(wb.geometry, tolerance=0).all()
    assert (ws / "households.csv").read_bytes() == (again / "households.csv").read_bytes()


def test_bad_scale_refused(tmp_path):
    with pytest.raises(ValueError, match="scale must be positive"):
        generate(tmp_path, scale=0)


def test_committed_demo_complete():
    toml = DEMO / "workspace.toml"
    assert toml.exists()
    doc = tomllib.loads(toml.read_text(encoding="utf-8"))
    assert doc["workspace"]["crs"] == "EPSG:4545"
    assert doc["workspace"]["policy"] == "national" and doc["workspace"]["province_group"] == "west"
    kinds = set(doc["layers"])
    assert {
        "dem",
        "boundary",
        "townships",
        "villages",
        "roads",
        "water",
        "clinics",
        "schools",
        "towns",
        "hazards",
        "protected",
    } <= kinds
    for kind, spec in doc["layers"].items():
        path = DEMO / spec["path"]
        assert path.exists(), f"{kind}: {path} missing"
        if "layer" in spec:
            assert spec["layer"] in {n for n, _ in pyogrio.list_layers(path)}, kind
    assert doc["layers"]["villages"]["rename"] == VILLAGE_RENAME
    assert doc["layers"]["households"]["rename"] == HOUSEHOLD_RENAME
    # 卫生厕所率 is the sanitary share, a column of its own; flush toilets are another
    assert VILLAGE_RENAME["卫生厕所率"] == "sanitary_toilet_frac"
    assert sorted(k for k, v in VILLAGE_RENAME.items() if v == "flush_toilet_frac") == [
        "水冲厕所率"
    ]
    assert (DEMO / "README.md").exists()
    # the committed inputs only: a plan built into data/demo/plan by `python app.py` is not committed
    total = sum(
        p.stat().st_size
        for p in DEMO.rglob("*")
        if p.is_file() and "plan" not in p.relative_to(DEMO).parts
    )
    assert total < 12 * 1024 * 1024


def _committed_villages() -> gpd.GeoDataFrame:
    gdf = pyogrio.read_dataframe(DEMO / "villages.shp", encoding="GB18030")
    return gdf.rename(columns=VILLAGE_RENAME)


def test_committed_demo_carries_the_traps():
    """The traps README.md lists under "Known traps" are in the committed demo."""
    villages = _committed_villages()
    _assert_registry_units(villages)
    admin = villages[villages["level"] == "admin"]
    assert len(admin) == 250 and int(admin["poverty_village"].sum()) == 83
    hh = _read_households(DEMO)
    more, fewer = _assert_register_traps(hh, villages, crossing=True)
    _assert_register_status(hh)
    name = villages.set_index("village_id")["name"]
    assert (more, name[more]) == ("439901203218", "龙田村")
    assert (fewer, name[fewer]) == ("439901106206", "李园村")
    # roadless hamlets 400-2000 m from the nearest road (within the snap distance, beyond the
    # connection distance), and two beyond 2 km
    roads = gpd.read_file(DEMO / "roads.gpkg", layer="roads").to_crs(4545)
    net = shapely.union_all(roads.geometry.to_numpy())
    ham = villages[villages["level"] == "hamlet"].to_crs(4545).set_index("name")
    dist = ham.geometry.distance(net)
    for n in ("中溪寨", "田坪寨", "柏界寨", "小坡寨", "桃岭寨", "新冲寨"):
        assert 400 <= dist[n] <= 2000, (n, dist[n])
    for n in ("枫林寨", "下田寨"):
        assert dist[n] > 2000, (n, dist[n])
    # unknown road surfaces, clinics without a doctor (or unknown), sources of unknown safety
    assert roads["surface"].isna().sum() > 0
    clinics = gpd.read_file(DEMO / "facilities.gpkg", layer="clinics")
    vc = clinics[clinics["level"] == "village_clinic"]
    assert (vc["has_doctor"] == 0).sum() > 0 and vc["has_doctor"].isna().sum() > 0
    water = gpd.read_file(DEMO / "facilities.gpkg", layer="water")
    src = water[water["kind"] == "source"]
    assert src["safe"].isna().sum() > 0 and (src["safe"] == 0).sum() > 0
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    assert "## Known traps" in text
    for word in ("龙田村", "李园村", "中溪寨", "桃岭寨", "贫困村", "水冲厕所率"):
        assert word in text, word


def test_writes_exactly_the_listed_files(ws):
    written = {p.name for p in ws.iterdir()}
    assert written == set(GENERATED_FILES)


def test_cli_clean_keeps_foreign_files(tmp_path, capsys):
    out = tmp_path / "cli"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "generated.txt").write_text("stale")
    assert main(["--out", str(out), "--seed", "1", "--scale", "0.05", "--clean"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert "seed: 1" in capsys.readouterr().out
    assert (out / "workspace.toml").exists() and (out / "dem.tif").exists()


# --------------------------------------------------------------------------------------------
# water bodies (kind "water_body" in the water layer): river channels and reservoir lakes
# --------------------------------------------------------------------------------------------


def _water_bodies(folder: Path) -> gpd.GeoDataFrame:
    water = gpd.read_file(folder / "facilities.gpkg", layer="water")
    return water[water["kind"] == "water_body"].to_crs(4545)


def _assert_water_bodies(folder: Path) -> None:
    """The invariants of the water bodies of one generated workspace."""
    wb = _water_bodies(folder)
    assert len(wb) >= 3, "expected river channels and reservoir lakes"
    assert wb["water_id"].str.fullmatch(r"WB\d{3}").all() and wb["water_id"].is_unique
    assert wb["safe"].isna().all() and wb["capacity_m3d"].isna().all()
    assert wb["name"].notna().all()
    assert set(wb.geom_type) <= {"Polygon", "MultiPolygon"}
    assert wb.is_valid.all() and not wb.is_empty.any()
    county = gpd.read_file(folder / "county.gpkg", layer="boundary").to_crs(4545).geometry.iloc[0]
    # inside the county (1 m slack for the EPSG:4490 round trip)
    assert wb.within(county.buffer(1.0)).all()
    # water bodies do not overlap one another
    assert abs(shapely.union_all(wb.geometry.to_numpy()).area - wb.area.sum()) < 1.0
    lakes = wb[wb["name"].str.endswith("水库")]
    rivers = wb[~wb["name"].str.endswith("水库")]
    assert len(lakes) >= 1 and len(rivers) >= 1
    # a reservoir lake: a few tens of hectares, with its source point (the dam) on its shore
    assert lakes.area.between(5e4, 6e5).all(), lakes.area
    water = gpd.read_file(folder / "facilities.gpkg", layer="water").to_crs(4545)
    src = water[(water["kind"] == "source") & water["name"].str.endswith("水库")]
    for name, g in zip(lakes["name"], lakes.geometry, strict=True):
        assert src[src["name"] == name].distance(g).min() < 30.0, name
    # river channels: 15-60 m wide, so their area is 15-60 m times their length (~half the
    # perimeter); they cover a small share of the county
    for g in rivers.geometry:
        width = g.area / (g.length / 2.0)
        assert 10.0 < width < 62.0, width
    assert 0.002 < rivers.area.sum() / county.area < 0.03
    # no village, hamlet or town stands in the water
    union = shapely.union_all(wb.geometry.to_numpy())
    villages = pyogrio.read_dataframe(folder / "villages.shp", encoding="GB18030").to_crs(4545)
    assert not villages.intersects(union).any()
    towns = gpd.read_file(folder / "towns.geojson").to_crs(4545)
    assert not towns.intersects(union).any()
    # water lies in the valleys: each body's mean DEM is below that of a 300 m ring around it
    with rasterio.open(folder / "dem.tif") as src_:
        arr, transform = src_.read(1), src_.transform
    for wid, g in zip(wb["water_id"], wb.geometry, strict=True):
        ring = g.buffer(300.0).difference(union)
        m_in = rasterio.features.geometry_mask([g], arr.shape, transform, invert=True)
        m_ring = rasterio.features.geometry_mask([ring], arr.shape, transform, invert=True)
        m_in &= arr != NODATA
        m_ring &= arr != NODATA
        assert m_in.sum() > 0 and m_ring.sum() > 0, wid
        assert arr[m_in].mean() < arr[m_ring].mean() - 5.0, wid
    # stricter for the river channels (the ring test above passes even for channels shifted
    # 250 m sideways): their cells are the valley bottom, on average within a few metres of
    # the lowest cell 150 m around (steep reaches drop that much along the channel). Shifted
    # 90 m sideways the channels sit 4-6 m above it on average, 250 m sideways 17-30 m.
    z = np.where(arr == NODATA, np.inf, arr.astype(float))
    low = ndimage.minimum_filter(z, size=11)
    above = []
    for wid, g in zip(rivers["water_id"], rivers.geometry, strict=True):
        m_in = rasterio.features.geometry_mask([g], arr.shape, transform, invert=True)
        m_in &= arr != NODATA
        above.append(z[m_in] - low[m_in])
        assert above[-1].mean() < 5.0, wid
    assert np.concatenate(above).mean() < 3.0


def test_water_bodies(ws):
    _assert_water_bodies(ws)


def test_committed_demo_water_bodies():
    _assert_water_bodies(DEMO)
    wb = _water_bodies(DEMO)
    assert "清水河" in set(wb["name"])  # the trunk river


def test_channel_width_grows_with_area_and_is_capped():
    cfg = DemoConfig()
    w = _channel_width_m(np.array([1.0, 15.0, 150.0, 1500.0, 1e6]), cfg)
    assert w[0] == w[1] == 15.0  # below the threshold: the narrowest channel
    assert w[2] == pytest.approx(15.0 * 10**0.28)  # 28.6 m
    assert w[3] == pytest.approx(15.0 * 100**0.28)  # 54.6 m
    assert w[4] == 60.0


def test_river_streams_hack_order():
    # a 1 x 5 strip draining east to the outlet at column 4, with a side branch:
    # flat indices 0 → 1 → 2 → 3 → 4 (outlet); cell 5 (row 1) drains to 2
    parent = np.array([[1, 2, 3, 4, -1], [2, -1, -1, -1, -1]])
    acc = np.array([[20.0, 40.0, 90.0, 95.0, 100.0], [30.0, 1.0, 1.0, 1.0, 1.0]])
    streams = _river_streams(acc, parent, 15.0)
    assert [s["cells"] for s in streams] == [[4, 3, 2, 1, 0], [2, 5]]
    assert [s["recv"] for s in streams] == [-1, 0]
    assert streams[1]["area_km2"] == 30.0


def test_push_out_moves_points_to_the_nearer_bank():
    river = shapely.box(0.0, -20.0, 1000.0, 20.0)  # a 40 m wide channel along the x axis
    xy = np.array([[500.0, 5.0], [500.0, -12.0], [500.0, 80.0]])
    out, moved = _push_out(xy, river, 10.0)
    assert moved == 2
    assert out[0] == pytest.approx([500.0, 35.0])  # 20 m bank + 10 m margin + 5 m
    assert out[1] == pytest.approx([500.0, -35.0])
    assert out[2] == pytest.approx([500.0, 80.0])  # already dry: untouched
    # when the nearer bank is refused, the point goes to the other bank
    out, moved = _push_out(xy[:1], river, 10.0, ok=lambda i, x, y: y < 0)
    assert moved == 1 and out[0, 1] < -30.0
