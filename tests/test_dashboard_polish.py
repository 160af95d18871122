"""Slider value labels, relocation legend rows, site points and the sites table."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from dashboard.components import legend, raster_legend_names
from dashboard.scenario import PARAMS, format_param, param_format
from dashboard.viewmodels import site_points_geojson, site_source, sites_table


@pytest.mark.parametrize(
    ("name", "value", "lang", "expected"),
    [
        ("hazard_buffer_m", 200, "zh", "200 米"),
        ("hazard_buffer_m", 250.0, "en", "250 m"),
        ("steep_frac", 0.35, "zh", "35%"),
        ("remote_township_seat_min", 60, "en", "60 min"),
        ("slope_limit_deg", 14.04, "zh", "14.0°"),
        ("site_threshold", 0.6, "en", "0.60"),
        ("capacity_factor", 1.2, "zh", "1.2 倍"),
        ("open_sites", 0, "zh", "自动"),
        ("open_sites", 0, "en", "auto"),
        ("open_sites", 7, "zh", "7 个"),
        ("ahp_slope_deg", 2, "zh", "2 / 9"),
        ("min_score", None, "zh", "—"),
    ],
)
def test_format_param_value_and_unit(name, value, lang, expected):
    assert format_param(name, value, lang) == expected


def test_every_slider_has_a_format_and_marks_drop_the_unit():
    for p in PARAMS:
        spec = param_format(p.name, "zh")
        assert set(spec) == {"digits", "suffix", "pct", "zero"}
        assert format_param(p.name, p.vmax, "en") not in ("", "—")
    assert format_param("hazard_buffer_m", 1000, "zh", unit=False) == "1000"
    with pytest.raises(KeyError):
        param_format("no_such_control")


def _sites():
    return gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2"],
            "name": ["龙潭镇集中安置点", "S2"],
            "source": ["planner", "generated"],
            "capacity_people": [600, 1579],
            "suitability": [None, 0.75412],
        },
        geometry=[box(106.0, 26.0, 106.002, 26.002), Point(106.1, 26.1).buffer(0.001)],
        crs="EPSG:4326",
    )


def test_sites_table_translates_source():
    zh = sites_table(_sites(), "zh")
    assert [r["source"] for r in zh] == ["规划提供", "系统生成"]
    en = sites_table(_sites(), "en")
    assert [r["source"] for r in en] == ["planner", "generated"]
    assert en[1]["suitability"] == pytest.approx(0.754)
    assert "geometry" not in en[0]


def test_site_points_are_inside_the_sites_with_source():
    gj = site_points_geojson(_sites(), "en")
    assert [f["properties"]["src"] for f in gj["features"]] == ["planner", "generated"]
    assert gj["features"][0]["properties"]["label"] == "龙潭镇集中安置点 · planner"
    for f, geom in zip(gj["features"], _sites().geometry, strict=True):
        assert f["geometry"]["type"] == "Point"
        assert geom.buffer(1e-5).contains(Point(f["geometry"]["coordinates"]))
    assert site_points_geojson(_sites().iloc[:0])["features"] == []
    assert site_source("规划") == "planner" and site_source(None) == "generated"


class _Plan:
    rasters = {"slope_deg": "x", "suitability": "y", "travel_min_school": "z"}


def test_raster_legend_lists_only_the_page_overlays():
    assert raster_legend_names(_Plan(), ("suitability", "slope_deg")) == [
        "suitability",
        "slope_deg",
    ]
    assert raster_legend_names(_Plan(), ("travel_min_health_centre",)) == []  # not in the plan
    assert raster_legend_names(_Plan(), False) == []
    assert set(raster_legend_names(_Plan(), True)) == set(_Plan.rasters)


def _texts(component) -> list[str]:
    out = []

    def walk(c):
        if isinstance(c, str):
            out.append(c)
        elif isinstance(c, list | tuple):
            for x in c:
                walk(x)
        elif hasattr(c, "children"):
            walk(c.children)

    walk(component)
    return out


def test_relocation_legend_rows_match_its_layers():
    from dashboard.components import reloc_legend_entries

    text = " ".join(
        _texts(
            legend("zh", plan=_Plan(), rasters=("suitability",), entries=reloc_legend_entries("zh"))
        )
    )
    for word in ("搬迁对象村", "启用", "未启用", "规划提供", "系统生成", "搬迁去向", "安置适宜性"):
        assert word in text
    assert "达标" not in text and "坡度" not in text
    en = " ".join(_texts(reloc_legend_entries("en")))
    assert "not opened" in en and "village → site" in en


def test_every_literal_translation_key_has_a_translation():
    """A key passed literally to t() in the dashboard has a Chinese and an English text
    (a missing one shows its key, e.g. a table header "brief_ready_of", to the user)."""
    import re
    from pathlib import Path

    from dashboard.i18n import has_key

    root = Path(__file__).resolve().parents[1] / "dashboard"
    missing = set()
    for f in root.rglob("*.py"):
        for key in re.findall(r"\bt\(\s*\"([a-z][a-z0-9_]*)\"", f.read_text(encoding="utf-8")):
            if not has_key(key):
                missing.add(f"{f.name}: {key}")
    assert not missing, sorted(missing)
