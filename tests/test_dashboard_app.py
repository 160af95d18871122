"""The Dash app: every page lays out on a plan, alerts on a missing one, tiles over HTTP."""

from __future__ import annotations

import json

import dash
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashboard import ids
from dashboard.app import create_app
from dashboard.i18n import fmt_frac, fmt_num, t
from dashboard.state import DashboardConfig
from tests.sample_plan import write_sample_plan

PAGES = ["coverage", "transport", "water", "health", "relocation", "briefing"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    plan = write_sample_plan(tmp_path_factory.mktemp("app") / "plan", n_villages=20)
    return create_app(plan, config={"osm": False})


def render(app, page, *, lang="zh", plan_dir=None):
    server = app.server
    old = server.config["ANJU_PLAN_DIR"]
    if plan_dir is not None:
        server.config["ANJU_PLAN_DIR"] = str(plan_dir)
    try:
        headers = {"Cookie": f"anju_lang={lang}"}
        with server.test_request_context("/", headers=headers):
            layout = dash.page_registry[f"pages.{page}"]["layout"]()
        return json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False)
    finally:
        server.config["ANJU_PLAN_DIR"] = old


@pytest.mark.parametrize("page", PAGES)
def test_every_page_lays_out_without_personal_data(app, page):
    text = render(app, page)
    assert ids.PAGE_ALERT not in text
    assert len(text) > 1000
    for field in ("head_name", "id_number", "phone", "households.csv"):
        assert field not in text


def test_coverage_page_has_filters_map_and_panel(app):
    text = render(app, "coverage")
    for cid in (
        ids.FILTER_TOWNSHIP,
        ids.FILTER_INDICATOR,
        ids.FILTER_STATUS,
        ids.VILLAGES,
        ids.PANEL,
        ids.COUNTS,
    ):
        assert f'"{cid}"' in text
    assert "/tiles/hillshade/{z}/{x}/{y}.png" in text
    assert "openstreetmap" not in text  # osm disabled in config
    assert "显示 20 个村" in text
    assert "head_name" not in text and "id_number" not in text


def test_english_cookie_switches_language(app):
    text = render(app, "coverage", lang="en")
    assert "20 villages shown" in text and "All townships" in text


@pytest.mark.parametrize("page", PAGES)
def test_missing_plan_shows_alert_with_build_command(app, tmp_path, page):
    text = render(app, page, plan_dir=tmp_path / "nowhere")
    assert ids.PAGE_ALERT in text
    assert "anju run data/demo --out data/demo/plan" in text


def test_unreadable_plan_shows_alert(app, tmp_path):
    (tmp_path / "plan.gpkg").write_bytes(b"garbage")
    text = render(app, "coverage", plan_dir=tmp_path, lang="en")
    assert ids.PAGE_ALERT in text and "expected a GeoPackage" in text


def test_http_layout_and_tiles(app):
    c = app.server.test_client()
    assert c.get("/").status_code == 200
    r = c.get("/_dash-layout")
    assert r.status_code == 200 and ids.LANG_TOGGLE in r.get_data(as_text=True)
    tile = c.get("/tiles/hillshade/3/0/0.png")
    assert tile.status_code == 200 and tile.mimetype == "image/png"
    assert c.get("/tiles/bogus/3/0/0.png").status_code == 404


def test_config_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys \\['osmm'\\]"):
        DashboardConfig.from_any({"osmm": True})
    assert DashboardConfig.from_any(None).osm is False  # online basemaps only when configured
    assert DashboardConfig.from_any({"osm": True}).osm is True


def test_number_formatting_per_locale():
    assert fmt_num(123456, "zh") == "12.3万"
    assert fmt_num(120000, "zh") == "12万"
    assert fmt_num(234_000_000, "zh") == "2.34亿"
    assert fmt_num(123456, "en") == "123,456"
    assert fmt_num(1234.5, "en", digits=1) == "1,234.5"
    assert fmt_num(None) == "—" and fmt_num(float("nan"), "en") == "—"
    assert fmt_frac(0.1234) == "12.3%"
    assert t("no_such_key") == "no_such_key"


def test_dashboard_config_from_toml(tmp_path):
    import pytest

    from dashboard.state import DashboardConfig

    p = tmp_path / "d.toml"
    p.write_text('[dashboard]\nosm = false\ntianditu_key = "abc"\n', encoding="utf-8")
    cfg = DashboardConfig.from_toml(p)
    assert cfg.osm is False and cfg.tianditu_key == "abc"
    p.write_text("[dashboard]\nosn = false\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        DashboardConfig.from_toml(p)
