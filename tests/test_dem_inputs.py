"""DEM inputs: tiles mosaicked (list, glob, zip, VRT), the county outside the DEM, the DEM's
resolution, legacy Chinese datums (Beijing-1954, Xi'an-1980) and destinations on barriers.

Every raster and layer is built in code: SRTM-like geographic tiles (pixel centres on the
tile edges, so neighbours share a column) near 109°E 28°N, and the tiny projected workspace
of ``tests.conftest``.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner
from pyproj import CRS, Transformer
from rasterio.features import geometry_mask
from rasterio.transform import from_origin, rowcol
from shapely.geometry import LineString, Point, box

from geo.access import TravelTimes
from layers.datums import legacy_datum, parse_towgs84
from layers.dem_sources import MissingTilesError, county_outside_dem, resolve_tiles
from layers.readers import read_dem
from layers.workspace import file_sha256, load_workspace
from scripts.cli import main
from scripts.pipeline import _input_warnings, _on_water
from tests.conftest import X0, Y0, write_tiny_workspace

LON0, LAT0 = 109.0, 28.0
RES = 1 / 3600  # one arc-second: warped to a 31 m grid
SPAN = 0.03  # tile size in degrees: 109 x 109 pixels
#: a Beijing-1954 -> WGS 84 seven-parameter set (PROJ +towgs84, Position Vector), ~80 m
TOWGS84 = [-12.0, -118.0, -51.0, 0.5, -0.3, 1.2, 2.5]


def _elev(lon, lat):
    """A smooth surface, the same for every tile: a seam can only show as nodata."""
    return 500.0 + 3000.0 * (lon - LON0) + 2000.0 * (lat - LAT0)


def _tile(path: Path, lon0: float, lat0: float, *, span: float = SPAN) -> Path:
    """A ``SPAN`` high, ``span`` wide tile with its south-west corner pixel at (lon0, lat0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nx, ny = int(round(span / RES)) + 1, int(round(SPAN / RES)) + 1
    lon = lon0 + np.arange(nx) * RES
    lat = lat0 + SPAN - np.arange(ny) * RES
    z = _elev(lon[None, :], lat[:, None]).astype("float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=nx,
        height=ny,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(lon0 - RES / 2, lat0 + SPAN + RES / 2, RES, RES),
        nodata=-32768,
    ) as dst:
        dst.write(z, 1)
    return path


def _villages(points, crs) -> gpd.GeoDataFrame:
    n = len(points)
    return gpd.GeoDataFrame(
        {
            "村代码": [f"43120000000{i + 1}" for i in range(n)],
            "村名": [f"村{i + 1}" for i in range(n)],
            "乡镇": ["龙潭镇"] * n,
            "人口": [500] * n,
            "户数": [150] * n,
            "贫困人口": [20] * n,
        },
        geometry=list(points),
        crs=crs,
    )


#: the county straddles the seam of the two tiles at 109.03°E
COUNTY = (109.005, 28.005, 109.055, 28.025)
SEAM_VILLAGES = [
    Point(109.0299, 28.015),
    Point(109.0300, 28.012),
    Point(109.0301, 28.018),
    Point(109.010, 28.010),
    Point(109.050, 28.020),
]


def _geo_workspace(root: Path, dem_toml: str) -> Path:
    """Boundary, villages on the seam and a road in EPSG:4490; the DEM as ``dem_toml`` says."""
    root.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame({"name": ["缝县"]}, geometry=[box(*COUNTY)], crs=4490).to_file(
        root / "county.gpkg", layer="boundary"
    )
    _villages(SEAM_VILLAGES, 4490).to_file(root / "villages.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {"road_id": ["R1"], "road_class": ["县道"], "surface": ["沥青"]},
        geometry=[LineString([(109.006, 28.015), (109.054, 28.015)])],
        crs=4490,
    ).to_file(root / "roads.gpkg", layer="roads")
    (root / "workspace.toml").write_text(
        '[workspace]\nname = "缝县"\npolicy = "national"\nprovince_group = "west"\n\n'
        f"[layers.dem]\n{dem_toml}\n\n"
        '[layers.boundary]\npath = "county.gpkg"\nlayer = "boundary"\n\n'
        '[layers.villages]\npath = "villages.geojson"\n\n'
        '[layers.roads]\npath = "roads.gpkg"\nlayer = "roads"\n',
        encoding="utf-8",
    )
    return root


def _two_tiles(root: Path) -> tuple[Path, Path]:
    return (
        _tile(root / "tiles" / "N28E109a.tif", LON0, LAT0),
        _tile(root / "tiles" / "N28E109b.tif", LON0 + SPAN, LAT0),
    )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _messages(lw, severity=None) -> str:
    return "\n".join(p.line() for p in lw.problems if severity in (None, p.severity))


def _assert_seamless(lw) -> None:
    """No error, no nodata inside the county, every village on the DEM at its elevation."""
    assert lw.errors == [], _messages(lw)
    text = _messages(lw)
    assert "outside the DEM" not in text and "nodata" not in text, text
    assert lw.dem_info["outside_frac"] == 0.0 and lw.dem_info["void_frac"] == 0.0
    b = lw.layers["boundary"]
    inside = geometry_mask(
        b.geometry, out_shape=lw.dem.shape, transform=lw.dem.transform, invert=True
    )
    assert np.isfinite(lw.dem.z[inside]).all()  # the seam column is data, not a line of NaN
    v = lw.layers["villages"]
    r, c = rowcol(lw.dem.transform, v.geometry.x.to_numpy(), v.geometry.y.to_numpy())
    got = lw.dem.z[np.asarray(r), np.asarray(c)]
    ll = v.to_crs(4326)
    want = _elev(ll.geometry.x.to_numpy(), ll.geometry.y.to_numpy())
    # bilinear on a plane, a cell from the village: within the rise over one 31 m cell
    assert np.abs(got - want).max() < 3000.0 * 2 * RES


# ------------------------------------------------------------------ mosaics


def test_two_tiles_as_a_list_mosaic_without_a_seam(tmp_path):
    root = tmp_path / "ws"
    _two_tiles(root)
    _geo_workspace(root, 'path = ["tiles/N28E109a.tif", "tiles/N28E109b.tif"]')
    lw = load_workspace(root)
    _assert_seamless(lw)
    tiles = [str(root / "tiles" / "N28E109a.tif"), str(root / "tiles" / "N28E109b.tif")]
    assert lw.dem_info["tiles"] == tiles and lw.workspace.sources["dem"].tiles == tiles
    for t in tiles:  # what the manifest's inputs record, one entry per tile
        assert file_sha256(t) == _sha(Path(t).read_bytes())
    # the same as one tile covering both: mosaicked first, warped once
    big = _tile(tmp_path / "big" / "big.tif", LON0, LAT0, span=2 * SPAN)
    ref = read_dem(big, metric_crs=lw.metric_crs)
    assert lw.dem.transform == ref.transform
    np.testing.assert_array_equal(lw.dem.z, ref.z)
    # one tile alone leaves half the county outside the DEM: an error, with the share
    _geo_workspace(root, 'path = "tiles/N28E109a.tif"')
    one = load_workspace(root)
    assert any("of the county" in p.message and "outside the DEM" in p.message for p in one.errors)


def test_zip_with_two_tiles_uses_both(tmp_path):
    root = tmp_path / "ws"
    a, b = _two_tiles(root)
    with zipfile.ZipFile(root / "srtm.zip", "w") as zf:
        zf.write(a, "N28E109a.tif")
        zf.write(b, "N28E109b.tif")
    _geo_workspace(root, 'path = "srtm.zip"')
    lw = load_workspace(root)
    _assert_seamless(lw)
    tiles = lw.dem_info["tiles"]
    assert len(tiles) == 2 and all(t.startswith("/vsizip/") for t in tiles)
    assert [file_sha256(t) for t in tiles] == [_sha(a.read_bytes()), _sha(b.read_bytes())]
    assert lw.workspace.sources["dem"].tiles == tiles


def test_glob_pattern_mosaics_every_match(tmp_path):
    root = tmp_path / "ws"
    a, b = _two_tiles(root)
    _geo_workspace(root, 'path = "tiles/*.tif"')
    lw = load_workspace(root)
    _assert_seamless(lw)
    assert lw.dem_info["tiles"] == [str(a), str(b)]
    assert lw.dem_info["path"] == str(root / "tiles" / "*.tif")


def test_vrt_records_its_tiles_and_names_a_missing_one(tmp_path):
    root = tmp_path / "ws"
    _two_tiles(root)
    n = int(round(SPAN / RES)) + 1
    sources = "".join(
        f"""<SimpleSource><SourceFilename relativeToVRT="1">{name}</SourceFilename>
        <SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{n}" ySize="{n}"/>
        <DstRect xOff="{off}" yOff="0" xSize="{n}" ySize="{n}"/></SimpleSource>"""
        for name, off in (("N28E109a.tif", 0), ("N28E109b.tif", n - 1))
    )
    vrt = root / "tiles" / "dem.vrt"
    vrt.write_text(
        f"""<VRTDataset rasterXSize="{2 * n - 1}" rasterYSize="{n}"><SRS>EPSG:4326</SRS>
        <GeoTransform>{LON0 - RES / 2!r}, {RES!r}, 0, {LAT0 + SPAN + RES / 2!r}, 0, {-RES!r}</GeoTransform>
        <VRTRasterBand dataType="Float32" band="1"><NoDataValue>-32768</NoDataValue>
        {sources}</VRTRasterBand></VRTDataset>""",
        encoding="utf-8",
    )
    _geo_workspace(root, 'path = "tiles/dem.vrt"')
    lw = load_workspace(root)
    _assert_seamless(lw)
    assert [Path(t).name for t in lw.dem_info["tiles"]] == [
        "dem.vrt",
        "N28E109a.tif",
        "N28E109b.tif",
    ]
    (root / "tiles" / "N28E109b.tif").unlink()
    with pytest.raises(MissingTilesError, match=r"N28E109b\.tif \(a source of .*dem\.vrt\)"):
        read_dem(vrt, metric_crs="EPSG:4545")


def test_missing_tile_is_named_in_the_error(tmp_path):
    root = tmp_path / "ws"
    _two_tiles(root)
    _geo_workspace(root, 'path = ["tiles/N28E109a.tif", "tiles/N28E110.tif"]')
    res = CliRunner().invoke(main, ["check", str(root)])
    assert res.exit_code == 2
    assert (
        f"ERROR: {root / 'tiles' / 'N28E110.tif'}, layer dem: DEM tile not found "
        "(one of the 2 entries of [layers.dem] path)" in res.output
    )
    assert "['" not in res.output and "N28E109a.tif" not in res.output  # the list is not a path
    assert "Traceback" not in res.output
    # a pattern that matches nothing, and a single missing file, are named as well
    _geo_workspace(root, 'path = "srtm/*.hgt.zip"')
    errs = load_workspace(root).errors
    assert [(p.file, p.message) for p in errs if p.layer == "dem"] == [
        (str(root / "srtm" / "*.hgt.zip"), "no file matches this DEM tile pattern")
    ]
    _geo_workspace(root, 'path = "dem.tif"')
    assert any(
        p.file == str(root / "dem.tif") and p.message == "file not found"
        for p in load_workspace(root).errors
    )


def test_tiles_must_be_side_by_side_in_one_crs(tmp_path):
    a = _tile(tmp_path / "a.tif", LON0, LAT0)
    same = _tile(tmp_path / "same.tif", LON0 + RES, LAT0)  # the same ground again
    with pytest.raises(ValueError, match=r"same\.tif: covers the same ground as .*a\.tif"):
        read_dem([a, same], metric_crs="EPSG:4545")
    other = tmp_path / "utm.tif"
    with rasterio.open(a) as src:
        prof = dict(src.profile, crs="EPSG:32649")
        with rasterio.open(other, "w", **prof) as dst:
            dst.write(src.read())
    with pytest.raises(ValueError, match=r"utm\.tif: DEM tiles must share one CRS"):
        read_dem([a, other], metric_crs="EPSG:4545")
    with pytest.raises(ValueError, match="empty list"):
        resolve_tiles([])


# ------------------------------------------------------------------ county outside the DEM


def _projected_dem(path: Path, *, cell: float, ncols: int, nrows: int, x0=X0, y0=Y0, nodata=None):
    """A plane on the tiny workspace's grid (EPSG:4545); ``nodata(z)`` blanks some cells."""
    yy, xx = np.mgrid[0:nrows, 0:ncols]
    z = (800 + 0.05 * cell * xx + 0.03 * cell * yy).astype("float32")
    if nodata is not None:
        nodata(z)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=ncols,
        height=nrows,
        count=1,
        dtype="float32",
        crs="EPSG:4545",
        transform=from_origin(x0, y0, cell, cell),
        nodata=-32768,
    ) as dst:
        dst.write(z, 1)


