"""Printable briefing: one A4 page to print (map with scale bar and north arrow, lagging
townships, costs, changes, ranking, provenance) and the detail pages; fonts and glyphs.

A glyph missing from the fonts is an error in this module (``pytestmark``): a briefing
that would print boxes fails its test.
"""

from __future__ import annotations

import copy
import io
import json
import math
import sys
import warnings
from collections import Counter
from datetime import date

import dash
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.text import Text
from PIL import Image
from plotly.utils import PlotlyJSONEncoder
from pyproj import Geod, Transformer

import dashboard.briefing as briefing
from dashboard.plan import load_plan
from tests.sample_plan import METRIC_CRS, NX, X0, Y0, write_sample_plan

pytestmark = pytest.mark.filterwarnings(f"error:{briefing.GLYPH_MISSING}:UserWarning")


@pytest.fixture(autouse=True)
def _glyphs_are_errors():
    """The same filter, in force even when pytest's warnings plugin is off (``-p no:warnings``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=briefing.GLYPH_MISSING, category=UserWarning)
        yield


needs_cjk = pytest.mark.skipif(
    briefing.cjk_font() is None, reason=f"no CJK font (install {briefing.CJK_PACKAGE})"
)


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    return write_sample_plan(tmp_path_factory.mktemp("brief") / "plan", n_villages=15)


@pytest.fixture(scope="module")
def plan(plan_dir):
    return load_plan(plan_dir)


def _pages(pdf: bytes) -> int:
    return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")


# --------------------------------------------------------------------------- the PDF


@needs_cjk
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pdf_is_one_page_to_print_and_one_of_details(plan, lang):
    pdf = briefing.render_briefing_pdf(plan, lang, today=date(2026, 1, 2))
    assert pdf.startswith(b"%PDF")
    assert _pages(pdf) == 2
    assert b"anju" in pdf  # the document's metadata names its creator


@needs_cjk
def test_map_png_decodes(plan):
    img = Image.open(io.BytesIO(briefing.render_map_png(plan, "zh", dpi=50)))
    assert img.format == "PNG" and img.size[0] >= 300


def _texts(fig) -> list[Text]:
    out = [t for t in fig.texts if t.get_text().strip()]
    for ax in fig.axes:
        out += [t for t in ax.texts if t.get_text().strip()]
        if ax.get_legend() is not None:
            out += [t for t in ax.get_legend().get_texts() if t.get_text().strip()]
    for leg in fig.legends:
        out += [t for t in leg.get_texts() if t.get_text().strip()]
    return out


@pytest.fixture(scope="module", params=["zh", "en"])
def page_one(plan, request):
    """Page 1 drawn in each language (with a previous plan to compare): every text, its
    box on the page and whether it is on the map."""
    if briefing.cjk_font() is None:
        pytest.skip(f"no CJK font (install {briefing.CJK_PACKAGE})")
    previous = copy.deepcopy(plan.manifest)
    previous["summary"]["ready"] = previous["summary"]["exit_ready"] = 0
    with briefing._printing():
        figs = briefing.briefing_pages(
            plan, request.param, today=date(2026, 1, 2), previous=previous
        )
        try:
            fig = figs[0]
            fig.canvas.draw()
            texts = [
                (t.get_text(), t.get_window_extent(), t.axes is fig.axes[0]) for t in _texts(fig)
            ]
            page = fig.bbox.frozen()
        finally:
            for f in figs:
                plt.close(f)
    return {"texts": texts, "page": page, "plan": plan, "lang": request.param}


@needs_cjk
def test_page_one_says_what_a_leader_needs(page_one):
    plan = page_one["plan"]
    words = "\n".join(text for text, _, _ in page_one["texts"])
    ranked = set(plan.villages["township"])
    for township in set(plan.layer("townships")["name"]):
        # named on the map, and in the ranking when it has villages
        assert words.count(township) >= (2 if township in ranked else 1)
    zh = page_one["lang"] == "zh"
    assert ("北" if zh else "N") in words and " km" in words  # north arrow and scale bar
    # roads by surface
    assert ("道路：已硬化" if zh else "road: hardened") in words
    assert ("道路：未硬化" if zh else "road: not hardened") in words
    assert ("主要短板：" if zh else "Main blockers: ") in words  # the lagging townships
    assert ("未计费用" if zh else "not costed") in words  # closing the gaps
    assert ("具备退出条件：0 → " if zh else "Ready to exit: 0 → ") in words  # changes
    assert f"{'方案编号' if zh else 'Plan'} {briefing.plan_id(plan.manifest)}" in words
    assert "villages.gpkg" in words and "synthetic/" not in words
    assert "terrain" not in words  # no stage timings


@needs_cjk
def test_page_one_text_stays_on_the_page_and_apart(page_one):
    """No text is clipped by the page edge, and no two texts outside the map overlap."""
    page = page_one["page"]
    for text, b, _ in page_one["texts"]:
        assert page.x0 <= b.x0 and b.x1 <= page.x1 + 0.5, text
        assert page.y0 <= b.y0 and b.y1 <= page.y1 + 0.5, text
    off_map = [(text, b) for text, b, on_map in page_one["texts"] if not on_map]
    clashes = []
    for i, (ta, ba) in enumerate(off_map):
        for tb, bb in off_map[i + 1 :]:
            dx = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
            dy = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if dx > 1 and dy > 1:  # more than a pixel of overlap both ways
                clashes.append((ta, tb))
    assert clashes == []


# --------------------------------------------------------------------------- map


def test_scale_bar_is_true_ground_length():
    x, y = X0 + NX * 50, Y0 - NX * 50
    km, length = briefing.scale_bar(METRIC_CRS, x, y, 16_000)
    assert km == 2  # a round number near a fifth of 16 km
    to_ll = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    lon1, lat1 = to_ll.transform(x, y)
    lon2, lat2 = to_ll.transform(x + length, y)
    assert Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2] == pytest.approx(2000, rel=1e-4)
    # a CRS in US survey feet: the same bar is about 3,281 map units long
    ny = Transformer.from_crs("EPSG:4326", "EPSG:2263", always_xy=True)
    fx, fy = ny.transform(-73.9, 40.7)
    km_ft, length_ft = briefing.scale_bar("EPSG:2263", fx, fy, 30_000 * 3.28)
    assert km_ft == 5 and length_ft == pytest.approx(5000 * 3.2808, rel=2e-3)


def test_north_arrow_follows_the_meridian_convergence():
    # EPSG:4545 has its central meridian at 108E: true north is on grid north there, and
    # turns anticlockwise (negative) east of it, by about (lon - 108) * sin(lat)
    to_map = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    assert briefing.true_north_angle(METRIC_CRS, *to_map.transform(108.0, 28.3)) == pytest.approx(
        0, abs=1e-6
    )
    east = briefing.true_north_angle(METRIC_CRS, *to_map.transform(109.0, 28.3))
    assert east == pytest.approx(-math.sin(math.radians(28.3)), abs=0.02)
    assert briefing.true_north_angle("EPSG:4326", 109.0, 28.3) == 0.0


# --------------------------------------------------------------------------- ranking


def _villages(rows):
    """Villages from (township, blocker_class, population, unmet)."""
    return pd.DataFrame(rows, columns=["township", "blocker_class", "population", "unmet"])


def test_ranking_breaks_ties_by_blocked_villages_then_people():
    v = _villages(
        [
            # A: 0 of 2 ready, 2 blocked
            ("A", "blocked_one", 100, "water"),
            ("A", "blocked_several", 100, "water,road"),
            # B and C: 0 of 2 ready, 1 blocked; C has more people waiting
            ("B", "blocked_one", 100, "road"),
            ("B", "unknown", 100, ""),
            ("C", "blocked_one", 500, "road"),
            ("C", "unknown", 500, ""),
            # D: 1 of 2 ready
            ("D", "ready", 100, ""),
            ("D", "blocked_one", 100, "clinic"),
            # E and F tie on everything: they share a rank
            ("E", "blocked_one", 50, "bus"),
            ("E", "blocked_one", 50, "bus"),
            ("F", "blocked_one", 50, "bus"),
            ("F", "blocked_one", 50, "bus"),
            # G: nothing assessed: last, unranked
            ("G", "not_registered", 100, "water"),
        ]
    )
    r = briefing.briefing_ranking(v)
    assert r["township"].tolist() == ["D", "B", "C", "E", "F", "A", "G"]
    assert r["rank"].tolist()[:6] == [1, 2, 3, 4, 4, 6] and pd.isna(r["rank"].iloc[6])
    assert (r["ready_frac"].iloc[1:6] == 0).all()  # the share alone would tie them
    row = r.set_index("township")
    assert row.loc["C", "people_waiting"] == 1000 and row.loc["B", "people_waiting"] == 200
    assert row.loc["A", ["blocked_one", "blocked_several"]].tolist() == [1, 1]
    lag = briefing.lagging_townships(r, n=2)
    assert lag["township"].tolist() == ["A", "F"]  # worst first; G is not ranked


def test_blockers_count_blocked_villages_per_indicator():
    v = _villages(
        [
            ("A", "blocked_several", 100, "water,road"),
            ("A", "blocked_one", 100, "water"),
            ("A", "unknown", 100, "clinic"),  # not blocked: not counted
            ("A", "not_registered", 100, "bus"),  # not assessed: not counted
        ]
    )
    counts = briefing.township_blockers(v)
    assert counts == {"A": Counter({"water": 2, "road": 1})}
    inds = [{"id": "water", "name_zh": "饮水安全"}, {"id": "road", "name_zh": "通硬化路"}]
    assert briefing.blockers_text(counts["A"], inds, "zh") == "饮水 2、道路 1"
    assert briefing.blockers_text(counts["A"], inds, "en") == "water 2, road 1"
    odd = {"id": "odd", "name_zh": "综合指标（试行）", "name_en": "Composite (trial)"}
    assert briefing.indicator_short_name(odd, "zh") == "综合指标"
    assert briefing.indicator_short_name(odd, "en") == "Composite"


# --------------------------------------------------------------------------- costs, changes


def test_gap_costs_use_only_the_plan_s_unit_costs():
    heads = {"km_to_harden": 70.7, "km_to_connect": 11.9, "km_unknown_surface": 41.9}
    heads["people_to_relocate"] = 38808
    manifest = {
        "settings": {
            "relocation": {
                "road_cny_per_km": 800000.0,
                "new_road_cny_per_km": 1200000.0,
                "relocation_cny_per_person": 60000.0,
            }
        }
    }
    rows = {r["key"]: r for r in briefing.gap_costs(heads, briefing.plan_unit_costs(manifest))}
    assert rows["harden"]["cost"] == pytest.approx(70.7 * 800000)
    assert rows["connect"]["cost"] == pytest.approx(11.9 * 1200000)
    assert rows["relocate"]["cost"] == pytest.approx(38808 * 60000)
    assert rows["survey"]["cost"] is None  # unknown surface is surveyed, not costed
    bare = {r["key"]: r for r in briefing.gap_costs(heads, briefing.plan_unit_costs({}))}
    assert all(r["cost"] is None for r in bare.values())  # no rate recorded: no number made up


def test_changes_since_the_previous_plan():
    before = {
        "created": "2026-09-15T02:00:00+00:00",
        "summary": {"exit_ready": 2, "km_to_harden": 95.34, "people_to_relocate": 41200},
    }
    after = {
        "created": "2026-12-01T04:06:32+00:00",
        "summary": {
            "exit_ready": 4,
            "km_to_harden": 82.52,
            "people_to_relocate": 41200,
            "sites_opened": 15,  # not in the previous plan: not compared
        },
    }
    rows = briefing.summary_changes(after, before)
    assert [(r["label"], r["before"], r["after"]) for r in rows] == [
        ("ready", 2, 4),
        ("km_known_unhardened", 95.34, 82.52),
    ]
    assert briefing.changes_lines(after, before, "zh") == [
        "具备退出条件：2 → 4（+2）",
        "已知未硬化（公里）：95.3 → 82.5（−12.8）",
    ]
    assert briefing.changes_lines(after, before, "en")[0] == "Ready to exit: 2 → 4 (+2)"
    assert briefing.summary_changes(after, None) == []
    assert briefing.changes_lines(after, None, "zh") == ["本方案未记录上一版方案，无法比较变化"]
    assert briefing.changes_lines(after, after, "en") == ["Headline figures unchanged"]


def test_previous_plan_comes_from_the_workspace_history(tmp_path):
    from layers.history import open_history

    ws = tmp_path / "ws"
    ws.mkdir()
    dirs = []
    for i, created in enumerate(["2026-09-15T02:00:00+00:00", "2026-12-01T04:06:32+00:00"]):
        d = write_sample_plan(tmp_path / f"plan{i}", seed=i, n_villages=12)
        man = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
        man["workspace"] = {"name": "ws", "path": str(ws)}
        man["created"] = created
        (d / "manifest.json").write_text(json.dumps(man, ensure_ascii=False), encoding="utf-8")
        dirs.append(d)
    first, second = load_plan(dirs[0]), load_plan(dirs[1])
    assert briefing.previous_manifest(second) is None  # no history yet
    store = open_history(ws, create=True)
    for d in dirs:
        store.record(d)
    prev = briefing.previous_manifest(second)
    assert prev is not None and prev["version"] == 1
    assert prev["summary"] == first.manifest["summary"]
    assert briefing.previous_label(prev, "zh") == "第 1 版"
    assert briefing.previous_manifest(first) is None  # nothing before the first version
    rows = briefing.summary_changes(second.manifest, prev)
    assert rows and all(r["before"] != r["after"] for r in rows)


# --------------------------------------------------------------------------- provenance


def test_provenance_names_files_not_server_paths_and_no_timings(plan):
    manifest = {
        **plan.manifest,
        "created": "2026-12-01T04:06:32+00:00",
        "inputs": [
            {"kind": "dem", "path": "/srv/anju/county/dem.tif", "sha256": "ab" * 32},
            {"kind": "boundary", "path": "/srv/anju/county/county.gpkg", "sha256": "cd" * 32},
            {"kind": "townships", "path": "/srv/anju/county/county.gpkg", "sha256": "cd" * 32},
            {"kind": "villages", "path": "D:\\data\\villages.shp", "sha256": "ef" * 32},
        ],
    }
    lines = briefing.provenance_lines(manifest, "zh")
    text = "\n".join(lines)
    assert "/srv" not in text and "D:" not in text and "\\" not in text
    assert "dem.tif (高程) · sha256 abababababab" in lines
    assert "county.gpkg (县界、乡镇界) · sha256 cdcdcdcdcdcd" in lines  # one line per file
    assert "villages.shp (行政村) · sha256 efefefefefef" in lines
    assert "生成时间 2026-12-01 12:06（北京时间）" in lines[0]
    assert lines[0].startswith(f"方案编号 {briefing.plan_id(manifest)}")
    assert not any("terrain" in ln or "0.1s" in ln for ln in lines)
    assert lines[1].startswith("政策标准: ")


def test_plan_id_is_stable_and_changes_with_the_plan():
    m = {"created": "2026-12-01T04:06:32+00:00", "summary": {"ready": 4}}
    assert briefing.plan_id(m) == briefing.plan_id(json.loads(json.dumps(m)))
    assert len(briefing.plan_id(m)) == 8
    assert briefing.plan_id(m) != briefing.plan_id({**m, "summary": {"ready": 5}})


def test_numbers_are_formatted_for_print():
    assert briefing.fmt_int(12318.0) == "12,318" and briefing.fmt_int(None) == "—"
    assert briefing.fmt_km(70.66) == "70.7" and briefing.fmt_km(float("nan")) == "—"
    assert briefing.fmt_frac(4 / 83) == "4.8%" and briefing.fmt_frac(0) == "0.0%"


def test_wrap_keeps_numbers_whole():
    lines = briefing._wrap("具备退出 0/8（0.0%）· 未达标 8 村 · 未退出 9,345 人", 40, "zh")
    assert "".join(lines).replace(" ", "") == "具备退出0/8（0.0%）·未达标8村·未退出9,345人"
    assert any("9,345" in ln for ln in lines)
    assert briefing._wrap_items(["a.tif 1234", "b.gpkg 5678"], " · ", 14, "en") == [
        "a.tif 1234",
        "b.gpkg 5678",
    ]


# --------------------------------------------------------------------------- fonts


def test_a_missing_glyph_fails_a_test_in_this_module():
    """The module's filter turns matplotlib's missing-glyph warning into an error."""
    fig = plt.figure()
    try:
        fig.text(0.1, 0.5, "\ue000", family="DejaVu Sans")  # a private-use code point
        with pytest.raises(UserWarning, match="missing from font"):
            fig.canvas.draw()
    finally:
        plt.close(fig)


def test_glyph_check_names_the_characters_that_would_print_as_boxes():
    fig = plt.figure()
    try:
        fig.text(0.1, 0.5, "ok \ue000", family="DejaVu Sans")
        with pytest.raises(briefing.BriefingFontError, match=r"U\+E000.*fonts-noto-cjk"):
            with briefing.glyph_check():
                fig.canvas.draw()
    finally:
        plt.close(fig)
    with briefing.glyph_check(), warnings.catch_warnings(record=True) as other:
        warnings.simplefilter("always")
        warnings.warn("not about glyphs", UserWarning, stacklevel=1)
    assert [str(w.message) for w in other] == ["not about glyphs"]  # passed on, not eaten


@needs_cjk
def test_briefing_without_its_cjk_font_is_refused_not_printed_with_boxes(plan, monkeypatch):
    """The CJK font made unavailable (matplotlib told to use DejaVu Sans only): the
    Chinese place names would print as boxes, and rendering says so."""
    monkeypatch.setattr(briefing, "_rc", lambda fam: {"font.sans-serif": ["DejaVu Sans"]})
    with pytest.raises(briefing.BriefingFontError, match="would print as boxes"):
        briefing.render_briefing_pdf(plan, "en", today=date(2026, 1, 2))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_cjk_font_is_an_error_naming_the_package(plan, monkeypatch, lang):
    monkeypatch.setattr(briefing, "cjk_font", lambda: None)
    with pytest.raises(briefing.BriefingFontError, match="apt-get install fonts-noto-cjk"):
        briefing.render_briefing_pdf(plan, lang)
    with pytest.raises(briefing.BriefingFontError, match="fonts-noto-cjk"):
        briefing.render_map_png(plan, lang)
    assert briefing.briefing_lang(lang) == lang  # no silent switch to English


def test_a_stale_font_cache_is_rebuilt_once(monkeypatch):
    fm = font_manager.fontManager
    everything = list(fm.ttflist)
    no_cjk = [f for f in everything if "CJK" not in f.name and f.name not in briefing.CJK_FAMILIES]
    calls = []

    class Fresh:
        def __init__(self, ttflist):
            self.ttflist, self.afmlist = ttflist, list(fm.afmlist)

    def load(*, try_read_cache=True, found=everything):
        calls.append(try_read_cache)
        return Fresh(found)

    monkeypatch.setattr(fm, "ttflist", no_cjk)
    monkeypatch.setitem(briefing._font_state, "rebuilt", False)
    monkeypatch.setattr(font_manager, "_load_fontmanager", load)
    found = briefing.cjk_font()
    if any(f.name in briefing.CJK_FAMILIES for f in everything):
        assert found in briefing.CJK_FAMILIES  # the rebuilt cache has the font
    assert calls == [False]
    # nothing found even after rebuilding: no second rebuild on the next call
    monkeypatch.setattr(fm, "ttflist", no_cjk)
    monkeypatch.setattr(font_manager, "_load_fontmanager", lambda **kw: calls.append(kw))
    assert briefing.cjk_font() is None and calls == [False]


# --------------------------------------------------------------------------- the web page


def _render_page(plan_dir, lang="zh"):
    from dashboard.app import create_app

    app = create_app(plan_dir, config={"osm": False})
    entry = next(p for p in dash.page_registry.values() if p["path"] == "/briefing")
    with app.server.test_request_context("/", headers={"Cookie": f"anju_lang={lang}"}):
        layout = entry["layout"]()
    return json.dumps(layout, cls=PlotlyJSONEncoder, ensure_ascii=False), sys.modules[
        entry["layout"].__module__
    ]


@needs_cjk
def test_page_ranks_like_the_print_and_says_when_it_cannot_print(plan_dir, plan, monkeypatch):
    text, module = _render_page(plan_dir)
    ranking = briefing.briefing_ranking(plan.villages)
    order = [text.index(f'"township": "{tw}"') for tw in ranking["township"]]
    assert order == sorted(order)  # the grid lists the townships in the print's order
    assert "排序：退出率高者在前" in text and "brief-map" in text
    assert "fonts-noto-cjk" not in text
    monkeypatch.setattr(briefing, "cjk_font", lambda: None)
    monkeypatch.setattr(module, "cjk_font", lambda: None)
    text, _ = _render_page(plan_dir)
    assert "apt-get install fonts-noto-cjk" in text and '"disabled": true' in text


def test_timetable_lines_say_the_year_and_the_sites_and_never_invent_zeros():
    from dashboard.briefing import timetable_lines

    m = {
        "summary": {
            "timetable_assessed": True,
            "timetable_current_year": 2017,
            "timetable_due": 13,
            "timetable_due_exited": 4,
            "timetable_at_risk": 5,
            "timetable_due_unknown": 4,
            "timetable_due_this_year_not_exited": 9,
            "timetable_km_to_harden_this_year": 1.314,
            "sites_followed": 3,
            "sites_selected": 1,
            "sites_building": 1,
            "sites_built": 0,
            "sites_occupied": 1,
            "sites_occupancy_people_frac": 0.434,
        }
    }
    zh = timetable_lines(m, "zh")
    assert zh[0] == "2017 年：到期 13 村，已退出 4，有风险 5，状态未知 4"
    assert "1.3 公里" in zh[1] and "入住率 43.4%" in zh[2]
    en = timetable_lines(m, "en")
    assert en[0].startswith("2017: 13 villages due, 4 exited, 5 at risk")
    assert timetable_lines({"summary": {"timetable_assessed": False}}, "en") == [
        "No planned exit years in the villages: the timetable is not assessed"
    ]
    assert timetable_lines({"summary": {}}, "zh") == []  # a plan from before the timetable
