"""River lines of the water layer as walking barriers (bridged by roads)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point

from geo.access import county_speed_surface, river_barriers, travel_times
from tests.conftest import road_speeds

CRS = "EPSG:4545"
CELL = 30.0
N = 21
TRANSFORM = from_origin(0, N * CELL, CELL, CELL)
# destination north of the river, village south of it, both in the middle column
DEST = Point(10.5 * CELL, (N - 5.5) * CELL)  # row 5, col 10
VILLAGE = (15, 10)  # row, col


def _river(width_m: float | None = None, kind: str = "river") -> gpd.GeoDataFrame:
    data: dict[str, list] = {"water_id": ["RV1"], "kind": [kind]}
    if width_m is not None:
        data["width_m"] = [width_m]
    # across the whole grid through the middle of row 10
    return gpd.GeoDataFrame(
        data, geometry=[LineString([(0, 10.5 * CELL), (N * CELL, 10.5 * CELL)])], crs=CRS
    )


def _road() -> gpd.GeoDataFrame:
    # north-south road in column 0: the only bridge
    return gpd.GeoDataFrame(
        {
            "road_id": ["R"],
            "road_class": ["village"],
            "hardened": pd.array([True], dtype="boolean"),
        },
        geometry=[LineString([(0.5 * CELL, 0), (0.5 * CELL, N * CELL)])],
        crs=CRS,
    )


def _minutes(water: gpd.GeoDataFrame | None) -> tuple[np.ndarray, float]:
    slope = np.zeros((N, N), dtype="float32")
    outside = np.zeros((N, N), bool)
    speed, _ = county_speed_surface(
        _road(),
        slope_deg=slope,
        outside=outside,
        transform=TRANSFORM,
        water=water,
        road_speeds=road_speeds(),
        cliff_slope_deg=45.0,
        river_width_m=20.0,
        min_barrier_width_m=5.0,
    )
    dests = gpd.GeoDataFrame({"dest_id": ["D"]}, geometry=[DEST], crs=CRS)
    tt = travel_times(speed, {"town": dests}, transform=TRANSFORM, walking="isotropic")["town"]
    return speed, float(tt.minutes[VILLAGE])


def test_river_line_is_a_barrier_crossed_only_at_the_bridge():
    dry_speed, straight = _minutes(None)
    speed, via_bridge = _minutes(_river())  # no width_m: river_width_m applies
    assert (speed[10, 1:] == 0).all()  # the river row is a barrier...
    assert speed[10, 0] > 0  # ...except where the road bridges it
    assert dry_speed[10, 5] > 0
    assert np.isfinite(via_bridge)
    assert via_bridge > 1.5 * straight  # the detour through the bridge


def test_water_body_lines_and_own_width_count():
    _, straight = _minutes(None)
    _, wb = _minutes(_river(kind="water_body"))
    _, wide = _minutes(_river(width_m=40.0))
    assert wb > 1.5 * straight and wide > 1.5 * straight


def test_narrow_stream_below_the_limit_is_not_a_barrier():
    _, straight = _minutes(None)
    speed, across = _minutes(_river(width_m=3.0))
    assert (speed[10] > 0).all()
    assert across == straight


def test_river_barriers_buffers_by_half_width_and_skips_other_kinds():
    water = pd.concat(
        [
            _river(width_m=10.0),
            _river(width_m=None).assign(water_id="RV2", width_m=np.nan),
            _river(width_m=2.0).assign(water_id="S"),
            _river(kind="network").assign(water_id="PIPE"),
        ],
        ignore_index=True,
    )
    out = river_barriers(
        gpd.GeoDataFrame(water, crs=CRS), river_width_m=20.0, min_barrier_width_m=5.0
    )
    assert out is not None
    assert list(out["water_id"]) == ["RV1", "RV2"]
    length = N * CELL
    assert abs(out.geometry.iloc[0].area - length * 10.0) < length  # 5 m each side
    assert abs(out.geometry.iloc[1].area - length * 20.0) < length
    assert river_barriers(None, river_width_m=20.0, min_barrier_width_m=5.0) is None