# the tiny county: x X0+60 .. X0+1740 (1680 m), y Y0-1740 .. Y0-90 (1650 m)
COUNTY_W, COUNTY_H = 1680.0, 1650.0


def test_county_17_percent_outside_the_dem_is_an_error(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    # the grid ends at X0+1440: 300 m of the county's width beyond it, less half a cell
    _projected_dem(root / "dem.tif", cell=30, ncols=48, nrows=60)
    lw = load_workspace(root)
    frac = (300 - 15) * COUNTY_H / (COUNTY_W * COUNTY_H)
    assert lw.dem_info["outside_frac"] == pytest.approx(frac, abs=1e-6)
    errs = [p for p in lw.errors if p.layer == "dem"]
    assert len(errs) == 1
    assert errs[0].message.startswith(f"{frac:.1%} of the county (")
    assert "beyond its extent" in errs[0].message
    assert "more than dem_outside_max_frac = 2.0%: add the missing tiles" in errs[0].message
    res = CliRunner().invoke(main, ["check", str(root)])
    assert res.exit_code == 2 and "17.0% of the county" in res.output


def test_county_1_percent_outside_the_dem_is_a_warning(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")

    def east_strip(z):  # nodata from x = X0+1720 to the grid's edge: 20 m of the county
        z[:, 172:] = -32768

    _projected_dem(root / "dem.tif", cell=10, ncols=180, nrows=180, nodata=east_strip)
    lw = load_workspace(root)
    assert lw.errors == [], _messages(lw)
    frac = 20 / COUNTY_W
    assert lw.dem_info["outside_frac"] == pytest.approx(frac, abs=1e-6)
    (w,) = [p for p in lw.warnings if p.layer == "dem"]
    assert (
        w.message.startswith(f"{frac:.1%} of the county (") and "on nodata at its edge" in w.message
    )
    # a limit set in [parameters] turns it into an error
    t = root / "workspace.toml"
    t.write_text(t.read_text(encoding="utf-8") + "\n[parameters]\ndem_outside_max_frac = 0.01\n")
    assert any(
        "more than dem_outside_max_frac = 1.0%" in p.message for p in load_workspace(root).errors
    )


def test_voids_inside_the_dem_are_not_outside_but_a_large_one_is_an_error(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")

    def small_void(z):
        z[30:32, 30:32] = -32768  # 4 cells of 900 m²: the pipeline fills them

    _projected_dem(root / "dem.tif", cell=30, ncols=60, nrows=60, nodata=small_void)
    lw = load_workspace(root)
    assert lw.errors == [] and not [p for p in lw.warnings if p.layer == "dem"]
    assert lw.dem_info["outside_frac"] == 0.0
    assert lw.dem_info["void_km2"] == pytest.approx(4 * 900 / 1e6)

    def missing_middle(z):
        z[20:40, 20:40] = -32768  # 400 cells: 13% of the county, enclosed by data

    _projected_dem(root / "dem.tif", cell=30, ncols=60, nrows=60, nodata=missing_middle)
    lw = load_workspace(root)
    (e,) = [p for p in lw.errors if p.layer == "dem"]
    assert (
        "lies in DEM voids" in e.message and "the void fill would invent that ground" in e.message
    )


def test_county_outside_dem_splits_off_grid_and_edge_nodata():
    z = np.ones((50, 50))  # 100 m cells, x and y 0 .. 5000
    t = from_origin(0, 5000, 100, 100)
    county = box(2500, 1000, 7500, 4000)  # half beyond the grid's east edge
    cov = county_outside_dem(z, t, county)
    assert cov.outside_frac == pytest.approx((2500 - 50) / 5000)  # less half a cell
    z[:, 40:] = np.nan  # nodata at the edge: outside too
    cov = county_outside_dem(z, t, county)
    assert cov.off_grid_km2 == pytest.approx(2450 * 3000 / 1e6)
    assert cov.edge_nodata_km2 == pytest.approx(1000 * 3000 / 1e6) and cov.void_km2 == 0


# ------------------------------------------------------------------ resolution


def test_1km_dem_warns_in_check_and_in_the_loaded_workspace(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    _projected_dem(root / "dem.tif", cell=1000, ncols=4, nrows=4, x0=X0 - 1000, y0=Y0 + 1000)
    lw = load_workspace(root)
    assert lw.errors == []
    info = lw.dem_info
    assert info["cellsize_m"] == [1000.0, 1000.0] and info["coarse"] is True
    assert info["terrain_rules_unknown"] is True
    text = _messages(lw, "warning")
    assert (
        "the DEM's cells are 1000 m (1000 m cells), coarser than dem_coarse_cell_m = 90 m" in text
    )
    assert "slope-based rules (land steeper than 25°, cliffs) are low-confidence" in text
    assert "coarser than dem_max_cell_m = 250 m: the terrain relocation rules STEEP" in text
    res = CliRunner().invoke(main, ["check", str(root)])
    assert res.exit_code == 0, res.output
    assert (
        "dem 4x4 @ 1000 m" in res.output and "coarser than dem_coarse_cell_m = 90 m" in res.output
    )
    assert "STEEP (share of land steeper than 25°) and HIGH_COLD" in res.output


def test_30m_dem_is_not_coarse_and_120m_only_warns(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    lw = load_workspace(root)
    assert lw.dem_info["coarse"] is False and lw.dem_info["terrain_rules_unknown"] is False
    res = CliRunner().invoke(main, ["check", str(root)])
    assert res.exit_code == 0 and "@ 30 m" in res.output and "coarser" not in res.output
    _projected_dem(root / "dem.tif", cell=120, ncols=18, nrows=18, x0=X0 - 120, y0=Y0 + 120)
    lw = load_workspace(root)
    assert lw.dem_info["coarse"] is True and lw.dem_info["terrain_rules_unknown"] is False
    assert "dem_max_cell_m" not in _messages(lw)


# ------------------------------------------------------------------ datums


def _villages_on(root: Path, epsg: int) -> gpd.GeoDataFrame:
    """The tiny villages, their CGCS2000 numbers re-labelled as surveyed on ``epsg``."""
    v = gpd.read_file(root / "villages.geojson")
    src = v.set_crs(epsg, allow_override=True) if CRS.from_epsg(epsg).is_geographic else None
    if src is None:  # projected: the same numbers in the legacy GK zone
        xy = v.to_crs(4545)
        src = xy.set_crs(epsg, allow_override=True)
    src.to_file(root / "villages_old.gpkg", layer="villages")
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            '[layers.villages]\npath = "villages.geojson"',
            '[layers.villages]\npath = "villages_old.gpkg"\nlayer = "villages"',
        ),
        encoding="utf-8",
    )
    return src


@pytest.mark.parametrize(
    "epsg, datum",
    [(4214, "Beijing-1954"), (2433, "Beijing-1954"), (4610, "Xi'an-1980"), (2381, "Xi'an-1980")],
)
def test_legacy_datum_layer_without_parameters_warns(tmp_path, epsg, datum):
    root = write_tiny_workspace(tmp_path / "ws")
    _villages_on(root, epsg)
    lw = load_workspace(root)
    assert lw.errors == []
    (w,) = [p for p in lw.warnings if "datum shift" in p.message]
    assert w.file == str(root / "villages_old.gpkg") and w.layer == "villages"
    assert w.message.startswith(f"layer villages is converted from {CRS.from_epsg(epsg).name} to ")
    assert (
        f"({datum} to CGCS2000 has no transformation in PROJ, only a ballpark offset)" in w.message
    )
    assert "off by tens of metres to about 100 m" in w.message
    assert "towgs84 = [dx, dy, dz, rx, ry, rz, s]" in w.message


def _reference(epsg_src: int) -> Transformer:
    """Beijing-1954 (lon/lat or GK 108°E) -> CGCS2000 GK 108°E (EPSG:4545), written out by hand."""
    dx, dy, dz, rx, ry, rz, s = TOWGS84
    gk = "+proj=tmerc +lat_0=0 +lon_0=108 +k=1 +x_0=500000 +y_0=0"
    first = (
        "+step +proj=unitconvert +xy_in=deg +xy_out=rad"
        if CRS.from_epsg(epsg_src).is_geographic
        else f"+step +inv {gk} +ellps=krass"
    )
    return Transformer.from_pipeline(
        f"+proj=pipeline {first} +step +proj=cart +ellps=krass "
        f"+step +proj=helmert +x={dx} +y={dy} +z={dz} +rx={rx} +ry={ry} +rz={rz} +s={s} "
        "+convention=position_vector +step +inv +proj=cart +ellps=GRS80 "
        f"+step {gk} +ellps=GRS80"
    )


@pytest.mark.parametrize("epsg", [4214, 2433])
def test_legacy_datum_layer_with_towgs84_is_shifted(tmp_path, epsg):
    root = write_tiny_workspace(tmp_path / "ws")
    src = _villages_on(root, epsg)
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'layer = "villages"', f'layer = "villages"\ntowgs84 = {TOWGS84}'
        ),
        encoding="utf-8",
    )
    lw = load_workspace(root)
    assert lw.errors == [] and "datum shift" not in _messages(lw)
    got = lw.layers["villages"]
    assert got.crs.to_epsg() == 4545
    ex, ey = _reference(epsg).transform(src.geometry.x.to_numpy(), src.geometry.y.to_numpy())
    np.testing.assert_allclose(got.geometry.x, ex, atol=1e-3)
    np.testing.assert_allclose(got.geometry.y, ey, atol=1e-3)
    ballpark = src.to_crs(4545)
    shift = np.hypot(got.geometry.x - ballpark.geometry.x, got.geometry.y - ballpark.geometry.y)
    assert (shift > 20).all() and (shift < 150).all()  # what the warning says is at stake


def test_towgs84_is_checked(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    t = root / "workspace.toml"
    base = t.read_text(encoding="utf-8")
    t.write_text(
        base.replace('path = "villages.geojson"', 'path = "villages.geojson"\ntowgs84 = [1, 2]')
    )
    assert any("towgs84: expected 3 numbers" in p.message for p in load_workspace(root).errors)
    t.write_text(
        base.replace('path = "villages.geojson"', 'path = "villages.geojson"\ntowgs84 = [1, 2, 3]')
    )
    (e,) = load_workspace(root).errors
    assert e.message.startswith(
        "towgs84 is given but the layer is in EPSG:4490, not on Beijing-1954"
    )
    t.write_text(base.replace('path = "dem.tif"', 'path = "dem.tif"\ntowgs84 = [1, 2, 3]'))
    (e,) = load_workspace(root).errors
    assert e.layer == "dem" and e.message.startswith("towgs84 is given but the DEM is in EPSG:4545")
    assert parse_towgs84([1, 2, 3]) == ((1.0, 2.0, 3.0), None)
    assert parse_towgs84("1,2,3")[0] is None
    assert legacy_datum("EPSG:21419") == "Beijing-1954" and legacy_datum("EPSG:4545") is None
    assert legacy_datum("+proj=longlat +ellps=krass +no_defs") is not None


def _bj54_dem(root: Path) -> tuple[Transformer, float]:
    """A DEM on Beijing-1954 / GK 108°E covering the tiny county: z rises 0.5 m per metre east."""
    x_ref = X0 - 300
    with rasterio.open(
        root / "dem.tif",
        "w",
        driver="GTiff",
        width=80,
        height=80,
        count=1,
        dtype="float64",
        crs="EPSG:2433",
        transform=from_origin(x_ref, Y0 + 300, 30, 30),
    ) as dst:
        xs = x_ref + 15 + 30 * np.arange(80)
        dst.write(np.tile(1000 + 0.5 * (xs - x_ref), (80, 1))[None])
    return _reference(2433), x_ref


def test_legacy_datum_dem_with_towgs84_is_warped_to_cgcs2000(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    ref, x_ref = _bj54_dem(root)
    t = root / "workspace.toml"
    t.write_text(
        t.read_text(encoding="utf-8").replace(
            'path = "dem.tif"', f'path = "dem.tif"\ntowgs84 = {TOWGS84}'
        )
    )
    lw = load_workspace(root)
    assert lw.errors == [] and "datum shift" not in _messages(lw)
    assert lw.metric_crs.to_epsg() == 4545 and lw.dem.warped
    assert (
        lw.dem_info["datum_shift_towgs84"] == TOWGS84 and lw.dem_info["source_crs"] == "EPSG:2433"
    )
    # the elevation at a CGCS2000 cell centre is the plane at its Beijing-1954 easting
    cx, cy = ref.transform(
        [X0 + 400.0, X0 + 1000.0, X0 + 1600.0], [Y0 - 500.0, Y0 - 1000.0, Y0 - 1500.0]
    )
    r, c = (np.asarray(a) for a in rowcol(lw.dem.transform, cx, cy))
    centre_x, centre_y = lw.dem.transform @ (c + 0.5, r + 0.5)
    bjx, _ = ref.transform(centre_x, centre_y, direction="INVERSE")
    np.testing.assert_allclose(lw.dem.z[r, c], 1000 + 0.5 * (bjx - x_ref), atol=0.05)


def test_legacy_datum_dem_without_parameters_warns_on_the_metric_crs(tmp_path):
    root = write_tiny_workspace(tmp_path / "ws")
    _bj54_dem(root)
    lw = load_workspace(root)
    assert lw.errors == [] and lw.metric_crs.to_epsg() == 2433
    (w,) = [p for p in lw.warnings if "datum shift" in p.message]
    assert w.layer == "dem" and w.file == str(root / "dem.tif")
    assert w.message.startswith(
        "the metric CRS EPSG:2433 is on Beijing-1954: layer(s) boundary, roads, villages"
    )
    assert "off by tens of metres to about 100 m" in w.message and "[layers.dem]" in w.message


# ------------------------------------------------------------------ destinations on barriers


def test_destinations_cut_off_or_on_water_are_named():
    dests = gpd.GeoDataFrame(
        {"dest_id": ["C1", "C2", "C3"]},
        geometry=[Point(5, 5), Point(95, 95), Point(55, 55)],
        crs="EPSG:4545",
    )
    nearest = np.zeros((10, 10), dtype=np.int64)
    nearest[9, 9] = 1  # C2 labels its own cell only: every neighbour is a barrier
    nearest[4:7, 4:7] = 2  # C3 serves cells around it, from inside a lake
    tt = TravelTimes(
        minutes=np.zeros((10, 10), "float32"),
        nearest=nearest,
        destinations=dests,
        cells=np.array([0, 99, 55]),  # C1 (0, 0), C2 (9, 9), C3 (5, 5)
        outside_grid=0,
    )
    water = gpd.GeoDataFrame(
        {"kind": ["water_body"]}, geometry=[box(50, 50, 60, 60)], crs="EPSG:4545"
    )
    villages = pd.DataFrame({"travel_min_village_clinic": [1.0, 2.0]})
    out = _input_warnings({"water": water}, {"village_clinic": tt}, villages)
    assert (
        "1 village clinic destination(s) are cut off by barriers (land outside the county, "
        "water bodies, cliffs): no cell but their own has them as nearest, so no village "
        "reaches them: C2"
    ) in out
    assert any(
        w.startswith("1 village clinic destination(s) lie on a water body") and w.endswith(": C3")
        for w in out
    )
    # a destination beyond the DEM read (county + margin) is named with the way to reach it
    import dataclasses

    far = dataclasses.replace(tt, outside_grid=2)
    villages["travel_min_county_seat"] = np.nan
    out = _input_warnings({}, {"county_seat": far}, villages, dem_margin_m=10_000.0)
    assert any(
        w.startswith("2 county seat destination(s) lie outside the DEM")
        and "10 km around it: raise margin_m in [layers.dem]" in w
        for w in out
    ), out


def test_on_water_is_within_the_union_of_the_water_bodies():
    # reference: shapely's within against the union of every body, point by point
    bodies = gpd.GeoSeries([box(0, 0, 10, 10), box(10, 0, 20, 10), box(40, 40, 50, 50)])
    pts = gpd.GeoSeries(
        [Point(5, 5), Point(10, 5), Point(0, 5), Point(30, 30), Point(45, 50), Point(45, 45)]
    )
    union = bodies.union_all()
    want = [p.within(union) for p in pts]
    assert want == [True, True, False, False, False, True]  # (10, 5): the edge two bodies share
    assert _on_water(pts, bodies).tolist() == want


@pytest.mark.slow
def test_1km_dem_plan_says_so_in_the_manifest_and_on_the_pages(tmp_path):
    from dashboard.components import dem_note
    from dashboard.viewmodels import dem_line
    from scripts.pipeline import run_pipeline

    root = write_tiny_workspace(tmp_path / "ws")
    _projected_dem(root / "dem.tif", cell=1000, ncols=4, nrows=4, x0=X0 - 1000, y0=Y0 + 1000)
    m = run_pipeline(root, tmp_path / "plan", progress=False)
    assert m["dem"]["cellsize_m"] == [1000.0, 1000.0] and m["dem"]["coarse"] is True
    assert any("coarser than dem_coarse_cell_m = 90 m" in w for w in m["warnings"])
    # the slope-based rules are unknown, not evaluated, on a DEM coarser than 250 m
    assert any("STEEP" in w and "dem_max_cell_m = 250 m" in w for w in m["warnings"])
    zh, warn = dem_line(m, "zh")
    assert warn and "1000 米" in zh and "可信度低" in zh and "未评估" in zh
    en, _ = dem_line(m, "en")
    assert "1000 m cells" in en and "low-confidence" in en and "not evaluated (unknown)" in en
    note = dem_note(m, "en")
    assert "dem-note--coarse" in note.className and note.role == "alert"
    # a 30 m DEM is stated, not flagged
    ok = {"dem": {"cellsize_m": [30.0, 30.0], "crs": "EPSG:4545", "coarse": False}}
    text, warn = dem_line(ok, "en")
    assert text == "Elevation data: 30 m cells (EPSG:4545)" and warn is False
    assert dem_line({}, "zh") is None


def _hgt_zip(root: Path, name: str, lon0: int, lat0: int) -> Path:
    """A real-format SRTM1 tile (3601 x 3601 big-endian int16, -32768 voids) zipped as
    ``<name>.hgt.zip``, with a short line of voids on its east or west edge at 28.5°N so
    that the two tiles' seam holds voids."""
    n = 3601
    lon = lon0 + np.arange(n) / 3600
    lat = lat0 + 1 - np.arange(n) / 3600
    z = (500 + 300 * np.sin(lon[None, :] * 40) + 200 * np.cos(lat[:, None] * 50)).astype(">i2")
    z[1799:1802, -3:] = -32768
    z[1799:1802, :3] = -32768
    path = root / f"{name}.hgt.zip"
    root.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.hgt", z.tobytes())
    return path


@pytest.mark.slow
def test_two_srtm_hgt_tiles_as_a_list_run_end_to_end(tmp_path, monkeypatch):
    """Two SRTM .hgt.zip tiles listed in [layers.dem] path: one mosaic, voids on the seam
    filled, no village outside the DEM, each tile in the manifest with its checksum, and
    only the county and its margin read (not two whole 1° tiles)."""
    from scripts.pipeline import run_pipeline

    root = tmp_path / "ws"
    a = _hgt_zip(root, "N28E108", 108, 28)
    b = _hgt_zip(root, "N28E109", 109, 28)
    import tests.test_dem_inputs as here

    monkeypatch.setattr(here, "COUNTY", (108.975, 28.49, 109.025, 28.51))
    monkeypatch.setattr(
        here,
        "SEAM_VILLAGES",
        [Point(108.9999, 28.5), Point(109.0, 28.5003), Point(109.0001, 28.4995)]
        + [Point(108.98, 28.495), Point(109.02, 28.505)],
    )
    _geo_workspace(root, 'path = ["N28E108.hgt.zip", "N28E109.hgt.zip"]')
    lw = load_workspace(root)
    assert lw.errors == [], _messages(lw)
    info = lw.dem_info
    assert info["outside_frac"] == 0.0 and len(info["tiles"]) == 2
    # the county (5 km x 2 km) and the 10 km margin, not 2° x 1° of tiles at 31 m
    h, w = lw.dem.z.shape
    assert h * 31 < 30_000 and w * 31 < 30_000
    m = run_pipeline(root, tmp_path / "plan", progress=False)
    assert m["dem"]["outside_frac"] == 0.0
    assert any(w.startswith("filled") and "void cell(s) in the DEM" in w for w in m["warnings"]), m[
        "warnings"
    ]
    dem_inputs = [i for i in m["inputs"] if i["kind"] == "dem"]
    assert [i["path"] for i in dem_inputs] == [
        f"/vsizip/{a}/N28E108.hgt",
        f"/vsizip/{b}/N28E109.hgt",
    ]
    assert all(len(i["sha256"]) == 64 for i in dem_inputs)
    v = gpd.read_file(tmp_path / "plan" / "plan.gpkg", layer="villages")
    assert len(v) == 5 and v["elev_mean_m"].notna().all()
    from layers.plan import open_plan

    z, grid = open_plan(tmp_path / "plan").read_raster("dem")
    inside = geometry_mask(
        lw.layers["boundary"].geometry, out_shape=z.shape, transform=grid.transform, invert=True
    )
    assert np.isfinite(z[inside]).all()  # the seam and its voids carry elevations
