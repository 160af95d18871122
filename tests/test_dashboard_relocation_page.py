"""The relocation page without a browser: its layout, the view switch, the unplaced table.

The page module is loaded by ``create_app`` (Dash pages); its callbacks are called as
plain functions inside the app's context.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import dash
import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashboard import ids
from dashboard.app import create_app
from dashboard.plan import load_plan
from dashboard.viewmodels import relocation_view
from tests.sample_plan import write_sample_plan

JS = Path(__file__).resolve().parents[1] / "dashboard" / "assets" / "anju.js"


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    plan = write_sample_plan(tmp_path_factory.mktemp("reloc") / "plan", n_villages=20)
    vid = load_plan(plan).layer("relocation_candidates")["village_id"].iloc[0]
    (plan / "tables").mkdir(exist_ok=True)
    pd.DataFrame(
        {
            "village_id": [vid],
            "people": [70],
            "reason_code": ["no_site_within_limit"],
            "reason_en": ["no site within 120 min (nearest 167 min)"],
            "reason_zh": ["120 分钟内没有安置点（最近 167 分钟）"],
            "head_name": ["张三"],  # a column the page must not carry to the browser
        }
    ).to_csv(plan / "tables" / "unplaced.csv", index=False, encoding="utf-8-sig")
    return plan


@pytest.fixture(scope="module")
def app(plan_dir):
    return create_app(plan_dir, config={"osm": False})


@pytest.fixture(scope="module")
def page(app):
    return sys.modules["pages.relocation"]


def _walk(node):
    """Every Dash component in a layout tree."""
    if isinstance(node, list | tuple):
        for n in node:
            yield from _walk(n)
        return
    if not hasattr(node, "to_plotly_json"):
        return
    yield node
    for prop in ("children", "label"):
        yield from _walk(getattr(node, prop, None))


def _layout(app, lang="zh"):
    with app.server.test_request_context("/", headers={"Cookie": f"anju_lang={lang}"}):
        return dash.page_registry["pages.relocation"]["layout"]()


def _by_id(tree, cid):
    return next(c for c in _walk(tree) if getattr(c, "id", None) == cid)


def test_layout_explains_the_baseline(app):
    tree = _layout(app)
    text = json.dumps(tree, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "基准方案：搬迁" in text  # the one-line summary
    assert "120 分钟内没有安置点（最近 167 分钟）" in text  # the unplaced village and why
    assert "张三" not in text and "head_name" not in text
    assert "dangerouslySetInnerHTML" not in text
    view = _by_id(tree, ids.RELOC_VIEW)
    assert view.value == "baseline"
    assert [o.get("disabled", False) for o in view.options] == [False, True]  # no scenario yet
    table = _by_id(tree, ids.RELOC_COMPARE).children
    metrics = [tr.to_plotly_json()["props"].get("data-metric") for tr in table.children[1].children]
    assert {"candidates", "people_total", "sites_opened", "people_unplaced"} <= set(metrics)
    # only opened sites are drawn at first: the unopened ones are an unticked overlay
    overlays = {o.name: o.checked for o in _walk(tree) if type(o).__name__ == "Overlay"}
    assert overlays["候选安置点（未启用）"] is False and overlays["安置点（启用）"] is True
    assert _by_id(tree, ids.RELOC_PROGRESS_BOX).style == {"display": "none"}


def test_show_view_switches_between_baseline_and_scenario(app, page, plan_dir):
    plan = load_plan(plan_dir)
    cands = plan.layer("relocation_candidates").iloc[1:]  # the scenario moves one village less
    scen = relocation_view(
        candidates=cands,
        sites=plan.layer("sites"),
        allocation=plan.layer("allocation").iloc[1:],
        unplaced=pd.DataFrame(columns=["village_id", "people", "reason_zh"]),
        summary={"people_to_relocate": int(cands["people_to_move"].sum())},
        notes=["no site opened"],
        settings={"min_score": 40.0},
        lang="zh",
    )
    scen["changes"] = ["搬迁评分门槛 30 分 → 40 分"]
    scen = json.loads(json.dumps(scen))  # as it comes back from the store
    with app.server.test_request_context("/"):
        out = dict(zip(page.VIEW_OUTPUTS, page.show_view(scen, "scenario", "zh"), strict=True))
        back = dict(zip(page.VIEW_OUTPUTS, page.show_view(scen, "baseline", "zh"), strict=True))
    assert out[(ids.RELOC_BADGE, "children")] == "地图显示：新情景"
    assert out[(ids.RELOC_GRID, "rowData")] == scen["cand_rows"]
    assert out[(ids.RELOC_FLOWS, "data")] == scen["geo"]["flows"]
    assert out[(ids.RELOC_CAND_TITLE, "label")] == f"搬迁对象村 · 新情景（{len(cands)}）"
    summary = json.dumps(out[(ids.RELOC_SUMMARY, "children")], cls=PlotlyJSONEncoder,
                         ensure_ascii=False)  # fmt: skip
    assert "（−1）" in summary and "改动的参数：搬迁评分门槛 30 分 → 40 分" in summary
    table = out[(ids.RELOC_COMPARE, "children")]
    head = [th.children for th in table.children[0].children.children]
    assert head == ["", "基准方案", "新情景", "变化"]
    assert table.children[0].children.children[2].className == "col-shown"
    notes = json.dumps(out[(ids.RELOC_NOTES, "children")], cls=PlotlyJSONEncoder,
                       ensure_ascii=False)  # fmt: skip
    assert "提示（新情景）" in notes and "no site opened" in notes
    unplaced = json.dumps(out[(ids.RELOC_UNPLACED, "children")], cls=PlotlyJSONEncoder,
                          ensure_ascii=False)  # fmt: skip
    assert "搬迁人口全部安置" in unplaced
    # back to the baseline: its map and tables; the comparison keeps the scenario beside it
    assert back[(ids.RELOC_BADGE, "children")] == "地图显示：基准方案"
    assert len(back[(ids.RELOC_GRID, "rowData")]) == len(cands) + 1
    assert back[(ids.RELOC_COMPARE, "children")].children[0].children.children[1].className == (
        "col-shown"
    )
    assert "120 分钟内没有安置点" in json.dumps(
        back[(ids.RELOC_UNPLACED, "children")], cls=PlotlyJSONEncoder, ensure_ascii=False
    )
    # no scenario in the store: the baseline whatever the radio says
    with app.server.test_request_context("/"):
        none = dict(zip(page.VIEW_OUTPUTS, page.show_view(None, "scenario", "en"), strict=True))
    assert none[(ids.RELOC_BADGE, "children")] == "Map shows: Baseline"


def test_names_from_the_data_stay_text(page):
    rows = [{"village_id": "X", "name": "<img src=x onerror=alert(1)>", "township": "",
             "people": 5, "reason": "<script>alert(1)</script>"}]  # fmt: skip
    block = page.unplaced_block(rows, "基准方案", "zh")
    cells = [td.children for td in block[1].children[1].children[0].children]
    assert cells == ["<img src=x onerror=alert(1)>", "5", "<script>alert(1)</script>"]
    # map tooltips: a text node, never HTML parsed from the label
    js = JS.read_text(encoding="utf-8")
    body = js[js.index("bindLabel:") :]
    assert "el.textContent = String(label)" in body and "bindTooltip(el)" in body


def test_read_unplaced_keeps_only_its_columns(page, plan_dir, tmp_path):
    df = page.read_unplaced(plan_dir)
    assert list(df.columns) == ["village_id", "people", "reason_code", "reason_en", "reason_zh"]
    assert page.read_unplaced(tmp_path) is None  # no table
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "unplaced.csv").write_bytes(b"")
    assert page.read_unplaced(tmp_path) is None  # unreadable


def test_missing_unplaced_table_is_said_when_people_are_unplaced(page, plan_dir, tmp_path):
    plan = load_plan(plan_dir)
    manifest = {**plan.manifest, "summary": {**plan.summary, "people_unplaced": 70}}
    # the same plan in a directory without tables/
    bare = dataclasses.replace(plan, plan_dir=tmp_path, manifest=manifest, _memo={})
    view = page.baseline_view(bare, "zh")
    assert any("unplaced.csv" in n for n in view["notes"])
    assert view["unplaced_rows"] == []


def test_layout_says_how_a_scenario_answers(app):
    tree = _layout(app, "en")
    text = json.dumps(tree, cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "answers first with the fast heuristic" in text and "runs in the background" in text
    poll = _by_id(tree, "reloc-exact-poll")
    assert poll.disabled is True  # nothing to poll before a scenario
    assert not any(getattr(c, "id", None) == ids.RELOC_SOLVER for c in _walk(tree))


class _Job:
    def __init__(self, state, view=None, error=None, started=100.0):
        self.state, self.view, self.error, self.started, self.key = state, view, error, started, "k"

    def status(self):
        return {"key": "k", "state": self.state, "started": self.started, "error": self.error}


class _Jobs:
    def __init__(self, job):
        self.job = job

    def get(self, key):
        return self.job if key == "k" else None


def test_exact_update_follows_the_background_solve(page, monkeypatch):
    heur = {
        "answer": {"kind": "heuristic", "status": "heuristic", "gap": 0.02},
        "exact_job": {"key": "k", "state": "running", "started": 100.0},
        "changes": ["x"],
        "exact_run_settings": ["求解方法 精确 → 精确"],
        "figures": {},
    }
    monkeypatch.setattr(page, "exact_jobs", lambda: _Jobs(_Job("running")))
    store, line, poll_off, cancel_off = page.exact_update(heur, "en", now=112.4)
    assert store is dash.no_update and not poll_off and not cancel_off
    assert line == (
        "The exact solve (HiGHS) is running in the background (12 s); its result will "
        "replace this one."
    )
    exact = {"answer": {"kind": "exact", "status": "time_limit", "gap": 0.04}, "figures": {}}
    monkeypatch.setattr(page, "exact_jobs", lambda: _Jobs(_Job("done", view=exact)))
    store, line, poll_off, cancel_off = page.exact_update(heur, "en")
    assert poll_off and cancel_off and line == ""
    assert store["answer"]["kind"] == "exact" and store["changes"] == ["x"]
    assert store["run_settings"] == ["求解方法 精确 → 精确"]
    summary = json.dumps(page.summary_block({"figures": {}}, store, "en"), cls=PlotlyJSONEncoder)
    assert "solver stopped early (time_limit): not proven optimal, gap 4.00%" in summary
    # a failed solve: the heuristic stays, and says why
    monkeypatch.setattr(page, "exact_jobs", lambda: _Jobs(_Job("failed", error="boom")))
    store, *_ = page.exact_update(heur, "en")
    assert store["answer"]["kind"] == "heuristic" and store["exact_job"]["state"] == "failed"
    summary = json.dumps(page.summary_block({"figures": {}}, store, "en"), cls=PlotlyJSONEncoder)
    assert "within 2.00% of a lower bound" in summary and "exact solve failed: boom" in summary
    # a job the server forgot (restarted): said, the poll stops
    monkeypatch.setattr(page, "exact_jobs", lambda: _Jobs(None))
    store, line, poll_off, _ = page.exact_update(heur, "en")
    assert store["exact_job"]["state"] == "failed" and poll_off
    # nothing running: nothing to do
    assert page.exact_update(None, "en")[0] is dash.no_update
    assert page.exact_update(store, "en")[2] is True
